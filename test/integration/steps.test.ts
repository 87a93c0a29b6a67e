import type { PlanReview } from '../../client/reviews-client.js';
import type { StepRecords } from '../../domain/step-records.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { crossThread } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * Step by step (issue 22, item 2) through the HTTP API against the real stack: a plan approved
 * with a step skipped and one held; the held step shown with what it reviews, and decided later.
 */

const { stack, call } = apiStackForFile();

type ErrorBody = { error: { code: string; message: string } };

const noop = { type: 'system', action: 'noop' };
const DRAFT = {
  title: 'Refund',
  objective: 'Refund the customer.',
  nodes: [
    { id: 'collect', title: 'Collect', executor: noop },
    { id: 'refund', title: 'Refund', executor: noop, dependsOn: ['collect'] },
    { id: 'notify', title: 'Notify', executor: noop, dependsOn: ['refund'], optional: true },
  ],
};

it('approve with --skip and --hold: the skipped step never runs, the held one waits with its inputs until an eligible person approves it', async () => {
  const org = await organizationWith(stack(), ['bob']);
  const run = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(DRAFT))).body;
  const refused = await call<ErrorBody>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, { steps: { refund: 'skip' } });
  expect(refused.status).toBe(400);
  expect(refused.body.error.message).toContain('Only optional steps may be skipped');

  const approved = await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, {
    steps: { refund: 'hold', notify: 'skip' },
    reason: 'Refund after I check.',
  });
  expect(approved.status).toBe(200);
  const held = await eventually('refund to wait for a decision', async () => {
    const now = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}`)).body;
    return now.nodes.find((node) => node.nodeId === 'refund')!.status === 'awaiting-approval' ? now : undefined;
  });
  expect(held.status).toBe('awaiting-human');
  expect(held.nodes.map((node) => [node.nodeId, node.status, node.verdict?.decision ?? null])).toEqual([
    ['collect', 'completed', null],
    ['refund', 'awaiting-approval', 'hold'],
    ['notify', 'skipped', 'skip'],
  ]);

  const review = (await call<PlanReview>(org.bob, 'GET', `/v1/plans/${run.runId}/review`)).body;
  expect(review.waiting).toEqual([
    expect.objectContaining({
      nodeId: 'refund',
      waitsFor: 'approval',
      you: { may: true, why: null },
      inputs: [expect.objectContaining({ nodeId: 'collect' })],
    }),
  ]);
  const asRequester = (await call<PlanReview>(org.planner, 'GET', `/v1/plans/${run.runId}/review`)).body;
  expect(asRequester.waiting[0]!.you.may).toBe(false);
  expect((await call<ErrorBody>(org.planner, 'POST', `/v1/plans/${run.runId}/approve`, { steps: { refund: 'approve' } })).status).toBe(403);

  const decided = await call<PlanSnapshot>(org.bob, 'POST', `/v1/plans/${run.runId}/approve`, {
    steps: { refund: 'approve' },
    reason: 'Checked.',
  });
  expect(decided.status).toBe(200);
  const done = await eventually('the run to complete', async () => {
    const now = (
      await call<PlanSnapshot & { events: Array<{ eventType: string; emittedBy: string }> }>(
        org.alice,
        'GET',
        `/v1/plans/${run.runId}?include=events`,
      )
    ).body;
    return now.status === 'completed' ? now : undefined;
  });
  expect(done.events.map((event) => `${event.eventType}:${event.emittedBy}`)).toEqual(
    expect.arrayContaining(['node-skipped:alice', 'node-held:alice', 'node-approved:bob']),
  );
});

it('a step’s three records are kept apart: as proposed, as approved after an edit (and by whom), as it was called', async () => {
  const org = await organizationWith(stack(), []);
  const drafted = {
    title: 'Summary',
    objective: 'Summarise the tickets.',
    nodes: [{ id: 'summarise', title: 'Summarise', executor: { type: 'agent', agentId: 'echo' }, instructions: 'All tickets.' }],
  };
  const run = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(drafted))).body;
  const pending = await call<StepRecords>(org.alice, 'GET', `/v1/plans/${run.runId}/steps/summarise`);
  expect(pending.body).toMatchObject({ proposed: { instructions: 'All tickets.' }, approved: null, effective: [] });

  const edited = { ...drafted, nodes: [{ ...drafted.nodes[0]!, instructions: 'Only last week’s tickets.' }] };
  expect((await call(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, { draft: edited })).status).toBe(200);
  await eventually('the run to complete', async () =>
    (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}`)).body.status === 'completed' ? true : undefined,
  );
  const records = (await call<StepRecords>(org.planner, 'GET', `/v1/plans/${run.runId}/steps/summarise`)).body;
  expect(records.proposed).toMatchObject({ instructions: 'All tickets.' });
  expect(records.approved).toMatchObject({
    revisionNumber: 2,
    step: { instructions: 'Only last week’s tickets.' },
    approvedBy: [{ by: 'alice' }],
  });
  expect(records.effective).toEqual([
    expect.objectContaining({ attempt: 1, executor: { type: 'agent', agentId: 'echo' }, instructions: 'Only last week’s tickets.' }),
  ]);
  expect((await call(org.planner, 'GET', `/v1/plans/${run.runId}/steps/nope`)).status).toBe(404);
  const other = await organizationWith(stack(), []);
  expect((await call(other.alice, 'GET', `/v1/plans/${run.runId}/steps/summarise`)).status).toBe(404);
});

it('an approver disabled through the API while a person’s step runs: the next step does not start, the plan waits for approval again', async () => {
  const org = await organizationWith(stack(), ['bob', 'carol']);
  const draft = {
    title: 'Review then pay',
    objective: 'bob reviews, then it pays.',
    nodes: [
      { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'bob' } },
      { id: 'pay', title: 'Pay', executor: noop, dependsOn: ['review'] },
    ],
  };
  const run = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(draft))).body;
  expect((await call(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, {})).status).toBe(200);
  expect((await call(org.admin, 'POST', '/v1/principals/alice/disable', {})).status).toBe(200);
  expect((await call(org.bob, 'POST', `/v1/plans/${run.runId}/nodes/review/complete`, {})).status).toBe(200);
  const lapsed = await eventually('the approval to lapse', async () => {
    const now = (
      await call<PlanSnapshot & { events: Array<{ eventType: string; message: string }> }>(
        org.bob,
        'GET',
        `/v1/plans/${run.runId}?include=events`,
      )
    ).body;
    return now.status === 'pending-approval' ? now : undefined;
  });
  expect(lapsed.nodes.map((node) => [node.nodeId, node.status])).toEqual([
    ['review', 'completed'],
    ['pay', 'ready'],
  ]);
  expect(lapsed.events.find((event) => event.eventType === 'approval-lapsed')!.message).toContain(
    'alice is no longer a principal of the organization (removed or disabled)',
  );
  expect((await call(org.carol, 'POST', `/v1/plans/${run.runId}/approve`, {})).status).toBe(200);
  await eventually('the plan to complete', async () =>
    (await call<PlanSnapshot>(org.bob, 'GET', `/v1/plans/${run.runId}`)).body.status === 'completed' ? true : undefined,
  );
});
