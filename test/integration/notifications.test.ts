import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import type { Stack } from '../../app/stack.js';
import { LinkSigner } from '../../auth/links.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { linearDraft } from '../support/drafts.js';
import { eventually, startTestStack } from '../support/stack.js';
import { tokenFor } from '../support/principals.js';

interface Delivery {
  signature: string;
  raw: string;
  body: {
    deliveryId: string;
    event: { eventType: string; emittedBy: string };
    run: { runId: string; status: string };
    links?: Array<{ principalId: string; approve: string; reject: string; requestChanges: string }>;
  };
}

const deliveries: Delivery[] = [];
let failNext = 1;
let receiver: Server;
let receiverUrl: string;
let stack: Stack;
// The `held` agent finishes only when the test lets it: its step is still running meanwhile.
let release: () => void = () => {};
let held = new Promise<void>((resolve) => (release = resolve));
const agents = {
  held: async () => {
    await held;
    return { output: 'done' };
  },
};

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      if (failNext > 0) {
        failNext--;
        response.statusCode = 500;
        return response.end('not now');
      }
      deliveries.push({ signature: String(request.headers['x-plans-signature']), raw, body: JSON.parse(raw) });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  stack = await startTestStack({}, agents);
});
afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

async function api<T>(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // an HTML page
  }
  return { status: response.status, body: parsed as T };
}

const of = (runId: string, eventType: string) => deliveries.filter((delivery) => delivery.body.run.runId === runId && delivery.body.event.eventType === eventType);

it('delivers signed notifications with retries, once each, and approval links — one set per eligible person — that work once', async () => {
  const organizationId = `org-${randomUUID()}`;
  const token = await tokenFor(stack, organizationId, 'alice');
  await tokenFor(stack, organizationId, 'bob');
  await tokenFor(stack, organizationId, 'carol', { roles: [] });
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: ['approver'] });
  const subscribed = await api<{ subscriptionId: string; secret: string }>(token, 'POST', '/v1/subscriptions', {
    url: receiverUrl,
    eventTypes: ['plan-pending-approval', 'plan-approved', 'plan-rejected', 'plan-changes-requested', 'plan-completed'],
  });
  expect(subscribed.status).toBe(201);
  const { secret, subscriptionId } = subscribed.body;
  expect((await api<unknown[]>(token, 'GET', '/v1/subscriptions')).body).toEqual([expect.not.objectContaining({ secret })]);
  expect((await api(token, 'POST', '/v1/subscriptions', { url: 'ftp://x', eventTypes: ['plan-approved'] })).status).toBe(400);
  expect((await api(token, 'POST', '/v1/subscriptions', { url: receiverUrl, eventTypes: ['node-started'] })).status).toBe(400);

  const plan = (await api<PlanSnapshot>(planner, 'POST', '/v1/plans', { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'l', draft: linearDraft(2) })).body;
  const [pending] = await eventually(`the receiver to get plan-pending-approval of run ${plan.runId}`, async () => (of(plan.runId, 'plan-pending-approval').length ? of(plan.runId, 'plan-pending-approval') : undefined), 15_000);
  expect(pending!.signature).toBe(`sha256=${createHmac('sha256', secret).update(pending!.raw).digest('hex')}`);
  // Links for the persons who may decide it: not carol (no approver role), not the agent that asked.
  const links = pending!.body.links!;
  expect(links.map((link) => link.principalId).sort()).toEqual(['alice', 'bob']);
  const forAlice = links.find((link) => link.principalId === 'alice')!;
  const forBob = links.find((link) => link.principalId === 'bob')!;

  const page = await api<string>(undefined, 'GET', new URL(forAlice.approve).pathname);
  expect(page.status).toBe(200);
  expect(page.body).toContain('Approve “Quarterly review”?');
  expect(page.body).toContain(`As alice, on revision ${plan.revision}`);
  const tampered = new URL(forAlice.approve).pathname.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
  expect((await api(undefined, 'POST', tampered)).status).toBe(403);

  const approved = await api<PlanSnapshot>(undefined, 'POST', new URL(forAlice.approve).pathname);
  expect(approved.status).toBe(200);
  expect(['running', 'completed']).toContain(approved.body.status);
  expect(await api(undefined, 'POST', new URL(forAlice.approve).pathname)).toMatchObject({ status: 403, body: { error: { message: 'This link was already used.' } } });
  expect(await api(undefined, 'POST', new URL(forBob.reject).pathname)).toMatchObject({
    status: 409,
    body: { error: { message: 'Only pending-approval plans can be rejected.' } },
  });

  await eventually(`the receiver to get plan-completed of run ${plan.runId}`, async () => (of(plan.runId, 'plan-completed').length ? true : undefined), 15_000);
  expect(of(plan.runId, 'plan-approved')).toEqual([expect.objectContaining({ body: expect.objectContaining({ event: expect.objectContaining({ emittedBy: 'alice' }) }) })]);
  const ids = deliveries.filter((delivery) => delivery.body.run.runId === plan.runId).map((delivery) => delivery.body.deliveryId);
  expect(new Set(ids).size).toBe(ids.length);

  expect((await api(await tokenFor(stack, `org-${randomUUID()}`, 'eve'), 'DELETE', `/v1/subscriptions/${subscriptionId}`)).status).toBe(404);
  expect((await api(token, 'DELETE', `/v1/subscriptions/${subscriptionId}`)).status).toBe(204);
}, 60_000);

it('refuses expired links, and links of a plan replaced meanwhile', async () => {
  const organizationId = `org-${randomUUID()}`;
  await tokenFor(stack, organizationId, 'bob');
  const token = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  await api(token, 'POST', '/v1/subscriptions', { url: receiverUrl, eventTypes: ['plan-pending-approval'] });
  const plan = (await api<PlanSnapshot>(token, 'POST', '/v1/plans', { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'l', draft: linearDraft(1) })).body;
  const [pending] = await eventually(`the receiver to get plan-pending-approval of run ${plan.runId}`, async () => (of(plan.runId, 'plan-pending-approval').length ? of(plan.runId, 'plan-pending-approval') : undefined), 15_000);

  const secret = readFileSync(join(stack.config.dataDir, 'link-secret'), 'utf8').trim();
  const expired = new LinkSigner(secret, () => stack.apiUrl, -1000).link({ runId: plan.runId, organizationId, decision: 'approve', principalId: 'bob', revision: plan.revision! });
  expect(await api(undefined, 'POST', new URL(expired).pathname)).toMatchObject({ status: 403, body: { error: { message: 'This link has expired.' } } });

  await api(token, 'POST', `/v1/plans/${plan.runId}/replace`, { threadId: 't-1', leadAgentId: 'l', reason: 'Rework.', draft: linearDraft(1) });
  const replacedBy = (await api<PlanSnapshot>(token, 'GET', `/v1/plans/${plan.runId}`)).body.replacedByRunId;
  expect(await api(undefined, 'POST', new URL(pending!.body.links![0]!.approve).pathname)).toMatchObject({
    status: 409,
    body: { error: { code: 'stale-revision', message: `Plan run ${plan.runId} was replaced by run ${replacedBy}; decide that one.` } },
  });
}, 60_000);

it('tells subscribers a plan was approved while its first step still runs, and retries a delivery that failed', async () => {
  // The approval is stored by the first step's activity before it runs (the hand-off), which delivers it then.
  const organizationId = `org-${randomUUID()}`;
  const token = await tokenFor(stack, organizationId, 'alice');
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  expect((await api(token, 'POST', '/v1/subscriptions', { url: receiverUrl, eventTypes: ['plan-approved', 'plan-completed'] })).status).toBe(201);
  const draft = {
    title: 'Held',
    objective: 'A first step that takes its time.',
    nodes: [
      { id: 'slow', title: 'Slow', executor: { type: 'agent', agentId: 'held' } },
      { id: 'then', title: 'Then', executor: { type: 'system', action: 'noop' }, dependsOn: ['slow'] },
    ],
  };
  const create = async () => (await api<PlanSnapshot>(planner, 'POST', '/v1/plans', { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'l', draft })).body;

  const first = await create();
  failNext = 0;
  expect((await api(token, 'POST', `/v1/plans/${first.runId}/approve`, { threadId: 't-9' })).status).toBe(200);
  await eventually(`the receiver to get plan-approved of run ${first.runId} while its first step runs`, async () => (of(first.runId, 'plan-approved').length ? true : undefined), 15_000);
  expect((await api<PlanSnapshot>(token, 'GET', `/v1/plans/${first.runId}`)).body.nodes[0]).toMatchObject({ nodeId: 'slow', status: 'running' });

  // A delivery that fails at the hand-off is retried by the run once the step reports back: delivered once.
  const second = await create();
  failNext = 1;
  expect((await api(token, 'POST', `/v1/plans/${second.runId}/approve`, { threadId: 't-9' })).status).toBe(200);
  await eventually(`the receiver to refuse the plan-approved delivery of run ${second.runId} once`, async () => (failNext === 0 ? true : undefined), 15_000);
  expect(of(second.runId, 'plan-approved')).toHaveLength(0);
  release();
  await eventually(`the receiver to get plan-completed of runs ${first.runId} and ${second.runId}`, async () => (of(second.runId, 'plan-completed').length && of(first.runId, 'plan-completed').length ? true : undefined), 30_000);
  expect(of(second.runId, 'plan-approved')).toHaveLength(1);
  expect(of(first.runId, 'plan-approved')).toHaveLength(1);
  held = Promise.resolve();
}, 60_000);
