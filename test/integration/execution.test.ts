import { randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { echoAgent } from '../../agents/echo.js';
import type { AgentContext, AgentRegistry } from '../../agents/types.js';
import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { workflowIdOf } from '../../temporal/names.js';
import { completeNodeSignal } from '../../workflows/messages.js';
import { expectRecordEqualsWorkflow } from '../support/record.js';
import { refusal } from '../support/refusal.js';
import { eventually, resultOf, startTestStack } from '../support/stack.js';
import { castIn } from '../support/principals.js';

/** Real agents with observable behaviour, run by the real worker against the real servers. */
const attemptsSeen = new Map<string, number>();
let concurrent = 0;
let maxConcurrent = 0;
const aborted: string[] = [];
const received = new Map<string, AgentContext['upstream']>();

const agents: AgentRegistry = {
  echo: echoAgent,
  /** Fails its first two attempts of each node, then answers. */
  flaky: async ({ runId, node, attempt }) => {
    attemptsSeen.set(`${runId}/${node.nodeId}`, attempt);
    if (attempt < 3) throw new Error(`flaky failure ${attempt}`);
    return { output: { attempt } };
  },
  broken: async () => {
    throw new Error('the tool is down');
  },
  /** Takes 150 ms, counting how many run at once. */
  busy: async () => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await new Promise((resolve) => setTimeout(resolve, 150));
    concurrent--;
    return { output: 'done' };
  },
  /** Works until aborted. */
  endless: ({ runId, signal }) =>
    new Promise((_, reject) => {
      signal.addEventListener('abort', () => {
        aborted.push(runId);
        reject(new Error('aborted'));
      });
    }),
  /** Records what it was handed. */
  recorder: async ({ runId, node, upstream }) => {
    received.set(`${runId}/${node.nodeId}`, upstream);
    return { output: upstream.length };
  },
};

/** A webhook receiver that fails its first call, then answers. */
const webhookCalls: unknown[] = [];
let webhookServer: Server;
let webhookUrl: string;

let stack: Stack;
beforeAll(async () => {
  webhookServer = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      webhookCalls.push(JSON.parse(body));
      if (webhookCalls.length === 1) {
        response.statusCode = 503;
        response.end('try later');
      } else response.end(JSON.stringify({ received: webhookCalls.length }));
    });
  });
  await new Promise<void>((resolve) => webhookServer.listen(0, '127.0.0.1', resolve));
  webhookUrl = `http://127.0.0.1:${(webhookServer.address() as AddressInfo).port}/hook`;
  stack = await startTestStack({}, agents);
});
afterAll(async () => {
  await stack?.stop();
  webhookServer?.close();
});

async function ctx() {
  const organizationId = `org-${randomUUID()}`;
  await castIn(stack, organizationId);
  return { organizationId, threadId: 't-1', leadAgentId: 'lead' };
}
type NodeDraft = { id: string; title?: string; executor: Record<string, unknown>; [key: string]: unknown };
const draftOf = (nodes: NodeDraft[], extra: Record<string, unknown> = {}) => ({
  title: 'Execution test',
  objective: 'Run nodes.',
  nodes: nodes.map((node) => ({ title: node.id, ...node })),
  ...extra,
});

async function run(nodes: NodeDraft[], extra: Record<string, unknown> = {}) {
  const scope = await ctx();
  const plan = await stack.plans.runs.create({ ...scope, draft: draftOf(nodes, extra) });
  return { scope, plan };
}

async function finished(plan: PlanSnapshot): Promise<PlanSnapshot> {
  await resultOf(stack.client.workflow.getHandle(plan.workflowId));
  return stack.plans.runs.get(plan.runId, { includeEvents: true, includeCheckpoints: true, includeArtifacts: true });
}

function nodeEvents(plan: PlanSnapshot, nodeId?: string): string[] {
  return plan
    .events!.filter((event) => nodeId === undefined || event.nodeId === nodeId)
    .map((event) => event.eventType)
    .filter((type) => type !== 'checkpoint-saved');
}

/** I2, I3: numbered 1..n, no gap, no duplicate. */
function expectContiguous(plan: PlanSnapshot): void {
  expect(plan.events!.map((event) => event.sequence)).toEqual(plan.events!.map((_, index) => index + 1));
  expect(plan.checkpoints!.map((checkpoint) => checkpoint.sequence)).toEqual(plan.checkpoints!.map((_, index) => index + 1));
}

const noop = { type: 'system', action: 'noop' };

it('runs a linear plan in order, one checkpoint per transition, to completed', async () => {
  const { plan } = await run([
    { id: 'a', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Say hello.' },
    { id: 'b', executor: noop },
    { id: 'c', executor: { type: 'agent', agentId: 'recorder' } },
  ]);
  const done = await finished(plan);
  expect(done).toMatchObject({ status: 'completed', readyNodeIds: [], currentNodeId: null });
  expect(done.completedAt).not.toBeNull();
  expect(nodeEvents(done).slice(1)).toEqual([
    'node-started',
    'node-completed',
    'node-started',
    'node-completed',
    'node-started',
    'node-completed',
    'plan-completed',
  ]);
  expect(done.nodes.map((node) => [node.nodeId, node.status, node.attempt])).toEqual([
    ['a', 'completed', 1],
    ['b', 'completed', 1],
    ['c', 'completed', 1],
  ]);
  expect(done.nodes[0]!.artifactIds).toEqual([`${plan.runId}:a:1`]);
  expect(done.artifacts).toEqual(expect.arrayContaining([expect.objectContaining({ nodeId: 'a', content: { text: 'a.\nSay hello.' } })]));
  expectContiguous(done);
  expect(done.checkpoints!.at(-1)).toMatchObject({ runStatus: 'completed', lastCompletedNodeIds: ['a', 'b', 'c'] });
});

it('runs independent nodes in parallel, never more than the plan allows', async () => {
  maxConcurrent = 0;
  const { plan } = await run(
    Array.from({ length: 6 }, (_, index) => ({ id: `n${index}`, executor: { type: 'agent', agentId: 'busy' }, dependsOn: [] })),
    { parallelism: 2 },
  );
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  expect(maxConcurrent).toBe(2);
});

it('a diamond waits for both branches; a person completes theirs and outputs flow downstream by id', async () => {
  const { scope, plan } = await run([
    { id: 'start', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Begin.' },
    { id: 'left', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Left.', dependsOn: ['start'] },
    { id: 'right', executor: { type: 'human', assignee: 'alice' }, dependsOn: ['start'] },
    { id: 'join', executor: { type: 'agent', agentId: 'recorder' }, dependsOn: ['left', 'right'] },
  ]);
  const waiting = await eventually(`run ${plan.runId} to wait for alice (awaiting-human)`, async () => {
    const current = await stack.plans.runs.get(plan.runId);
    return current.status === 'awaiting-human' ? current : undefined;
  });
  expect(waiting).toMatchObject({ waitingNodeId: 'right' });
  expect(waiting.nodes.map((node) => node.status)).toEqual(['completed', 'completed', 'awaiting-human', 'pending']);

  const complete = { runId: plan.runId, organizationId: scope.organizationId, threadId: 't-1', emittedBy: 'alice', nodeId: 'right' };
  expect(await refusal(stack.plans.runs.completeNode({ ...complete, threadId: 't-other' }))).toMatchObject({
    code: 'wrong-thread',
    message: 'Plan run is not available in this thread context.',
  });
  expect(await refusal(stack.plans.runs.completeNode({ ...complete, nodeId: 'left' }))).toMatchObject({
    code: 'not-waiting',
    message: 'Node "left" is not waiting for a person.',
  });
  await stack.plans.runs.completeNode({ ...complete, output: { verdict: 'ship it' } });
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  const upstream = received.get(`${plan.runId}/join`)!;
  expect(upstream.map((artifact) => [artifact.nodeId, artifact.content])).toEqual([
    ['left', { text: 'left.\nLeft.\nstart: {"text":"start.\\nBegin."}' }],
    ['right', { verdict: 'ship it' }],
  ]);
  expect(done.events!.find((event) => event.eventType === 'node-completed' && event.nodeId === 'right')).toMatchObject({
    emittedBy: 'alice',
  });
  expectContiguous(done);
});

it('a human node can be completed by signal; a refused one is audited', async () => {
  const { scope, plan } = await run([{ id: 'ask', executor: { type: 'human' } }]);
  await eventually(`run ${plan.runId} to be awaiting-human`, async () =>
    (await stack.plans.runs.get(plan.runId)).status === 'awaiting-human' ? true : undefined,
  );
  const handle = stack.client.workflow.getHandle(plan.workflowId);
  await handle.signal(completeNodeSignal, { organizationId: 'intruder', threadId: 't-1', emittedBy: 'mallory', nodeId: 'ask' });
  await handle.signal(completeNodeSignal, {
    organizationId: scope.organizationId,
    threadId: 't-1',
    emittedBy: 'bob',
    nodeId: 'ask',
    output: 42,
  });
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  expect(nodeEvents(done)).toContain('decision-refused');
  expect(done.artifacts).toEqual([expect.objectContaining({ nodeId: 'ask', content: 42, createdBy: 'bob' })]);
});

it('retries a failing node with backoff, recording each retry, then succeeds', async () => {
  const { plan } = await run([
    { id: 'try', executor: { type: 'agent', agentId: 'flaky' }, retry: { maxAttempts: 3, initialInterval: '100ms' } },
  ]);
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  expect(nodeEvents(done, 'try')).toEqual([
    'node-started',
    'node-retried',
    'node-started',
    'node-retried',
    'node-started',
    'node-completed',
  ]);
  const retried = done.events!.filter((event) => event.eventType === 'node-retried');
  expect(retried.map((event) => [event.detail.attempt, event.detail.error, event.detail.retryInMs])).toEqual([
    [1, 'flaky failure 1', 100],
    [2, 'flaky failure 2', 200],
  ]);
  expect(done.nodes[0]).toMatchObject({ status: 'completed', attempt: 3 });
  expectContiguous(done);
});

it('fails the run when a node exhausts its retries, recording the error', async () => {
  const { plan } = await run([
    { id: 'first', executor: noop },
    { id: 'bad', executor: { type: 'agent', agentId: 'broken' }, retry: { maxAttempts: 2, initialInterval: '50ms' } },
    { id: 'never', executor: noop },
  ]);
  const done = await finished(plan);
  expect(done).toMatchObject({ status: 'failed', failureCount: 1 });
  expect(done.nodes.map((node) => [node.nodeId, node.status])).toEqual([
    ['first', 'completed'],
    ['bad', 'failed'],
    ['never', 'aborted'],
  ]);
  expect(done.nodes[1]!.error).toBe('the tool is down');
  expect(done.events!.find((event) => event.eventType === 'node-failed')).toMatchObject({
    nodeId: 'bad',
    message: 'Node "bad" failed after 2 attempt(s): the tool is down',
  });
  expect(done.events!.at(-2)).toMatchObject({ eventType: 'plan-failed', toStatus: 'failed' });
  expectContiguous(done);
});

it('an optional node may fail: the nodes that need it are skipped and the rest completes', async () => {
  const { plan } = await run([
    { id: 'extra', executor: { type: 'agent', agentId: 'broken' }, optional: true, retry: { maxAttempts: 1 }, dependsOn: [] },
    { id: 'uses-extra', executor: noop, dependsOn: ['extra'] },
    { id: 'after', executor: noop, dependsOn: ['uses-extra'] },
    { id: 'main', executor: noop, dependsOn: [] },
  ]);
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  expect(done.nodes.map((node) => [node.nodeId, node.status])).toEqual([
    ['extra', 'failed'],
    ['uses-extra', 'skipped'],
    ['after', 'skipped'],
    ['main', 'completed'],
  ]);
  expect(nodeEvents(done).filter((type) => type === 'node-skipped')).toHaveLength(2);
});

it('records deadline warning and miss exactly once each, without cancelling unless told to', async () => {
  const { scope, plan } = await run([
    { id: 'slow-person', executor: { type: 'human' }, deadline: { after: '1500ms', warnBefore: '1s' }, dependsOn: [] },
    { id: 'strict', executor: { type: 'human' }, deadline: { after: '1s', cancel: true }, optional: true, dependsOn: [] },
  ]);
  const missed = await eventually(`run ${plan.runId} to record both nodes' deadlines missed`, async () => {
    const current = await stack.plans.runs.get(plan.runId, { includeEvents: true });
    return current.events!.filter((event) => event.eventType === 'node-deadline-missed').length === 2 ? current : undefined;
  });
  const deadlineEvents = missed.events!.filter((event) => event.eventType.startsWith('node-deadline'));
  expect(deadlineEvents.map((event) => [event.eventType, event.detail.dedupeKey])).toEqual(
    expect.arrayContaining([
      ['node-deadline-warning', 'slow-person:deadline-warning'],
      ['node-deadline-missed', 'slow-person:deadline-missed'],
      ['node-deadline-missed', 'strict:deadline-missed'],
    ]),
  );
  expect(deadlineEvents).toHaveLength(3);
  expect(missed.nodes.map((node) => [node.nodeId, node.status])).toEqual([
    ['slow-person', 'awaiting-human'],
    ['strict', 'failed'],
  ]);
  await stack.plans.runs.completeNode({
    runId: plan.runId,
    organizationId: scope.organizationId,
    threadId: 't-1',
    emittedBy: 'p',
    nodeId: 'slow-person',
  });
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  expect(done.events!.filter((event) => event.eventType.startsWith('node-deadline'))).toHaveLength(3);
});

it('abortPlan cancels in-flight work and ends aborted with the reason', async () => {
  const { scope, plan } = await run([
    { id: 'work', executor: { type: 'agent', agentId: 'endless' } },
    { id: 'later', executor: noop },
  ]);
  await eventually(`node "work" of run ${plan.runId} to be running`, async () =>
    (await stack.plans.runs.get(plan.runId)).nodes[0]!.status === 'running' ? true : undefined,
  );
  const request = { runId: plan.runId, organizationId: scope.organizationId, threadId: 't-1', emittedBy: 'ops' };
  expect(await refusal(stack.plans.runs.abort({ ...request, reason: '' }))).toMatchObject({ code: 'invalid-input' });
  const abortedPlan = await stack.plans.runs.abort({ ...request, reason: 'Wrong customer.' });
  expect(abortedPlan).toMatchObject({ status: 'aborted' });
  expect(abortedPlan.nodes.map((node) => node.status)).toEqual(['aborted', 'aborted']);
  await eventually(`the endless agent of run ${plan.runId} to be aborted`, async () => (aborted.includes(plan.runId) ? true : undefined));
  const done = await finished(plan);
  expect(done.events!.find((event) => event.eventType === 'plan-aborted')).toMatchObject({
    detail: { reason: 'Wrong customer.' },
    emittedBy: 'ops',
  });
  expect(await refusal(stack.plans.runs.abort({ ...request, reason: 'again' }))).toMatchObject({
    code: 'not-active',
    message: 'Only active plans can be aborted.',
  });
});

it('replacing a running plan aborts its work before the new run starts', async () => {
  const { scope, plan } = await run([{ id: 'work', executor: { type: 'agent', agentId: 'endless' } }]);
  await eventually(`node "work" of run ${plan.runId} to be running`, async () =>
    (await stack.plans.runs.get(plan.runId)).nodes[0]!.status === 'running' ? true : undefined,
  );
  const next = await stack.plans.runs.replace({
    runId: plan.runId,
    ...scope,
    reason: 'New approach.',
    draft: draftOf([{ id: 'quick', executor: noop }]),
  });
  expect(next.replacedRunId).toBe(plan.runId);
  await eventually(`the endless agent of the replaced run ${plan.runId} to be aborted`, async () =>
    aborted.includes(plan.runId) ? true : undefined,
  );
  expect((await stack.plans.runs.get(plan.runId)).status).toBe('aborted');
  expect((await finished(next)).status).toBe('completed');
});

it('a schedule fires runs of the approved spec without approval; pause, resume and delete it', async () => {
  const scope = await ctx();
  const created = await stack.plans.runs.create({
    ...scope,
    sourceThreadId: 't-9',
    draft: draftOf([{ id: 'tick', executor: noop }], { schedule: { every: '2s' } }),
  });
  const approved = await stack.plans.runs.approve({
    runId: created.runId,
    organizationId: scope.organizationId,
    threadId: 't-9',
    emittedBy: 'alice',
  });
  const scheduleId = approved.scheduleId!;
  const fired = await eventually(
    `schedule ${scheduleId} to fire 2 completed runs of spec ${created.planSpecId}`,
    async () => {
      const runs = (await stack.plans.runs.list({ organizationId: scope.organizationId })).filter(
        (candidate) => candidate.runId !== created.runId && candidate.status === 'completed',
      );
      return runs.length >= 2 ? runs : undefined;
    },
    20_000,
  );
  for (const run of fired) {
    expect(run).toMatchObject({
      planSpecId: created.planSpecId,
      requireApproval: false,
      sourceThreadId: 't-9',
      threadId: 't-1',
      firedByScheduleId: scheduleId,
    });
  }
  const record = await stack.store.schedules.get(scheduleId);
  expect(fired.map((run) => run.runId)).toContain(record!.lastFiredRunId);
  expect(Date.parse(record!.nextFireAt!)).toBeGreaterThan(Date.now() - 2000);

  const paused = await stack.plans.schedules.pause({ scheduleId, organizationId: scope.organizationId });
  expect(paused).toMatchObject({ paused: true, state: 'paused' });
  expect(await refusal(stack.plans.schedules.pause({ scheduleId, organizationId: 'other-org' }))).toMatchObject({ code: 'not-found' });
  const resumed = await stack.plans.schedules.resume({ scheduleId, organizationId: scope.organizationId });
  expect(resumed).toMatchObject({ paused: false, state: 'active' });
  await stack.plans.schedules.delete({ scheduleId, organizationId: scope.organizationId });
  await expect(stack.client.schedule.getHandle(scheduleId).describe()).rejects.toThrow();
  expect((await stack.store.schedules.get(scheduleId))!.state).toBe('deleted');
}, 40_000);

it('replacing a scheduled spec leaves no live schedule', async () => {
  const scope = await ctx();
  const created = await stack.plans.runs.create({
    ...scope,
    draft: draftOf([{ id: 'ask', executor: { type: 'human' } }], { schedule: { every: '1h' } }),
  });
  expect(created.scheduleId).not.toBeNull();
  await stack.plans.runs.replace({
    runId: created.runId,
    ...scope,
    reason: 'Different cadence.',
    draft: draftOf([{ id: 'x', executor: noop }]),
  });
  await expect(stack.client.schedule.getHandle(created.scheduleId!).describe()).rejects.toThrow();
  expect((await stack.store.schedules.get(created.scheduleId!))!.state).toBe('deleted');
});

it('a plan of 500 nodes continues as new to keep its history small, and completes', async () => {
  const scope = await ctx();
  const runId = randomUUID();
  const plan = compileDraft(
    draftOf(
      Array.from({ length: 500 }, (_, index) => ({ id: `n${index}`, executor: noop, dependsOn: index < 20 ? [] : [`n${index - 20}`] })),
      { parallelism: 20 },
    ),
  );
  const handle = await stack.client.workflow.start('planRun', {
    workflowId: workflowIdOf(runId),
    taskQueue: stack.config.taskQueue,
    args: [{ runId, planSpecId: runId, ...scope, requireApproval: false, plan, historyLimit: 1500 }],
  });
  await resultOf(handle, 100_000);
  const done = await stack.plans.runs.get(runId, { includeEvents: true, includeCheckpoints: true });
  expect(done.status).toBe('completed');
  expect(done.nodes.every((node) => node.status === 'completed')).toBe(true);
  expect(done.events!.filter((event) => event.eventType === 'node-completed')).toHaveLength(500);
  expectContiguous(done);
  const description = await handle.describe();
  expect(description.runId).not.toBe(handle.firstExecutionRunId);
  expect(description.historyLength).toBeLessThan(3000);
  // I1 across executions: every transition of every execution is stored, and nothing else.
  await expectRecordEqualsWorkflow(stack, runId);
  expect((await stack.plans.records.examine({ organizationId: scope.organizationId })).consistent).toBe(1);
}, 120_000);

it('system nodes: a wait is a durable timer, a webhook is POSTed with retries and its answer kept', async () => {
  const scope = await ctx();
  // A webhook plan waits for approval under the default policy: this organization's lets it run at once,
  // and lets it reach the receiver on loopback (nothing private is reachable unless listed).
  await stack.plans.policies.set(
    scope.organizationId,
    { requireApprovalFor: ['cross-thread'], egress: { allow: [new URL(webhookUrl).host] } },
    'test',
  );
  const plan = await stack.plans.runs.create({
    ...scope,
    draft: draftOf([
      { id: 'pause', executor: { type: 'system', action: 'wait', duration: '300ms' } },
      { id: 'notify', executor: { type: 'system', action: 'webhook', url: webhookUrl }, retry: { initialInterval: '50ms' } },
    ]),
  });
  const done = await finished(plan);
  expect(done.status).toBe('completed');
  expect(Date.parse(done.nodes[0]!.completedAt!) - Date.parse(done.nodes[0]!.startedAt!)).toBeGreaterThanOrEqual(300);
  expect(nodeEvents(done, 'notify')).toEqual(['node-started', 'node-retried', 'node-started', 'node-completed']);
  expect(done.events!.find((event) => event.eventType === 'node-retried')!.detail.error).toBe(
    `Webhook ${webhookUrl} answered 503: try later`,
  );
  expect(webhookCalls.at(-1)).toMatchObject({ runId: plan.runId, nodeId: 'notify', upstream: [] });
  expect(done.artifacts).toEqual([expect.objectContaining({ nodeId: 'notify', attempt: 2, content: { received: 2 } })]);
});

it('a draft naming an agent no worker runs is refused at creation, and nothing starts', async () => {
  const scope = await ctx();
  const error = await refusal(
    stack.plans.runs.create({ ...scope, draft: draftOf([{ id: 'a', executor: { type: 'agent', agentId: 'ghost' }, instructions: 'x' }]) }),
  );
  expect(error.message).toMatch(/^unknown-agent: Node "a" names agent "ghost", which no worker runs \(known: .*echo/);
  expect(await stack.plans.runs.list({ organizationId: scope.organizationId })).toEqual([]);
});
