import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { StackProcess } from '../chaos/stack-process.js';
import { freePort } from '../temporal/free-port.js';
import { median, pool } from './stats.js';

/**
 * `npm run bench:pending [-- --plans 10000 --concurrency 8 --cache 256 --json]`
 *
 * Starts `plans start` as a user runs it (its own Temporal dev server on SQLite, the embedded
 * RocksDB) and creates `plans` cross-thread plans through the HTTP API, all left pending
 * approval. It samples the resident memory of the stack process (API, worker, SurrealDB) and of
 * the Temporal server from /proc before the first plan (the baseline: the idle stack) and after
 * every tenth of them, then once more after a quiet minute. It prints the table, the growth per
 * 1,000 pending plans over the second half (flat means the cache is full and nothing else grows
 * with them), the peak while creating, and the budget: the quiet stack process at most 500 MB
 * (1 GB past 10,000 plans).
 */
const { values: args } = parseArgs({
  options: {
    plans: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' },
    cache: { type: 'string' },
    'settle-seconds': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    'Usage: npm run bench:pending -- [--plans N] [--concurrency C] [--cache WORKFLOWS] [--settle-seconds S] [--json]\n' +
      "  --cache: the worker's workflow cache (PLANS_WORKFLOW_CACHE_SIZE; default: the stack's own default)",
  );
  process.exit(0);
}
const PLANS = Number(args.plans);
const CONCURRENCY = Number(args.concurrency);
const SETTLE_MS = Number(args['settle-seconds']) * 1000;
const CACHE = args.cache === undefined ? undefined : Number(args.cache);
for (const [name, value, min] of [
  ['plans', PLANS, 10],
  ['concurrency', CONCURRENCY, 1],
  ['settle-seconds', SETTLE_MS, 0],
  ['cache', CACHE ?? 0, 0],
] as const) {
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer of at least ${min}`);
    process.exit(2);
  }
}
/** The budgets (docs/DESIGN.md §8): the quiet stack at most 500 MB with 10,000 plans pending, 1 GB with 100,000. */
const BUDGET_MB = PLANS > 10_000 ? 1000 : 500;

/** Resident memory of a process, MB (VmRSS from /proc). */
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

interface Sample {
  pending: number;
  stackMb: number;
  temporalMb: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const draft = {
  title: 'Waiting plan',
  objective: 'Waits for a person to approve it.',
  nodes: [
    { id: 'gather', title: 'Gather', executor: { type: 'system', action: 'noop' } },
    { id: 'write', title: 'Write', executor: { type: 'system', action: 'noop' }, dependsOn: ['gather'] },
    { id: 'review', title: 'Review', executor: { type: 'human' }, dependsOn: ['write'] },
  ],
};

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plans-bench-pending-'));
  const stack = new StackProcess(dataDir, { api: await freePort(), temporal: await freePort(), ui: await freePort() });
  log(`Starting plans start on ${dataDir}${CACHE === undefined ? '' : ` with a workflow cache of ${CACHE}`} …`);
  // Thousands of plans through one token: the per-token rate limit is not what this measures.
  await stack.start(120_000, { PLANS_RATE_LIMIT: '0', ...(CACHE === undefined ? {} : { PLANS_WORKFLOW_CACHE_SIZE: String(CACHE) }) });
  const samples: Sample[] = [];
  try {
    const planner = await stack.tokenFor('bench-pending', 'planner', 'agent', []);
    const sample = (pending: number) => {
      const taken = { pending, stackMb: rssMb(stack.pid!), temporalMb: rssMb(stack.temporalPid()) };
      samples.push(taken);
      return taken;
    };
    // Idle, once the stack has settled after its start.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    sample(0);
    const step = Math.max(1, Math.floor(PLANS / 10));
    let created = 0;
    const started = Date.now();
    await pool(PLANS, CONCURRENCY, async (index) => {
      const response = await fetch(`${stack.apiUrl}/v1/plans`, {
        method: 'POST',
        headers: { authorization: `Bearer ${planner}`, 'content-type': 'application/json' },
        body: JSON.stringify({ threadId: `t-${index % 100}`, sourceThreadId: `s-${index % 20}`, leadAgentId: 'planner', draft }),
      });
      if (response.status !== 201) throw new Error(`create ${index}: ${response.status} ${await response.text()}`);
      created++;
      if (created % step === 0) {
        const { stackMb, temporalMb } = sample(created);
        const rate = created / ((Date.now() - started) / 1000);
        log(`  ${created} pending: stack ${stackMb.toFixed(0)} MB, Temporal ${temporalMb.toFixed(0)} MB (${rate.toFixed(0)} plans/s)`);
      }
    });
    if (SETTLE_MS > 0) {
      log(`All ${PLANS} pending; quiet for ${SETTLE_MS / 1000} s …`);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      sample(PLANS);
    }
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const idle = samples[0]!;
  const last = samples.at(-1)!;
  const peak = Math.max(...samples.map((taken) => taken.stackMb));
  // Growth per 1,000 pending over the second half: the slope once the workflow cache is full.
  const half = samples.filter((taken) => taken.pending >= PLANS / 2 && taken !== last);
  const slopes = half
    .slice(1)
    .map((taken, index) => ((taken.stackMb - half[index]!.stackMb) / (taken.pending - half[index]!.pending)) * 1000);
  const result = {
    plans: PLANS,
    workflowCache: CACHE ?? 'default',
    idleStackMb: idle.stackMb,
    pendingStackMb: last.stackMb,
    peakStackMb: peak,
    ratioToIdle: last.stackMb / idle.stackMb,
    growthPer1000Mb: slopes.length ? median(slopes) : null,
    temporalIdleMb: idle.temporalMb,
    temporalPendingMb: last.temporalMb,
    samples,
    // With the plans pending and the stack quiet: while they are being created, garbage the
    // engines have not yet collected comes on top (the peak, printed beside it).
    budget: { [`stack process <= ${BUDGET_MB} MB with ${PLANS} pending`]: last.stackMb <= BUDGET_MB },
  };
  if (args.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`\n${PLANS} plans pending approval, workflow cache ${result.workflowCache}`);
  console.log('pending    stack MB   Temporal MB');
  for (const taken of samples)
    console.log(
      `${String(taken.pending).padStart(7)}  ${taken.stackMb.toFixed(0).padStart(9)}  ${taken.temporalMb.toFixed(0).padStart(12)}`,
    );
  console.log(
    `stack process: idle ${idle.stackMb.toFixed(0)} MB, with ${PLANS} pending ${last.stackMb.toFixed(0)} MB (${result.ratioToIdle.toFixed(2)}x idle), peak ${peak.toFixed(0)} MB`,
  );
  if (result.growthPer1000Mb !== null)
    console.log(`growth over the second half: ${result.growthPer1000Mb.toFixed(1)} MB per 1,000 pending (median of steps)`);
  console.log(`Temporal server: idle ${idle.temporalMb.toFixed(0)} MB, with ${PLANS} pending ${last.temporalMb.toFixed(0)} MB`);
  for (const [budget, met] of Object.entries(result.budget)) console.log(`budget ${budget}: ${met ? 'met' : 'NOT met'}`);
}

await main();
process.exit(0);
