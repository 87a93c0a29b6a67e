import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { WithStartWorkflowOperation } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';

import { loadConfig } from '../app/config.js';
import { type Stack, startStack } from '../app/stack.js';
import { startDevServer } from '../temporal/dev-server.js';
import { WORKFLOWS_PATH } from '../worker/worker.js';
import { freePort } from '../test/support/ports.js';
import { tempDir } from '../test/support/stack.js';
import { bareApproveUpdate, bareStartedUpdate } from './bare-workflow.js';
import { median, percentile, pool } from './stats.js';

/**
 * `npm run bench [-- --plans K --concurrency C --rounds R --json]`
 *
 * Creates and approves K cross-thread plans through the client (validated, persisted to the
 * embedded SurrealDB, approved by update) and, in the same run against the same Temporal dev
 * server, K bare workflows started and approved by the same calls (update-with-start, then the
 * approval update) that do nothing else: no validation, no state machine, no persistence. Rounds
 * alternate between the two so machine noise hits both alike; medians of the rounds are quoted.
 */
const { values: args } = parseArgs({
  options: {
    plans: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('Usage: npm run bench -- [--plans K] [--concurrency C] [--rounds R] [--json]');
  process.exit(0);
}
const K = Number(args.plans);
const C = Number(args.concurrency);
const ROUNDS = Number(args.rounds);
for (const [name, value] of Object.entries({ plans: K, concurrency: C, rounds: ROUNDS })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

interface RoundResult {
  approveMs: number[];
  plansPerSecond: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const draft = {
  title: 'Benchmark plan',
  objective: 'Measure the approval path.',
  nodes: [
    { id: 'a', title: 'A', executor: { type: 'system', action: 'noop' } },
    { id: 'b', title: 'B', executor: { type: 'system', action: 'noop' } },
    { id: 'c', title: 'C', executor: { type: 'system', action: 'noop' } },
  ],
};

async function planRound(stack: Stack): Promise<RoundResult> {
  const approveMs: number[] = [];
  const organizationId = `bench-${randomUUID()}`;
  const started = performance.now();
  await pool(K, C, async (index) => {
    const plan = await stack.plans.createPlan({
      organizationId,
      threadId: `t-${index}`,
      sourceThreadId: 'source',
      leadAgentId: 'lead',
      draft,
    });
    const t0 = performance.now();
    const approved = await stack.plans.approvePlan({ runId: plan.runId, organizationId, threadId: 'source', emittedBy: 'bench' });
    approveMs.push(performance.now() - t0);
    if (approved.status !== 'running') throw new Error(`run ${plan.runId} is ${approved.status}`);
  });
  return { approveMs, plansPerSecond: K / ((performance.now() - started) / 1000) };
}

async function bareRound(stack: Stack, taskQueue: string): Promise<RoundResult> {
  const approveMs: number[] = [];
  const started = performance.now();
  await pool(K, C, async () => {
    // Started the way a plan is: update-with-start, answered once the workflow runs.
    const startWorkflowOperation = new WithStartWorkflowOperation('bareApproval', {
      workflowId: `bare:${randomUUID()}`,
      taskQueue,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    await stack.client.workflow.executeUpdateWithStart(bareStartedUpdate, { startWorkflowOperation });
    const handle = await startWorkflowOperation.workflowHandle();
    const t0 = performance.now();
    await handle.executeUpdate(bareApproveUpdate, { args: [{ organizationId: 'o', threadId: 't', emittedBy: 'bench' }] });
    approveMs.push(performance.now() - t0);
  });
  return { approveMs, plansPerSecond: K / ((performance.now() - started) / 1000) };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dataDir = tempDir('plans-bench-');
  log(`Starting a Temporal dev server (SQLite, WAL) and the stack (embedded RocksDB) under ${dataDir} …`);
  const devServer = await startDevServer({
    dbFile: `${dataDir}/temporal.db`,
    port: await freePort(),
    uiPort: await freePort(),
  });
  const stack = await startStack(
    { ...loadConfig({}, {}), dataDir, apiPort: 0, temporalAddress: devServer.address, taskQueue: `bench-${randomUUID()}` },
    { workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') }) },
  );
  const bareQueue = `bare-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: devServer.address });
  const bareWorker = await Worker.create({
    connection,
    taskQueue: bareQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('./bare-workflow.js', import.meta.url)),
      logger: new DefaultLogger('WARN'),
    }),
  });
  const bareRunning = bareWorker.run();
  try {
    log(`Warming up …`);
    await pool(Math.min(20, K), C, async () => {
      await stack.plans.createPlan({ organizationId: 'warmup', threadId: 't', sourceThreadId: 's', leadAgentId: 'l', draft });
    });
    const plans: RoundResult[] = [];
    const bare: RoundResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`Round ${round}/${ROUNDS}: ${K} bare workflows …`);
      bare.push(await bareRound(stack, bareQueue));
      log(`Round ${round}/${ROUNDS}: ${K} cross-thread plans created and approved …`);
      plans.push(await planRound(stack));
    }
    const summarise = (rounds: RoundResult[]) => ({
      approveP50Ms: median(rounds.map((r) => percentile(r.approveMs, 50))),
      approveP99Ms: median(rounds.map((r) => percentile(r.approveMs, 99))),
      plansPerSecond: median(rounds.map((r) => r.plansPerSecond)),
    });
    const ours = summarise(plans);
    const baseline = summarise(bare);
    const result = {
      plansPerRound: K,
      concurrency: C,
      rounds: ROUNDS,
      plans: ours,
      bare: baseline,
      ratios: {
        throughput: ours.plansPerSecond / baseline.plansPerSecond,
        approveP50: ours.approveP50Ms / baseline.approveP50Ms,
        approveP99: ours.approveP99Ms / baseline.approveP99Ms,
      },
      budgets: {
        'approve p50 <= 50 ms': ours.approveP50Ms <= 50,
        'approve p99 <= 250 ms': ours.approveP99Ms <= 250,
      },
    };
    if (args.json) {
      console.log(JSON.stringify(result, null, 2));
    } else {
      const f = (n: number) => n.toFixed(1);
      console.log(`\nCreate + approve, ${K} runs per round, concurrency ${C}, median of ${ROUNDS} rounds`);
      console.log('                         plans        bare workflow   ratio');
      console.log(`approve latency p50 ms   ${f(ours.approveP50Ms).padStart(8)}     ${f(baseline.approveP50Ms).padStart(8)}        ${result.ratios.approveP50.toFixed(2)}x`);
      console.log(`approve latency p99 ms   ${f(ours.approveP99Ms).padStart(8)}     ${f(baseline.approveP99Ms).padStart(8)}        ${result.ratios.approveP99.toFixed(2)}x`);
      console.log(`runs per second          ${f(ours.plansPerSecond).padStart(8)}     ${f(baseline.plansPerSecond).padStart(8)}        ${result.ratios.throughput.toFixed(2)}x`);
      for (const [budget, met] of Object.entries(result.budgets)) console.log(`budget ${budget}: ${met ? 'met' : 'NOT met'}`);
    }
  } finally {
    bareWorker.shutdown();
    await bareRunning;
    await connection.close();
    await stack.stop();
    await devServer.stop();
  }
  process.exit(0);
}

await main();
