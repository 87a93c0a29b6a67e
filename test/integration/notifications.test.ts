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
  /** The receiver's path it came to: each subscription of these tests has its own. */
  path: string;
  signature: string;
  raw: string;
  body: {
    deliveryId: string;
    event: { eventType: string; emittedBy: string; detail: Record<string, unknown> };
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
      deliveries.push({ path: request.url ?? '', signature: String(request.headers['x-plans-signature']), raw, body: JSON.parse(raw) });
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
    headers: {
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
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

/** A plan drafted by `token` in thread t-1 on behalf of t-9 (so it waits for approval): the run as stored. */
async function createCrossThread(token: string, draft: unknown = linearDraft(1)): Promise<PlanSnapshot> {
  return (await api<PlanSnapshot>(token, 'POST', '/v1/plans', { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'l', draft })).body;
}

const of = (runId: string, eventType: string, path?: string) =>
  deliveries.filter(
    (delivery) =>
      delivery.body.run.runId === runId && delivery.body.event.eventType === eventType && (path === undefined || delivery.path === path),
  );
/** The organization lets its subscriptions reach the receiver on loopback (nothing private is reachable unless listed). */
const allowReceiver = (organizationId: string, ...hosts: string[]) =>
  stack.plans.policies.set(organizationId, { egress: { allow: [new URL(receiverUrl).host, ...hosts] } }, 'test');

/** A receiver URL of its own, for one subscription. */
const receiverFor = (name: string) => `${receiverUrl}/${name}`;

it('delivers signed notifications with retries, once each; approval links go only to each eligible person’s own subscription and work there once', async () => {
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId);
  const ops = await tokenFor(stack, organizationId, 'ops', { roles: ['admin'] });
  const alice = await tokenFor(stack, organizationId, 'alice');
  const bob = await tokenFor(stack, organizationId, 'bob');
  const carol = await tokenFor(stack, organizationId, 'carol', { roles: [] });
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: ['approver'] });
  const everything = ['plan-pending-approval', 'plan-approved', 'plan-rejected', 'plan-changes-requested', 'plan-completed'];
  // The organization's subscription is an admin's; each person may register their own destination.
  const subscribed = await api<{ subscriptionId: string; secret: string; principalId: string | null }>(ops, 'POST', '/v1/subscriptions', {
    url: receiverFor('org'),
    eventTypes: everything,
  });
  expect(subscribed.status).toBe(201);
  expect(subscribed.body.principalId).toBeNull();
  const { secret, subscriptionId } = subscribed.body;
  for (const [who, token] of [
    ['alice', alice],
    ['bob', bob],
    ['carol', carol],
  ] as const) {
    expect(
      (
        await api<{ principalId: string }>(token, 'POST', '/v1/subscriptions', {
          url: receiverFor(who),
          eventTypes: ['plan-pending-approval'],
          personal: true,
        })
      ).body.principalId,
    ).toBe(who);
  }
  // The attacker's moves: an approver or an agent subscribing to everything, an agent registering "its own" destination.
  expect(await api(alice, 'POST', '/v1/subscriptions', { url: receiverFor('mallory'), eventTypes: everything })).toMatchObject({
    status: 403,
    body: { error: { code: 'forbidden' } },
  });
  expect((await api(planner, 'POST', '/v1/subscriptions', { url: receiverFor('mallory'), eventTypes: everything })).status).toBe(403);
  expect(
    (await api(planner, 'POST', '/v1/subscriptions', { url: receiverFor('mallory'), eventTypes: everything, personal: true })).status,
  ).toBe(403);
  expect((await api<unknown[]>(ops, 'GET', '/v1/subscriptions')).body).toHaveLength(4);
  expect((await api<unknown[]>(ops, 'GET', '/v1/subscriptions')).body).toEqual(
    expect.arrayContaining([expect.not.objectContaining({ secret })]),
  );
  expect((await api<Array<{ principalId: string }>>(alice, 'GET', '/v1/subscriptions')).body.map((listed) => listed.principalId)).toEqual([
    'alice',
  ]);
  // A person's destination receives links that act as them: an admin sees only its origin.
  const listedByAdmin = (await api<Array<{ principalId: string | null; url: string }>>(ops, 'GET', '/v1/subscriptions')).body;
  expect(listedByAdmin.find((listed) => listed.principalId === 'alice')!.url).toBe(`${new URL(receiverUrl).origin}/…`);
  expect(listedByAdmin.find((listed) => listed.principalId === null)!.url).toBe(receiverFor('org'));
  expect((await api(ops, 'POST', '/v1/subscriptions', { url: 'ftp://x', eventTypes: ['plan-approved'] })).status).toBe(400);
  expect((await api(ops, 'POST', '/v1/subscriptions', { url: receiverUrl, eventTypes: ['node-started'] })).status).toBe(400);

  const plan = await createCrossThread(planner, linearDraft(2));
  const pendingAt = async (path: string) =>
    await eventually(
      `${path} to get plan-pending-approval of run ${plan.runId}`,
      async () => of(plan.runId, 'plan-pending-approval', path)[0],
      15_000,
    );
  const [orgWide, forAliceDelivery, forBobDelivery, forCarolDelivery] = await Promise.all(
    ['/hook/org', '/hook/alice', '/hook/bob', '/hook/carol'].map(pendingAt),
  );
  expect(orgWide!.signature).toBe(`sha256=${createHmac('sha256', secret).update(orgWide!.raw).digest('hex')}`);
  // The organization's delivery carries no links; each person's carries their own only; carol (no approver role) none.
  expect(orgWide!.body.links).toEqual([]);
  expect(forCarolDelivery!.body.links).toEqual([]);
  expect(forAliceDelivery!.body.links!.map((link) => link.principalId)).toEqual(['alice']);
  expect(forBobDelivery!.body.links!.map((link) => link.principalId)).toEqual(['bob']);
  const forAlice = forAliceDelivery!.body.links![0]!;
  const forBob = forBobDelivery!.body.links![0]!;

  const page = await api<string>(undefined, 'GET', new URL(forAlice.approve).pathname);
  expect(page.status).toBe(200);
  expect(page.body).toContain('Approve “Quarterly review”?');
  expect(page.body).toContain(`As alice, on revision ${plan.revision}`);
  const tampered = new URL(forAlice.approve).pathname.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
  expect((await api(undefined, 'POST', tampered)).status).toBe(403);
  // Someone else signed in (bob, the agent) cannot use alice's link, even holding it.
  expect(await api(bob, 'POST', new URL(forAlice.approve).pathname)).toMatchObject({
    status: 403,
    body: { error: { message: 'This link decides as alice; you are signed in as bob.' } },
  });
  expect((await api(planner, 'POST', new URL(forAlice.approve).pathname)).status).toBe(403);
  expect((await api<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}`)).body.status).toBe('pending-approval');

  // At alice's own destination, the link is her proof.
  const approved = await api<PlanSnapshot>(undefined, 'POST', new URL(forAlice.approve).pathname);
  expect(approved.status).toBe(200);
  expect(['running', 'completed']).toContain(approved.body.status);
  expect(await api(undefined, 'POST', new URL(forAlice.approve).pathname)).toMatchObject({
    status: 403,
    body: { error: { message: 'This link was already used.' } },
  });
  expect(await api(undefined, 'POST', new URL(forBob.reject).pathname)).toMatchObject({
    status: 409,
    body: { error: { message: 'Only pending-approval plans can be rejected.' } },
  });

  await eventually(
    `the receiver to get plan-completed of run ${plan.runId}`,
    async () => (of(plan.runId, 'plan-completed').length ? true : undefined),
    15_000,
  );
  expect(of(plan.runId, 'plan-approved')).toEqual([
    expect.objectContaining({ body: expect.objectContaining({ event: expect.objectContaining({ emittedBy: 'alice' }) }) }),
  ]);
  // The approval records what made it: the link, proved by delivery to alice's own subscription.
  const aliceSubscription = (await api<Array<{ subscriptionId: string }>>(alice, 'GET', '/v1/subscriptions')).body[0]!.subscriptionId;
  expect(of(plan.runId, 'plan-approved')[0]!.body.event.detail).toMatchObject({
    credential: { kind: 'link', id: expect.any(String), provedBy: { kind: 'subscription', id: aliceSubscription } },
  });
  const ids = deliveries.filter((delivery) => delivery.body.run.runId === plan.runId).map((delivery) => delivery.body.deliveryId);
  expect(new Set(ids).size).toBe(ids.length);

  expect((await api(await tokenFor(stack, `org-${randomUUID()}`, 'eve'), 'DELETE', `/v1/subscriptions/${subscriptionId}`)).status).toBe(
    404,
  );
  expect((await api(alice, 'DELETE', `/v1/subscriptions/${subscriptionId}`)).status).toBe(404);
  expect((await api(ops, 'DELETE', `/v1/subscriptions/${subscriptionId}`)).status).toBe(204);
}, 60_000);

it('a link read anywhere but its person’s own destination decides nothing: it needs that person signed in', async () => {
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId);
  const alice = await tokenFor(stack, organizationId, 'alice');
  const bob = await tokenFor(stack, organizationId, 'bob');
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  const subscribed = (
    await api<{ subscriptionId: string }>(bob, 'POST', '/v1/subscriptions', {
      url: receiverFor('bob-2'),
      eventTypes: ['plan-pending-approval'],
      personal: true,
    })
  ).body;
  const plan = await createCrossThread(planner);
  const secret = readFileSync(join(stack.config.dataDir, 'link-secret'), 'utf8').trim();
  const signer = new LinkSigner(secret, () => stack.apiUrl);
  const bare = new URL(
    signer.link({ runId: plan.runId, organizationId, decision: 'approve', principalId: 'alice', revision: plan.revision! }),
  ).pathname;
  // A link that was not delivered to alice's own destination: without her token it is refused, and nothing changes.
  expect(await api(undefined, 'POST', bare)).toMatchObject({
    status: 401,
    body: { error: { code: 'unauthorized', message: expect.stringContaining('only when alice signs in') } },
  });
  expect(await api('ept_not-a-token', 'POST', bare)).toMatchObject({ status: 401 });
  // Bob's delivered link, once bob deleted that subscription, no longer proves anything by itself.
  const [delivered] = await eventually(
    `bob's destination to get plan-pending-approval of run ${plan.runId}`,
    async () =>
      of(plan.runId, 'plan-pending-approval', '/hook/bob-2').length ? of(plan.runId, 'plan-pending-approval', '/hook/bob-2') : undefined,
    15_000,
  );
  expect((await api(bob, 'DELETE', `/v1/subscriptions/${subscribed.subscriptionId}`)).status).toBe(204);
  const bobsLink = new URL(delivered!.body.links![0]!.approve).pathname;
  expect(await api(undefined, 'POST', bobsLink)).toMatchObject({
    status: 401,
    body: { error: { message: expect.stringContaining('no longer stands for bob') } },
  });
  expect((await api<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}`)).body.status).toBe('pending-approval');
  // Refused uses did not use the link up: alice, signed in, decides with it.
  const approved = await api<PlanSnapshot>(alice, 'POST', bare);
  expect(approved.status).toBe(200);
  expect(approved.body.status).not.toBe('pending-approval');
  const events = (await api<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}?include=events`)).body.events!;
  expect(events.find((event) => event.eventType === 'plan-approved')).toMatchObject({ emittedBy: 'alice' });
}, 60_000);

it('refuses expired links, and links of a plan replaced meanwhile', async () => {
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId);
  const bob = await tokenFor(stack, organizationId, 'bob');
  const token = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  expect(
    (await api(bob, 'POST', '/v1/subscriptions', { url: receiverFor('bob-1'), eventTypes: ['plan-pending-approval'], personal: true }))
      .status,
  ).toBe(201);
  const plan = await createCrossThread(token);
  const [pending] = await eventually(
    `the receiver to get plan-pending-approval of run ${plan.runId}`,
    async () => (of(plan.runId, 'plan-pending-approval').length ? of(plan.runId, 'plan-pending-approval') : undefined),
    15_000,
  );

  const secret = readFileSync(join(stack.config.dataDir, 'link-secret'), 'utf8').trim();
  const expired = new LinkSigner(secret, () => stack.apiUrl, -1000).link({
    runId: plan.runId,
    organizationId,
    decision: 'approve',
    principalId: 'bob',
    revision: plan.revision!,
  });
  expect(await api(undefined, 'POST', new URL(expired).pathname)).toMatchObject({
    status: 403,
    body: { error: { message: 'This link has expired.' } },
  });

  await api(token, 'POST', `/v1/plans/${plan.runId}/replace`, {
    threadId: 't-1',
    leadAgentId: 'l',
    reason: 'Rework.',
    draft: linearDraft(1),
  });
  const replacedBy = (await api<PlanSnapshot>(token, 'GET', `/v1/plans/${plan.runId}`)).body.replacedByRunId;
  expect(await api(undefined, 'POST', new URL(pending!.body.links![0]!.approve).pathname)).toMatchObject({
    status: 409,
    body: { error: { code: 'stale-revision', message: `Plan run ${plan.runId} was replaced by run ${replacedBy}; decide that one.` } },
  });
}, 60_000);

it('tells subscribers a plan was approved while its first step still runs, and retries a delivery that failed', async () => {
  // The approval is stored by the first step's activity before it runs (the hand-off), which delivers it then.
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId);
  const token = await tokenFor(stack, organizationId, 'alice', { roles: ['approver', 'admin'] });
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  expect(
    (await api(token, 'POST', '/v1/subscriptions', { url: receiverUrl, eventTypes: ['plan-approved', 'plan-completed'] })).status,
  ).toBe(201);
  const draft = {
    title: 'Held',
    objective: 'A first step that takes its time.',
    nodes: [
      { id: 'slow', title: 'Slow', executor: { type: 'agent', agentId: 'held' } },
      { id: 'then', title: 'Then', executor: { type: 'system', action: 'noop' }, dependsOn: ['slow'] },
    ],
  };
  const create = () => createCrossThread(planner, draft);

  const first = await create();
  failNext = 0;
  expect((await api(token, 'POST', `/v1/plans/${first.runId}/approve`, { threadId: 't-9' })).status).toBe(200);
  await eventually(
    `the receiver to get plan-approved of run ${first.runId} while its first step runs`,
    async () => (of(first.runId, 'plan-approved').length ? true : undefined),
    15_000,
  );
  expect((await api<PlanSnapshot>(token, 'GET', `/v1/plans/${first.runId}`)).body.nodes[0]).toMatchObject({
    nodeId: 'slow',
    status: 'running',
  });

  // A delivery that fails at the hand-off is retried by the run once the step reports back: delivered once.
  const second = await create();
  failNext = 1;
  expect((await api(token, 'POST', `/v1/plans/${second.runId}/approve`, { threadId: 't-9' })).status).toBe(200);
  await eventually(
    `the receiver to refuse the plan-approved delivery of run ${second.runId} once`,
    async () => (failNext === 0 ? true : undefined),
    15_000,
  );
  expect(of(second.runId, 'plan-approved')).toHaveLength(0);
  release();
  await eventually(
    `the receiver to get plan-completed of runs ${first.runId} and ${second.runId}`,
    async () => (of(second.runId, 'plan-completed').length && of(first.runId, 'plan-completed').length ? true : undefined),
    30_000,
  );
  expect(of(second.runId, 'plan-approved')).toHaveLength(1);
  expect(of(first.runId, 'plan-approved')).toHaveLength(1);
  held = Promise.resolve();
}, 60_000);

it("a link's page shows the review the inbox shows — every step, calls outside with credentials masked, what Approve starts — before its button", async () => {
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId, 'payments.example.com');
  await tokenFor(stack, organizationId, 'alice');
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  await stack.plans.secrets.set(organizationId, 'refunds', { value: 'Bearer sk-live-456' }, 'ops');
  const draft = {
    title: 'Refund',
    objective: 'Refund the order.',
    schedule: { every: '1d' },
    nodes: [
      {
        id: 'check',
        title: 'Check the order',
        executor: { type: 'agent', agentId: 'held' },
        instructions: 'Look the order up and confirm the amount.',
      },
      {
        id: 'pay',
        title: 'Pay it back',
        executor: {
          type: 'system',
          action: 'webhook',
          url: 'https://payments.example.com/refund?order=42',
          headers: { authorization: { $secret: 'refunds' } },
          body: { amount: 12 },
        },
        dependsOn: ['check'],
      },
    ],
  };
  const created = await api<PlanSnapshot>(planner, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'l',
    draft,
  });
  expect([created.status, created.status === 201 ? '' : created.body]).toEqual([201, '']);
  const plan = created.body;
  const secret = readFileSync(join(stack.config.dataDir, 'link-secret'), 'utf8').trim();
  const link = new LinkSigner(secret, () => stack.apiUrl).link({
    runId: plan.runId,
    organizationId,
    decision: 'approve',
    principalId: 'alice',
    revision: plan.revision!,
  });
  const page = await api<string>(undefined, 'GET', new URL(link).pathname);
  expect([page.status, page.status === 200 ? '' : page.body]).toEqual([200, '']);
  for (const text of [
    'Approve “Refund”?',
    'As alice',
    'Check the order',
    'Look the order up and confirm the amount.',
    'Pay it back',
    'Calls outside the system',
    'payments.example.com/refund',
    'Approve starts it:',
    'a schedule is attached: Every 1d',
    '<button',
  ]) {
    expect(page.body).toContain(text);
  }
  expect(page.body).toContain('refunds');
  expect(page.body).not.toContain('sk-live-456');
  // Before the button: the review comes first.
  expect(page.body.indexOf('Pay it back')).toBeLessThan(page.body.indexOf('<button'));
  // Someone who may not decide sees why, and no button.
  const forAgent = new LinkSigner(secret, () => stack.apiUrl).link({
    runId: plan.runId,
    organizationId,
    decision: 'approve',
    principalId: 'planner',
    revision: plan.revision!,
  });
  const refused = await api<string>(undefined, 'GET', new URL(forAgent).pathname);
  expect(refused.body).toContain('You cannot decide it now');
  expect(refused.body).not.toContain('<button');
}, 60_000);

it('a person whose every token was revoked gets no links, and links delivered before no longer act', async () => {
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId);
  const ops = await tokenFor(stack, organizationId, 'ops', { roles: ['admin'] });
  const dave = await tokenFor(stack, organizationId, 'dave');
  await tokenFor(stack, organizationId, 'erin');
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  expect(
    (await api(dave, 'POST', '/v1/subscriptions', { url: receiverFor('dave'), eventTypes: ['plan-pending-approval'], personal: true }))
      .status,
  ).toBe(201);
  const create = () => createCrossThread(planner);
  const first = await create();
  const [delivered] = await eventually(
    `dave's destination to get plan-pending-approval of run ${first.runId}`,
    async () =>
      of(first.runId, 'plan-pending-approval', '/hook/dave').length ? of(first.runId, 'plan-pending-approval', '/hook/dave') : undefined,
    15_000,
  );
  const link = new URL(delivered!.body.links![0]!.approve).pathname;
  // Dave leaves: the admin revokes every token of his.
  const tokens = (await api<Array<{ tokenId: string; principalId: string }>>(ops, 'GET', '/v1/tokens')).body.filter(
    (token) => token.principalId === 'dave',
  );
  for (const { tokenId } of tokens) expect((await api(ops, 'DELETE', `/v1/tokens/${tokenId}`)).status).toBe(200);
  expect(await api(undefined, 'POST', link)).toMatchObject({
    status: 401,
    body: { error: { message: expect.stringContaining('every token of theirs revoked') } },
  });
  expect((await api<PlanSnapshot>(ops, 'GET', `/v1/plans/${first.runId}`)).body.status).toBe('pending-approval');
  const second = await create();
  const [later] = await eventually(
    `dave's destination to get plan-pending-approval of run ${second.runId}`,
    async () =>
      of(second.runId, 'plan-pending-approval', '/hook/dave').length ? of(second.runId, 'plan-pending-approval', '/hook/dave') : undefined,
    15_000,
  );
  expect(later!.body.links).toEqual([]);
}, 60_000);

it("a stage's people are asked when their stage opens: its plan-stage-opened delivery carries their links, and not before", async () => {
  const organizationId = `org-${randomUUID()}`;
  await stack.plans.policies.set(organizationId, { roles: ['finance'], egress: { allow: [new URL(receiverUrl).host] } }, 'test');
  const alice = await tokenFor(stack, organizationId, 'alice');
  const fay = await tokenFor(stack, organizationId, 'fay', { roles: ['finance'] });
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  await stack.plans.policies.set(
    organizationId,
    {
      roles: ['finance'],
      egress: { allow: [new URL(receiverUrl).host] },
      rules: [{ name: 'money', when: { tags: ['refund'] }, require: { stages: [{ name: 'finance', approvers: ['role:finance'] }] } }],
    },
    'test',
  );
  const eventTypes = ['plan-pending-approval', 'plan-stage-opened'];
  for (const [token, name] of [
    [alice, 'alice-stage'],
    [fay, 'fay-stage'],
  ] as const) {
    expect((await api(token, 'POST', '/v1/subscriptions', { url: receiverFor(name), eventTypes, personal: true })).status).toBe(201);
  }
  const plan = (
    await api<PlanSnapshot>(planner, 'POST', '/v1/plans', {
      threadId: 't-1',
      leadAgentId: 'l',
      draft: { ...linearDraft(1), tags: ['refund'] },
    })
  ).body;
  const delivered = (path: string, eventType: string) =>
    eventually(`${path} to get ${eventType} of run ${plan.runId}`, async () => of(plan.runId, eventType, path)[0], 15_000);
  // Pending: the organization's own stage is open, so alice is asked, not fay.
  expect((await delivered('/hook/alice-stage', 'plan-pending-approval')).body.links!.map((link) => link.principalId)).toEqual(['alice']);
  expect((await delivered('/hook/fay-stage', 'plan-pending-approval')).body.links).toEqual([]);
  expect((await api(alice, 'POST', `/v1/plans/${plan.runId}/approve`, {})).status).toBe(200);
  const opened = await delivered('/hook/fay-stage', 'plan-stage-opened');
  expect(opened.body.links!.map((link) => link.principalId)).toEqual(['fay']);
  const linked = await api<{ receipt: unknown }>(undefined, 'POST', new URL(opened.body.links![0]!.approve).pathname);
  expect(linked).toMatchObject({ status: 200 });
  // The link's answer carries fay's receipt: her approval's place in the signed audit record.
  expect(linked.body.receipt).toMatchObject({ event: { runId: plan.runId }, head: { keyId: expect.any(String) } });
  expect((await api<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}`)).body.status).not.toBe('pending-approval');
}, 60_000);

it('a lapse notifies people again: approval-lapsed to the organization’s subscription, a new approval link to whoever may approve now', async () => {
  const organizationId = `org-${randomUUID()}`;
  await allowReceiver(organizationId);
  const ops = await tokenFor(stack, organizationId, 'ops', { roles: ['admin'] });
  const alice = await tokenFor(stack, organizationId, 'alice');
  const bob = await tokenFor(stack, organizationId, 'bob');
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  expect(
    (
      await api(ops, 'POST', '/v1/subscriptions', {
        url: receiverFor('lapse-org'),
        eventTypes: ['approval-lapsed', 'plan-pending-approval'],
      })
    ).status,
  ).toBe(201);
  for (const [who, token] of [
    ['alice', alice],
    ['bob', bob],
  ] as const)
    expect(
      (
        await api(token, 'POST', '/v1/subscriptions', {
          url: receiverFor(`lapse-${who}`),
          eventTypes: ['plan-pending-approval'],
          personal: true,
        })
      ).status,
    ).toBe(201);
  const plan = await createCrossThread(planner, {
    title: 'Review then send',
    objective: 'bob reviews, then it sends.',
    nodes: [
      { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'bob' } },
      { id: 'send', title: 'Send', executor: { type: 'system', action: 'noop' }, dependsOn: ['review'] },
    ],
  });
  expect((await api(alice, 'POST', `/v1/plans/${plan.runId}/approve`, {})).status).toBe(200);
  // An admin takes alice's approver role while bob reviews (the client tells the run); the send would act on her approval.
  await stack.plans.principals.issueToken({ organizationId, principalId: 'alice', roles: [] }, 'ops');
  expect((await api(bob, 'POST', `/v1/plans/${plan.runId}/nodes/review/complete`, {})).status).toBe(200);
  await eventually(
    `the organization to hear that run ${plan.runId}'s approval lapsed`,
    async () => (of(plan.runId, 'approval-lapsed', '/hook/lapse-org').length ? true : undefined),
    15_000,
  );
  const [lapsed] = of(plan.runId, 'approval-lapsed', '/hook/lapse-org');
  expect(lapsed!.raw).toContain('alice no longer holds role:approver');
  // bob may approve it now: a second link reaches him; alice, no longer an approver, gets none.
  await eventually(
    `bob's second approval link for run ${plan.runId}`,
    async () => (of(plan.runId, 'plan-pending-approval', '/hook/lapse-bob').length === 2 ? true : undefined),
    15_000,
  );
  expect(of(plan.runId, 'plan-pending-approval', '/hook/lapse-bob')[1]!.body.links!.map((link) => link.principalId)).toEqual(['bob']);
  const toAlice = of(plan.runId, 'plan-pending-approval', '/hook/lapse-alice');
  expect(toAlice.map((delivery) => (delivery.body.links ?? []).length)).toEqual([1, 0]);
});
