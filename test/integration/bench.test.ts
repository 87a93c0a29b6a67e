import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { floorActivities } from '../../bench/floor.js';
import { openDatabase, runQuery } from '../../storage/database.js';

/**
 * `npm run bench` as a user runs it, a round of two runs per kind: it answers every kind, the
 * split and the budgets in JSON, and its kinds are what docs/performance.md says they are — the
 * storage floor writes once per state change, the plan workflow with storing off is the plan
 * workflow (the same history shape as a stored plan's), and a plan's actions stay within bare + 4.
 */
const BENCH = fileURLToPath(new URL('../../bench/index.js', import.meta.url));
const NODES = 2;

interface KindSummary {
  runsPerSecond: number;
  processCpuMsPerRun: number;
  history: { events: number; actions: number; bytes: number; byType: Record<string, number> };
}

it('runs every kind and prints the split and the budgets as JSON', async () => {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [BENCH, '--plans', '2', '--nodes', String(NODES), '--rounds', '1', '--concurrency', '2', '--json'],
      { maxBuffer: 16 * 1024 * 1024, timeout: 240_000 },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    ),
  );
  const result = JSON.parse(stdout) as Record<'bare' | 'floor' | 'unstored' | 'plans', KindSummary> & {
    split: Record<string, { ratio: number; budget: number }>;
    budgets: Record<string, boolean>;
  };
  for (const kind of ['bare', 'floor', 'unstored', 'plans'] as const) {
    expect(result[kind].runsPerSecond).toBeGreaterThan(0);
    expect(result[kind].history.bytes).toBeGreaterThan(0);
  }
  // The floor: the bare workflow plus a write at creation, at the approval and after each step.
  expect(result.floor.history.byType.ACTIVITY_TASK_SCHEDULED).toBe(result.bare.history.byType.ACTIVITY_TASK_SCHEDULED! + NODES + 2);
  // Storing off changes what the activities do, not the workflow: the same actions, kind by kind, as a stored plan's.
  expect(result.unstored.history.byType).toEqual(result.plans.history.byType);
  expect(result.plans.history.actions).toBeLessThanOrEqual(result.bare.history.actions + 4);
  expect(Object.keys(result.split).sort()).toEqual(
    ['approveP50', 'historyBytes', 'serverCpu', 'storingCpu', 'throughput', 'totalCpu', 'workflowCpu'].sort(),
  );
  expect(result.split.workflowCpu!.ratio).toBeCloseTo(result.unstored.processCpuMsPerRun / result.bare.processCpuMsPerRun, 6);
  expect(result.budgets['actions per run <= bare + 4']).toBe(true);
}, 300_000);

it('the storage floor writes each change in one transaction: the run, its nodes, its events numbered by the feed counter', async () => {
  const db = await openDatabase({ url: 'mem://' });
  try {
    const { storeChange } = await floorActivities(db);
    const run = (runId: string) => ({ runId, organizationId: 'org-floor', nodes: NODES });
    // Two runs of one organization stored side by side, as a round does: the counter numbers every event once.
    await Promise.all(
      ['r1', 'r2'].map(async (runId) => {
        await storeChange({ ...run(runId), status: 'pending-approval', version: 1 });
        await storeChange({ ...run(runId), status: 'running', version: 2 });
        for (let node = 0; node < NODES; node++)
          await storeChange({
            ...run(runId),
            status: node === NODES - 1 ? 'completed' : 'running',
            completedNode: node,
            version: 3 + node,
          });
      }),
    );
    const [events, feed, runs, nodes, keys] = await runQuery<[number[], number, string[], string[], unknown[]]>(
      db,
      `SELECT VALUE sequence FROM bench_event ORDER BY sequence;
       RETURN (SELECT VALUE count FROM ONLY bench_feed:⟨org-floor⟩);
       SELECT VALUE status FROM bench_run;
       SELECT VALUE status FROM bench_node_run;
       SELECT VALUE id FROM bench_run_key;`,
    );
    // Per run: created, approved + first step started, and a completion and a start (or the run's completion) per step.
    const perRun = 1 + 2 + 2 * NODES;
    expect(events).toEqual(Array.from({ length: 2 * perRun }, (_, index) => index + 1));
    expect(feed).toBe(2 * perRun);
    expect(runs).toEqual(['completed', 'completed']);
    expect(nodes).toEqual(Array.from({ length: 2 * NODES }, () => 'completed'));
    // The status key moved with the run: one per run, at its last status.
    expect(keys).toHaveLength(2);
  } finally {
    await db.close();
  }
});
