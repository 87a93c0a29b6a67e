import { WorkflowUpdateFailedError } from '@temporalio/client';

import { approvePlanUpdate, planQuery, rejectSignal } from '../../workflows/messages.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, stored, until } from './harness.js';

/** The approval gate as the workflow applies it, with the directory and the store in memory. */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

it('a cross-thread run waits for approval; an eligible person approves and it runs to the end', async () => {
  const input = runInput();
  tier.stub.know(input.organizationId, 'bob');
  const handle = await tier.start(input);
  expect((await handle.query(planQuery)).status).toBe('pending-approval');

  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), reason: 'Fine.' }] });
  expect(approved.approval).toMatchObject({ required: 1, approvals: [{ by: 'bob', reason: 'Fine.' }] });
  expect((await handle.result()).status).toBe('completed');

  expect(tier.stub.events(input.runId!)).toEqual([
    'plan-created:planner',
    'plan-pending-approval:planner',
    'plan-approval-recorded:bob',
    'plan-approved:bob',
    'node-started:system',
    'node-completed:system',
    'node-started:system',
    'node-completed:system',
    'plan-completed:system',
  ]);
  expect(tier.stub.attempts).toEqual(expect.arrayContaining([`${input.runId}/step-1#1`, `${input.runId}/step-2#1`]));
});

it("the requester's approval is refused by the validator: no lookup, nothing in history", async () => {
  const input = runInput();
  const handle = await tier.start(input);
  const refused = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'planner')] }).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({
    type: 'not-eligible',
    message: 'The requester of a plan cannot approve it.',
  });

  expect(tier.stub.lookups).not.toContain(`${input.organizationId}/planner`);
  const history = await handle.fetchHistory();
  expect(
    history.events!.filter(
      (event) => event.workflowExecutionUpdateAcceptedEventAttributes || event.workflowExecutionUpdateAdmittedEventAttributes,
    ),
  ).toEqual([]);
  expect((await handle.query(planQuery)).status).toBe('pending-approval');
  await handle.terminate('test done');
});

it('a reject signal naming someone the directory does not know is recorded as decision-refused', async () => {
  const input = runInput();
  const handle = await tier.start(input);
  await handle.signal(rejectSignal, from(input, 'ghost'));

  const refused = await until('the refusal to be stored', async () =>
    tier.stub
      .transitions(input.runId!)
      .flatMap((transition) => transition.events)
      .find((event) => event.eventType === 'decision-refused'),
  );
  expect(refused).toMatchObject({
    emittedBy: 'ghost',
    detail: { code: 'not-eligible', reason: 'ghost is not a principal of this organization.' },
  });
  expect((await handle.query(planQuery)).status).toBe('pending-approval');
  await handle.terminate('test done');
});

it('a quorum of 2 looks the first approver up again: one who lost the role is withdrawn and the run still waits', async () => {
  const input = runInput({ rules: defaultRules({ required: 2 }) });
  tier.stub.know(input.organizationId, 'alice', 'bob');
  const handle = await tier.start(input);
  const first = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  expect(first).toMatchObject({ status: 'pending-approval', approval: { approvals: [{ by: 'alice' }] } });

  tier.stub.directory(input.organizationId).set('alice', { id: 'alice', kind: 'person', roles: [] });
  const second = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  expect(second).toMatchObject({ status: 'pending-approval', approval: { approvals: [{ by: 'bob' }] } });
  await stored(handle);
  expect(tier.stub.events(input.runId!)).toEqual([
    'plan-created:planner',
    'plan-pending-approval:planner',
    'plan-approval-recorded:alice',
    'plan-approval-withdrawn:system',
    'plan-approval-recorded:bob',
  ]);
  await handle.terminate('test done');
});

it('a run started without approval its rules require, by someone who may not skip it, ends aborted before any node starts', async () => {
  const input = runInput({ requireApproval: false });
  tier.stub.know(input.organizationId, { id: 'planner', kind: 'agent', roles: [] });
  const handle = await tier.start(input);
  const ended = await handle.result();

  expect(ended.status).toBe('aborted');
  expect(tier.stub.events(input.runId!)).toEqual(['plan-created:planner', 'plan-aborted:system']);
  expect(tier.stub.lookups).toContain(`${input.organizationId}/planner`);
  expect(tier.stub.attempts.filter((attempt) => attempt.startsWith(`${input.runId}/`))).toEqual([]);
});

it('a pending run expires: system rejects it per its rules', async () => {
  // No time skipping on this server (harness.ts): the expiry is one real second, set by hand.
  const input = runInput({ rules: defaultRules({ expiresAfterMs: 1000 }) });
  const handle = await tier.start(input);
  const ended = await handle.result();

  expect(ended.status).toBe('aborted');
  const events = tier.stub.transitions(input.runId!).flatMap((transition) => transition.events);
  expect(events.filter((event) => event.eventType !== 'checkpoint-saved').slice(-2)).toMatchObject([
    { eventType: 'plan-expired', emittedBy: 'system', detail: { outcome: 'reject', approvals: 0, required: 1 } },
    { eventType: 'plan-rejected', emittedBy: 'system', detail: { expired: true, resolution: 'rejected' } },
  ]);
});
