import { DateTime } from 'surrealdb';

import { canonicalJson } from '../audit/chain.js';

/** What the chain does not cover of a stored event: its record id, and its place in the chain itself. */
const OUTSIDE_THE_BODY = new Set(['id', 'feedSeq', 'hash']);

/** Lone surrogates as the database's UTF-8 keeps them: replaced (ES2024's `toWellFormed`, which Node 20 has). */
const wellFormed = (text: string): string => (text as unknown as { toWellFormed(): string }).toWellFormed();

/** A value as JSON keeps it: datetimes as ISO strings (milliseconds, as SurrealDB gives them back), strings well formed. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof DateTime) return value.toDate().toISOString();
  if (typeof value === 'string') return wellFormed(value);
  // JSON has no NaN or infinity (canonical JSON refuses them): as JSON.stringify writes them.
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
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
  const body = plain(Object.fromEntries(Object.entries(row).filter(([key]) => !OUTSIDE_THE_BODY.has(key)))) as Record<string, unknown>;
  // The record id is [runId, sequence], which the body holds; one moved under another id (another run's) no longer hashes the same.
  const id = row.id as { id?: unknown } | undefined;
  if (id?.id !== undefined && canonicalJson(id.id) !== canonicalJson([body.runId, body.sequence])) body.recordId = plain(id.id);
  return body;
}
