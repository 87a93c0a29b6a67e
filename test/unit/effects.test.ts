import { completeByPerson, finishNode, dispatchReadyNodes, failNodeAttempt, passDeadline } from '../../domain/execution.js';
import type { RunState } from '../../domain/run-state.js';
import { approveRun, createRun, recordSchedule, rejectRun, replaceRun, scheduleToAttach } from '../../domain/transitions.js';
import { compileDraft } from '../../domain/validate.js';
import { runContext } from '../support/run-context.js';

/**
 * What each transition asks of the world, decided by the domain: the schedule rules (S3, S5,
 * S7), replacement (S8), attempts, retries and deadlines — without a server.
 */

const T0 = '2026-11-26T10:00:00.000Z';
const T1 = '2026-11-26T10:00:01.000Z';
const decision = { organizationId: 'org-1', threadId: 't-9', emittedBy: 'alice' };
const noop = { type: 'system', action: 'noop' };

function planOf(nodes: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return compileDraft({
    title: 'P',
    objective: 'O',
    nodes: nodes.map((node) => ({ title: String(node.id), executor: noop, ...node })),
    ...extra,
  });
}

const scheduled = planOf([{ id: 'a' }], { schedule: { every: '1h' } });

describe('schedules (S3, S5, S7)', () => {
  it('a run needing approval attaches nothing at creation; approving it attaches the schedule', () => {
    const created = createRun(runContext(), scheduled, T0);
    expect(created.effects).toEqual([]);
    expect(approveRun(created.state, scheduled, decision, T1).effects).toEqual([{ kind: 'attach-schedule' }]);
    expect(rejectRun(created.state, decision, T1).effects).toEqual([{ kind: 'cancel-all' }]);
  });

  it('a run needing no approval attaches its schedule at once; a plan without one attaches nothing', () => {
    expect(createRun(runContext({ requireApproval: false }), scheduled, T0).effects).toEqual([{ kind: 'attach-schedule' }]);
    const plain = planOf([{ id: 'a' }]);
    expect(createRun(runContext({ requireApproval: false }), plain, T0).effects).toEqual([]);
    expect(approveRun(createRun(runContext(), plain, T0).state, plain, decision, T1).effects).toEqual([]);
  });

  it('attaching is idempotent: a run that has its schedule attaches no other', () => {
    const approved = approveRun(createRun(runContext(), scheduled, T0).state, scheduled, decision, T1).state;
    expect(scheduleToAttach(approved, scheduled)).toEqual({ every: '1h' });
    const recorded = recordSchedule(approved, { scheduleId: 'plan-schedule:r1', description: 'every hour' }, T1).state;
    expect(scheduleToAttach(recorded, scheduled)).toBeUndefined();
  });

  it('a run a schedule fired refreshes that schedule', () => {
    expect(
      createRun(runContext({ requireApproval: false, firedByScheduleId: 'plan-schedule:s' }), planOf([{ id: 'a' }]), T0).effects,
    ).toEqual([{ kind: 'refresh-schedule', scheduleId: 'plan-schedule:s' }]);
  });
});

describe('replace (S8)', () => {
  const request = {
    organizationId: 'org-1',
    threadId: 't-1',
    leadAgentId: 'lead-2',
    reason: 'Rework.',
    newRunId: 'r2',
    plan: planOf([{ id: 'b' }]),
  };

  it('ends the run, deletes its schedule, and starts the replacement with the source thread carried and approval per S1', () => {
    const approved = approveRun(createRun(runContext(), scheduled, T0).state, scheduled, decision, T0).state;
    const running = recordSchedule(approved, { scheduleId: 'plan-schedule:r1', description: 'every hour' }, T0).state;
    const step = replaceRun(running, request, T1);
    expect(step.state).toMatchObject({ status: 'aborted', replacedByRunId: 'r2' });
    expect(step.effects).toEqual([
      { kind: 'cancel-all' },
      { kind: 'delete-schedule', scheduleId: 'plan-schedule:r1' },
      {
        kind: 'start-replacement',
        input: expect.objectContaining({
          runId: 'r2',
          planSpecId: 'r2',
          sourceThreadId: 't-9',
          createdByAgentId: 'lead-2',
          requireApproval: true,
          replacedRunId: 'r1',
        }),
      },
    ]);
  });

  it('an explicit choice overrides S1; a run without a schedule deletes none', () => {
    const pending = createRun(runContext(), planOf([{ id: 'a' }]), T0).state;
    const step = replaceRun(pending, { ...request, requireApproval: false, createdByAgentId: 'drafter' }, T1);
    expect(step.effects.map((effect) => effect.kind)).toEqual(['cancel-all', 'start-replacement']);
    expect(step.effects[1]).toMatchObject({ input: { requireApproval: false, createdByAgentId: 'drafter' } });
  });
});

function running(plan: ReturnType<typeof planOf>): RunState {
  return approveRun(createRun(runContext(), plan, T0).state, plan, decision, T0).state;
}

describe('attempts, retries and deadlines', () => {
  const plan = planOf([
    {
      id: 'a',
      dependsOn: [],
      retry: { maxAttempts: 2, initialInterval: '1s' },
      deadline: { after: '1h', warnBefore: '10m', cancel: true },
    },
    { id: 'h', dependsOn: [], executor: { type: 'human' }, deadline: { after: '2h' } },
    { id: 'b', dependsOn: [] },
  ]);

  it('starting nodes arms their deadlines and starts the attempts of those that run on a worker', () => {
    expect(dispatchReadyNodes(running(plan), plan, T1)!.effects).toEqual([
      { kind: 'arm-deadline', nodeId: 'a' },
      { kind: 'arm-deadline', nodeId: 'h' },
      { kind: 'start-attempt', nodeId: 'a' },
      { kind: 'start-attempt', nodeId: 'b' },
    ]);
  });

  it('a failed attempt with attempts left waits out its backoff; finishing a node cancels its deadline', () => {
    const started = dispatchReadyNodes(running(plan), plan, T1)!.state;
    expect(failNodeAttempt(started, plan, 'a', { error: 'x' }, T1).effects).toEqual([
      { kind: 'retry-attempt', nodeId: 'a', attempt: 1, inMs: 1000 },
    ]);
    expect(finishNode(started, plan, 'a', { artifactIds: [], emittedBy: 'system' }, T1).effects).toEqual([
      { kind: 'cancel-deadline', nodeId: 'a' },
    ]);
    expect(
      completeByPerson(started, plan, { organizationId: 'org-1', threadId: 't-1', emittedBy: 'alice', nodeId: 'h', output: 'ok' }, T1),
    ).toMatchObject({
      effects: [{ kind: 'cancel-deadline', nodeId: 'h' }],
      transition: { artifacts: [{ artifactId: 'r1:h:1', content: 'ok', createdBy: 'alice' }] },
    });
  });

  it('a deadline warns once; a missed deadline that cancels stops the attempt and fails the run', () => {
    const started = dispatchReadyNodes(running(plan), plan, T1)!.state;
    const warned = passDeadline(started, plan, 'a', 'warning', T1);
    expect(warned.map((step) => step.effects)).toEqual([[]]);
    expect(passDeadline(warned[0]!.state, plan, 'a', 'warning', T1)).toEqual([]);
    const missed = passDeadline(warned[0]!.state, plan, 'a', 'missed', T1);
    expect(missed.map((step) => step.effects)).toEqual([
      [{ kind: 'cancel-attempt', nodeId: 'a' }],
      [{ kind: 'cancel-all' }, { kind: 'cancel-deadline', nodeId: 'a' }],
    ]);
    expect(missed[1]!.state.status).toBe('failed');
  });

  it('a missed deadline that does not cancel is only recorded', () => {
    const started = dispatchReadyNodes(running(plan), plan, T1)!.state;
    const missed = passDeadline(started, plan, 'h', 'missed', T1);
    expect(missed).toHaveLength(1);
    expect(missed[0]!.effects).toEqual([]);
    expect(missed[0]!.transition.events[0]!.eventType).toBe('node-deadline-missed');
  });
});
