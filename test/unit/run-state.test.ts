import { isCrossThread, resolveRequireApproval } from '../../domain/context.js';
import { type Decision, checkDecision, parseDecision } from '../../domain/decisions.js';
import { PlanError } from '../../domain/errors.js';
import { evaluateGraph } from '../../domain/state-change.js';
import { abortRun, approveRun, createRun, refuseDecision, rejectRun } from '../../domain/transitions.js';
import { snapshotOf } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { diamondDraft } from '../support/drafts.js';
import { runContext } from '../support/run-context.js';

const NOW = '2026-11-26T10:00:00.000Z';
const LATER = '2026-11-26T10:05:00.000Z';
const plan = compileDraft(diamondDraft());

const decision: Decision = { organizationId: 'org-1', threadId: 't-9', emittedBy: 'alice' };

describe('S1: requireApproval', () => {
  it('defaults to cross-thread', () => {
    expect(isCrossThread('t-9', 't-1')).toBe(true);
    expect(isCrossThread('t-1', 't-1')).toBe(false);
    expect(isCrossThread(undefined, 't-1')).toBe(false);
    expect(resolveRequireApproval(undefined, 't-9', 't-1')).toBe(true);
    expect(resolveRequireApproval(undefined, undefined, 't-1')).toBe(false);
  });

  it('is overridden by an explicit choice either way', () => {
    expect(resolveRequireApproval(false, 't-9', 't-1')).toBe(false);
    expect(resolveRequireApproval(true, undefined, 't-1')).toBe(true);
  });
});

describe('createRun', () => {
  it('S2: a run needing approval waits with no start, no ready nodes, and three events', () => {
    const { state, transition } = createRun(runContext(), plan, NOW);
    expect(state.status).toBe('pending-approval');
    expect(state.startedAt).toBeUndefined();
    expect(state.readyNodeIds).toEqual([]);
    expect(state.nodes.every((node) => node.status === 'pending')).toBe(true);
    expect(transition.events.map((event) => event.eventType)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
    expect(transition.events.map((event) => event.sequence)).toEqual([1, 2, 3]);
    expect(transition.events[1]!.detail.nodeCount).toBe(4);
    expect(transition.checkpoint).toMatchObject({ sequence: 1, runStatus: 'pending-approval', snapshot: { reason: 'plan-created' } });
    expect(transition.nodes).toHaveLength(4);
  });

  it('S3: a run needing no approval starts running with its graph evaluated', () => {
    const { state, transition } = createRun(runContext({ requireApproval: false, sourceThreadId: undefined }), plan, NOW);
    expect(state.status).toBe('running');
    expect(state.startedAt).toBe(NOW);
    expect(state.readyNodeIds).toEqual(['start']);
    expect(transition.events.map((event) => event.eventType)).toEqual(['plan-created', 'checkpoint-saved']);
    expect(transition.nodes.find((node) => node.nodeId === 'start')!.status).toBe('ready');
  });

  it('S8: a replacement records plan-replaced and its checkpoint reason', () => {
    const { transition } = createRun(runContext({ replacedRunId: 'r0' }), plan, NOW);
    expect(transition.events[0]).toMatchObject({ eventType: 'plan-replaced', detail: { replacedRunId: 'r0' } });
    expect(transition.checkpoint!.snapshot.reason).toBe('plan-replaced');
  });
});

describe('S4: decision checks, in order', () => {
  const run = { runId: 'r-1', organizationId: 'org-1', threadId: 't-1', sourceThreadId: 't-9', status: 'pending-approval' as const };

  it('checks the organization first', () => {
    const { refusal } = checkDecision({ ...run, status: 'running' }, { ...decision, organizationId: 'org-2', threadId: 'x' }, 'approve');
    expect(refusal).toEqual(new PlanError('wrong-organization', 'Plan run belongs to a different organization.'));
  });

  it('then the thread context: the run thread or its source thread', () => {
    expect(checkDecision({ ...run, status: 'running' }, { ...decision, threadId: 't-5' }, 'approve').refusal?.message).toBe(
      'Plan run is not available in this thread context.',
    );
    expect(checkDecision(run, { ...decision, threadId: 't-1' }, 'approve').refusal).toBeUndefined();
    expect(checkDecision(run, { ...decision, threadId: 't-9' }, 'approve').refusal).toBeUndefined();
  });

  it('then the status, with a message per decision', () => {
    expect(checkDecision({ ...run, status: 'running' }, decision, 'approve').refusal?.message).toBe(
      'Only pending-approval plans can be approved.',
    );
    expect(checkDecision({ ...run, status: 'aborted' }, decision, 'reject').refusal?.message).toBe(
      'Only pending-approval plans can be rejected.',
    );
  });

  it('refuses malformed payloads', () => {
    expect(checkDecision(run, { organizationId: 'org-1' }, 'approve').refusal?.code).toBe('invalid-input');
    expect(checkDecision(run, { ...decision, resolution: 'maybe' }, 'reject').refusal?.code).toBe('invalid-input');
    expect(checkDecision(run, { ...decision, resolution: 'rejected' }, 'approve').refusal?.code).toBe('invalid-input');
  });
});

describe('parseDecision', () => {
  it('accepts a well-formed payload and trims the reason', () => {
    expect(parseDecision({ ...decision, reason: '  fine  ', resolution: 'changes-requested' })).toEqual({
      value: { ...decision, reason: 'fine', resolution: 'changes-requested' },
    });
  });

  it('names every problem', () => {
    expect(parseDecision({ organizationId: 'org 1', emittedBy: 7, reason: ' ', resolution: 'maybe', extra: true }).problems).toEqual([
      'unknown field "extra"',
      'organizationId must be 1-128 letters, digits or "_.:@-", starting with a letter or digit',
      'threadId is required',
      'emittedBy must be 1-128 letters, digits or "_.:@-", starting with a letter or digit',
      'reason must be a non-empty text of at most 4000 characters',
      'resolution must be one of rejected, changes-requested',
    ]);
    expect(parseDecision(null).problems).toHaveLength(1);
    expect(parseDecision(['a']).problems).toHaveLength(1);
    expect(parseDecision({ ...decision, reason: 'x'.repeat(4001) }).problems).toHaveLength(1);
  });
});

describe('decisions', () => {
  const pending = createRun(runContext(), plan, NOW).state;

  it('S5: approve starts the run, evaluates the graph and checkpoints', () => {
    const { state, transition } = approveRun(pending, plan, decision, LATER);
    expect(state).toMatchObject({ status: 'running', startedAt: LATER, readyNodeIds: ['start'] });
    expect(transition.events.map((event) => [event.sequence, event.eventType])).toEqual([
      [4, 'plan-approved'],
      [5, 'checkpoint-saved'],
    ]);
    expect(transition.events[0]).toMatchObject({
      fromStatus: 'pending-approval',
      toStatus: 'running',
      message: 'Approved execution plan "Diamond".',
      emittedBy: 'alice',
      detail: { title: 'Diamond', objective: 'Fan out and join.' },
    });
    expect(transition.checkpoint).toMatchObject({ sequence: 2, runStatus: 'running', snapshot: { reason: 'plan-approved' } });
  });

  it('S5: keeps an existing startedAt', () => {
    const { state } = approveRun({ ...pending, startedAt: NOW }, plan, decision, LATER);
    expect(state.startedAt).toBe(NOW);
  });

  it('S6: reject aborts with resolution rejected by default', () => {
    const { state, transition } = rejectRun(pending, { ...decision, reason: 'no' }, LATER);
    expect(state).toMatchObject({ status: 'aborted', readyNodeIds: [], completedAt: LATER });
    expect(transition.events[0]).toMatchObject({
      eventType: 'plan-rejected',
      message: 'Rejected execution plan "Diamond".',
      detail: { resolution: 'rejected', reason: 'no' },
    });
    expect(transition.checkpoint!.snapshot).toMatchObject({ reason: 'plan-rejected', resolution: 'rejected' });
    expect(transition.run).toMatchObject({ currentNodeId: null, waitingNodeId: null });
  });

  it('S6: changes-requested has its own event and checkpoint reason', () => {
    const { transition } = rejectRun(pending, { ...decision, resolution: 'changes-requested' }, LATER);
    expect(transition.events[0]).toMatchObject({
      eventType: 'plan-changes-requested',
      message: 'Requested changes for execution plan "Diamond".',
      detail: { resolution: 'changes-requested' },
    });
    expect(transition.events[0]!.detail).not.toHaveProperty('reason');
    expect(transition.checkpoint!.snapshot).toMatchObject({ reason: 'plan-changes-requested', resolution: 'changes-requested' });
  });

  it('a refused signal only adds an audit event', () => {
    const refusal = new PlanError('not-pending', 'Only pending-approval plans can be approved.');
    const { state, transition } = refuseDecision(pending, 'approve', decision, refusal, LATER);
    expect(state.status).toBe('pending-approval');
    expect(transition.checkpoint).toBeUndefined();
    expect(transition.events).toEqual([expect.objectContaining({ sequence: 4, eventType: 'decision-refused', emittedBy: 'alice' })]);
  });

  it('S8: replacement aborts the run and its open nodes', () => {
    const running = approveRun(pending, plan, decision, LATER).state;
    const { state, transition } = abortRun(running, { replacedByRunId: 'r2', reason: 'better', emittedBy: 'lead' }, LATER);
    expect(state).toMatchObject({ status: 'aborted', replacedByRunId: 'r2', readyNodeIds: [] });
    expect(transition.nodes.every((node) => node.status === 'aborted')).toBe(true);
    expect(transition.events[0]).toMatchObject({ eventType: 'plan-aborted', detail: { reason: 'better', replacedByRunId: 'r2' } });
  });
});

describe('graph evaluation', () => {
  it('a join waits for both branches', () => {
    const nodes = plan.nodes.map((node) => ({ nodeId: node.nodeId, status: 'pending' as const }));
    const done = (ids: string[]) => nodes.map((node) => (ids.includes(node.nodeId) ? { ...node, status: 'completed' as const } : node));
    expect(evaluateGraph(plan, done(['start'])).readyNodeIds).toEqual(['left', 'right']);
    expect(evaluateGraph(plan, done(['start', 'left'])).readyNodeIds).toEqual(['right']);
    expect(evaluateGraph(plan, done(['start', 'left', 'right'])).readyNodeIds).toEqual(['join']);
  });

  it('the snapshot carries every key, absent values as null', () => {
    const snapshot = snapshotOf(createRun(runContext({ sourceThreadId: undefined }), plan, NOW).state, plan);
    expect(snapshot).toMatchObject({ sourceThreadId: null, scheduleId: null, startedAt: null, completedAt: null, replacedRunId: null });
    expect(snapshot.nodes.map((node) => node.nodeId)).toEqual(['start', 'left', 'right', 'join']);
  });
});

describe('the documented decision body and the runtime check agree', () => {
  it('accept and refuse the same payloads', async () => {
    const { DecisionBodySchema } = await import('../../api/schemas.js');
    const corpus: Array<Record<string, unknown>> = [
      { threadId: 't-1' },
      { threadId: 't-1', reason: 'ok', resolution: 'changes-requested' },
      { threadId: 't-1', reason: '   ' },
      { threadId: 't-1', reason: 'x'.repeat(4001) },
      { threadId: 't 1' },
      { threadId: 't-1', resolution: 'maybe' },
      { threadId: 't-1', extra: true },
      {},
      { threadId: 7 },
    ];
    for (const body of corpus) {
      const documented = DecisionBodySchema.safeParse(body).success;
      // A body without a thread is completed with the run's deciding thread before the workflow checks it.
      const runtime = parseDecision({ organizationId: 'o', emittedBy: 'a', threadId: 't-9', ...body }).value !== undefined;
      expect([body, documented]).toEqual([body, runtime]);
    }
  });
});
