import { RecordId } from 'surrealdb';

import type { RunHeader } from '../domain/run-state.js';

/**
 * Lists read runs newest first without sorting: a run has a key in `plan_run_key` for each list
 * it appears in, whose record id sorts as that list does — [organization, list, value, order,
 * runId] with `order` smaller for newer runs — so a list is a range scan that stops at its limit,
 * whatever the size of the table. The status key moves with the run (MOVE_STATUS_KEY).
 */
export type ListKind = 'all' | 'status' | 'thread' | 'source' | 'creator';
const NEWEST_FIRST_BASE = 9e15;

export function listOrderOf(createdAt: string): number {
  return NEWEST_FIRST_BASE - Date.parse(createdAt);
}

/** The keys a run is listed under for good (its status key is kept by MOVE_STATUS_KEY). */
export function listKeysOf(
  run: Pick<RunHeader, 'runId' | 'organizationId' | 'threadId' | 'sourceThreadId' | 'createdByAgentId' | 'createdAt'>,
): RecordId[] {
  const order = listOrderOf(run.createdAt);
  const key = (kind: ListKind, value: string) => new RecordId('plan_run_key', [run.organizationId, kind, value, order, run.runId]);
  return [
    key('all', ''),
    key('thread', run.threadId),
    ...(run.sourceThreadId ? [key('source', run.sourceThreadId)] : []),
    ...(run.createdByAgentId ? [key('creator', run.createdByAgentId)] : []),
  ];
}

/** A status key: what MOVE_STATUS_KEY writes, for runs keyed after the fact. */
export function statusKeyOf(run: { organizationId: string; runId: string; status: string; createdAt: string }): RecordId {
  return new RecordId('plan_run_key', [run.organizationId, 'status', run.status, listOrderOf(run.createdAt), run.runId]);
}
