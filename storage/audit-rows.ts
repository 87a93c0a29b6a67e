import { DateTime } from 'surrealdb';

/** What the chain does not cover of a stored event: its record id, and its place in the chain itself. */
const OUTSIDE_THE_BODY = new Set(['id', 'feedSeq', 'hash', 'audit']);

/** Lone surrogates as the database's UTF-8 keeps them: replaced (ES2024's `toWellFormed`, which Node 20 has). */
const wellFormed = (text: string): string => (text as unknown as { toWellFormed(): string }).toWellFormed();

/** A value as JSON keeps it: datetimes as ISO strings (milliseconds, as SurrealDB gives them back), strings well formed. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof DateTime) return value.toDate().toISOString();
  if (typeof value === 'string') return wellFormed(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, field]) => field !== undefined)
        .map(([key, field]) => [wellFormed(key), plain(field)]),
    );
  return value;
}

/**
 * An event's body as the audit chain hashes it (audit/chain.ts): the row as written or as read
 * back — the same JSON either way, which is what lets anyone recompute the digest from a read
 * or an export — less its id and its place in the chain.
 */
export function auditBodyOf(row: Record<string, unknown>): Record<string, unknown> {
  return plain(Object.fromEntries(Object.entries(row).filter(([key]) => !OUTSIDE_THE_BODY.has(key)))) as Record<string, unknown>;
}
