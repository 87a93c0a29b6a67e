import { randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { humanFirstDraft, linearDraft } from '../support/drafts.js';
import { type Answer, askApi } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';

/**
 * "The organization, not the requester, decides which plans need approval" (docs/approval-policies.md "Approval
 * policies", docs/DESIGN.md §9): tried as an agent would try to get a plan run without a person
 * looking at it, through the HTTP API. Whatever threads it names, a plan the policy's
 * `requireApprovalFor` covers waits, says why, and runs nothing until a person approves it.
 */

let stack: Stack;
let receiver: Server;
let hookUrl: string;
/** Every call the webhook receiver got: the body's runId and nodeId. */
const received: Array<{ runId: string; nodeId: string }> = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push(JSON.parse(body) as { runId: string; nodeId: string });
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  // The receiver stands in for a public destination: the operator lets every organization reach it (egress has its own tests).
  stack = await startTestStack({ egressAllow: [new URL(hookUrl).host] });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

interface ErrorBody {
  error: { code: string; message: string };
}
const call = <T = ErrorBody>(token: string, method: string, path: string, body?: unknown) =>
  askApi<T>(stack.apiUrl, token, method, path, body);

async function organization() {
  const organizationId = `org-${randomUUID()}`;
  return {
    organizationId,
    planner: await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] }),
    alice: await tokenFor(stack, organizationId, 'alice', { kind: 'person', roles: ['approver'] }),
    admin: await tokenFor(stack, organizationId, 'ops', { kind: 'person', roles: ['admin'] }),
  };
}

/** A plan whose one step POSTs to the test's receiver. */
const hookDraft = () => ({
  title: 'Notify',
  objective: 'Tell the outside world.',
  nodes: [{ id: 'notify', title: 'Notify', executor: { type: 'system', action: 'webhook', url: hookUrl } }],
});

const callsFor = (runId: string) => received.filter((call) => call.runId === runId);
const runsOf = async (organizationId: string) => stack.plans.runs.list({ organizationId });

/** Lets anything that was (wrongly) started get as far as calling out, so "nothing ran" means something. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));

async function create(token: string, body: Record<string, unknown>): Promise<Answer<PlanSnapshot>> {
  return call<PlanSnapshot>(token, 'POST', '/v1/plans', { threadId: 't-1', leadAgentId: 'planner', ...body });
}

async function expectWaiting(token: string, runId: string, reasons: string[]): Promise<void> {
  const stored = (await call<PlanSnapshot>(token, 'GET', `/v1/plans/${runId}`)).body;
  expect(stored).toMatchObject({
    status: 'pending-approval',
    requireApproval: true,
    startedAt: null,
    readyNodeIds: [],
    approval: { reasons, approvals: [] },
  });
  expect(stored.nodes.every((node) => node.status === 'pending')).toBe(true);
  const review = await call<{ approvalReasons: string[] | null }>(token, 'GET', `/v1/plans/${runId}/review`);
  expect(review).toMatchObject({ status: 200, body: { approvalReasons: reasons } });
}

/** A run that started at once: nothing to approve. */
function expectStartedAtOnce(run: PlanSnapshot): void {
  expect(run).toMatchObject({ requireApproval: false, approval: null, startedAt: expect.any(String) });
  expect(run.status).not.toBe('pending-approval');
}

/** A webhook plan that needs no approval: started at once, and its webhook is called. */
async function expectCallsOutAtOnce(created: Answer<PlanSnapshot>): Promise<void> {
  expectStartedAtOnce(created.body);
  await eventually(`run ${created.body.runId} to call out`, async () => (callsFor(created.body.runId).length > 0 ? true : undefined));
}

async function policyOf(token: string) {
  return (await call<{ version: number; policy: { requireApprovalFor?: string[] } }>(token, 'GET', '/v1/policy')).body;
}

it('an agent’s same-thread plan with a webhook step waits for a person under the default policy, and calls out only once approved', async () => {
  const org = await organization();
  // Filed in the very thread it runs in: named as its own source thread, or with none at all.
  const sameSource = await create(org.planner, { sourceThreadId: 't-1', draft: hookDraft() });
  const noSource = await create(org.planner, { draft: hookDraft() });
  for (const plan of [sameSource, noSource]) {
    expect(plan.status).toBe(201);
    expect(plan.body).toMatchObject({
      status: 'pending-approval',
      approval: { reasons: ['external-calls'], required: 1, requesters: ['planner'] },
    });
  }
  await settle();
  for (const plan of [sameSource, noSource]) await expectWaiting(org.alice, plan.body.runId, ['external-calls']);
  expect(callsFor(sameSource.body.runId)).toEqual([]);
  expect(callsFor(noSource.body.runId)).toEqual([]);

  // The agent cannot approve its own plan; a person can, and only then does the call leave.
  expect((await call(org.planner, 'POST', `/v1/plans/${sameSource.body.runId}/approve`, {})).status).toBe(403);
  expect(callsFor(sameSource.body.runId)).toEqual([]);
  const approved = await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${sameSource.body.runId}/approve`, {});
  expect(approved).toMatchObject({ status: 200, body: { approval: { reasons: ['external-calls'], approvals: [{ by: 'alice' }] } } });
  await eventually(`run ${sameSource.body.runId} to complete`, async () =>
    (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${sameSource.body.runId}`)).body.status === 'completed' ? true : undefined,
  );
  expect(callsFor(sameSource.body.runId)).toEqual([expect.objectContaining({ runId: sameSource.body.runId, nodeId: 'notify' })]);
  // The other still waits, and has still called nobody.
  expect(callsFor(noSource.body.runId)).toEqual([]);
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${noSource.body.runId}`)).body.status).toBe('pending-approval');
}, 90_000);

it('the agent asking to skip approval of such a plan is refused as a cross-thread skip is, and nothing is stored or started', async () => {
  const org = await organization();
  const callsBefore = received.length;
  for (const sourceThreadId of ['t-1', undefined]) {
    const asked = await create(org.planner, { ...(sourceThreadId ? { sourceThreadId } : {}), requireApproval: false, draft: hookDraft() });
    expect(asked).toEqual({
      status: 403,
      body: {
        error: {
          code: 'not-eligible',
          message:
            "planner may not start a plan that calls external endpoints without approval: this organization's policy lets no one skip it.",
        },
      },
    });
  }
  // Under both reasons at once, the refusal names both.
  const both = await create(org.planner, { sourceThreadId: 't-9', requireApproval: false, draft: hookDraft() });
  expect(both).toMatchObject({
    status: 403,
    body: { error: { code: 'not-eligible', message: expect.stringContaining('(cross-thread, external-calls)') } },
  });
  await settle();
  expect(await runsOf(org.organizationId)).toEqual([]);
  expect(received).toHaveLength(callsBefore);

  // Only whom the policy names may skip it, and then the plan runs at once.
  expect((await call(org.admin, 'PUT', '/v1/policy', { roles: ['release-manager'], skipApproval: ['role:release-manager'] })).status).toBe(
    200,
  );
  expect((await create(org.planner, { requireApproval: false, draft: hookDraft() })).status).toBe(403);
  await tokenFor(stack, org.organizationId, 'planner', { kind: 'agent', roles: ['release-manager'] });
  const waived = await create(org.planner, { requireApproval: false, draft: hookDraft() });
  expect(waived.status).toBe(201);
  expectStartedAtOnce(waived.body);
  await eventually(`run ${waived.body.runId} to call out`, async () => (callsFor(waived.body.runId).length > 0 ? true : undefined));
  expect(await runsOf(org.organizationId)).toHaveLength(1);
}, 90_000);

it('replacing a running plan with one that calls out does not get around the gate', async () => {
  const org = await organization();
  const running = await create(org.planner, { draft: humanFirstDraft() });
  expectStartedAtOnce(running.body);
  await eventually(`run ${running.body.runId} to wait for a person`, async () =>
    (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${running.body.runId}`)).body.status === 'awaiting-human' ? true : undefined,
  );
  const replace = (extra: Record<string, unknown>) =>
    call<PlanSnapshot>(org.planner, 'POST', `/v1/plans/${running.body.runId}/replace`, {
      threadId: 't-1',
      leadAgentId: 'planner',
      reason: 'Now with a call.',
      draft: hookDraft(),
      ...extra,
    });

  const skipped = await replace({ requireApproval: false });
  expect(skipped).toMatchObject({ status: 403, body: { error: { code: 'not-eligible' } } });
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${running.body.runId}`)).body).toMatchObject({
    status: 'awaiting-human',
    replacedByRunId: null,
  });
  expect(await runsOf(org.organizationId)).toHaveLength(1);

  const replacement = await replace({});
  expect(replacement).toMatchObject({
    status: 201,
    body: { status: 'pending-approval', replacedRunId: running.body.runId, approval: { reasons: ['external-calls'] } },
  });
  await settle();
  await expectWaiting(org.alice, replacement.body.runId, ['external-calls']);
  expect(callsFor(replacement.body.runId)).toEqual([]);
}, 90_000);

it('under requireApprovalFor agent-plans, an agent’s noop plan waits whatever lead agent it names; a person’s does not', async () => {
  const org = await organization();
  const set = await call<{ version: number; policy: { requireApprovalFor: string[] } }>(org.admin, 'PUT', '/v1/policy', {
    requireApprovalFor: ['agent-plans'],
  });
  expect(set).toMatchObject({ status: 200, body: { version: 1, policy: { requireApprovalFor: ['cross-thread', 'agent-plans'] } } });

  const agents = await create(org.planner, { sourceThreadId: 't-1', draft: linearDraft(2) });
  expect(agents.body).toMatchObject({ status: 'pending-approval', approval: { reasons: ['agent-plans'] } });
  // Naming a person as its lead agent (to make alice a requester, who may not decide) is refused outright.
  const disguised = await create(org.planner, { leadAgentId: 'alice', draft: linearDraft(1) });
  expect(disguised).toMatchObject({
    status: 400,
    body: { error: { message: expect.stringContaining('leadAgentId names alice, a person') } },
  });
  expect((await create(org.planner, { requireApproval: false, draft: linearDraft(1) })).status).toBe(403);
  await settle();
  await expectWaiting(org.alice, agents.body.runId, ['agent-plans']);

  const persons = await create(org.alice, { draft: linearDraft(2) });
  expectStartedAtOnce(persons.body);
  // external-calls is not in this policy: a person's webhook plan runs at once.
  await expectCallsOutAtOnce(await create(org.alice, { draft: hookDraft() }));
}, 90_000);

it('under requireApprovalFor recurring, a plan with a schedule waits; one without runs at once', async () => {
  const org = await organization();
  expect((await call(org.admin, 'PUT', '/v1/policy', { requireApprovalFor: ['recurring'] })).status).toBe(200);
  const recurring = await create(org.planner, { draft: linearDraft(1, { schedule: { every: '1h' } }) });
  expect(recurring.body).toMatchObject({ status: 'pending-approval', scheduleId: null, approval: { reasons: ['recurring'] } });
  const once = await create(org.planner, { draft: linearDraft(1) });
  expectStartedAtOnce(once.body);
  const byPerson = await create(org.alice, { draft: linearDraft(1, { schedule: { every: '1h' } }) });
  expect(byPerson.body).toMatchObject({ status: 'pending-approval', approval: { reasons: ['recurring'] } });
  await settle();
  await expectWaiting(org.alice, recurring.body.runId, ['recurring']);
  expect((await call<{ attached: boolean }>(org.alice, 'GET', `/v1/plans/${recurring.body.runId}/schedule`)).body.attached).toBe(false);
}, 90_000);

it('a policy that leaves cross-thread out still gates cross-thread plans', async () => {
  const org = await organization();
  for (const requireApprovalFor of [[], ['recurring']]) {
    const set = await call<{ policy: { requireApprovalFor: string[] } }>(org.admin, 'PUT', '/v1/policy', { requireApprovalFor });
    expect(set.body.policy.requireApprovalFor).toEqual(['cross-thread', ...requireApprovalFor]);
    expect((await policyOf(org.alice)).policy.requireApprovalFor).toEqual(['cross-thread', ...requireApprovalFor]);
    const cross = await create(org.planner, { sourceThreadId: 't-9', draft: linearDraft(1) });
    expect(cross.body).toMatchObject({ status: 'pending-approval', approval: { reasons: ['cross-thread'] } });
    expect((await create(org.planner, { sourceThreadId: 't-9', requireApproval: false, draft: linearDraft(1) })).body).toEqual({
      error: {
        code: 'not-eligible',
        message: "planner may not start a cross-thread plan without approval: this organization's policy lets no one skip it.",
      },
    });
    // With nothing listed but cross-thread, a same-thread webhook plan runs at once: the organization said so.
    if (requireApprovalFor.length === 0) {
      await expectCallsOutAtOnce(await create(org.planner, { draft: hookDraft() }));
    }
  }
}, 90_000);

it('a condition the policy does not know is refused naming the field, and the policy stays as it was', async () => {
  const org = await organization();
  expect((await call(org.admin, 'PUT', '/v1/policy', { requireApprovalFor: ['agent-plans'] })).status).toBe(200);
  const before = await policyOf(org.alice);
  for (const requireApprovalFor of [['sometimes'], ['cross-thread', 'sometimes'], 'external-calls']) {
    const refused = await call(org.admin, 'PUT', '/v1/policy', { requireApprovalFor });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('invalid-input');
    expect(refused.body.error.message).toContain('requireApprovalFor');
  }
  expect(await policyOf(org.alice)).toEqual(before);
  // Only an admin changes it: the agent whose plans it gates cannot take agent-plans out.
  expect((await call(org.planner, 'PUT', '/v1/policy', { requireApprovalFor: [] })).status).toBe(403);
  expect(await policyOf(org.alice)).toEqual(before);
});
