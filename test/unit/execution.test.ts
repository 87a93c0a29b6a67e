import { finishNode, dispatchReadyNodes, failNodeAttempt, recordDeadline, restartNode } from '../../domain/execution.js';
import type { RunState } from '../../domain/run-state.js';
import { approveRun, createRun } from '../../domain/transitions.js';
import { compileDraft } from '../../domain/validate.js';

const T0 = '2026-11-26T10:00:00.000Z';
const T1 = '2026-11-26T10:00:01.000Z';

type Node = { id: string; executor?: Record<string, unknown>; [key: string]: unknown };
function planOf(nodes: Node[], extra: Record<string, unknown> = {}) {
  return compileDraft({
    title: 'P',
    objective: 'O',
    nodes: nodes.map((node) => ({ title: node.id, executor: { type: 'system', action: 'noop' }, ...node })),
    ...extra,
  });
}

function running(plan: ReturnType<typeof planOf>): RunState {
  const context = {
    runId: 'r',
    workflowId: 'plan-run:r',
    planSpecId: 'r',
    organizationId: 'o',
    threadId: 't',
    leadAgentId: 'l',
    requireApproval: true,
  };
  const pending = createRun(context, plan, T0).state;
  return approveRun(pending, plan, { organizationId: 'o', threadId: 't', emittedBy: 'a' }, T0).state;
}

const statuses = (state: RunState) => Object.fromEntries(state.nodes.map((node) => [node.nodeId, node.status]));

describe('dispatchReadyNodes', () => {
  it('starts ready nodes up to the parallelism, in plan order; people do not take a slot', () => {
    const plan = planOf(
      [
        { id: 'a', dependsOn: [] },
        { id: 'h', dependsOn: [], executor: { type: 'human' } },
        { id: 'b', dependsOn: [] },
        { id: 'c', dependsOn: [] },
      ],
      { parallelism: 2 },
    );
    const dispatched = dispatchReadyNodes(running(plan), plan, T1)!;
    expect(dispatched.effects).toEqual([
      { kind: 'start-attempt', nodeId: 'a' },
      { kind: 'start-attempt', nodeId: 'b' },
    ]);
    expect(statuses(dispatched.state)).toEqual({ a: 'running', h: 'awaiting-human', b: 'running', c: 'ready' });
    expect(dispatched.state).toMatchObject({ status: 'running', currentNodeId: 'a', waitingNodeId: 'h', readyNodeIds: ['c'] });
    expect(dispatched.transition.events.map((event) => [event.eventType, event.nodeId ?? null])).toEqual([
      ['node-started', 'a'],
      ['node-awaiting-human', 'h'],
      ['node-started', 'b'],
      ['checkpoint-saved', null],
    ]);
    expect(dispatchReadyNodes(dispatched.state, plan, T1)).toBeUndefined();
  });

  it('a run waiting only for a person is awaiting-human', () => {
    const plan = planOf([{ id: 'h', executor: { type: 'human' } }]);
    expect(dispatchReadyNodes(running(plan), plan, T1)!.state.status).toBe('awaiting-human');
  });
});

describe('finishNode', () => {
  it('hands on artifacts, readies dependents, and completes the run after the last node', () => {
    const plan = planOf([{ id: 'a' }, { id: 'b' }]);
    let state = dispatchReadyNodes(running(plan), plan, T0)!.state;
    state = finishNode(state, plan, 'a', { artifactIds: ['x'], emittedBy: 'system' }, T1).state;
    expect(statuses(state)).toEqual({ a: 'completed', b: 'ready' });
    expect(state.nodes[0]).toMatchObject({ artifactIds: ['x'], completedAt: T1 });
    state = dispatchReadyNodes(state, plan, T1)!.state;
    const last = finishNode(state, plan, 'b', { artifactIds: [], emittedBy: 'system' }, T1);
    expect(last.state).toMatchObject({ status: 'completed', completedAt: T1 });
    expect(last.transition.events.map((event) => event.eventType)).toEqual(['node-completed', 'plan-completed', 'checkpoint-saved']);
  });
});

describe('failNodeAttempt', () => {
  const plan = planOf([
    { id: 'a', retry: { maxAttempts: 3, initialInterval: '1s', backoffCoefficient: 3, maximumInterval: '2s' } },
    { id: 'b' },
  ]);

  it('retries with capped exponential backoff while attempts remain', () => {
    let state = dispatchReadyNodes(running(plan), plan, T0)!.state;
    const first = failNodeAttempt(state, plan, 'a', { error: 'boom' }, T1);
    expect(first.effects).toEqual([{ kind: 'retry-attempt', nodeId: 'a', attempt: 1, inMs: 1000 }]);
    expect(first.state.nodes[0]).toMatchObject({ status: 'running', error: 'boom', attempt: 1 });
    const restarted = restartNode(first.state, plan, 'a', T1);
    expect(restarted.effects).toEqual([{ kind: 'start-attempt', nodeId: 'a' }]);
    state = restarted.state;
    expect(state.nodes[0]!.attempt).toBe(2);
    expect(failNodeAttempt(state, plan, 'a', { error: 'boom' }, T1).effects).toEqual([
      { kind: 'retry-attempt', nodeId: 'a', attempt: 2, inMs: 2000 },
    ]);
  });

  it('fails the run when attempts run out, aborting what is left', () => {
    let state = dispatchReadyNodes(running(plan), plan, T0)!.state;
    state = restartNode(restartNode(state, plan, 'a', T1).state, plan, 'a', T1).state;
    const step = failNodeAttempt(state, plan, 'a', { error: 'still broken' }, T1);
    // The run is over: everything in flight stops, and the node's deadline with it.
    expect(step.effects).toEqual([{ kind: 'cancel-all' }, { kind: 'cancel-deadline', nodeId: 'a' }]);
    expect(step.state).toMatchObject({ status: 'failed', failureCount: 1, completedAt: T1, readyNodeIds: [] });
    expect(statuses(step.state)).toEqual({ a: 'failed', b: 'aborted' });
    expect(step.transition.events.map((event) => event.eventType)).toEqual(['node-failed', 'plan-failed', 'checkpoint-saved']);
  });

  it('a final failure skips retries', () => {
    const state = dispatchReadyNodes(running(plan), plan, T0)!.state;
    expect(failNodeAttempt(state, plan, 'a', { error: 'deadline', final: true }, T1).state.status).toBe('failed');
  });

  it('an optional node failing skips its dependents, transitively, and the run goes on', () => {
    const optional = planOf([
      { id: 'opt', optional: true, retry: { maxAttempts: 1 }, dependsOn: [] },
      { id: 'child', dependsOn: ['opt'] },
      { id: 'grandchild', dependsOn: ['child'] },
      { id: 'other', dependsOn: [] },
    ]);
    const state = dispatchReadyNodes(running(optional), optional, T0)!.state;
    const step = failNodeAttempt(state, optional, 'opt', { error: 'x' }, T1);
    expect(step.effects).toEqual([{ kind: 'cancel-deadline', nodeId: 'opt' }]);
    expect(statuses(step.state)).toEqual({ opt: 'failed', child: 'skipped', grandchild: 'skipped', other: 'running' });
    expect(step.state.status).toBe('running');
    const done = finishNode(step.state, optional, 'other', { artifactIds: [], emittedBy: 'system' }, T1);
    expect(done.state.status).toBe('completed');
  });
});

describe('recordDeadline', () => {
  it('records each kind once, and nothing for a finished node', () => {
    const plan = planOf([{ id: 'a', deadline: { after: '10s', warnBefore: '5s' } }]);
    const state = dispatchReadyNodes(running(plan), plan, T0)!.state;
    const warned = recordDeadline(state, plan, 'a', 'warning', T1)!;
    expect(warned.transition.events[0]).toMatchObject({ eventType: 'node-deadline-warning', detail: { dedupeKey: 'a:deadline-warning' } });
    expect(recordDeadline(warned.state, plan, 'a', 'warning', T1)).toBeUndefined();
    expect(recordDeadline(warned.state, plan, 'a', 'missed', T1)!.transition.events[0]!.eventType).toBe('node-deadline-missed');
    const done = finishNode(warned.state, plan, 'a', { artifactIds: [], emittedBy: 's' }, T1).state;
    expect(recordDeadline(done, plan, 'a', 'missed', T1)).toBeUndefined();
  });
});

describe('node policies', () => {
  it('resolves defaults and refuses nonsense', () => {
    const plan = planOf([{ id: 'a', timeout: '5m', deadline: { after: '1h', warnBefore: '10m', cancel: true } }]);
    expect(plan.nodes[0]!.policy).toEqual({
      optional: false,
      retry: { maxAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
      timeoutMs: 300_000,
      deadline: { afterMs: 3_600_000, warnAtMs: 3_000_000, cancel: true },
    });
    expect(plan.parallelism).toBe(4);
    expect(() => planOf([{ id: 'a', deadline: { after: '1m', warnBefore: '2m' } }])).toThrow(/invalid-policy/);
    expect(() => planOf([{ id: 'a', timeout: 'soon' }])).toThrow(/invalid-draft: nodes.0.timeout/);
    expect(() => planOf([{ id: 'a', executor: { type: 'system', action: 'wait' } }])).toThrow(/invalid-executor.*duration/);
    expect(() => planOf([{ id: 'a', executor: { type: 'system', action: 'webhook', url: 'ftp://x' } }])).toThrow(/invalid-executor/);
  });

  it('refuses agents no worker runs, when the agents are known', () => {
    const draft = {
      title: 't',
      objective: 'o',
      nodes: [{ id: 'a', title: 'a', executor: { type: 'agent', agentId: 'ghost' }, instructions: 'x' }],
    };
    expect(() => compileDraft(draft, { knownAgents: new Set(['echo']) })).toThrow(
      'unknown-agent: Node "a" names agent "ghost", which no worker runs (known: echo).',
    );
    expect(compileDraft(draft).nodes).toHaveLength(1);
  });
});
