import type { Surreal } from 'surrealdb';

import { runQuery } from '../storage/database.js';
import { Turns } from '../storage/turns.js';
import type { FloorChange } from './bare-workflow.js';

/**
 * The storage floor's one write per state change: what a careful user would write by hand to
 * keep a plan's record in SurrealDB — the run row (whole at creation, its status and version
 * after), the node rows that changed, the change's events numbered by the organization's feed
 * counter, and the run's status key moved, all in one transaction; one organization's writes take
 * turns within the process, as a plan's do (storage/turns.ts). Tables of its own (`bench_*`),
 * so the plans' records, lists and audit chain are untouched. No chain, no keys per list, no
 * idempotency guard: that is what we add, and what the ratio against this floor prices.
 */
const STORE_CHANGE = `
  BEGIN TRANSACTION;
  LET $feed = (UPSERT ONLY type::record('bench_feed', $organizationId) SET count += array::len($events) RETURN AFTER);
  LET $before = (SELECT status FROM ONLY type::record('bench_run', $runId));
  UPSERT type::record('bench_run', $runId) MERGE $run;
  FOR $node IN $nodeRows { UPSERT type::record('bench_node_run', [$runId, $node.nodeId]) MERGE $node };
  FOR $index IN 0..array::len($events) {
    CREATE bench_event CONTENT {
      runId: $runId, organizationId: $organizationId, sequence: $feed.count - array::len($events) + $index + 1,
      type: $events[$index].type, nodeId: $events[$index].nodeId, emittedBy: 'bench', at: $at, payload: {}
    };
  };
  IF $before.status != NONE { DELETE type::record('bench_run_key', [$organizationId, 'status', $before.status, $runId]) };
  UPSERT type::record('bench_run_key', [$organizationId, 'status', $run.status, $runId]) CONTENT { run: type::record('bench_run', $runId) };
  COMMIT TRANSACTION;`;

const nodeId = (index: number) => `n${index + 1}`;

/** The rows of one change (FloorChange): the run's fields, the nodes that changed, the events. */
function rowsOf(change: FloorChange, at: string) {
  const run: Record<string, unknown> = { status: change.status, version: change.version, updatedAt: at };
  const nodeRows: Array<Record<string, unknown>> = [];
  const events: Array<{ type: string; nodeId?: string }> = [];
  if (change.version === 1) {
    Object.assign(run, { runId: change.runId, organizationId: change.organizationId, title: 'Benchmark plan', createdAt: at });
    for (let index = 0; index < change.nodes; index++) nodeRows.push({ nodeId: nodeId(index), status: 'pending', updatedAt: at });
    events.push({ type: 'plan-created' });
  } else if (change.completedNode === undefined) {
    events.push({ type: 'plan-approved' });
    if (change.nodes > 0) {
      nodeRows.push({ nodeId: nodeId(0), status: 'running', attempt: 1, startedAt: at, updatedAt: at });
      events.push({ type: 'node-started', nodeId: nodeId(0) });
    }
  } else {
    const done = change.completedNode;
    nodeRows.push({ nodeId: nodeId(done), status: 'completed', completedAt: at, updatedAt: at });
    events.push({ type: 'node-completed', nodeId: nodeId(done) });
    if (done + 1 < change.nodes) {
      nodeRows.push({ nodeId: nodeId(done + 1), status: 'running', attempt: 1, startedAt: at, updatedAt: at });
      events.push({ type: 'node-started', nodeId: nodeId(done + 1) });
    } else events.push({ type: 'plan-completed' });
  }
  return { run, nodeRows, events };
}

/** The floor's tables (the schema is strict: a table must be defined before it is written). */
const FLOOR_TABLES = ['bench_feed', 'bench_run', 'bench_node_run', 'bench_event', 'bench_run_key'];

export async function floorActivities(db: Surreal): Promise<{ storeChange(change: FloorChange): Promise<void> }> {
  await runQuery(db, FLOOR_TABLES.map((table) => `DEFINE TABLE IF NOT EXISTS ${table} SCHEMALESS;`).join('\n'));
  const turns = new Turns();
  return {
    async storeChange(change) {
      const at = new Date().toISOString();
      await turns.run(change.organizationId, () =>
        runQuery(db, STORE_CHANGE, { runId: change.runId, organizationId: change.organizationId, at, ...rowsOf(change, at) }),
      );
    },
  };
}
