import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { LinkSigner } from '../../auth/links.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import type { PlanEventRecord } from '../../domain/run-state.js';
import { approveSignal } from '../../workflows/messages.js';
import { crossThread, humanFirstDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith, tokenFor } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * Every decision records the credential that made it — the token (by id), the link and how its
 * person proved it, or `temporal` — and nobody chooses what is recorded: a request naming a
 * credential is refused, and nothing is decided.
 */

const { stack, call } = apiStackForFile();

async function organization() {
  const org = await organizationWith(stack(), ['bob', 'carol']);
  const tokens = (await call<Array<{ tokenId: string; principalId: string }>>(org.admin, 'GET', '/v1/tokens')).body;
  const tokenIdOf = (principalId: string) => tokens.find((token) => token.principalId === principalId)!.tokenId;
  return { ...org, tokenIdOf };
}

const eventsOf = async (token: string, runId: string) =>
  (await call<PlanSnapshot>(token, 'GET', `/v1/plans/${runId}?include=events,approvals`)).body;
const decisionEvents = (run: PlanSnapshot) =>
  (run.events ?? []).filter((event: PlanEventRecord) =>
    ['plan-approval-recorded', 'plan-approved', 'plan-rejected', 'decision-refused'].includes(event.eventType),
  );

it('an approval by token records the token’s id, one by link records the link and the token that proved its person', async () => {
  const org = await organization();
  expect((await call(org.admin, 'PUT', '/v1/policy', { required: 2 })).status).toBe(200);
  const plan = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;

  expect((await call(org.alice, 'POST', `/v1/plans/${plan.runId}/approve`, {})).status).toBe(200);
  const link = new LinkSigner(readFileSync(join(stack().config.dataDir, 'link-secret'), 'utf8').trim(), () => stack().apiUrl);
  const bobsLink = link.link({
    runId: plan.runId,
    organizationId: org.organizationId,
    decision: 'approve',
    principalId: 'bob',
    revision: plan.revision!,
  });
  const nonce = JSON.parse(Buffer.from(new URL(bobsLink).pathname.split('/').at(-1)!.split('.')[0]!, 'base64url').toString())
    .nonce as string;
  expect(
    (await fetch(bobsLink, { method: 'POST', headers: { authorization: `Bearer ${org.bob}`, accept: 'application/json' } })).status,
  ).toBe(200);

  const run = await eventsOf(org.admin, plan.runId);
  expect(['running', 'completed']).toContain(run.status);
  expect(decisionEvents(run).map((event) => [event.eventType, event.emittedBy, event.detail.credential])).toEqual([
    ['plan-approval-recorded', 'alice', { kind: 'token', id: org.tokenIdOf('alice') }],
    ['plan-approval-recorded', 'bob', { kind: 'link', id: nonce, provedBy: { kind: 'token', id: org.tokenIdOf('bob') } }],
    ['plan-approved', 'bob', { kind: 'link', id: nonce, provedBy: { kind: 'token', id: org.tokenIdOf('bob') } }],
  ]);
  expect(run.approval!.approvals.map((entry) => [entry.by, entry.credential?.kind])).toEqual([
    ['alice', 'token'],
    ['bob', 'link'],
  ]);
  expect(run.approvals!.map((decision) => [decision.decision, decision.credential?.kind])).toEqual([['approved', 'link']]);
});

it('a decision sent straight through Temporal is recorded as such; a rejection by token records the token', async () => {
  const org = await organization();
  const first = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  await stack()
    .client.workflow.getHandle(first.workflowId)
    .signal(approveSignal, { organizationId: org.organizationId, threadId: 't-9', emittedBy: 'carol' });
  const approved = await eventually('the signalled approval is stored', async () => {
    const run = await eventsOf(org.admin, first.runId);
    return run.status !== 'pending-approval' ? run : undefined;
  });
  expect(decisionEvents(approved).map((event) => [event.eventType, event.detail.credential])).toEqual([
    ['plan-approval-recorded', { kind: 'temporal' }],
    ['plan-approved', { kind: 'temporal' }],
  ]);

  const second = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  expect((await call(org.alice, 'POST', `/v1/plans/${second.runId}/reject`, { reason: 'no' })).status).toBe(200);
  expect(decisionEvents(await eventsOf(org.admin, second.runId)).map((event) => event.detail.credential)).toEqual([
    { kind: 'token', id: org.tokenIdOf('alice') },
  ]);
});

it('nobody chooses the credential recorded: a request that names one is refused and decides nothing', async () => {
  const org = await organization();
  const plan = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  for (const credential of [{ kind: 'temporal' }, { kind: 'token', id: org.tokenIdOf('bob') }, { kind: 'expiry' }]) {
    const refused = await call(org.alice, 'POST', `/v1/plans/${plan.runId}/approve`, { credential });
    expect([credential, refused.status, refused.body.error?.code]).toEqual([credential, 400, 'invalid-input']);
  }
  const run = await eventsOf(org.admin, plan.runId);
  expect([run.status, run.approval!.approvals]).toEqual(['pending-approval', []]);
});

it('a person’s step and a replacement record the credential too, and the replaced run’s abort is recorded as its sender, not the lead agent it names', async () => {
  const org = await organization();
  await tokenFor(stack(), org.organizationId, 'helper', { kind: 'agent', roles: [] });
  const sameThread = { threadId: 't-1', leadAgentId: 'planner', draft: humanFirstDraft() };
  const first = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', sameThread)).body;
  await eventually('the step to wait for alice', async () =>
    (await eventsOf(org.admin, first.runId)).status === 'awaiting-human' ? true : undefined,
  );
  expect((await call(org.alice, 'POST', `/v1/plans/${first.runId}/nodes/review/complete`, { output: { ok: true } })).status).toBe(200);
  const completed = (await eventsOf(org.admin, first.runId)).events!.find(
    (event) => event.eventType === 'node-completed' && event.nodeId === 'review',
  )!;
  expect([completed.emittedBy, completed.detail.credential]).toEqual(['alice', { kind: 'token', id: org.tokenIdOf('alice') }]);

  const second = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', sameThread)).body;
  // The planner names another agent as the lead: the abort still says who sent it, and with what.
  const replaced = await call<PlanSnapshot>(org.planner, 'POST', `/v1/plans/${second.runId}/replace`, {
    threadId: 't-1',
    leadAgentId: 'helper',
    reason: 'Redo.',
    draft: humanFirstDraft(),
  });
  expect(replaced.status).toBe(201);
  const aborted = (await eventsOf(org.admin, second.runId)).events!.find((event) => event.eventType === 'plan-aborted')!;
  expect([aborted.emittedBy, aborted.detail.credential]).toEqual(['planner', { kind: 'token', id: org.tokenIdOf('planner') }]);
});
