const PART = /(\d+)(ms|s|m|h|d)/g;
const WHOLE = /^(\d+(ms|s|m|h|d))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration such as `15m`, `1h30m`, `10s` or `500ms` into milliseconds; undefined when malformed. */
export function parseInterval(text: string): number | undefined {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(PART)) total += Number(match[1]) * UNIT_MS[match[2]!]!;
  return total;
}

const UNITS_DESCENDING = ['d', 'h', 'm', 's', 'ms'] as const;

/** Milliseconds in the draft's own notation (`90000` → `1m30s`), so people read what an agent wrote. */
export function formatInterval(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of UNITS_DESCENDING) {
    const count = Math.floor(rest / UNIT_MS[unit]!);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * UNIT_MS[unit]!;
  }
  return text;
}
