import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { RunHeader } from '../domain/run-state.js';
import { approveRun, createRun } from '../domain/transitions.js';
import { compileDraft } from '../domain/validate.js';
import type { IncludeOptions } from '../domain/snapshot.js';
import type { RunStatus } from '../domain/status.js';
import { conflictRetriesSoFar, openDatabase, runQuery } from '../storage/database.js';
import { PlanStore, type RunFilter } from '../storage/plan-store.js';
import { percentile, pool } from './stats.js';

/**
 * `npm run bench:lists [-- --sizes 1000,10000 --repeat 30 --json]`
 *
 * Seeds runs through `PlanStore.persistTransitions` (the write path the workflow uses) into an
 * embedded RocksDB, in steps up to each size: one busy organization holds most runs, half
 * pending approval, half running, over 50 threads and 20 source threads. At each size, every
 * list the API serves is timed (`repeat` times each, the whole snapshot with nodes included) and
 * its p50/p99 printed, with the budget (p99 ≤ 20 ms, the inbox's 200-row page ≤ 30 ms) met or not and the query plan of the run
 * query. Lists must not grow with the table: compare the rows across sizes.
 */
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    repeat: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('Usage: npm run bench:lists -- [--sizes 1000,10000,100000] [--repeat N] [--json]');
  process.exit(0);
}
const SIZES = args.sizes.split(',').map(Number);
const REPEAT = Number(args.repeat);
if (SIZES.some((size) => !Number.isInteger(size) || size < 1) || !Number.isInteger(REPEAT) || REPEAT < 1) {
  console.error('--sizes must be positive integers, comma-separated; --repeat a positive integer');
  process.exit(2);
}
/** The budgets (docs/DESIGN.md §8): every list p99 ≤ 20 ms, the inbox's 200-row page ≤ 30 ms; the baseline is not judged. */
const BUDGET_P99_MS = 20;
const INBOX_BUDGET_P99_MS = 30;
const ORG = 'org-busy';

const plan = compileDraft({
  title: 'Seeded',
  objective: 'A plan in the table.',
  nodes: [
    { id: 'a', title: 'A', executor: { type: 'system', action: 'noop' } },
    { id: 'b', title: 'B', executor: { type: 'system', action: 'noop' }, dependsOn: ['a'] },
    { id: 'c', title: 'C', executor: { type: 'human' }, dependsOn: ['b'] },
  ],
});

/** Seeding reports its progress every so many runs (a million take over an hour on two cores). */
const PROGRESS_EVERY = 5000;

async function seed(store: PlanStore, from: number, to: number): Promise<void> {
  const started = Date.now();
  // Four writers, as a busy worker would: one organization's writes meet on its feed counter and take turns.
  await pool(to - from, 4, async (offset) => {
    const index = from + offset;
    const runId = `run-${String(index).padStart(7, '0')}`;
    const header: RunHeader = {
      runId,
      workflowId: `plan-run:${runId}`,
      planSpecId: runId,
      // Nine runs in ten belong to the busy organization; the rest to many small ones.
      organizationId: index % 10 === 9 ? `org-${index % 97}` : ORG,
      threadId: `t-${index % 50}`,
      sourceThreadId: `s-${index % 20}`,
      leadAgentId: 'planner',
      createdByAgentId: `agent-${index % 5}`,
      requireApproval: true,
      title: plan.title,
      objective: plan.objective,
      createdAt: new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString(),
    };
    const created = createRun(header, plan, header.createdAt);
    const transitions = [created.transition];
    if (index % 2 === 1)
      transitions.push(
        approveRun(
          created.state,
          plan,
          { organizationId: header.organizationId, threadId: header.sourceThreadId!, emittedBy: 'alice' },
          header.createdAt,
        ).transition,
      );
    await store.runs.persistTransitions({
      runId,
      organizationId: header.organizationId,
      threadId: header.threadId,
      transitions,
      creation: { header, plan },
    });
    if ((offset + 1) % PROGRESS_EVERY === 0) {
      const seconds = (Date.now() - started) / 1000;
      const rate = (offset + 1) / seconds;
      process.stderr.write(
        `  seeded ${from + offset + 1} of ${to} runs (${Math.round(seconds)} s, ${Math.round(rate)} runs/s, about ${Math.round((to - from - offset - 1) / rate)} s to go)\n`,
      );
    }
  });
}

const LISTS: Array<{ name: string; filter: RunFilter; include?: IncludeOptions; budgetMs?: number | null }> = [
  // The baseline: the same list read the way lists were read before they had keys (an indexed
  // filter, then a sort of every match); a filter without organization still takes that way.
  {
    name: 'baseline: pending, unkeyed scan and sort (200 newest)',
    filter: { statuses: ['pending-approval' as RunStatus], limit: 200 },
    budgetMs: null,
  },
  {
    name: 'inbox: pending of an organization (200 newest)',
    filter: { organizationId: ORG, statuses: ['pending-approval' as RunStatus], limit: 200 },
    budgetMs: INBOX_BUDGET_P99_MS,
  },
  {
    name: 'pending of an organization, a default page (50)',
    filter: { organizationId: ORG, statuses: ['pending-approval' as RunStatus], limit: 50 },
  },
  { name: 'organization, any status (200 newest)', filter: { organizationId: ORG, limit: 200 } },
  { name: 'thread (20)', filter: { organizationId: ORG, threadId: 't-7', limit: 20 } },
  { name: 'source thread (20)', filter: { organizationId: ORG, sourceThreadId: 's-3', limit: 20 } },
  { name: 'created by an agent (50)', filter: { organizationId: ORG, createdByAgentId: 'agent-2', limit: 50 } },
  {
    name: 'pending, with events and checkpoints (50)',
    filter: { organizationId: ORG, statuses: ['pending-approval' as RunStatus], limit: 50 },
    include: { includeEvents: true, includeCheckpoints: true },
  },
];

async function time(task: () => Promise<unknown>, repeat = REPEAT): Promise<number[]> {
  await task();
  const samples: number[] = [];
  for (let index = 0; index < repeat; index++) {
    const started = process.hrtime.bigint();
    await task();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return samples;
}

const dataDir = mkdtempSync(join(tmpdir(), 'plans-bench-lists-'));
const db = await openDatabase({ url: `rocksdb://${join(dataDir, 'surreal')}` });
// A secret key, as every installation has (the data dir's secret-key): heads are signed every 100 events, as in production.
const secretKey = randomBytes(32);
const store = new PlanStore(db, () => secretKey);
const results: Array<{
  size: number;
  list: string;
  p50: number;
  p99: number;
  rows: number;
  budgetMs: number | null;
  withinBudget: boolean | null;
}> = [];
try {
  let seeded = 0;
  for (const size of SIZES) {
    process.stderr.write(`Seeding to ${size} runs …\n`);
    const [started, conflicts] = [Date.now(), conflictRetriesSoFar()];
    await seed(store, seeded, size);
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `  ${size - seeded} runs in ${seconds.toFixed(1)} s (${Math.round((size - seeded) / seconds)} runs/s, ${conflictRetriesSoFar() - conflicts} write conflicts retried)\n`,
    );
    seeded = size;
    for (const list of LISTS) {
      let rows = 0;
      // The baseline reads the whole table (seconds a read at a million runs): past 100,000 runs, 3 reads of it.
      const repeat = list.budgetMs === null && size > 100_000 ? Math.min(REPEAT, 3) : REPEAT;
      const samples = await time(async () => {
        rows = (await store.runs.listSnapshots(list.filter, list.include)).length;
      }, repeat);
      const p99 = percentile(samples, 99);
      const budgetMs = list.budgetMs === undefined ? BUDGET_P99_MS : list.budgetMs;
      results.push({
        size,
        list: list.name,
        p50: percentile(samples, 50),
        p99,
        rows,
        budgetMs,
        withinBudget: budgetMs === null ? null : p99 <= budgetMs,
      });
    }
  }
  // The inbox's list is a range scan of its keys that stops at the limit.
  const [plans] = await runQuery<[unknown]>(
    db,
    "SELECT id FROM plan_run_key:[$organizationId, 'status', 'pending-approval', NONE]..[$organizationId, 'status', 'pending-approval', ..] LIMIT 200 EXPLAIN;",
    { organizationId: ORG },
  );
  if (args.json) {
    console.log(
      JSON.stringify({ budgetP99Ms: BUDGET_P99_MS, inboxBudgetP99Ms: INBOX_BUDGET_P99_MS, results, inboxQueryPlan: plans }, null, 2),
    );
  } else {
    console.log(
      `Lists, whole snapshots (nodes included), ${REPEAT} reads each; budget p99 ≤ ${BUDGET_P99_MS} ms, the inbox's ≤ ${INBOX_BUDGET_P99_MS} ms`,
    );
    console.log('| runs stored | list | rows | p50 ms | p99 ms | budget |');
    console.log('|---:|---|---:|---:|---:|---|');
    for (const result of results) {
      console.log(
        `| ${result.size} | ${result.list} | ${result.rows} | ${result.p50.toFixed(1)} | ${result.p99.toFixed(1)} | ${result.withinBudget === null ? 'baseline' : result.withinBudget ? `met (≤ ${result.budgetMs})` : `missed (≤ ${result.budgetMs})`} |`,
      );
    }
    const first = results.filter((result) => result.size === SIZES[0]);
    const last = results.filter((result) => result.size === SIZES.at(-1));
    console.log(
      `Growth ${SIZES[0]} → ${SIZES.at(-1)} runs (p50 ratio, per list in table order): ${last.map((result, index) => `${(result.p50 / first[index]!.p50).toFixed(2)}×`).join(', ')}`,
    );
    for (const size of SIZES) {
      const [baseline, inbox] = results.filter((result) => result.size === size);
      console.log(
        `At ${size} runs the inbox list takes ${(inbox!.p50 / baseline!.p50).toFixed(3)}× the time of the unkeyed baseline (p50 ${inbox!.p50.toFixed(1)} vs ${baseline!.p50.toFixed(1)} ms).`,
      );
    }
    console.log(`Query plan of the inbox list: ${JSON.stringify(plans)}`);
  }
} finally {
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
