import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

import { WorkflowNotFoundError } from '@temporalio/common';
import proto from '@temporalio/proto';

import type { Stack } from '../../app/stack.js';
import type { PlanError } from '../../domain/errors.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { workflowIdOf } from '../../temporal/names.js';
import { approveSignal, planQuery, recordQuery, rejectSignal } from '../../workflows/messages.js';
import { diamondDraft, humanFirstDraft, linearDraft } from '../support/drafts.js';
import { refusal } from '../support/refusal.js';
import { eventually, resultOf, startTestStack, within } from '../support/stack.js';
import { castIn } from '../support/principals.js';

const { temporal } = proto;

let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** A fresh organization per test keeps listings independent. */
async function scope() {
  const organizationId = `org-${randomUUID()}`;
  await castIn(stack, organizationId);
  return { organizationId, threadId: 't-main', sourceThreadId: 't-source', leadAgentId: 'lead-agent' };
}

async function eventTypes(runId: string): Promise<string[]> {
  const plan = await stack.plans.runs.get(runId, { includeEvents: true });
  return plan.events!.map((event) => event.eventType);
}

function query(runId: string): Promise<PlanSnapshot> {
  return stack.client.workflow.getHandle(workflowIdOf(runId)).query(planQuery);
}

/** I1: once quiet, what SurrealDB holds equals the workflow's state. */
async function expectPersistedEqualsWorkflow(runId: string): Promise<void> {
  let last: [PlanSnapshot, PlanSnapshot] | undefined;
  try {
    await eventually(`the stored run ${runId} to equal its workflow's state`, async () => {
      last = [await stack.plans.runs.get(runId), await query(runId)];
      return isDeepStrictEqual(last[0], last[1]) ? true : undefined;
    });
  } catch (error) {
    // Never read both: the failure says what was awaited and why it could not be read.
    if (!last) throw error;
    expect(last[0]).toEqual(last[1]);
  }
}

describe('create', () => {
  it('S1/S2: a cross-thread plan waits for approval, stores its events and one checkpoint, no schedule', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: linearDraft(3, { schedule: { every: '1h' } }) });
    expect(plan).toMatchObject({
      status: 'pending-approval',
      requireApproval: true,
      startedAt: null,
      readyNodeIds: [],
      scheduleId: null,
      scheduledAt: null,
      sourceThreadId: 't-source',
    });
    expect(plan.nodes.map((node) => node.status)).toEqual(['pending', 'pending', 'pending']);
    const stored = await stack.plans.runs.get(plan.runId, { includeEvents: true, includeCheckpoints: true });
    expect(stored.events!.map((event) => event.eventType)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
    expect(stored.events![1]!.detail.nodeCount).toBe(3);
    expect(stored.checkpoints).toEqual([
      expect.objectContaining({
        sequence: 1,
        runStatus: 'pending-approval',
        snapshot: expect.objectContaining({ reason: 'plan-created' }),
      }),
    ]);
    await expect(stack.client.schedule.getHandle(`plan-schedule:${plan.planSpecId}`).describe()).rejects.toThrow();
    await expectPersistedEqualsWorkflow(plan.runId);
  });

  it('S10: nothing more happens to a pending run until a decision arrives', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: linearDraft(2, { schedule: { every: '1m' } }) });
    const handle = stack.client.workflow.getHandle(plan.workflowId);
    // Once its creation is persisted (the flush activity's completion is one more workflow task), the run is still.
    const before = await eventually(`run ${plan.runId} to persist its creation and complete its last workflow task`, async () => {
      const { persisted } = await handle.query(recordQuery);
      const events = (await handle.fetchHistory()).events!;
      return persisted && events.at(-1)!.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        ? events.length
        : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await handle.fetchHistory()).events!.length).toBe(before);
    expect(await eventTypes(plan.runId)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });

  it('S3: a same-thread plan runs at once, with ready nodes and its schedule attached', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({
      ...ctx,
      sourceThreadId: ctx.threadId,
      draft: { ...diamondDraft(), schedule: { cron: '0 9 * * 1' } },
    });
    expect(['running', 'completed']).toContain(plan.status); // started (on a busy machine it may be done when the answer is read)
    expect(plan).toMatchObject({ requireApproval: false });
    expect(plan.startedAt).not.toBeNull();
    const [created] = (await stack.plans.runs.get(plan.runId, { includeCheckpoints: true })).checkpoints!;
    expect(created).toMatchObject({ sequence: 1, runStatus: 'running', readyNodeIds: ['start'] });
    expect(plan.scheduleId).toBe(`plan-schedule:${plan.planSpecId}`);
    expect(new Date(plan.scheduledAt!).getTime()).toBeGreaterThan(Date.now());
    const schedule = await stack.client.schedule.getHandle(plan.scheduleId!).describe();
    expect(schedule.info.nextActionTimes[0]!.toISOString()).toBe(plan.scheduledAt);
    expect((await stack.store.schedules.get(plan.scheduleId!))?.nextFireAt).toBe(plan.scheduledAt);
    await expectPersistedEqualsWorkflow(plan.runId);
  });

  it('S1: an explicit requireApproval overrides the default both ways', async () => {
    const ctx = await scope();
    const forced = await stack.plans.runs.create({ ...ctx, sourceThreadId: undefined, requireApproval: true, draft: linearDraft(1) });
    expect(forced.status).toBe('pending-approval');
    // Waiving approval of a cross-thread plan is the policy's to allow: nobody by default.
    expect(await refusal(stack.plans.runs.create({ ...ctx, requireApproval: false, draft: linearDraft(1) }))).toMatchObject({
      code: 'not-eligible',
      message: "lead-agent may not start a cross-thread plan without approval: this organization's policy lets no one skip it.",
    });
    await stack.plans.policies.set(ctx.organizationId, { roles: ['release-manager'], skipApproval: ['role:release-manager'] }, 'root');
    await stack.store.principals.save({
      organizationId: ctx.organizationId,
      id: ctx.leadAgentId,
      kind: 'agent',
      roles: ['release-manager'],
    });
    const waived = await stack.plans.runs.create({ ...ctx, requireApproval: false, draft: linearDraft(1) });
    expect(['running', 'completed']).toContain(waived.status); // started (its one step may be done when the answer is read)
  });

  it('is idempotent on a key: a retried create returns the same run and stores one', async () => {
    const ctx = await scope();
    const key = `key-${randomUUID()}`;
    const [first, second] = await Promise.all([
      stack.plans.runs.create({ ...ctx, idempotencyKey: key, draft: linearDraft(2) }),
      stack.plans.runs.create({ ...ctx, idempotencyKey: key, draft: linearDraft(2) }),
    ]);
    expect(second.runId).toBe(first.runId);
    const third = await stack.plans.runs.create({ ...ctx, idempotencyKey: key, draft: linearDraft(2) });
    expect(third.runId).toBe(first.runId);
    expect(await stack.plans.runs.list({ organizationId: ctx.organizationId })).toHaveLength(1);
    expect(await eventTypes(first.runId)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
  });

  it('is idempotent on a key after the run finished', async () => {
    const ctx = await scope();
    const key = `key-${randomUUID()}`;
    const first = await stack.plans.runs.create({ ...ctx, idempotencyKey: key, draft: linearDraft(1) });
    await stack.plans.runs.reject({ runId: first.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'bob' });
    const again = await stack.plans.runs.create({ ...ctx, idempotencyKey: key, draft: linearDraft(1) });
    expect(again).toMatchObject({ runId: first.runId, status: 'aborted' });
  });

  it('S11/I5: an invalid draft is refused with every issue, and nothing is stored or started', async () => {
    const ctx = await scope();
    const key = `key-${randomUUID()}`;
    const draft = diamondDraft();
    draft.nodes[1]!.dependsOn = ['ghost'];
    draft.nodes[2]!.executor = { type: 'robot' } as never;
    const error = await refusal(stack.plans.runs.create({ ...ctx, idempotencyKey: key, draft }));
    expect(error.code).toBe('invalid-input');
    expect(error.message).toBe(
      'unknown-dependency: Node "left" depends on unknown node "ghost". | invalid-executor: Node "right" has unknown executor type "robot"; use "agent", "human" or "system".'
        .split(' | ')
        .reverse()
        .join(' | '),
    );
    expect(await stack.plans.runs.list({ organizationId: ctx.organizationId })).toEqual([]);
    const bad = await refusal(stack.plans.runs.create({ ...ctx, organizationId: 'acme; DROP TABLE plan_run', draft: linearDraft(1) }));
    expect(bad.message).toMatch(/organizationId/);
  });

  it('refuses bad request fields before anything starts', async () => {
    const ctx = await scope();
    const error = await refusal(stack.plans.runs.create({ ...ctx, leadAgentId: '', draft: linearDraft(1) }));
    expect(error).toMatchObject({ code: 'invalid-input' });
    expect(error.message).toMatch(/leadAgentId/);
    expect(await stack.plans.runs.list({ organizationId: ctx.organizationId })).toEqual([]);
  });

  it('S12: text is stored verbatim, never interpreted', async () => {
    const ctx = await scope();
    const title = `"; DELETE plan_run; -- $organizationId ⟨x⟩ \`y\``;
    const plan = await stack.plans.runs.create({ ...ctx, draft: { ...linearDraft(1), title } });
    expect((await stack.plans.runs.get(plan.runId)).title).toBe(title);
    expect(await stack.plans.runs.list({ organizationId: ctx.organizationId })).toHaveLength(1);
  });
});

describe('approve and reject by update', () => {
  it('S5: approve runs the plan, checkpoints, attaches the schedule, then answers', async () => {
    const ctx = await scope();
    const created = await stack.plans.runs.create({ ...ctx, draft: { ...humanFirstDraft(), schedule: { every: '30m' } } });
    const approved = await stack.plans.runs.approve({
      runId: created.runId,
      organizationId: ctx.organizationId,
      threadId: ctx.sourceThreadId,
      emittedBy: 'alice',
    });
    // Answered once persisted: approved, scheduled, and its first node already waiting for a person.
    expect(approved).toMatchObject({
      status: 'awaiting-human',
      waitingNodeId: 'review',
      scheduleId: `plan-schedule:${created.planSpecId}`,
    });
    expect(approved.startedAt).not.toBeNull();
    expect(approved.scheduledAt).not.toBeNull();
    const stored = await stack.plans.runs.get(created.runId, { includeEvents: true, includeCheckpoints: true, includeApprovals: true });
    expect(stored.events!.map((event) => event.eventType)).toEqual([
      'plan-created',
      'plan-pending-approval',
      'checkpoint-saved',
      'plan-approval-recorded',
      'plan-approved',
      'checkpoint-saved',
      'node-awaiting-human',
      'checkpoint-saved',
      'plan-schedule-attached',
    ]);
    expect(stored.events![3]).toMatchObject({ eventType: 'plan-approval-recorded', emittedBy: 'alice', detail: { count: 1, required: 1 } });
    expect(stored.events![4]).toMatchObject({
      fromStatus: 'pending-approval',
      toStatus: 'running',
      message: 'Approved execution plan "Review first".',
      emittedBy: 'alice',
      detail: { title: 'Review first', objective: 'A person reviews, then the system publishes.' },
    });
    expect(stored.checkpoints!.map((checkpoint) => [checkpoint.sequence, checkpoint.snapshot.reason, checkpoint.readyNodeIds])).toEqual([
      [1, 'plan-created', []],
      [2, 'plan-approved', ['review']],
      [3, 'nodes-started', []],
    ]);
    expect(stored.approvals).toEqual([expect.objectContaining({ decision: 'approved', emittedBy: 'alice' })]);
    expect(stored.nodes.find((node) => node.nodeId === 'review')!.status).toBe('awaiting-human');
    const description = await stack.client.workflow.getHandle(created.workflowId).describe();
    expect(description.searchAttributes.PlanRunStatus).toEqual(['awaiting-human']);
    await expectPersistedEqualsWorkflow(created.runId);
  });

  it('S6: reject aborts the run with no schedule; changes-requested carries its reason', async () => {
    const ctx = await scope();
    const draft = { ...linearDraft(2), schedule: { every: '1h' } };
    const a = await stack.plans.runs.create({ ...ctx, draft });
    const rejected = await stack.plans.runs.reject({
      runId: a.runId,
      organizationId: ctx.organizationId,
      threadId: ctx.threadId,
      emittedBy: 'bob',
    });
    expect(rejected).toMatchObject({ status: 'aborted', readyNodeIds: [], scheduleId: null, currentNodeId: null });
    expect(rejected.completedAt).not.toBeNull();

    const b = await stack.plans.runs.create({ ...ctx, draft });
    await stack.plans.runs.reject({
      runId: b.runId,
      organizationId: ctx.organizationId,
      threadId: ctx.sourceThreadId,
      emittedBy: 'carol',
      resolution: 'changes-requested',
      reason: 'Add a review step.',
    });
    const stored = await stack.plans.runs.get(b.runId, { includeEvents: true, includeCheckpoints: true });
    expect(stored.events!.slice(3)).toEqual([
      expect.objectContaining({
        eventType: 'plan-changes-requested',
        message: 'Requested changes for execution plan "Quarterly review".',
        detail: { resolution: 'changes-requested', reason: 'Add a review step.', credential: { kind: 'temporal' } },
      }),
      expect.objectContaining({ eventType: 'checkpoint-saved' }),
    ]);
    expect(stored.checkpoints![1]!.snapshot).toMatchObject({ reason: 'plan-changes-requested', resolution: 'changes-requested' });
    await expect(stack.client.schedule.getHandle(`plan-schedule:${b.planSpecId}`).describe()).rejects.toThrow();
    // The workflow is over once rejected, and its result is the final snapshot.
    expect(await resultOf(stack.client.workflow.getHandle(b.workflowId))).toEqual(await stack.plans.runs.get(b.runId));
  });

  it('S4: refusals in order with exact messages, and nothing changes', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: humanFirstDraft() });
    const base = { runId: plan.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'eve' };
    expect(await refusal(stack.plans.runs.approve({ ...base, organizationId: 'other-org', threadId: 'elsewhere' }))).toMatchObject({
      code: 'wrong-organization',
      message: 'Plan run belongs to a different organization.',
    });
    expect(await refusal(stack.plans.runs.reject({ ...base, threadId: 'elsewhere' }))).toMatchObject({
      code: 'wrong-thread',
      message: 'Plan run is not available in this thread context.',
    });
    expect((await stack.plans.runs.get(plan.runId)).status).toBe('pending-approval');
    await stack.plans.runs.approve(base);
    expect(await refusal(stack.plans.runs.approve(base))).toMatchObject({
      code: 'not-pending',
      message: 'Only pending-approval plans can be approved.',
    });
    expect(await refusal(stack.plans.runs.reject(base))).toMatchObject({
      code: 'not-pending',
      message: 'Only pending-approval plans can be rejected.',
    });
    // Refused updates leave no trace: validators reject before history.
    expect(await eventTypes(plan.runId)).toEqual([
      'plan-created',
      'plan-pending-approval',
      'checkpoint-saved',
      'plan-approval-recorded',
      'plan-approved',
      'checkpoint-saved',
      'node-awaiting-human',
      'checkpoint-saved',
    ]);
  });

  it('S4 holds after the workflow ended, from the persisted run', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    const base = { runId: plan.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'eve' };
    await stack.plans.runs.reject(base);
    await resultOf(stack.client.workflow.getHandle(plan.workflowId));
    expect((await refusal(stack.plans.runs.approve(base))).message).toBe('Only pending-approval plans can be approved.');
    expect((await refusal(stack.plans.runs.approve({ ...base, organizationId: 'x' }))).message).toBe(
      'Plan run belongs to a different organization.',
    );
    expect(await refusal(stack.plans.runs.approve({ ...base, runId: 'no-such-run' }))).toMatchObject({ code: 'not-found' });
  });

  it('I4: of concurrent conflicting decisions exactly one wins', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: humanFirstDraft() });
    const base = { runId: plan.runId, organizationId: ctx.organizationId, threadId: ctx.threadId };
    const outcomes = await Promise.allSettled([
      stack.plans.runs.approve({ ...base, emittedBy: 'alice' }),
      stack.plans.runs.reject({ ...base, emittedBy: 'bob' }),
      stack.plans.runs.approve({ ...base, emittedBy: 'carol' }),
      stack.plans.runs.reject({ ...base, emittedBy: 'dave', resolution: 'changes-requested' }),
    ]);
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect((outcome.reason as PlanError).code).toBe('not-pending');
    }
    const stored = await stack.plans.runs.get(plan.runId, { includeApprovals: true, includeCheckpoints: true });
    expect(stored.approvals).toHaveLength(1);
    const sequences = stored.checkpoints!.map((checkpoint) => checkpoint.sequence);
    expect(sequences).toEqual(sequences.map((_, index) => index + 1));
  });

  it('a retried decision with the same key returns the first outcome', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: humanFirstDraft() });
    const request = { runId: plan.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'a', idempotencyKey: 'k1' };
    const first = await stack.plans.runs.approve(request);
    const again = await stack.plans.runs.approve(request);
    expect(again.status).toBe('awaiting-human');
    expect(again.startedAt).toBe(first.startedAt);
    expect((await stack.plans.runs.get(plan.runId, { includeApprovals: true })).approvals).toHaveLength(1);
  });
});

describe('approve and reject by signal', () => {
  it('an approve signal runs the plan like the update does', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: linearDraft(2) });
    await stack.client.workflow
      .getHandle(plan.workflowId)
      .signal(approveSignal, { organizationId: ctx.organizationId, threadId: ctx.sourceThreadId, emittedBy: 'web-ui' });
    const finished = await resultOf(stack.client.workflow.getHandle(plan.workflowId));
    expect(finished.status).toBe('completed');
    expect((await stack.plans.runs.get(plan.runId, { includeApprovals: true })).approvals).toEqual([
      expect.objectContaining({ decision: 'approved', emittedBy: 'web-ui' }),
    ]);
    await expectPersistedEqualsWorkflow(plan.runId);
  });

  it('a reject signal with changes-requested aborts the run', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    await stack.client.workflow.getHandle(plan.workflowId).signal(rejectSignal, {
      organizationId: ctx.organizationId,
      threadId: ctx.threadId,
      emittedBy: 'cli-user',
      resolution: 'changes-requested',
    });
    const result = await resultOf(stack.client.workflow.getHandle(plan.workflowId));
    expect(result.status).toBe('aborted');
    expect(await eventTypes(plan.runId)).toContain('plan-changes-requested');
  });

  it('a refused signal changes nothing and is recorded as an audit event', async () => {
    const ctx = await scope();
    const plan = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    const handle = stack.client.workflow.getHandle(plan.workflowId);
    await handle.signal(approveSignal, { organizationId: 'intruder', threadId: ctx.threadId, emittedBy: 'mallory' });
    await handle.signal(rejectSignal, { organizationId: ctx.organizationId, threadId: 'elsewhere', emittedBy: 'mallory' });
    await handle.signal(approveSignal, { nonsense: true } as never);
    const stored = await eventually(`run ${plan.runId} to store 6 events (its 3 refused signals audited)`, async () => {
      const snapshot = await stack.plans.runs.get(plan.runId, { includeEvents: true });
      return snapshot.events!.length === 6 ? snapshot : undefined;
    });
    expect(stored.status).toBe('pending-approval');
    expect(stored.events!.slice(3).map((event) => [event.eventType, event.emittedBy, event.detail.code])).toEqual([
      ['decision-refused', 'mallory', 'wrong-organization'],
      ['decision-refused', 'mallory', 'wrong-thread'],
      ['decision-refused', 'unknown', 'invalid-input'],
    ]);
    expect(stored.events![3]!.message).toBe('Refused approve signal: Plan run belongs to a different organization.');
    // The run is still decidable afterwards.
    await stack.plans.runs.approve({ runId: plan.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'alice' });
    await expectPersistedEqualsWorkflow(plan.runId);
  });

  it('a decision sent with the start is not lost', async () => {
    const ctx = await scope();
    const runId = randomUUID();
    const { compileDraft } = await import('../../domain/validate.js');
    const plan = compileDraft(linearDraft(2));
    await stack.client.workflow.signalWithStart('planRun', {
      workflowId: workflowIdOf(runId),
      taskQueue: stack.config.taskQueue,
      args: [{ runId, planSpecId: runId, ...ctx, requireApproval: true, plan }],
      signal: approveSignal,
      signalArgs: [{ organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'early-bird' }],
    });
    await resultOf(stack.client.workflow.getHandle(workflowIdOf(runId)));
    const finished = await stack.store.runs.getSnapshot(runId, { includeEvents: true });
    expect(finished!.status).toBe('completed');
    expect(finished!.events!.slice(0, 5).map((event) => event.eventType)).toEqual([
      'plan-created',
      'plan-pending-approval',
      'checkpoint-saved',
      'plan-approved',
      'checkpoint-saved',
    ]);
  });
});

describe('replace', () => {
  it('S8: aborts the active run and starts a linked one that carries the source thread', async () => {
    const ctx = await scope();
    const old = await stack.plans.runs.create({ ...ctx, createdByAgentId: 'drafter', draft: linearDraft(2) });
    const next = await stack.plans.runs.replace({
      runId: old.runId,
      organizationId: ctx.organizationId,
      threadId: ctx.threadId,
      leadAgentId: 'new-lead',
      reason: 'Scope changed.',
      draft: { ...linearDraft(3), title: 'Quarterly review v2' },
    });
    expect(next).toMatchObject({
      status: 'pending-approval',
      replacedRunId: old.runId,
      sourceThreadId: ctx.sourceThreadId,
      threadId: ctx.threadId,
      leadAgentId: 'new-lead',
      createdByAgentId: 'new-lead',
      title: 'Quarterly review v2',
    });
    const aborted = await stack.plans.runs.get(old.runId, { includeEvents: true });
    expect(aborted).toMatchObject({ status: 'aborted', replacedByRunId: next.runId });
    expect(aborted.events!.at(-2)).toMatchObject({ eventType: 'plan-aborted', detail: { reason: 'Scope changed.' } });
    expect(await eventTypes(next.runId)).toEqual(['plan-replaced', 'plan-pending-approval', 'checkpoint-saved']);
    const active = await stack.plans.runs.active({ threadId: ctx.threadId });
    expect(active.map((plan) => plan.runId)).toContain(next.runId);
    expect(active.map((plan) => plan.runId)).not.toContain(old.runId);
  });

  it('S8: an explicit requireApproval=false starts the replacement and attaches its schedule', async () => {
    const ctx = await scope();
    // Who may skip is frozen into the run, and a replacement is held to its rules: set before it is created.
    await stack.plans.policies.set(ctx.organizationId, { skipApproval: ['drafter'] }, 'root');
    const old = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    await stack.store.principals.save({ organizationId: ctx.organizationId, id: 'drafter', kind: 'agent', roles: [] });
    const next = await stack.plans.runs.replace({
      runId: old.runId,
      organizationId: ctx.organizationId,
      threadId: ctx.sourceThreadId,
      leadAgentId: ctx.leadAgentId,
      createdByAgentId: 'drafter',
      reason: 'Go now.',
      requireApproval: false,
      draft: { ...linearDraft(1), schedule: { every: '2h' } },
    });
    // Started at once: running, or (one noop step, on a busy machine the answer is read later) already completed.
    expect(['running', 'completed']).toContain(next.status);
    expect(next).toMatchObject({ createdByAgentId: 'drafter', scheduleId: `plan-schedule:${next.planSpecId}` });
  });

  it('refuses to replace a finished run or from the wrong context', async () => {
    const ctx = await scope();
    const old = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    const request = {
      runId: old.runId,
      organizationId: ctx.organizationId,
      threadId: ctx.threadId,
      leadAgentId: 'l',
      reason: 'r',
      draft: linearDraft(1),
    };
    expect((await refusal(stack.plans.runs.replace({ ...request, threadId: 'elsewhere' }))).code).toBe('wrong-thread');
    await stack.plans.runs.reject({ runId: old.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'x' });
    expect(await refusal(stack.plans.runs.replace(request))).toMatchObject({
      code: 'not-active',
      message: 'Only active plans can be replaced.',
    });
    expect(await stack.plans.runs.list({ organizationId: ctx.organizationId })).toHaveLength(1);
  });
});

describe('S9: listings', () => {
  it("lists by creation context and a thread's active runs, with includes", async () => {
    const ctx = await scope();
    const a = await stack.plans.runs.create({ ...ctx, createdByAgentId: 'agent-a', draft: linearDraft(1) });
    const b = await stack.plans.runs.create({ ...ctx, sourceThreadId: 't-other', createdByAgentId: 'agent-b', draft: linearDraft(2) });
    const c = await stack.plans.runs.create({ ...ctx, createdByAgentId: 'agent-a', draft: linearDraft(1) });
    await stack.plans.runs.reject({ runId: c.runId, organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'x' });

    const ids = (plans: PlanSnapshot[]) => plans.map((plan) => plan.runId).sort();
    const org = ctx.organizationId;
    expect(ids(await stack.plans.runs.list({ organizationId: org }))).toEqual(ids([a, b, c]));
    expect(ids(await stack.plans.runs.list({ organizationId: org, sourceThreadId: 't-source' }))).toEqual(ids([a, c]));
    expect(ids(await stack.plans.runs.list({ organizationId: org, createdByAgentId: 'agent-a', statuses: ['pending-approval'] }))).toEqual([
      a.runId,
    ]);
    expect(await stack.plans.runs.list({ organizationId: 'another-org' })).toEqual([]);

    const withIncludes = await stack.plans.runs.list({
      organizationId: org,
      sourceThreadId: 't-other',
      includeEvents: true,
      includeCheckpoints: true,
      includeApprovals: true,
      includeArtifacts: true,
      includeValidationIssues: true,
    });
    expect(withIncludes).toHaveLength(1);
    expect(withIncludes[0]).toMatchObject({ approvals: [], artifacts: [], validationIssues: [] });
    expect(withIncludes[0]!.events).toHaveLength(3);
    expect(withIncludes[0]!.checkpoints).toHaveLength(1);

    const thread = `thread-${randomUUID()}`;
    const d = await stack.plans.runs.create({ ...ctx, threadId: thread, draft: linearDraft(2) });
    const active = await stack.plans.runs.active({ threadId: thread }, { includeEvents: true });
    expect(active.map((plan) => plan.runId)).toEqual([d.runId]);
    expect(active[0]!.events).toHaveLength(3);
    expect(await stack.plans.runs.summaries({ threadId: thread })).toEqual([
      expect.objectContaining({ runId: d.runId, status: 'pending-approval', nodeCount: 2, completedNodeCount: 0 }),
    ]);
  });

  it('operators find runs by search attributes, as in the Web UI', async () => {
    const ctx = await scope();
    const source = `t-${randomUUID()}`;
    const pending = await stack.plans.runs.create({ ...ctx, sourceThreadId: source, draft: linearDraft(1) });
    const approved = await stack.plans.runs.create({ ...ctx, sourceThreadId: source, draft: humanFirstDraft() });
    await stack.plans.runs.approve({ runId: approved.runId, organizationId: ctx.organizationId, threadId: source, emittedBy: 'a' });
    const list = (query: string) =>
      within(
        `Temporal to list the workflows where ${query}`,
        (signal) =>
          stack.client.withAbortSignal(signal, async () => {
            const ids: string[] = [];
            for await (const workflow of stack.client.workflow.list({ query })) ids.push(workflow.workflowId);
            return ids;
          }),
        10_000,
      );
    await eventually(`visibility to list run ${pending.runId}, alone, as pending-approval from source thread ${source}`, async () => {
      const found = await list(`PlanRunStatus='pending-approval' AND SourceThreadId='${source}'`);
      return found.length === 1 && found[0] === pending.workflowId ? found : undefined;
    });
    await eventually(
      `visibility to list run ${approved.runId}, alone, as awaiting-human of lead-agent in ${ctx.organizationId}`,
      async () => {
        const found = await list(`PlanRunStatus='awaiting-human' AND OrganizationId='${ctx.organizationId}' AND LeadAgentId='lead-agent'`);
        return found.length === 1 && found[0] === approved.workflowId ? found : undefined;
      },
    );
    // The status ends at how the run ended, `completed` too (format 4): a completed run is not listed as running.
    const { sourceThreadId: _drafted, ...sameThread } = ctx;
    const completed = await stack.plans.runs.create({ ...sameThread, draft: linearDraft(1) });
    await resultOf(stack.client.workflow.getHandle(completed.workflowId));
    const rejected = await stack.plans.runs.create({ ...ctx, sourceThreadId: source, draft: linearDraft(1) });
    await stack.plans.runs.reject({ runId: rejected.runId, organizationId: ctx.organizationId, threadId: source, emittedBy: 'a' });
    await eventually(`visibility to list run ${completed.runId}, alone, as completed in ${ctx.organizationId}`, async () => {
      const found = await list(`PlanRunStatus='completed' AND OrganizationId='${ctx.organizationId}'`);
      return found.length === 1 && found[0] === completed.workflowId ? found : undefined;
    });
    expect(await list(`PlanRunStatus='running' AND OrganizationId='${ctx.organizationId}'`)).toEqual([]);
    await eventually(`visibility to list run ${rejected.runId}, alone, as aborted in ${ctx.organizationId}`, async () => {
      const found = await list(`PlanRunStatus='aborted' AND OrganizationId='${ctx.organizationId}'`);
      return found.length === 1 && found[0] === rejected.workflowId ? found : undefined;
    });
    const description = await stack.client.workflow.getHandle(pending.workflowId).describe();
    expect(await description.staticSummary()).toBe('Quarterly review');
    expect(await description.staticDetails()).toContain('**Objective:** Review the quarter and report.');
  });

  it('getPlan of an unknown run is not-found', async () => {
    expect(await refusal(stack.plans.runs.get('missing-run'))).toMatchObject({ code: 'not-found' });
    await expect(stack.client.workflow.getHandle(workflowIdOf('missing-run')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});
