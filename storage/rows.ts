import { DateTime, RecordId } from 'surrealdb';

import type { ArtifactRecord } from '../domain/run-state.js';

/**
 * How records become rows and rows become records, shared by every store: ISO dates are
 * SurrealDB datetimes in the database and strings everywhere else.
 */

const DATE_FIELDS = new Set([
  'createdAt',
  'updatedAt',
  'startedAt',
  'completedAt',
  'scheduledAt',
  'nextFireAt',
  'revokedAt',
  'changedAt',
  'until',
]);

/** ISO strings become SurrealDB datetimes; `null` becomes NONE, which removes the field. */
export function toDb(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === null) out[key] = undefined;
    else if (DATE_FIELDS.has(key) && typeof value === 'string') out[key] = new Date(value);
    else out[key] = value;
  }
  return out;
}

/** SurrealDB datetimes become ISO strings and record ids are dropped: rows become plain JSON. */
export function fromDb<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key === 'id') continue;
    out[key] = value instanceof DateTime ? value.toDate().toISOString() : value;
  }
  return out as T;
}

/** A node attempt's output under its deterministic id: one per run, node and attempt. */
export function artifactRow(runId: string, artifact: ArtifactRecord): Record<string, unknown> {
  return toDb({ id: new RecordId('plan_artifact', [runId, artifact.nodeId, artifact.attempt]), runId, ...artifact });
}
