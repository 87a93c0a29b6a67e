import { WorkflowUpdateFailedError } from '@temporalio/client';

import type { Decider } from '../../domain/approval.js';
import { approvePlanUpdate, planQuery, rejectPlanUpdate } from '../../workflows/messages.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, stored } from './harness.js';

/**
 * Delegation as the workflow applies it (issue 21, item 4): a delegate's decision counts for
 * their delegator, never for a requester, never twice in one quorum — tried as bob would.
 */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

const alice: Decider = { id: 'alice', kind: 'person', roles: ['approver'] };
/** bob is no approver; alice delegated her approvals to him. */
const bobForAlice: Decider = { id: 'bob', kind: 'person', roles: [], actsFor: [alice] };

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((error as WorkflowUpdateFailedError).cause as { message?: string }).message;
}

it("bob approves for alice: recorded as bob for alice, and it counts as alice's", async () => {
  const input = runInput();
  tier.stub.know(input.organizationId, alice, bobForAlice);
  const handle = await tier.start(input);
  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  expect(['running', 'completed']).toContain(approved.status);
  expect(approved.approval!.approvals).toMatchObject([{ by: 'bob', onBehalfOf: 'alice' }]);
  await handle.result();
  const recorded = tier.stub.transitions(input.runId!).flatMap((transition) => transition.events);
  expect(recorded.find((event) => event.eventType === 'plan-approval-recorded')).toMatchObject({
    emittedBy: 'bob',
    message: expect.stringContaining('by bob for alice'),
    detail: { onBehalfOf: 'alice' },
  });
  expect(recorded.find((event) => event.eventType === 'plan-approved')).toMatchObject({
    emittedBy: 'bob',
    detail: { onBehalfOf: 'alice' },
  });
});

it('nobody counts twice in one quorum: alice after bob-for-alice changes nothing, nor bob again for himself', async () => {
  const input = runInput({ rules: defaultRules({ required: 3 }) });
  const bobApprover: Decider = { ...bobForAlice, roles: ['approver'] };
  tier.stub.know(input.organizationId, alice, bobApprover, 'carol', 'dave');
  const handle = await tier.start(input);
  // bob may approve as himself: he does, and counts as bob.
  const first = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  expect(first.approval!.approvals).toMatchObject([{ by: 'bob', onBehalfOf: null }]);
  // Asked again, bob is not counted again, not even for alice.
  const again = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  expect(again.approval!.approvals).toHaveLength(1);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'carol')] });
  expect((await handle.query(planQuery)).status).not.toBe('pending-approval');
  await handle.result();

  const other = runInput({ rules: defaultRules({ required: 2 }) });
  tier.stub.know(other.organizationId, alice, bobForAlice, 'carol');
  const second = await tier.start(other);
  await second.executeUpdate(approvePlanUpdate, { args: [from(other, 'bob')] });
  const aliceToo = await second.executeUpdate(approvePlanUpdate, { args: [from(other, 'alice')] });
  expect(aliceToo.status).toBe('pending-approval');
  expect(aliceToo.approval!.approvals.map((entry) => entry.by)).toEqual(['bob']);
  await second.terminate('test done');
});

it('a delegation never lets a requester decide: not bob for plans bob requested, nor for a plan alice requested', async () => {
  const byBob = runInput({ leadAgentId: 'planner', createdByAgentId: 'bob', rules: defaultRules({ requesters: ['planner', 'bob'] }) });
  tier.stub.know(byBob.organizationId, alice, bobForAlice);
  const first = await tier.start(byBob);
  expect(await refusal(first.executeUpdate(approvePlanUpdate, { args: [from(byBob, 'bob')] }))).toBe(
    'The requester of a plan cannot approve it.',
  );
  await first.terminate('test done');

  const byAlice = runInput({ rules: defaultRules({ requesters: ['planner', 'alice'] }) });
  tier.stub.know(byAlice.organizationId, alice, bobForAlice);
  const second = await tier.start(byAlice);
  expect(await refusal(second.executeUpdate(approvePlanUpdate, { args: [from(byAlice, 'bob')] }))).toBe(
    "bob is not an approver under this organization's policy.",
  );
  await second.terminate('test done');
});

it('a delegate may reject for their delegator; without a delegation bob may do neither', async () => {
  const input = runInput();
  tier.stub.know(input.organizationId, alice, bobForAlice);
  const handle = await tier.start(input);
  const rejected = await handle.executeUpdate(rejectPlanUpdate, { args: [{ ...from(input, 'bob'), reason: 'Not now.' }] });
  expect(rejected.status).toBe('aborted');
  await handle.result();

  const plain = runInput();
  tier.stub.know(plain.organizationId, alice, { id: 'bob', kind: 'person', roles: [] });
  const other = await tier.start(plain);
  expect(await refusal(other.executeUpdate(approvePlanUpdate, { args: [from(plain, 'bob')] }))).toBe(
    "bob is not an approver under this organization's policy.",
  );
  await other.terminate('test done');
});

it('a delegation revoked before the quorum completes withdraws the approval made under it', async () => {
  const input = runInput({ rules: defaultRules({ required: 2 }) });
  tier.stub.know(input.organizationId, alice, bobForAlice, 'carol');
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  // alice revokes: bob no longer acts for her.
  tier.stub.directory(input.organizationId).set('bob', { id: 'bob', kind: 'person', roles: [] });
  const after = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'carol')] });
  expect(after.status).toBe('pending-approval');
  expect(after.approval!.approvals.map((entry) => entry.by)).toEqual(['carol']);
  await stored(handle);
  const withdrawn = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((event) => event.eventType === 'plan-approval-withdrawn');
  expect(withdrawn?.message).toContain('bob no longer acts for alice');
  await handle.terminate('test done');
});
