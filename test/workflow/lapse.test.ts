import { planHashOf, revisionOf } from '../../client/revision.js';
import type { PlanRunInput } from '../../domain/run-input.js';
import { compileDraft } from '../../domain/validate.js';
import { approvePlanUpdate, approversChangedSignal, completeNodeUpdate, planQuery, rejectPlanUpdate } from '../../workflows/messages.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, stored, until } from './harness.js';

/**
 * Re-checked at the moment of action (issue 22, item 4): a step the approval covered does not
 * start once that approval no longer holds — its approver lost the role, left, or its validity
 * ran out — and the run goes back to pending-approval for its remaining steps.
 */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

const DRAFT = {
  title: 'Review then send',
  objective: 'A person reviews, then the system sends.',
  nodes: [
    { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'bob' } },
    { id: 'send', title: 'Send', executor: { type: 'system', action: 'noop' }, dependsOn: ['review'] },
  ],
};

const ONE_STEP = { ...DRAFT, nodes: [{ id: 'send', title: 'Send', executor: { type: 'system', action: 'noop' } }] };

function governedRun(overrides: Partial<PlanRunInput> = {}, draft: unknown = DRAFT): PlanRunInput {
  const plan = compileDraft(draft);
  const input = runInput({ draft, revision: revisionOf(plan), planHash: planHashOf(plan), ...overrides });
  tier.stub.know(input.organizationId, 'alice', 'bob', 'carol');
  return input;
}

const eventsOf = (runId: string) => tier.stub.events(runId);

it('an approver who lost the role before the next step acts: approval-lapsed, pending again; another approval and it runs on', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await until('review to wait for bob', async () => ((await handle.query(planQuery)).status === 'awaiting-human' ? true : undefined));
  // alice is no approver any more (the client tells the runs acting on her approvals); bob's review would let send act on it.
  tier.stub.know(input.organizationId, { id: 'alice', kind: 'person', roles: [] });
  await handle.signal(approversChangedSignal, { principalIds: ['alice'] });
  await handle.executeUpdate(completeNodeUpdate, { args: [{ ...from(input, 'bob'), nodeId: 'review' }] });
  const lapsed = await until('the approval to lapse', async () => {
    const run = await handle.query(planQuery);
    return run.status === 'pending-approval' ? run : undefined;
  });
  expect(lapsed.nodes.map((node) => [node.nodeId, node.status])).toEqual([
    ['review', 'completed'],
    ['send', 'ready'],
  ]);
  expect(lapsed.approval?.approvals).toEqual([]);
  await stored(handle);
  expect(tier.stub.attempts.filter((attempt) => attempt.startsWith(`${input.runId}/send`))).toEqual([]);
  const event = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((stored) => stored.eventType === 'approval-lapsed')!;
  expect(event.message).toContain('send did not start');
  expect(event.message).toContain('alice no longer holds role:approver');
  expect(event.detail).toMatchObject({ nodeIds: ['send'], previousApprovals: ['alice'], reasons: ['alice no longer holds role:approver'] });
  // It has started: it is decided as it is, never edited (an edit would run its finished steps again).
  const edit = await handle
    .executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'carol'), draft: { ...DRAFT, title: 'Again' } }] })
    .catch((error: { cause?: { message?: string } }) => error.cause?.message);
  expect(edit).toContain('This plan has started');
  // alice cannot approve again; carol can, and the plan runs on from where it stopped.
  expect(
    (await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] }).catch((error: Error) => error)) instanceof Error,
  ).toBe(true);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'carol')] });
  expect((await handle.result()).status).toBe('completed');
  expect(eventsOf(input.runId!)).toEqual(
    expect.arrayContaining(['approval-lapsed:system', 'plan-pending-approval:system', 'plan-approved:carol']),
  );
});

it('unless told the directory changed, a step starting soon after the approval acts on the approvers it looked up', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await until('review to wait for bob', async () => ((await handle.query(planQuery)).status === 'awaiting-human' ? true : undefined));
  const lookups = tier.stub.lookups.length;
  await handle.executeUpdate(completeNodeUpdate, { args: [{ ...from(input, 'bob'), nodeId: 'review' }] });
  expect((await handle.result()).status).toBe('completed');
  // bob's completion was looked up; alice was not looked up again for send.
  expect(tier.stub.lookups.slice(lookups)).toEqual([`${input.organizationId}/bob`]);
});

it('an approval that still holds lets every step start, with nothing recorded', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await until('review to wait for bob', async () => ((await handle.query(planQuery)).status === 'awaiting-human' ? true : undefined));
  // Told of a change that left alice an approver: she is looked up again, and stands.
  await handle.signal(approversChangedSignal, { principalIds: ['alice'] });
  await handle.executeUpdate(completeNodeUpdate, { args: [{ ...from(input, 'bob'), nodeId: 'review' }] });
  expect((await handle.result()).status).toBe('completed');
  expect(eventsOf(input.runId!)).not.toContain('approval-lapsed:system');
});

it('a validity that ran out before the first action lapses the approval; the run can still be rejected', async () => {
  // Its one step waits for its own decision: it would act only once bob approves it, after the validity ran out.
  const held = { ...ONE_STEP, nodes: [{ ...ONE_STEP.nodes[0]!, approval: 'before-run' }] };
  const input = governedRun({ rules: defaultRules({ validForMs: 1 }) }, held);
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await until('send to wait for a decision', async () => ((await handle.query(planQuery)).status === 'awaiting-human' ? true : undefined));
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { send: 'approve' } }] });
  await until('the approval to lapse', async () =>
    (await handle.query(planQuery)).status === 'pending-approval' && eventsOf(input.runId!).includes('approval-lapsed:system')
      ? true
      : undefined,
  );
  const event = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((stored) => stored.eventType === 'approval-lapsed')!;
  expect(event.message).toContain("before the plan's first action");
  await handle.executeUpdate(rejectPlanUpdate, { args: [{ ...from(input, 'carol'), reason: 'Too late.' }] });
  expect((await handle.result()).status).toBe('aborted');
});

it('a schedule’s fire acts on the approvals it carries: one whose approver left goes back to pending approval before it acts', async () => {
  const input = governedRun(
    {
      requireApproval: false,
      firedByScheduleId: 'plan-schedule:earlier',
      // Given a moment ago, when the schedule was attached: a fire looks its approvers up all the same.
      approvedBy: [{ by: 'dora', at: new Date().toISOString(), credential: { kind: 'token', id: 't1' } }],
    },
    ONE_STEP,
  );
  const handle = await tier.start(input);
  const lapsed = await until('the fire to lapse', async () => {
    const run = await handle.query(planQuery);
    return run.status === 'pending-approval' ? run : undefined;
  });
  expect(lapsed.nodes.map((node) => [node.nodeId, node.status, node.startedAt])).toEqual([['send', 'ready', null]]);
  await stored(handle);
  expect(eventsOf(input.runId!)).toContain('approval-lapsed:system');
  const event = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((stored) => stored.eventType === 'approval-lapsed')!;
  expect(event.detail.reasons).toEqual(['dora is no longer a principal of the organization (removed or disabled)']);
  await handle.executeUpdate(rejectPlanUpdate, { args: [from(input, 'alice')] });
  await handle.result();
});

it('a stage approved earlier is looked up again before the plan acts: its approver disabled while a later stage waited lapses it', async () => {
  const stages = [
    { name: 'approval', approvers: ['role:approver'], required: 1 },
    { name: 'finance', approvers: ['role:finance'], required: 1 },
  ];
  const input = governedRun({ rules: defaultRules({ stages }) }, ONE_STEP);
  tier.stub.know(input.organizationId, { id: 'fay', kind: 'person', roles: ['finance'] });
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  // While finance waits, alice is disabled; the client tells the pending run.
  tier.stub.directory(input.organizationId).delete('alice');
  await handle.signal(approversChangedSignal, { principalIds: ['alice'] });
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'fay')] });
  await until('the approval to lapse', async () => ((await handle.query(planQuery)).status === 'pending-approval' ? true : undefined));
  await stored(handle);
  expect(eventsOf(input.runId!)).toEqual(expect.arrayContaining(['plan-approved:fay', 'approval-lapsed:system']));
  expect(tier.stub.attempts.filter((attempt) => attempt.startsWith(`${input.runId}/`))).toEqual([]);
  await handle.executeUpdate(rejectPlanUpdate, { args: [from(input, 'bob')] });
});
