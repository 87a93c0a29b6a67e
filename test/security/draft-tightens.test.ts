import type { PlanSnapshot } from '../../domain/snapshot.js';
import { linearDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith } from '../support/principals.js';

/**
 * A draft only tightens the organization's approval policy: the requesting agent tries to loosen
 * it through its own draft, and each try is refused with nothing stored or started.
 */

const { stack, call } = apiStackForFile();

const organization = () => organizationWith(stack(), ['bob']);

const draftWith = (approval: Record<string, unknown>) => ({
  threadId: 't-1',
  sourceThreadId: 't-9',
  leadAgentId: 'planner',
  draft: linearDraft(1, { approval }),
});
const runsOf = async (token: string) => (await call<PlanSnapshot[]>(token, 'GET', '/v1/plans')).body;

it('where expiry approves, a draft may not expire sooner: that would approve with nobody deciding', async () => {
  const org = await organization();
  expect((await call(org.admin, 'PUT', '/v1/policy', { onExpiry: 'approve', expiresAfter: '7d' })).status).toBe(200);
  const refused = await call(org.planner, 'POST', '/v1/plans', draftWith({ expiresAfter: '1s' }));
  expect(refused).toMatchObject({
    status: 400,
    body: { error: { code: 'invalid-input', message: expect.stringContaining('approval.expiresAfter is shorter than the organization') } },
  });
  expect(await runsOf(org.alice)).toEqual([]);
  // Shorter and rejecting on expiry tightens: allowed.
  const tighter = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', draftWith({ expiresAfter: '1h', onExpiry: 'reject' }));
  expect(tighter).toMatchObject({ status: 201, body: { status: 'pending-approval' } });
});

it('a draft may not narrow its approvers to fewer eligible persons than must approve (a plan nobody could approve)', async () => {
  const org = await organization();
  for (const approval of [{ approvers: ['nobody'] }, { approvers: ['planner'] }, { approvers: ['alice'], required: 2 }]) {
    const refused = await call(org.planner, 'POST', '/v1/plans', draftWith(approval));
    expect([approval, refused.status, refused.body.error?.message]).toEqual([
      approval,
      400,
      expect.stringMatching(/approval\.approvers leaves \d eligible person/),
    ]);
  }
  expect(await runsOf(org.alice)).toEqual([]);
  const narrowed = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', draftWith({ approvers: ['alice', 'bob'], required: 2 }));
  expect(narrowed).toMatchObject({
    status: 201,
    body: { status: 'pending-approval', approval: { narrowedTo: ['alice', 'bob'], required: 2 } },
  });
});

it('a narrowing is for approvals only: every approver of the organization keeps the veto', async () => {
  const org = await organization();
  const plan = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', draftWith({ approvers: ['alice'] }))).body;
  expect(plan).toMatchObject({ status: 'pending-approval', approval: { narrowedTo: ['alice'] } });
  // bob may not let it run…
  expect((await call(org.bob, 'POST', `/v1/plans/${plan.runId}/approve`, {})).body).toMatchObject({
    error: { code: 'not-eligible', message: expect.stringContaining("not among this plan's approvers") },
  });
  const review = (await call<{ you: { may: boolean }; rejecting: { may: boolean } }>(org.bob, 'GET', `/v1/plans/${plan.runId}/review`))
    .body;
  expect([review.you.may, review.rejecting.may]).toEqual([false, true]);
  // …but may stop it, which the draft cannot take away.
  const rejected = await call<PlanSnapshot>(org.bob, 'POST', `/v1/plans/${plan.runId}/reject`, { reason: 'not this one' });
  expect(rejected).toMatchObject({ status: 200, body: { status: 'aborted' } });
});
