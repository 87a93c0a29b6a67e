import type { PlanSnapshot } from '../../domain/snapshot.js';
import type { StandingApproval } from '../../domain/standing.js';
import { crossThread, linearDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { refundPolicy } from '../support/policies.js';
import { organizationWith, tokenFor } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * Routing by risk through the HTTP API on a real stack (issue 21): rules by what a plan does,
 * sequential stages, the dry run and standing approvals — each tried as the principal who should
 * not get through would try it: an agent dodging a rule, a later stage's person jumping the queue,
 * an old approval stretched over a changed plan.
 */

const { stack, call } = apiStackForFile();
type ErrorBody = { error: { code: string; message: string } };

/** The worked policy of docs/approval-policies.md (examples/refund-policy.json): its large-refunds rule, without timers. */
const worked = refundPolicy();
const POLICY = { roles: worked.roles, rules: worked.rules.filter((rule) => rule.name === 'large-refunds') };

async function organization() {
  const org = await organizationWith(stack(), ['bob']);
  // The roles first, then the people who have them, then the rules that route to them.
  expect((await call(org.admin, 'PUT', '/v1/policy', { roles: POLICY.roles })).status).toBe(200);
  const lee = await tokenFor(stack(), org.organizationId, 'lee', { roles: ['lead'] });
  const fay = await tokenFor(stack(), org.organizationId, 'fay', { roles: ['finance'] });
  expect((await call(org.admin, 'PUT', '/v1/policy', POLICY)).status).toBe(200);
  return { ...org, lee, fay };
}

const refund = (amountEur: unknown) => ({ ...linearDraft(1), parameters: { amountEur } });
/** The planner files it in its own thread: nothing but the rules can make it wait. */
const sameThread = (draft: unknown) => ({ threadId: 't-1', leadAgentId: 'planner', draft });

it('a large refund waits for an approver, then the team lead, then finance, even filed in its own thread; no one jumps the queue', async () => {
  const org = await organization();
  const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', sameThread(refund(1200)));
  expect(created.status).toBe(201);
  const run = created.body;
  expect(run.status).toBe('pending-approval');
  expect(run.approval).toMatchObject({
    reasons: ['policy-rule'],
    openStage: { name: 'approval', index: 0, of: 3 },
    matched: [{ rule: 'large-refunds', because: ['amountEur 1,200 > 1,000'], requires: 'stages team lead → finance' }],
  });
  expect((await call<ErrorBody>(org.lee, 'POST', `/v1/plans/${run.runId}/approve`, {})).body.error.message).toBe(
    'This plan is waiting for approval: lee approves at team lead, which opens after it.',
  );
  // The organization's floor first: an approver.
  const afterApprover = await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, {});
  expect(afterApprover.body.approval).toMatchObject({ stage: 1, openStage: { name: 'team lead' } });
  const early = await call<ErrorBody>(org.fay, 'POST', `/v1/plans/${run.runId}/approve`, {});
  expect(early).toMatchObject({
    status: 403,
    body: { error: { message: 'This plan is waiting for team lead: fay approves at finance, which opens after it.' } },
  });
  // alice approved a stage already: she cannot approve the next one too.
  expect((await call(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, {})).status).not.toBe(200);
  const afterLead = await call<PlanSnapshot>(org.lee, 'POST', `/v1/plans/${run.runId}/approve`, {});
  expect(afterLead.body.approval).toMatchObject({ stage: 2, openStage: { name: 'finance' } });
  const approved = await call<PlanSnapshot>(org.fay, 'POST', `/v1/plans/${run.runId}/approve`, {});
  expect(['running', 'completed']).toContain(approved.body.status);
});

it('an agent cannot dodge the rule: the amount as text is refused, nothing stored; a small one runs at once', async () => {
  const org = await organization();
  const dodged = await call<ErrorBody>(org.planner, 'POST', '/v1/plans', sameThread(refund('1200')));
  expect(dodged.status).toBe(400);
  expect(dodged.body.error.message).toContain(
    "parameters.amountEur must be a number: the organization's rule large-refunds compares it (> 1,000).",
  );
  expect((await call<PlanSnapshot[]>(org.admin, 'GET', '/v1/plans')).body).toEqual([]);
  const small = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', sameThread(refund(200)));
  expect(small.body.status).not.toBe('pending-approval');
});

it('the dry run says what a create would require, and stores nothing', async () => {
  const org = await organization();
  const trial = await call<Record<string, unknown>>(org.planner, 'POST', '/v1/policy/test', { draft: refund(5000) });
  expect(trial.status).toBe(200);
  expect(trial.body).toMatchObject({
    requester: 'planner',
    needsApproval: true,
    reasons: ['policy-rule'],
    stages: [
      { name: 'approval', eligible: null },
      { name: 'team lead', eligible: null },
      { name: 'finance', eligible: null },
    ],
    problems: [],
  });
  // Who holds each stage's roles is an admin's to see; a proposed policy is an admin's to try.
  const asAdmin = await call<{ stages: Array<{ eligible: string[] }> }>(org.admin, 'POST', '/v1/policy/test', { draft: refund(5000) });
  expect(asAdmin.body.stages.map((stage) => stage.eligible)).toEqual([['alice', 'bob'], ['lee'], ['fay']]);
  const refused = await call<{ problems: string[] }>(org.planner, 'POST', '/v1/policy/test', { draft: refund('5000') });
  expect(refused.body.problems[0]).toContain('parameters.amountEur must be a number');
  expect((await call<PlanSnapshot[]>(org.admin, 'GET', '/v1/plans')).body).toEqual([]);
  // A proposed policy is tried, not saved.
  expect((await call(org.planner, 'POST', '/v1/policy/test', { draft: refund(5000), policy: {} })).status).toBe(403);
  const proposed = await call<{ proposed: boolean; needsApproval: boolean }>(org.admin, 'POST', '/v1/policy/test', {
    draft: refund(5000),
    policy: {},
  });
  expect(proposed.body).toMatchObject({ proposed: true, needsApproval: false });
  expect((await call<{ policy: { rules: unknown[] } }>(org.admin, 'GET', '/v1/policy')).body.policy.rules).toHaveLength(1);
});

it('a stage naming nobody of the organization is refused when the policy is set, naming the field', async () => {
  const org = await organizationWith(stack(), []);
  const refused = await call<ErrorBody>(org.admin, 'PUT', '/v1/policy', POLICY);
  expect(refused.status).toBe(400);
  expect(refused.body.error.message).toContain('rules.0.require.stages.0.approvers: nobody of');
  expect((await call<{ version: number }>(org.admin, 'GET', '/v1/policy')).body.version).toBe(0);
});

it('a standing approval approves the identical plan from the same requester, never a changed one, and not once revoked', async () => {
  const org = await organizationWith(stack(), ['bob']);
  const first = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  const given = await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${first.runId}/approve`, { standing: '30d' });
  expect(given.status).toBe(200);
  const listed = await eventually('the standing approval to be stored', async () => {
    const all = (await call<StandingApproval[]>(org.alice, 'GET', '/v1/standing-approvals')).body;
    return all.length > 0 ? all : undefined;
  });
  expect(listed).toEqual([expect.objectContaining({ standingId: `${first.runId}:alice`, requester: 'planner', approvedBy: 'alice' })]);
  // bob sees none of alice's, and cannot revoke hers.
  expect((await call<StandingApproval[]>(org.bob, 'GET', '/v1/standing-approvals')).body).toEqual([]);
  expect((await call(org.bob, 'DELETE', `/v1/standing-approvals/${listed[0]!.standingId}`)).status).toBe(404);

  const identical = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  const applied = await eventually('the identical plan to be approved by the standing approval', async () => {
    const run = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${identical.runId}?include=events`)).body;
    return run.status !== 'pending-approval' ? run : undefined;
  });
  expect(applied.events!.map((event) => event.eventType)).toContain('plan-approved-by-standing');
  expect(applied.approval!.approvals[0]).toMatchObject({ by: 'alice', credential: { kind: 'standing', id: `${first.runId}:alice` } });

  const changed = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(linearDraft(2)))).body;
  expect(changed.status).toBe('pending-approval');
  expect((await call(org.alice, 'DELETE', `/v1/standing-approvals/${listed[0]!.standingId}`)).status).toBe(200);
  const afterRevoke = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${afterRevoke.runId}`)).body.status).toBe('pending-approval');
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${changed.runId}`)).body.status).toBe('pending-approval');
});

it('a standing approval given on a plan that is then rejected is taken back: the next identical plan waits', async () => {
  const org = await organizationWith(stack(), ['bob']);
  const draft = linearDraft(1, { approval: { required: 2 } });
  const first = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(draft))).body;
  expect((await call(org.alice, 'POST', `/v1/plans/${first.runId}/approve`, { standing: '30d' })).status).toBe(200);
  expect((await call(org.bob, 'POST', `/v1/plans/${first.runId}/reject`, { reason: 'Not this.' })).status).toBe(200);
  const [standing] = (await call<StandingApproval[]>(org.alice, 'GET', '/v1/standing-approvals')).body;
  expect(standing).toMatchObject({ standingId: `${first.runId}:alice`, revokedBy: 'system' });
  const next = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(draft))).body;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${next.runId}`)).body.approval!.approvals).toEqual([]);
});
