import { CronExpressionParser } from 'cron-parser';

import type { PlanSchedule } from './draft.js';

const INTERVAL_PART = /(\d+)(ms|s|m|h|d)/g;
const INTERVAL_WHOLE = /^(\d+(ms|s|m|h|d))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Shortest interval a schedule may fire at: anything faster is a mistake, not a plan. */
export const MIN_INTERVAL_MS = 1000;

/** Parses an interval such as `15m`, `1h30m` or `10s` into milliseconds; undefined when malformed. */
export function parseInterval(every: string): number | undefined {
  const text = every.trim();
  if (!INTERVAL_WHOLE.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(INTERVAL_PART)) total += Number(match[1]) * UNIT_MS[match[2]!]!;
  return total;
}

function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a draft schedule and returns the problems found (empty when valid): exactly one of a
 * 5-field `cron` or an `every` interval of at least a second, and an IANA timezone if given.
 */
export function scheduleProblems(schedule: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const known = new Set(['cron', 'every', 'timezone']);
  const unknown = Object.keys(schedule).filter((key) => !known.has(key));
  if (unknown.length > 0) problems.push(`unknown schedule field(s): ${unknown.join(', ')}`);
  const { cron, every, timezone } = schedule as { cron?: string; every?: string; timezone?: string };
  if ((cron === undefined) === (every === undefined)) {
    problems.push('a schedule needs exactly one of "cron" or "every"');
  }
  if (cron !== undefined) {
    const fields = cron.trim().split(/\s+/);
    if (fields.length !== 5) {
      problems.push(`cron "${cron}" must have 5 fields (minute hour day-of-month month day-of-week)`);
    } else {
      try {
        CronExpressionParser.parse(cron);
      } catch (error) {
        problems.push(`cron "${cron}" is not valid: ${(error as Error).message}`);
      }
    }
  }
  if (every !== undefined) {
    const ms = parseInterval(every);
    if (ms === undefined) problems.push(`every "${every}" is not an interval such as "15m", "1h30m" or "10s"`);
    else if (ms < MIN_INTERVAL_MS) problems.push(`every "${every}" is shorter than 1s`);
  }
  if (timezone !== undefined && !isValidTimezone(timezone)) problems.push(`timezone "${timezone}" is not an IANA time zone`);
  return problems;
}

/** Describes a validated schedule in words, for events and UIs. */
export function describeSchedule(schedule: PlanSchedule): string {
  const zone = schedule.timezone ? ` (${schedule.timezone})` : '';
  return 'cron' in schedule ? `cron "${schedule.cron}"${zone}` : `every ${schedule.every}${zone}`;
}
