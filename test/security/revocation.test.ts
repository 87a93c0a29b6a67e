import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { LinkSigner } from '../../auth/links.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { crossThread } from '../support/drafts.js';

import { apiStackForFile } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { within } from '../support/stack.js';

/** Revoking a token, or disabling its principal, takes effect everywhere at once: open live feeds end within seconds. */

const { stack, call } = apiStackForFile();

it('an open live feed ends within seconds of its token being revoked', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  const reader = await tokenFor(stack(), organizationId, 'reader', { kind: 'service', roles: [] });
  const response = await fetch(`${stack().apiUrl}/v1/events`, { headers: { authorization: `Bearer ${reader}` } });
  expect(response.status).toBe(200);
  const decoder = new TextDecoder();
  let text = '';
  const ended = within(
    'the feed to end after its token was revoked',
    async (signal) => {
      const reader = response.body!.getReader();
      signal.addEventListener('abort', () => void reader.cancel());
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    },
    20_000,
  );
  const tokens = (await call<Array<{ tokenId: string; principalId: string }>>(admin, 'GET', '/v1/tokens')).body;
  const { tokenId } = tokens.find((token) => token.principalId === 'reader')!;
  expect((await call(admin, 'DELETE', `/v1/tokens/${tokenId}`)).status).toBe(200);
  expect(await ended).toContain('event: revoked');
  // And it cannot come back.
  expect((await fetch(`${stack().apiUrl}/v1/events`, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(401);
});

it('a disabled principal is no one: its tokens, its decisions (even through Temporal) and its links stop at once; enabled, it is back', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  const alice = await tokenFor(stack(), organizationId, 'alice');
  const planner = await tokenFor(stack(), organizationId, 'planner', { kind: 'agent', roles: [] });
  const plan = (await call<PlanSnapshot>(planner, 'POST', '/v1/plans', crossThread())).body;
  expect(plan.status).toBe('pending-approval');

  // Not the agent, not the admin on themselves.
  expect((await call(planner, 'POST', '/v1/principals/alice/disable')).status).toBe(403);
  expect((await call(admin, 'POST', '/v1/principals/ops/disable')).status).toBe(400);
  expect((await call(admin, 'POST', '/v1/principals/nobody/disable')).status).toBe(404);
  expect((await call(admin, 'POST', '/v1/principals/alice/disable')).body).toEqual({
    organizationId,
    principalId: 'alice',
    disabled: true,
  });

  expect((await call(alice, 'GET', '/v1/me')).status).toBe(401);
  // Decided in her name through Temporal (as the Web UI or CLI would): refused by the workflow.
  await expect(
    stack().plans.runs.approve({ runId: plan.runId, organizationId, threadId: 't-9', emittedBy: 'alice' }),
  ).rejects.toMatchObject({ code: expect.any(String) });
  const link = new LinkSigner(readFileSync(join(stack().config.dataDir, 'link-secret'), 'utf8').trim(), () => stack().apiUrl).link({
    runId: plan.runId,
    organizationId,
    decision: 'approve',
    principalId: 'alice',
    revision: plan.revision!,
  });
  expect((await fetch(new URL(link), { method: 'POST', headers: { authorization: `Bearer ${alice}` } })).status).toBe(401);
  expect((await call<PlanSnapshot>(admin, 'GET', `/v1/plans/${plan.runId}`)).body.status).toBe('pending-approval');

  expect((await call(admin, 'POST', '/v1/principals/alice/enable')).body).toEqual({
    organizationId,
    principalId: 'alice',
    disabled: false,
  });
  expect((await call(alice, 'GET', '/v1/me')).status).toBe(200);
  const approved = await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${plan.runId}/approve`, {});
  expect(approved.status).toBe(200);
}, 60_000);

it('approvals counted earlier are re-checked when the quorum completes: one whose person was disabled or lost the role no longer counts', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  const alice = await tokenFor(stack(), organizationId, 'alice');
  const bob = await tokenFor(stack(), organizationId, 'bob');
  const carol = await tokenFor(stack(), organizationId, 'carol');
  const dave = await tokenFor(stack(), organizationId, 'dave');
  const planner = await tokenFor(stack(), organizationId, 'planner', { kind: 'agent', roles: [] });
  expect((await call(admin, 'PUT', '/v1/policy', { required: 3 })).status).toBe(200);
  const plan = (await call<PlanSnapshot>(planner, 'POST', '/v1/plans', crossThread())).body;
  for (const token of [alice, bob]) expect((await call(token, 'POST', `/v1/plans/${plan.runId}/approve`, {})).status).toBe(200);

  // alice leaves; bob is no longer an approver (his roles changed in the directory).
  expect((await call(admin, 'POST', '/v1/principals/alice/disable')).status).toBe(200);
  await stack().store.principals.save({ organizationId, id: 'bob', kind: 'person', roles: [] });

  // carol's approval would complete 3 of 3 with them; it completes nothing.
  const third = await call<PlanSnapshot>(carol, 'POST', `/v1/plans/${plan.runId}/approve`, {});
  expect(third.body).toMatchObject({ status: 'pending-approval', approval: { approvals: [expect.objectContaining({ by: 'carol' })] } });
  const events = (await call<PlanSnapshot>(admin, 'GET', `/v1/plans/${plan.runId}?include=events`)).body.events!;
  expect(
    events
      .filter((event) => event.eventType === 'plan-approval-withdrawn')
      .map((event) => [event.emittedBy, event.detail.by, event.detail.reason]),
  ).toEqual([
    ['system', 'alice', 'alice is not a principal of this organization.'],
    ['system', 'bob', "bob is not an approver under this organization's policy."],
  ]);
  // Those that stand count: bob back as an approver, then dave, complete it.
  await stack().store.principals.save({ organizationId, id: 'bob', kind: 'person', roles: ['approver'] });
  expect((await call(bob, 'POST', `/v1/plans/${plan.runId}/approve`, {})).body).toMatchObject({ status: 'pending-approval' });
  expect(['running', 'completed']).toContain((await call<PlanSnapshot>(dave, 'POST', `/v1/plans/${plan.runId}/approve`, {})).body.status);
}, 60_000);
