import { planHashOf, revisionOf } from '../../client/revision.js';
import type { PlanRunInput } from '../../domain/run-input.js';
import { compileDraft } from '../../domain/validate.js';
import { approvePlanUpdate, planQuery } from '../../workflows/messages.js';
import { linearDraft } from '../support/drafts.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, stored, refusal } from './harness.js';

/**
 * Edit, then approve (issue 22, item 1) as the workflow applies it: the edited plan becomes a new
 * revision and is what runs; approvals given to the earlier revision no longer count; and each
 * rule tried as the principal who should not get through would try it.
 */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

/** A run of `draft` with its revision and hash, as the client creates it. */
function governedRun(draft: unknown = linearDraft(2), rules = defaultRules()): PlanRunInput {
  const plan = compileDraft(draft);
  const input = runInput({ draft, rules, revision: revisionOf(plan), planHash: planHashOf(plan) });
  tier.stub.know(input.organizationId, 'alice', 'bob', { id: 'planner', kind: 'agent', roles: [] });
  return input;
}

/** The draft with step-2 sent to another place and a third step after it. */
const EDITED = linearDraft(3);

it('an approver edits and approves in one go: plan-edited, then the approval; the edited plan is the one that runs', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  const approved = await handle.executeUpdate(approvePlanUpdate, {
    args: [{ ...from(input, 'alice'), draft: EDITED, reason: 'Added the report.' }],
  });
  const edited = compileDraft(EDITED);
  expect(approved.revision).toBe(revisionOf(edited));
  expect(approved.revision).not.toBe(input.revision);
  expect((await handle.result()).status).toBe('completed');
  expect(tier.stub.events(input.runId!).slice(0, 5)).toEqual([
    'plan-created:planner',
    'plan-pending-approval:planner',
    'plan-edited:alice',
    'plan-approval-recorded:alice',
    'plan-approved:alice',
  ]);
  expect(tier.stub.attempts.filter((attempt) => attempt.startsWith(`${input.runId}/`))).toEqual([
    `${input.runId}/step-1#1`,
    `${input.runId}/step-2#1`,
    `${input.runId}/step-3#1`,
  ]);
  const edit = tier.stub.transitions(input.runId!).find((transition) => transition.edit)!;
  expect(edit.edit).toMatchObject({
    current: { number: 2, revision: revisionOf(edited), editedBy: 'alice' },
    replaced: { number: 1, revision: input.revision },
    removedNodeIds: [],
  });
  const event = edit.events.find((stored) => stored.eventType === 'plan-edited')!;
  expect(event.detail).toMatchObject({
    fromRevision: input.revision,
    toRevision: revisionOf(edited),
    revisionNumber: 2,
    approvalCounted: true,
  });
  expect(event.detail.diff).toMatchObject({ added: [{ nodeId: 'step-3' }] });
});

it('under a quorum, approvals given to the earlier revision are not counted for the edited one; the editor’s is', async () => {
  const input = governedRun(linearDraft(2), defaultRules({ required: 2 }));
  tier.stub.know(input.organizationId, 'carol');
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  const afterEdit = await handle.executeUpdate(approvePlanUpdate, {
    args: [
      {
        ...from(input, 'bob'),
        patch: { nodes: { 'step-2': null, later: { title: 'Later', executor: { type: 'system', action: 'noop' } } } },
      },
    ],
  });
  expect(afterEdit.status).toBe('pending-approval');
  expect(afterEdit.approval?.approvals.map((entry) => entry.by)).toEqual(['bob']);
  expect(afterEdit.nodes.map((node) => node.nodeId)).toEqual(['step-1', 'later']);
  // alice approved the earlier revision: she approves this one again, and that completes the quorum.
  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  expect(['running', 'completed']).toContain(approved.status);
  await handle.result();
  const edited = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((event) => event.eventType === 'plan-edited')!;
  expect(edited.message).toContain('Approvals given to');
  expect(edited.detail.discardedApprovals).toEqual(['alice']);
  expect(tier.stub.transitions(input.runId!).find((transition) => transition.edit)!.edit!.removedNodeIds).toEqual(['step-2']);
});

it('the requester cannot edit its own plan through the approve path; nothing changes', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  expect((await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'planner'), draft: EDITED }] }))).type).toBe(
    'not-eligible',
  );
  const run = await handle.query(planQuery);
  expect(run.revision).toBe(input.revision);
  expect(run.nodes).toHaveLength(2);
});

it('an edit the gate refuses (egress, a bad step) is refused with its reason, and nothing changes', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  tier.stub.editRefusal = { code: 'invalid-input', message: 'Node "step-2" calls 169.254.169.254, an internal address.' };
  try {
    expect(await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), draft: EDITED }] }))).toEqual({
      type: 'invalid-input',
      message: 'Node "step-2" calls 169.254.169.254, an internal address.',
    });
  } finally {
    tier.stub.editRefusal = undefined;
  }
  await stored(handle);
  const run = await handle.query(planQuery);
  expect(run.status).toBe('pending-approval');
  expect(run.revision).toBe(input.revision);
  expect(run.approval?.approvals).toEqual([]);
  expect(tier.stub.events(input.runId!)).toEqual(['plan-created:planner', 'plan-pending-approval:planner']);
});

it('an edit that changes nothing, or one sent with a rejection, is refused', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  expect(await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), draft: linearDraft(2) }] }))).toEqual({
    type: 'invalid-input',
    message: 'The edit changes nothing that runs: approve without an edit.',
  });
  expect(
    (await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), draft: EDITED, patch: {} }] }))).message,
  ).toContain('not both');
  expect((await handle.query(planQuery)).revision).toBe(input.revision);
});

it('an edit whose editor is not eligible at the edited revision’s first stage is kept, but their approval does not count', async () => {
  const stages = [
    { name: 'approval', approvers: ['role:approver'], required: 1 },
    { name: 'finance', approvers: ['role:finance'], required: 1 },
  ];
  const input = governedRun(linearDraft(2), defaultRules({ stages }));
  tier.stub.know(input.organizationId, { id: 'fay', kind: 'person', roles: ['finance'] });
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  const edited = await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'fay'), draft: EDITED }] });
  expect(edited.status).toBe('pending-approval');
  expect(edited.approval).toMatchObject({ stage: 0, approvals: [] });
  await stored(handle);
  const event = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((stored) => stored.eventType === 'plan-edited')!;
  expect(event.detail).toMatchObject({ approvalCounted: false, discardedApprovals: ['alice'] });
  // The first stage again, then finance: the edited plan runs after both.
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  const approved = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'fay')] });
  expect(['running', 'completed']).toContain(approved.status);
  await handle.result();
});
