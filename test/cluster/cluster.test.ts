import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { RecordId } from 'surrealdb';

import { readOperatorToken } from '../../auth/operator.js';
import type { DoctorReport } from '../../client/doctor.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { type Cluster, PlansProcesses, startCluster } from '../../cluster/cluster.js';
import { waitFor } from '../../cluster/processes.js';
import { startSurrealServer } from '../../cluster/surrealdb.js';
import { openDatabase, runQuery } from '../../storage/database.js';
import { tempDir } from '../support/stack.js';
import { callApi } from '../support/http.js';
import { tokenThroughApi } from '../support/principals.js';

/**
 * The cluster suite (`npm run test:cluster`): PostgreSQL, Temporal's four services as separate
 * processes, a SurrealDB server, two `plans worker` and two `plans api` processes, all real.
 * Scenarios go through both APIs; then a worker is killed mid-plan, the history service is
 * killed, the SurrealDB server is restarted, and every run is checked against what Temporal
 * committed. A figure summary is printed at the end.
 */

// Below Linux's ephemeral range (32768-60999): a port in it can be taken at any moment as the local
// end of an outgoing connection, and a process started later then fails with EADDRINUSE (seen in CI:
// an API of the race test, started while the cluster's workers held hundreds of connections).
const BASE_PORT = Number(process.env.PLANS_CLUSTER_PORT ?? 21_000);
let cluster: Cluster;
let client: Client;
let connection: Connection;
const figures = { plans: 0, faults: [] as string[], lost: 0, duplicated: 0, runsPerSecond: {} as Record<string, number> };
const organizations: Array<{ organizationId: string; token: string; admin: string }> = [];

beforeAll(async () => {
  cluster = await startCluster({
    dir: tempDir('plans-cluster-'),
    basePort: BASE_PORT,
    workers: 2,
    apis: 2,
    log: (line) => process.stderr.write(`[cluster] ${line}\n`),
  });
  connection = await Connection.connect({ address: cluster.temporalAddress });
  client = new Client({ connection });
}, 3_600_000); // the first run builds the engines

afterAll(async () => {
  await connection?.close();
  await cluster?.stop();
  process.stderr.write(
    `\nCluster figures: ${figures.plans} plans; faults: ${figures.faults.join(', ') || 'none'}; lost ${figures.lost}; duplicated ${figures.duplicated}; ` +
      `runs/s ${Object.entries(figures.runsPerSecond)
        .map(([workers, rate]) => `${workers}: ${rate.toFixed(2)}`)
        .join(', ')}\n`,
  );
});

const api = (index: number) => cluster.apis[index]!.url;

/**
 * Polls `check` until it answers; fails naming `what` after `timeoutMs`, or at once, naming the
 * process and the end of its log, when a process of the cluster died that nobody stopped.
 */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  let value: T | undefined;
  await waitFor(
    what,
    async () => {
      cluster.checkAlive();
      value = await check();
      return value !== undefined;
    },
    timeoutMs,
  );
  return value!;
}

/** An organization with an agent that drafts and a person who approves, tokens made through the first API. */
async function organization() {
  const organizationId = `org-${randomUUID()}`;
  const operator = readOperatorToken(cluster.dataDir)!;
  const agent = await tokenThroughApi(api(0), operator, organizationId, 'planner', { kind: 'agent', roles: [] });
  const alice = await tokenThroughApi(api(1), operator, organizationId, 'alice');
  const admin = await tokenThroughApi(api(0), operator, organizationId, 'ops', { kind: 'person', roles: ['admin'] });
  organizations.push({ organizationId, token: agent, admin });
  return { organizationId, agent, alice };
}

function draft(nodes: unknown[] = [{ id: 'work', title: 'Work', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Do it.' }]) {
  return { title: 'Cluster plan', objective: 'Run across processes.', nodes };
}

const waitNodes = (duration: string) => [
  { id: 'first', title: 'First', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Start.' },
  { id: 'pause', title: 'Pause', executor: { type: 'system', action: 'wait', duration }, dependsOn: ['first'] },
  { id: 'last', title: 'Last', executor: { type: 'system', action: 'noop' }, dependsOn: ['pause'] },
];

async function create(url: string, token: string, crossThread: boolean, nodes?: unknown[]): Promise<PlanSnapshot> {
  figures.plans++;
  return callApi<PlanSnapshot>(url, token, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: crossThread ? 't-9' : 't-1',
    leadAgentId: 'planner',
    draft: draft(nodes),
  });
}

async function completed(url: string, token: string, runId: string, timeoutMs = 120_000): Promise<PlanSnapshot> {
  return until(
    `run ${runId} to be completed (as ${url} reads it)`,
    async () => {
      const plan = await callApi<PlanSnapshot>(url, token, 'GET', `/v1/plans/${runId}?include=events`);
      return plan.status === 'completed' ? plan : undefined;
    },
    timeoutMs,
  );
}

/** Reads an API's live feed (SSE) from its start until `done` holds for the events seen; fails naming `what` after `timeoutMs`. */
async function feedUntil(
  what: string,
  url: string,
  token: string,
  done: (types: string[]) => boolean,
  timeoutMs = 60_000,
): Promise<string[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const types: string[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    const response = await fetch(`${url}/v1/events?after=0`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (const match of buffer.matchAll(/^event: (.+)$/gm)) types.push(match[1]!);
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      if (done(types)) return types;
    }
    throw new Error('the feed ended');
  } catch (error) {
    const why = controller.signal.aborted ? `not within ${timeoutMs / 1000} s` : (error as Error).message;
    throw new Error(`${what}: ${why}; it showed ${types.join(', ') || 'nothing'}`, { cause: error });
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** The feed positions an API's live feed serves from its start, once it has served `count` (or after `timeoutMs`). */
async function feedPositions(url: string, token: string, count: number, timeoutMs = 30_000): Promise<number[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const positions: number[] = [];
  try {
    const response = await fetch(`${url}/v1/events?after=0`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      const complete = buffer.slice(0, buffer.lastIndexOf('\n') + 1);
      buffer = buffer.slice(complete.length);
      for (const match of complete.matchAll(/^id: (\d+)$/gm)) positions.push(Number(match[1]));
      if (positions.length >= count) break;
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return positions;
}

/**
 * Every run of every organization used is stored as Temporal committed it; none lost, none with
 * duplicate events; and each organization's feed, written by several processes at once, is
 * gap-free: positions 1..n, each once, n being all the events of its runs.
 */
async function checkInvariants(expected: Map<string, string>): Promise<void> {
  for (const { organizationId, admin } of organizations) {
    const report = await callApi<DoctorReport>(api(1), admin, 'POST', '/v1/doctor', {});
    expect({ organizationId, diverged: report.diverged, consistent: report.consistent }).toEqual({
      organizationId,
      diverged: 0,
      consistent: report.checked,
    });
  }
  for (const [runId, token] of expected) {
    const plan = await callApi<PlanSnapshot>(api(0), token, 'GET', `/v1/plans/${runId}?include=events`).catch(() => undefined);
    if (!plan) {
      figures.lost++;
      continue;
    }
    const sequences = plan.events!.map((event) => event.sequence);
    figures.duplicated += sequences.length - new Set(sequences).size;
    expect(sequences).toEqual(sequences.map((_, index) => index + 1));
  }
  expect(figures.lost).toBe(0);
  expect(figures.duplicated).toBe(0);
  for (const { organizationId, token } of organizations) {
    const runs = [...expected].filter(([, owner]) => owner === token).map(([runId]) => runId);
    let events = 0;
    for (const runId of runs)
      events += (await callApi<PlanSnapshot>(api(0), token, 'GET', `/v1/plans/${runId}?include=events`)).events!.length;
    const positions = await feedPositions(api(1), token, events);
    expect({ organizationId, positions }).toEqual({ organizationId, positions: Array.from({ length: events }, (_, index) => index + 1) });
  }
}

const started = new Map<string, string>();

describe('the SurrealDB server', () => {
  it('keeps every one of many concurrent updates of one record (its storage detects write conflicts; SurrealKV in 3.0.5 does not)', async () => {
    const url = cluster.surreal.url;
    const writers = await Promise.all([0, 1, 2, 3].map(() => openDatabase({ url, username: 'root', password: 'root' })));
    const counter = new RecordId('plan_feed', `counter-${randomUUID()}`);
    try {
      await Promise.all(
        writers.map(async (db) => {
          for (let i = 0; i < 300; i++) await runQuery(db, 'BEGIN; UPSERT $counter SET seq += 1; COMMIT;', { counter });
        }),
      );
      const [seq] = await runQuery<[number]>(writers[0]!, 'SELECT VALUE seq FROM ONLY $counter;', { counter });
      expect(seq).toBe(1200);
    } finally {
      await runQuery(writers[0]!, 'DELETE $counter;', { counter });
      await Promise.all(writers.map((db) => db.close()));
    }
  });
});

describe('processes started side by side', () => {
  it('on a new SurrealDB server, three workers and three APIs started at the same instant all come up, every time', async () => {
    const dir = tempDir('plans-race-');
    const rounds = 3;
    for (let round = 1; round <= rounds; round++) {
      // A new server each round: every process defines the namespace, database and schema at once.
      const server = await startSurrealServer(cluster.surrealBinary, join(dir, `surrealdb-${round}`), BASE_PORT + 21);
      const plans = new PlansProcesses({
        dir,
        dataDir: join(dir, 'plans'),
        temporalAddress: cluster.temporalAddress,
        surrealUrl: server.url,
        firstApiPort: BASE_PORT + 40 + 3 * (round - 1),
        connection,
        taskQueue: `race-${round}`, // apart from the cluster's own workers
        logSuffix: `-round-${round}`,
      });
      try {
        const started = [
          plans.startWorker(),
          plans.startApi(),
          plans.startWorker(),
          plans.startApi(),
          plans.startWorker(),
          plans.startApi(),
        ];
        await Promise.all(started.map((process) => plans.ready(process, 180_000)));
        // And they serve: a run created through one API of this round is run by its workers.
        const operator = readOperatorToken(join(dir, 'plans'))!;
        const organizationId = `org-${randomUUID()}`;
        const agent = await tokenThroughApi(plans.apis[0]!.url, operator, organizationId, 'planner', { kind: 'agent', roles: [] });
        const plan = await callApi<PlanSnapshot>(plans.apis[2]!.url, agent, 'POST', '/v1/plans', {
          threadId: 't-1',
          sourceThreadId: 't-1',
          leadAgentId: 'planner',
          draft: draft(),
        });
        await waitFor(
          `round ${round}: run ${plan.runId} to be completed`,
          async () => (await callApi<PlanSnapshot>(plans.apis[1]!.url, agent, 'GET', `/v1/plans/${plan.runId}`)).status === 'completed',
          60_000,
          [...plans.workers, ...plans.apis.map((api) => api.process)],
        );
      } finally {
        await plans.stopAll();
        await server.stop();
      }
    }
  });
});

describe('one plan through both APIs', () => {
  it('is created on one API, found in the inbox and the live feed of the other, approved there, and run by the workers', async () => {
    const { agent, alice } = await organization();
    // The organization is new: its feed from the start holds this run's events only.
    const feed = feedUntil("the other API's live feed to show the run completed", api(1), alice, (types) =>
      types.includes('plan-completed'),
    );
    feed.catch(() => {}); // awaited below
    const plan = await create(api(0), agent, true);
    started.set(plan.runId, agent);
    expect(plan.status).toBe('pending-approval');
    const inbox = await callApi<PlanSnapshot[]>(api(1), alice, 'GET', '/v1/plans?status=pending-approval');
    expect(inbox.map((listed) => listed.runId)).toContain(plan.runId);
    // The agent that asked may not decide, on either API.
    await expect(callApi(api(1), agent, 'POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-9' })).rejects.toMatchObject({
      status: 403,
    });
    const approved = await callApi<PlanSnapshot>(api(1), alice, 'POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-9' });
    expect(approved.status).not.toBe('pending-approval');
    const done = await completed(api(0), agent, plan.runId);
    expect(done.events!.map((event) => event.eventType)).toEqual(
      expect.arrayContaining(['plan-approved', 'node-completed', 'plan-completed']),
    );
    const seen = await feed;
    expect(seen).toEqual(expect.arrayContaining(['plan-pending-approval', 'plan-approved', 'plan-completed']));
    // The run is a workflow of the multi-service Temporal, closed as it completed.
    expect((await client.workflow.getHandle(plan.workflowId).describe()).status.name).toBe('COMPLETED');
  });

  it('a rejection on one API is what the other shows', async () => {
    const { agent, alice } = await organization();
    const plan = await create(api(1), agent, true);
    started.set(plan.runId, agent);
    await callApi(api(0), alice, 'POST', `/v1/plans/${plan.runId}/reject`, { threadId: 't-9', reason: 'Not now.' });
    const seen = await until(`run ${plan.runId} to be aborted as the other API reads it`, async () => {
      const read = await callApi<PlanSnapshot>(api(1), agent, 'GET', `/v1/plans/${plan.runId}`);
      return read.status === 'aborted' ? read : undefined;
    });
    expect(seen.status).toBe('aborted');
  });
});

describe('execution through both APIs', () => {
  it("a person's step, assigned on one API, is completed on the other; the run carries on with the workers", async () => {
    const { agent, alice } = await organization();
    const plan = await create(api(0), agent, true, [
      { id: 'draft', title: 'Draft', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Write it.' },
      { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'alice' }, dependsOn: ['draft'] },
      { id: 'publish', title: 'Publish', executor: { type: 'system', action: 'noop' }, dependsOn: ['review'] },
    ]);
    started.set(plan.runId, agent);
    await callApi(api(0), alice, 'POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-9' });
    await until(`step review of run ${plan.runId} to await its assignee`, async () => {
      const read = await callApi<PlanSnapshot>(api(1), alice, 'GET', `/v1/plans/${plan.runId}`);
      return read.nodes.find((node) => node.nodeId === 'review')!.status === 'awaiting-human' ? true : undefined;
    });
    // Only its assignee may complete it.
    await expect(
      callApi(api(1), agent, 'POST', `/v1/plans/${plan.runId}/nodes/review/complete`, { output: 'looks fine' }),
    ).rejects.toMatchObject({ status: 403 });
    await callApi(api(1), alice, 'POST', `/v1/plans/${plan.runId}/nodes/review/complete`, { output: 'looks fine' });
    const done = await completed(api(0), agent, plan.runId);
    expect(done.nodes.map((node) => [node.nodeId, node.status])).toEqual([
      ['draft', 'completed'],
      ['review', 'completed'],
      ['publish', 'completed'],
    ]);
  });
});

describe('faults', () => {
  it('a worker killed with -9 mid-plan: the other worker finishes every plan', async () => {
    const { agent } = await organization();
    const plans = await Promise.all(Array.from({ length: 8 }, (_, index) => create(api(index % 2), agent, false, waitNodes('2s'))));
    for (const plan of plans) started.set(plan.runId, agent);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await cluster.workers[0]!.kill('SIGKILL');
    figures.faults.push('worker kill -9');
    for (const plan of plans) await completed(api(0), agent, plan.runId);
    await cluster.startWorker();
  });

  it('the history service killed with -9 while plans wait for approval: once back, approvals go through', async () => {
    const { agent, alice } = await organization();
    const plans = await Promise.all(Array.from({ length: 6 }, () => create(api(0), agent, true)));
    for (const plan of plans) started.set(plan.runId, agent);
    await cluster.temporal.services.history.kill('SIGKILL');
    figures.faults.push('Temporal history kill -9');
    await cluster.temporal.restart('history');
    await Promise.all(
      plans.map((plan, index) =>
        until(
          `the approval of run ${plan.runId} to go through once the history service is back`,
          () =>
            callApi(api(index % 2), alice, 'POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-9' }).catch(
              (error: { status?: number }) => {
                if (error.status === 409) return true; // an earlier try went through
                throw error;
              },
            ),
          120_000,
        ),
      ),
    );
    for (const plan of plans) await completed(api(1), agent, plan.runId);
  });

  it('the SurrealDB server killed with -9 and restarted while plans run: nothing accepted is lost', async () => {
    const { agent } = await organization();
    const plans = await Promise.all(Array.from({ length: 8 }, (_, index) => create(api(index % 2), agent, false, waitNodes('1s'))));
    for (const plan of plans) started.set(plan.runId, agent);
    await cluster.surreal.process.kill('SIGKILL');
    figures.faults.push('SurrealDB kill -9 and restart');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await cluster.surreal.restart();
    for (const plan of plans) await completed(api(0), agent, plan.runId, 180_000);
  });

  it('afterwards every run is stored as Temporal committed it, none lost, none duplicated', async () => {
    await checkInvariants(started);
  });
});

describe('scaling out', () => {
  it('measures plans per second with one worker and with two', async () => {
    const { agent } = await organization();
    const measure = async (label: string) => {
      const count = 20;
      const begin = performance.now();
      const plans = await Promise.all(
        Array.from({ length: count }, (_, index) =>
          create(api(index % 2), agent, false, [{ id: 'n', title: 'N', executor: { type: 'system', action: 'noop' } }]),
        ),
      );
      for (const plan of plans) started.set(plan.runId, agent);
      for (const plan of plans) await completed(api(0), agent, plan.runId);
      figures.runsPerSecond[label] = count / ((performance.now() - begin) / 1000);
    };
    const alive = cluster.workers.filter((worker) => worker.running);
    for (const worker of alive.slice(1)) await worker.kill();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await measure('1 worker');
    await cluster.startWorker();
    await measure('2 workers');
    // Two workers wrote this organization's events at once: its feed is still 1..n.
    await checkInvariants(started);
  });
});
