import { randomUUID } from 'node:crypto';

import { WorkflowUpdateFailedError } from '@temporalio/client';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { approvePlanUpdate, approveSignal, completeNodeSignal, rejectSignal } from '../../workflows/messages.js';
import { humanFirstDraft, linearDraft } from '../support/drafts.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';
import { askApi } from '../support/http.js';

/**
 * The approval gate, tried as another principal would: through the HTTP API, through Temporal
 * (signals and updates naming a principal), concurrently, across a replacement, a policy change
 * and a restart of the stack. Every rule is applied by the workflow itself.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

type ErrorBody = { error: { code: string; message: string } };

const call = <T = PlanSnapshot>(token: string, method: string, path: string, body?: unknown) =>
  askApi<T>(stack.apiUrl, token, method, path, body);

/** An organization: an agent that drafts (planner), persons who approve, a person without the role, an agent with it, an admin. */
async function organization(policy?: unknown) {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack, organizationId, 'root', { roles: ['admin'] });
  if (policy) expect((await call(admin, 'PUT', '/v1/policy', policy)).status).toBe(200);
  const tokens = {
    admin,
    planner: await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] }),
    bot: await tokenFor(stack, organizationId, 'bot', { kind: 'agent', roles: ['approver'] }),
    alice: await tokenFor(stack, organizationId, 'alice'),
    bob: await tokenFor(stack, organizationId, 'bob'),
    carol: await tokenFor(stack, organizationId, 'carol'),
    dave: await tokenFor(stack, organizationId, 'dave'),
    eve: await tokenFor(stack, organizationId, 'eve', { roles: [] }),
  };
  const create = async (extra: Record<string, unknown> = {}, as = tokens.planner) => {
    const created = await call(as, 'POST', '/v1/plans', {
      threadId: 't-1',
      sourceThreadId: 't-9',
      leadAgentId: 'planner',
      draft: linearDraft(1),
      ...extra,
    });
    expect(created.status).toBe(201);
    return created.body;
  };
  return { organizationId, tokens, create };
}

const eventsOf = async (runId: string) => (await stack.plans.runs.get(runId, { includeEvents: true })).events!;

it('through the API: agents, the requester and non-approvers are refused with the rule, 403 not-eligible, and nothing changes', async () => {
  const { tokens, create } = await organization();
  // A person who drafts a plan is its requester, whatever their roles.
  const plan = await create({}, tokens.alice);
  const refusals: Array<[string, string]> = [
    [tokens.bot, 'Agents cannot approve plans.'],
    [tokens.alice, 'The requester of a plan cannot approve it.'],
    [tokens.eve, "eve is not an approver under this organization's policy."],
  ];
  for (const [token, message] of refusals) {
    expect(await call<ErrorBody>(token, 'POST', `/v1/plans/${plan.runId}/approve`, {})).toEqual({
      status: 403,
      body: { error: { code: 'not-eligible', message } },
    });
  }
  expect((await call<ErrorBody>(tokens.bot, 'POST', `/v1/plans/${plan.runId}/reject`, {})).body.error.message).toBe(
    'Agents cannot reject plans.',
  );
  expect((await call<ErrorBody>(tokens.alice, 'POST', `/v1/plans/${plan.runId}/reject`, {})).body.error.message).toBe(
    'The requester of a plan cannot reject it.',
  );
  const untouched = await stack.plans.runs.get(plan.runId, { includeEvents: true });
  expect(untouched.status).toBe('pending-approval');
  expect(untouched.approval).toMatchObject({
    required: 1,
    approvals: [],
    policyVersion: 0,
    approvers: ['role:approver'],
    requesters: ['planner', 'alice'],
  });
  expect(untouched.events!.map((event) => event.eventType)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
  // An eligible person decides.
  const approved = await call(tokens.bob, 'POST', `/v1/plans/${plan.runId}/approve`, { reason: 'Fine.' });
  expect(['running', 'completed']).toContain(approved.body.status); // its step may be done when the answer is read
  expect(approved.body).toMatchObject({ approval: { approvals: [{ by: 'bob', reason: 'Fine.' }] } });
});

it('through Temporal: a signal naming an agent, the requester or nobody known is refused and recorded; an update is refused with the same rule', async () => {
  const { organizationId, create } = await organization();
  const plan = await create();
  const handle = stack.client.workflow.getHandle(plan.workflowId);
  const payload = (emittedBy: string) => ({ organizationId, threadId: 't-9', emittedBy });
  const refusedSoFar = (count: number) =>
    eventually(`run ${plan.runId} to record ${count} refused decisions`, async () => {
      const events = (await eventsOf(plan.runId)).filter((event) => event.eventType === 'decision-refused');
      return events.length === count ? events : undefined;
    });
  await handle.signal(approveSignal, payload('bot'));
  await handle.signal(rejectSignal, payload('planner'));
  await refusedSoFar(2);
  await handle.signal(approveSignal, payload('ghost'));
  const refused = await refusedSoFar(3);
  // Lookups finish in any order: the refusals are compared as a set.
  expect(refused.map((event) => [event.emittedBy, event.detail.code, event.detail.reason]).sort()).toEqual([
    ['bot', 'not-eligible', 'Agents cannot approve plans.'],
    ['ghost', 'not-eligible', 'ghost is not a principal of this organization.'],
    ['planner', 'not-eligible', 'The requester of a plan cannot reject it.'],
  ]);
  // The Web UI's current details say what was refused last, and why.
  const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  expect(metadata.currentDetails).toMatch(
    /\*\*Last refused decision:\*\* approve by ghost at \S+, because ghost is not a principal of this organization\./,
  );

  const update = await handle.executeUpdate(approvePlanUpdate, { args: [payload('bot')] }).catch((error: unknown) => error);
  expect(update).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((update as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'not-eligible', message: 'Agents cannot approve plans.' });
  expect((await stack.plans.runs.get(plan.runId)).status).toBe('pending-approval');
  // A person the directory knows as an approver, named by a signal, decides.
  await handle.signal(approveSignal, payload('carol'));
  // Its one no-op step may already have run: what counts is that carol's approval was applied.
  const approved = await eventually(`run ${plan.runId} to record carol's approval`, async () =>
    (await eventsOf(plan.runId)).find((event) => event.eventType === 'plan-approved'),
  );
  expect(approved.emittedBy).toBe('carol');
  expect((await stack.plans.runs.get(plan.runId)).status).not.toBe('pending-approval');
});

it('quorum: concurrent approvals count each person once and exactly N; a later one is refused', async () => {
  const { tokens, create } = await organization({ required: 3 });
  const plan = await create();
  const approve = (token: string) => call<PlanSnapshot | ErrorBody>(token, 'POST', `/v1/plans/${plan.runId}/approve`, {});
  // alice three times at once, and bob: two people, two approvals.
  const first = await Promise.all([approve(tokens.alice), approve(tokens.alice), approve(tokens.bob), approve(tokens.alice)]);
  expect(first.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
  const partial = await stack.plans.runs.get(plan.runId, { includeEvents: true });
  expect(partial.status).toBe('pending-approval');
  expect(partial.approval!.approvals.map((entry) => entry.by).sort()).toEqual(['alice', 'bob']);
  // carol and dave at once: one completes the quorum, the other finds it decided.
  const last = await Promise.all([approve(tokens.carol), approve(tokens.dave)]);
  expect(last.map((answer) => answer.status).sort()).toEqual([200, 409]);
  const done = await stack.plans.runs.get(plan.runId, { includeEvents: true });
  expect(done.status).not.toBe('pending-approval');
  expect(done.approval!.approvals).toHaveLength(3);
  const recorded = done.events!.filter((event) => event.eventType === 'plan-approval-recorded');
  expect(recorded.map((event) => event.detail.count)).toEqual([1, 2, 3]);
  expect(recorded.map((event) => event.message)).toContain(
    'Recorded approval 3 of 3 by ' + recorded[2]!.emittedBy + ' for "Quarterly review".',
  );
  expect(done.events!.filter((event) => event.eventType === 'plan-approved')).toHaveLength(1);
});

it('veto: one eligible rejection during a partial quorum ends the run at once', async () => {
  const { tokens, create } = await organization({ required: 2 });
  const plan = await create();
  expect((await call(tokens.alice, 'POST', `/v1/plans/${plan.runId}/approve`, {})).body.status).toBe('pending-approval');
  const vetoed = await call(tokens.bob, 'POST', `/v1/plans/${plan.runId}/reject`, { resolution: 'changes-requested', reason: 'Not yet.' });
  expect(vetoed.body).toMatchObject({ status: 'aborted', approval: { approvals: [{ by: 'alice' }] } });
  expect((await call<ErrorBody>(tokens.carol, 'POST', `/v1/plans/${plan.runId}/approve`, {})).body.error.code).toBe('not-pending');
  const types = (await eventsOf(plan.runId)).map((event) => `${event.eventType}:${event.emittedBy}`);
  expect(types).toEqual(expect.arrayContaining(['plan-approval-recorded:alice', 'plan-changes-requested:bob']));
  expect(types).not.toContain('plan-approved:alice');
});

it('a decision is bound to its revision: a changed one is refused, and a replaced run names its replacement', async () => {
  const { tokens, create } = await organization();
  const plan = await create();
  expect(plan.revision).toMatch(/^[0-9a-f]{16}$/);
  const stale = await call<ErrorBody>(tokens.alice, 'POST', `/v1/plans/${plan.runId}/approve`, { expectedRevision: '0000000000000000' });
  expect(stale).toEqual({
    status: 409,
    body: {
      error: {
        code: 'stale-revision',
        message: `The plan changed since it was shown: revision 0000000000000000 was decided, the run is at ${plan.revision}.`,
      },
    },
  });
  const replaced = await call(tokens.planner, 'POST', `/v1/plans/${plan.runId}/replace`, {
    threadId: 't-1',
    leadAgentId: 'planner',
    reason: 'More steps.',
    draft: linearDraft(2),
  });
  expect(replaced.body.revision).not.toBe(plan.revision);
  expect(replaced.body.approval).toMatchObject({ approvals: [] });
  const old = await call<ErrorBody>(tokens.alice, 'POST', `/v1/plans/${plan.runId}/approve`, { expectedRevision: plan.revision });
  expect(old).toEqual({
    status: 409,
    body: {
      error: { code: 'stale-revision', message: `Plan run ${plan.runId} was replaced by run ${replaced.body.runId}; decide that one.` },
    },
  });
  // The same draft compiles to the same revision.
  const again = await create();
  expect(again.revision).toBe(plan.revision);
  expect(
    (await call(tokens.alice, 'POST', `/v1/plans/${replaced.body.runId}/approve`, { expectedRevision: replaced.body.revision })).body
      .status,
  ).not.toBe('pending-approval');
});

it('a policy change does not alter runs already created; a draft may tighten it, never loosen it', async () => {
  const { organizationId, tokens, create } = await organization();
  const before = await create();
  expect((await call(tokens.admin, 'PUT', '/v1/policy', { required: 2 })).status).toBe(200);
  const after = await create();
  expect(before.approval).toMatchObject({ required: 1, policyVersion: 0 });
  expect(after.approval).toMatchObject({ required: 2, policyVersion: 1 });
  expect((await call(tokens.alice, 'POST', `/v1/plans/${before.runId}/approve`, {})).body.status).not.toBe('pending-approval');
  expect((await call(tokens.alice, 'POST', `/v1/plans/${after.runId}/approve`, {})).body.status).toBe('pending-approval');

  // Tighter: three approvals among alice, bob and carol only.
  const narrow = await create({
    draft: linearDraft(1, { approval: { required: 3, approvers: ['alice', 'bob', 'carol'], expiresAfter: '1d' } }),
  });
  expect(narrow.approval).toMatchObject({ required: 3, narrowedTo: ['alice', 'bob', 'carol'], approvers: ['role:approver'] });
  expect(Date.parse(narrow.approval!.expiresAt) - Date.parse(narrow.createdAt)).toBe(86_400_000);
  expect((await call<ErrorBody>(tokens.dave, 'POST', `/v1/plans/${narrow.runId}/approve`, {})).body.error).toEqual({
    code: 'not-eligible',
    message: "dave is not among this plan's approvers (alice, bob, carol).",
  });
  // Looser: refused whole, nothing started.
  const count = (await stack.plans.runs.list({ organizationId })).length;
  for (const [approval, problem] of [
    [{ required: 1 }, "approval.required 1 is below the organization's 2"],
    [{ expiresAfter: '30d' }, "approval.expiresAfter is longer than the organization's 7d"],
    [{ onExpiry: 'approve' }, "approval.onExpiry approve would loosen the organization's reject"],
    [{ approvers: ['role:wizard'] }, 'approval.approvers names role "wizard"'],
  ] as const) {
    const refused = await call<ErrorBody>(tokens.planner, 'POST', '/v1/plans', {
      threadId: 't-1',
      sourceThreadId: 't-9',
      leadAgentId: 'planner',
      draft: linearDraft(1, { approval }),
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain(problem);
  }
  expect(await stack.plans.runs.list({ organizationId })).toHaveLength(count);
});

it('skipping approval of a cross-thread plan is the policy’s to allow, never an agent’s to ask', async () => {
  const { organizationId, tokens, create } = await organization();
  const asked = await call<ErrorBody>(tokens.planner, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    requireApproval: false,
    draft: linearDraft(1),
  });
  expect(asked).toEqual({
    status: 403,
    body: {
      error: {
        code: 'not-eligible',
        message: "planner may not start a cross-thread plan without approval: this organization's policy lets no one skip it.",
      },
    },
  });
  expect(await stack.plans.runs.list({ organizationId })).toEqual([]);
  expect(
    (await call(tokens.admin, 'PUT', '/v1/policy', { roles: ['release-manager'], skipApproval: ['role:release-manager'] })).status,
  ).toBe(200);
  await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: ['release-manager'] });
  expect(['running', 'completed']).toContain((await create({ requireApproval: false })).status);
});

it('a person’s step obeys its assignee: a principal id or role:NAME, and never an agent', async () => {
  const { organizationId, tokens, create } = await organization({ roles: ['reviewer'] });
  const reviewer = await tokenFor(stack, organizationId, 'rita', { roles: ['reviewer'] });
  const draft = {
    title: 'Review',
    objective: 'A reviewer signs off.',
    nodes: [{ id: 'sign', title: 'Sign off', executor: { type: 'human', assignee: 'role:reviewer' } }],
  };
  const plan = await create({ draft });
  await call(tokens.alice, 'POST', `/v1/plans/${plan.runId}/approve`, {});
  const complete = (token: string) =>
    call<PlanSnapshot | ErrorBody>(token, 'POST', `/v1/plans/${plan.runId}/nodes/sign/complete`, { output: 'ok' });
  expect((await complete(tokens.alice)).body).toEqual({
    error: { code: 'not-eligible', message: 'alice is not the assignee of node "sign" (role:reviewer).' },
  });
  expect((await complete(tokens.bot)).body).toEqual({
    error: { code: 'not-eligible', message: 'Agents cannot complete steps meant for people.' },
  });
  // The same rule for a signal naming someone.
  await stack.client.workflow
    .getHandle(plan.workflowId)
    .signal(completeNodeSignal, { organizationId, threadId: 't-9', emittedBy: 'bob', nodeId: 'sign' });
  await eventually(`run ${plan.runId} to record bob's refused completion of "sign"`, async () =>
    (await eventsOf(plan.runId)).some((event) => event.eventType === 'decision-refused') ? true : undefined,
  );
  expect((await stack.plans.runs.get(plan.runId)).status).toBe('awaiting-human');
  expect((await complete(reviewer)).body).toMatchObject({ status: 'completed' });
});

it('expiry: a pending plan is decided by system per its policy, rejected by default or approved when the policy says so', async () => {
  const { tokens, create } = await organization({ expiresAfter: '2s' });
  const rejected = await create();
  const approvedPolicy = await call(tokens.admin, 'PUT', '/v1/policy', { expiresAfter: '2s', onExpiry: 'approve' });
  expect(approvedPolicy.status).toBe(200);
  const approved = await create({ draft: humanFirstDraft() });
  const ended = await eventually(`run ${rejected.runId} to expire and be aborted`, async () => {
    const run = await stack.plans.runs.get(rejected.runId, { includeEvents: true });
    return run.status === 'aborted' ? run : undefined;
  });
  const tail = ended.events!.filter((event) => event.eventType !== 'checkpoint-saved').slice(-2);
  expect(tail).toMatchObject([
    { eventType: 'plan-expired', emittedBy: 'system', detail: { outcome: 'reject', approvals: 0, required: 1 } },
    { eventType: 'plan-rejected', emittedBy: 'system', detail: { expired: true, resolution: 'rejected' } },
  ]);
  await eventually(`run ${approved.runId} to expire, be approved by system and be awaiting-human`, async () =>
    (await stack.plans.runs.get(approved.runId)).status === 'awaiting-human' ? true : undefined,
  );
  const events = await eventsOf(approved.runId);
  expect(events.find((event) => event.eventType === 'plan-approved')).toMatchObject({ emittedBy: 'system', detail: { expired: true } });
});
