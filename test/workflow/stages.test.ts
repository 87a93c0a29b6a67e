import { approvePlanUpdate, planQuery, rejectPlanUpdate } from '../../workflows/messages.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, stored, until, refusal } from './harness.js';

/**
 * Stages, reminders and escalations as the workflow applies them (issue 21, items 2 and 3),
 * each tried as the person who should not get through would try it.
 */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

const STAGES = [
  { name: 'team lead', approvers: ['role:lead'], required: 1 },
  { name: 'finance', approvers: ['role:finance'], required: 1 },
];

it('stages open in order: finance cannot approve before the team lead; the lead opens finance; finance approves it and it runs', async () => {
  const input = runInput({ rules: defaultRules({ stages: STAGES, required: 1 }) });
  tier.stub.know(input.organizationId, { id: 'lee', kind: 'person', roles: ['lead'] }, { id: 'fay', kind: 'person', roles: ['finance'] });
  const handle = await tier.start(input);

  expect(await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'fay')] }))).toEqual({
    type: 'not-eligible',
    message: 'This plan is waiting for team lead: fay approves at finance, which opens after it.',
  });
  const afterLead = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'lee')] });
  expect(afterLead.status).toBe('pending-approval');
  expect(afterLead.approval).toMatchObject({ stage: 1, openStage: { name: 'finance', index: 1, of: 2, approvers: ['role:finance'] } });
  // The lead's approval counted for the team lead stage; the lead cannot approve finance's too.
  expect((await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'lee')] }))).message).toBe(
    "lee is not an approver of this plan's finance stage (role:finance).",
  );

  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'fay')] });
  expect(['running', 'completed']).toContain(approved.status);
  expect((await handle.result()).status).toBe('completed');
  expect(tier.stub.events(input.runId!).slice(0, 6)).toEqual([
    'plan-created:planner',
    'plan-pending-approval:planner',
    'plan-approval-recorded:lee',
    'plan-stage-opened:system',
    'plan-approval-recorded:fay',
    'plan-approved:fay',
  ]);
});

it("a later stage's person may reject at any stage, and that ends the run", async () => {
  const input = runInput({ rules: defaultRules({ stages: STAGES, required: 1 }) });
  tier.stub.know(input.organizationId, { id: 'fay', kind: 'person', roles: ['finance'] });
  const handle = await tier.start(input);
  const rejected = await handle.executeUpdate(rejectPlanUpdate, { args: [{ ...from(input, 'fay'), reason: 'Too much.' }] });
  expect(rejected.status).toBe('aborted');
  await handle.result();
});

it('someone no stage names can neither approve nor reject a staged run', async () => {
  const input = runInput({ rules: defaultRules({ stages: STAGES, approvers: ['role:lead'], required: 1 }) });
  tier.stub.know(input.organizationId, { id: 'ivan', kind: 'person', roles: ['approver'] });
  const handle = await tier.start(input);
  expect(await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'ivan')] }))).toEqual({
    type: 'not-eligible',
    message: "ivan is not an approver of this plan's team lead stage (role:lead).",
  });
  expect((await refusal(handle.executeUpdate(rejectPlanUpdate, { args: [from(input, 'ivan')] }))).type).toBe('not-eligible');
  expect((await handle.query(planQuery)).status).toBe('pending-approval');
  await handle.terminate('test done');
});

it('a reminder and an escalation come due as durable timers: the admin may approve only once the stage escalated to admins', async () => {
  const input = runInput({
    rules: defaultRules({ reminderMs: [1000], escalations: [{ afterMs: 2000, addApprovers: ['role:admin'] }] }),
  });
  tier.stub.know(input.organizationId, { id: 'ada', kind: 'person', roles: ['admin'] });
  const handle = await tier.start(input);
  expect((await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'ada')] }))).message).toBe(
    "ada is not an approver under this organization's policy.",
  );
  const waiting = await handle.query(planQuery);
  expect(waiting.approval!.next).toMatchObject({ kind: 'reminder' });

  await until('the reminder and the escalation', async () => {
    const events = tier.stub.events(input.runId!);
    return events.includes('plan-reminded:system') && events.includes('plan-escalated:system') ? events : undefined;
  });
  const escalated = await handle.query(planQuery);
  expect(escalated.approval).toMatchObject({
    escalated: 1,
    reminded: 1,
    openStage: { approvers: ['role:approver', 'role:admin'] },
    next: null,
  });
  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'ada')] });
  expect(['running', 'completed']).toContain(approved.status);
  await handle.result();
});

it('an escalation that replaces the approvers moves the stage: the original approvers may then only reject', async () => {
  const input = runInput({ rules: defaultRules({ escalations: [{ afterMs: 1000, replaceApprovers: ['role:director'] }] }) });
  tier.stub.know(input.organizationId, 'bob', { id: 'dee', kind: 'person', roles: ['director'] });
  const handle = await tier.start(input);
  await until('the escalation', async () => (tier.stub.events(input.runId!).includes('plan-escalated:system') ? true : undefined));
  await stored(handle);
  expect((await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] }))).type).toBe('not-eligible');
  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'dee')] });
  expect(['running', 'completed']).toContain(approved.status);
  await handle.result();
});

it('a timer of a stage already passed does nothing: the escalation of the first stage never widens the second', async () => {
  const input = runInput({
    rules: defaultRules({ stages: STAGES, required: 1, escalations: [{ afterMs: 1500, addApprovers: ['role:admin'] }] }),
  });
  tier.stub.know(
    input.organizationId,
    { id: 'lee', kind: 'person', roles: ['lead'] },
    { id: 'ada', kind: 'person', roles: ['admin'] },
    { id: 'fay', kind: 'person', roles: ['finance'] },
  );
  const handle = await tier.start(input);
  const opened = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'lee')] });
  expect(opened.approval).toMatchObject({ stage: 1, escalated: 0 });
  // The finance stage's own escalation is due 1.5 s after it opened: before that, admins are not its approvers.
  expect((await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'ada')] }))).type).toBe('not-eligible');
  await until('the finance stage to escalate', async () =>
    tier.stub.events(input.runId!).includes('plan-escalated:system') ? true : undefined,
  );
  const escalated = await handle.query(planQuery);
  expect(escalated.approval).toMatchObject({ stage: 1, escalated: 1 });
  expect(tier.stub.events(input.runId!).filter((event) => event === 'plan-escalated:system')).toHaveLength(1);
  await handle.terminate('test done');
});
