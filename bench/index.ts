import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { WithStartWorkflowOperation } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';

import { loadConfig } from '../app/config.js';
import { conflictRetriesSoFar } from '../storage/database.js';
import { type Stack, startStack } from '../app/stack.js';
import { startDevServer } from '../temporal/dev-server.js';
import { freePort } from '../temporal/free-port.js';
import { bundlePlanWorkflows } from '../worker/bundle.js';
import { bareApproveUpdate, bareStartedUpdate } from './bare-workflow.js';
import { type HistoryCount, countHistory } from './history.js';
import { median, percentile, pool } from './stats.js';

/**
 * `npm run bench [-- --plans K --nodes N --concurrency C --rounds R --json]`
 *
 * In one run, against one Temporal dev server (SQLite, WAL) and the embedded RocksDB:
 * - K cross-thread plans of N system/noop nodes created, approved by update and run to
 *   completion through the client, every transition persisted;
 * - K bare workflows started and approved by the same calls (update-with-start, then the
 *   approval update) with the same gate (the decider looked up by an activity, an expiry timer)
 *   that then run N no-op activities in a row, and persist nothing.
 * Rounds alternate between the two so machine noise hits both alike; medians of the rounds are
 * quoted. With --nodes 0 both stop at the approval (the approval path alone: the plan's one node
 * waits for a person). CPU per run is charged per round: this process (worker, client, embedded
 * SurrealDB) from process.cpuUsage, the Temporal server from /proc. Traced when the OTEL_*
 * variables set an endpoint (docs/tracing.md), off otherwise.
 */
const { values: args } = parseArgs({
  options: {
    plans: { type: 'string', default: '100' },
    nodes: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('Usage: npm run bench -- [--plans K] [--nodes N] [--concurrency C] [--rounds R] [--json]');
  process.exit(0);
}
const K = Number(args.plans);
const N = Number(args.nodes);
const C = Number(args.concurrency);
const ROUNDS = Number(args.rounds);
for (const [name, value, min] of [
  ['plans', K, 1],
  ['nodes', N, 0],
  ['concurrency', C, 1],
  ['rounds', ROUNDS, 1],
] as const) {
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be an integer of at least ${min}`);
    process.exit(2);
  }
}

/** The issue's budget: 0.8x a bare workflow at concurrency 4 (and below), 0.75x from 8. */
const THROUGHPUT_BUDGET = C >= 8 ? 0.75 : 0.8;

interface RoundResult {
  approveMs: number[];
  approveToDoneMs: number[];
  runsPerSecond: number;
  workflowIds: string[];
  /** CPU per run of this process (worker, client, embedded SurrealDB) and of the Temporal server, ms. */
  processCpuMs: number;
  serverCpuMs: number;
  /** SurrealDB transactions done again after a write conflict, per run. */
  conflictRetries: number;
}

/** CPU time a process used so far, ms (user + system, from /proc; Linux clock ticks are 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs a round and charges it the CPU this process and the server used meanwhile, per run. */
async function measured(
  serverPid: number,
  round: () => Promise<Omit<RoundResult, 'processCpuMs' | 'serverCpuMs' | 'conflictRetries'>>,
): Promise<RoundResult> {
  const process0 = process.cpuUsage();
  const server0 = cpuMsOf(serverPid);
  const conflicts0 = conflictRetriesSoFar();
  const result = await round();
  const used = process.cpuUsage(process0);
  return {
    ...result,
    processCpuMs: (used.user + used.system) / 1000 / K,
    serverCpuMs: (cpuMsOf(serverPid) - server0) / K,
    conflictRetries: (conflictRetriesSoFar() - conflicts0) / K,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const draft = {
  title: 'Benchmark plan',
  objective: 'Measure the approval and execution paths.',
  // A plan cannot be empty: with --nodes 0 its one node waits for a person, so the run stops once approved.
  nodes:
    N === 0
      ? [{ id: 'ask', title: 'Ask', executor: { type: 'human' } }]
      : Array.from({ length: N }, (_, index) => ({
          id: `n${index + 1}`,
          title: `Step ${index + 1}`,
          executor: { type: 'system', action: 'noop' },
        })),
};

async function planRound(stack: Stack): Promise<Omit<RoundResult, 'processCpuMs' | 'serverCpuMs' | 'conflictRetries'>> {
  const result = { approveMs: [] as number[], approveToDoneMs: [] as number[], runsPerSecond: 0, workflowIds: [] as string[] };
  const organizationId = `bench-${randomUUID()}`;
  // The decider is a person with the approver role, as the approval gate requires.
  await stack.store.principals.save({ organizationId, id: 'bench', kind: 'person', roles: ['approver'] });
  const started = performance.now();
  await pool(K, C, async (index) => {
    const plan = await stack.plans.runs.create({
      organizationId,
      threadId: `t-${index}`,
      sourceThreadId: 'source',
      leadAgentId: 'lead',
      draft,
    });
    const t0 = performance.now();
    await stack.plans.runs.approve({ runId: plan.runId, organizationId, threadId: 'source', emittedBy: 'bench' });
    result.approveMs.push(performance.now() - t0);
    if (N > 0) {
      const done = await stack.client.workflow.getHandle(plan.workflowId).result();
      if (done.status !== 'completed') throw new Error(`run ${plan.runId} ended ${done.status}`);
      result.approveToDoneMs.push(performance.now() - t0);
    }
    result.workflowIds.push(plan.workflowId);
  });
  result.runsPerSecond = K / ((performance.now() - started) / 1000);
  return result;
}

async function bareRound(stack: Stack, taskQueue: string): Promise<Omit<RoundResult, 'processCpuMs' | 'serverCpuMs' | 'conflictRetries'>> {
  const result = { approveMs: [] as number[], approveToDoneMs: [] as number[], runsPerSecond: 0, workflowIds: [] as string[] };
  const started = performance.now();
  await pool(K, C, async () => {
    const workflowId = `bare:${randomUUID()}`;
    const startWorkflowOperation = new WithStartWorkflowOperation('bareApproval', {
      workflowId,
      taskQueue,
      args: [N],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    await stack.client.workflow.executeUpdateWithStart(bareStartedUpdate, { startWorkflowOperation });
    const handle = await startWorkflowOperation.workflowHandle();
    const t0 = performance.now();
    await handle.executeUpdate(bareApproveUpdate, { args: [{ emittedBy: 'bench' }] });
    result.approveMs.push(performance.now() - t0);
    if (N > 0) {
      await handle.result();
      result.approveToDoneMs.push(performance.now() - t0);
    }
    result.workflowIds.push(workflowId);
  });
  result.runsPerSecond = K / ((performance.now() - started) / 1000);
  return result;
}

/** Median events and actions per run over a sample of a round's workflows. */
async function historyOf(
  stack: Stack,
  workflowIds: string[],
): Promise<{ events: number; actions: number; byType: HistoryCount['byType'] }> {
  const sample = await Promise.all(workflowIds.slice(0, 10).map((id) => countHistory(stack.client, id)));
  return {
    events: median(sample.map((count) => count.events)),
    actions: median(sample.map((count) => count.actions)),
    byType: sample[0]?.byType ?? {},
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dataDir = mkdtempSync(join(tmpdir(), 'plans-bench-'));
  log(`Starting a Temporal dev server (SQLite, WAL) and the stack (embedded RocksDB) under ${dataDir} …`);
  const devServer = await startDevServer({
    binary: loadConfig().temporalBin,
    dbFile: `${dataDir}/temporal.db`,
    port: await freePort(),
    uiPort: await freePort(),
  });
  // Traced when the OTEL_* variables say so (docs/tracing.md): the cost of tracing, measured like the rest.
  const otel = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_')));
  const config = loadConfig({ dataDir }, otel);
  const tracing = config.tracing !== undefined;
  log(`Tracing ${tracing ? `on, to ${config.tracing!.endpoint}` : 'off'}.`);
  const stack = await startStack(
    { ...config, apiPort: 0, temporalAddress: devServer.address, taskQueue: `bench-${randomUUID()}` },
    { workflowBundle: await bundlePlanWorkflows({ tracing }) },
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
    activities: { noop: async () => {}, findPrincipal: async (id: string) => ({ id, roles: ['approver'] }) },
  });
  const bareRunning = bareWorker.run();
  try {
    log('Warming up …');
    await pool(Math.min(20, K), C, async () => {
      await stack.plans.runs.create({ organizationId: 'warmup', threadId: 't', sourceThreadId: 's', leadAgentId: 'l', draft });
    });
    const plans: RoundResult[] = [];
    const bare: RoundResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`Round ${round}/${ROUNDS}: ${K} bare workflows …`);
      bare.push(await measured(devServer.process.pid!, () => bareRound(stack, bareQueue)));
      log(`Round ${round}/${ROUNDS}: ${K} cross-thread plans of ${N} nodes created, approved${N > 0 ? ' and run' : ''} …`);
      plans.push(await measured(devServer.process.pid!, () => planRound(stack)));
    }
    log('Counting histories …');
    const summarise = async (rounds: RoundResult[]) => ({
      approveP50Ms: median(rounds.map((r) => percentile(r.approveMs, 50))),
      approveP99Ms: median(rounds.map((r) => percentile(r.approveMs, 99))),
      approveToCompletedP50Ms: median(rounds.map((r) => percentile(r.approveToDoneMs, 50))),
      approveToCompletedP99Ms: median(rounds.map((r) => percentile(r.approveToDoneMs, 99))),
      runsPerSecond: median(rounds.map((r) => r.runsPerSecond)),
      processCpuMsPerRun: median(rounds.map((r) => r.processCpuMs)),
      serverCpuMsPerRun: median(rounds.map((r) => r.serverCpuMs)),
      conflictRetriesPerRun: median(rounds.map((r) => r.conflictRetries)),
      history: await historyOf(stack, rounds.at(-1)!.workflowIds),
    });
    const ours = await summarise(plans);
    const baseline = await summarise(bare);
    const result = {
      plansPerRound: K,
      nodesPerPlan: N,
      concurrency: C,
      rounds: ROUNDS,
      tracing,
      plans: ours,
      bare: baseline,
      ratios: {
        throughput: ours.runsPerSecond / baseline.runsPerSecond,
        approveP50: ours.approveP50Ms / baseline.approveP50Ms,
        approveP99: ours.approveP99Ms / baseline.approveP99Ms,
        ...(N > 0 ? { approveToCompletedP50: ours.approveToCompletedP50Ms / baseline.approveToCompletedP50Ms } : {}),
      },
      budgets: {
        [`throughput >= ${THROUGHPUT_BUDGET}x bare`]: ours.runsPerSecond / baseline.runsPerSecond >= THROUGHPUT_BUDGET,
        'approve p50 <= 50 ms': ours.approveP50Ms <= 50,
        'approve p99 <= 250 ms': ours.approveP99Ms <= 250,
        'actions per run <= bare + 3': ours.history.actions <= baseline.history.actions + 3,
        'CPU per run (process + server) <= 1.4x bare':
          ours.processCpuMsPerRun + ours.serverCpuMsPerRun <= 1.4 * (baseline.processCpuMsPerRun + baseline.serverCpuMsPerRun),
      },
    };
    if (args.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const f = (n: number) => n.toFixed(1).padStart(9);
    const row = (label: string, a: number, b: number) =>
      console.log(`${label.padEnd(30)}${f(a)}    ${f(b)}    ${(a / b).toFixed(2).padStart(6)}x`);
    console.log(
      `\n${K} runs per round of ${N} noop nodes, concurrency ${C}, median of ${ROUNDS} rounds, tracing ${tracing ? 'on' : 'off'}`,
    );
    console.log(`${''.padEnd(30)}    plans    bare wf     ratio`);
    row('approve latency p50 (ms)', ours.approveP50Ms, baseline.approveP50Ms);
    row('approve latency p99 (ms)', ours.approveP99Ms, baseline.approveP99Ms);
    if (N > 0) {
      row('approve -> completed p50 (ms)', ours.approveToCompletedP50Ms, baseline.approveToCompletedP50Ms);
      row('approve -> completed p99 (ms)', ours.approveToCompletedP99Ms, baseline.approveToCompletedP99Ms);
    }
    row('runs per second', ours.runsPerSecond, baseline.runsPerSecond);
    row('history events per run', ours.history.events, baseline.history.events);
    row('actions per run', ours.history.actions, baseline.history.actions);
    row('CPU ms per run, this process', ours.processCpuMsPerRun, baseline.processCpuMsPerRun);
    row('CPU ms per run, Temporal server', ours.serverCpuMsPerRun, baseline.serverCpuMsPerRun);
    console.log(`write conflicts retried per run: ${ours.conflictRetriesPerRun.toFixed(2)}`);
    console.log(`plan actions by type: ${JSON.stringify(ours.history.byType)}`);
    console.log(`bare actions by type: ${JSON.stringify(baseline.history.byType)}`);
    for (const [budget, met] of Object.entries(result.budgets)) console.log(`budget ${budget}: ${met ? 'met' : 'NOT met'}`);
  } finally {
    bareWorker.shutdown();
    await bareRunning;
    await connection.close();
    await stack.stop();
    await devServer.stop();
  }
}

await main();
process.exit(0);
