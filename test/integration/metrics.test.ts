import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { humanFirstDraft, linearDraft } from '../support/drafts.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';

/*
 * The metrics after a scripted workload, scraped as Prometheus would: through the API with an
 * admin's token (their organization's series only) and at PLANS_METRICS_ADDRESS (everything).
 */

let stack: Stack;
let receiver: Server;
let receiverUrl: string;
/** The receiver refuses this many deliveries, then takes them. */
let failNext = 1;
const SECRET = `sk-live-${randomUUID()}`;
const REASON = `reason-${randomUUID()}`;
const agents = {
  broken: async (): Promise<{ output: unknown }> => {
    throw new Error('the broken agent always fails');
  },
};

beforeAll(async () => {
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (failNext > 0) {
        failNext--;
        response.statusCode = 500;
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  stack = await startTestStack({ metricsAddress: '127.0.0.1:0' }, agents);
});
afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

async function call<T = unknown>(token: string | undefined, method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text,
    body: (/json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text) as T,
  };
}

/** The value of one series in Prometheus text: the sample whose name and labels are exactly these (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (have === wanted) return Number(match[3]);
  }
  return 0;
}

const statusOf = async (runId: string) => (await stack.plans.runs.get(runId)).status;

it('counts a scripted workload: an admin reads their organization’s series (401 without a token, 403 otherwise), PLANS_METRICS_ADDRESS everything', async () => {
  const acme = `acme-${randomUUID()}`;
  const late = `late-${randomUUID()}`;
  const ops = await tokenFor(stack, acme, 'ops', { roles: ['admin'] });
  const alice = await tokenFor(stack, acme, 'alice');
  const bob = await tokenFor(stack, acme, 'bob');
  const carol = await tokenFor(stack, acme, 'carol');
  const planner = await tokenFor(stack, acme, 'planner', { kind: 'agent', roles: [] });
  expect((await call(ops, 'PUT', '/v1/policy', { egress: { allow: [new URL(receiverUrl).host] } })).status).toBe(200);
  expect((await call(ops, 'PUT', '/v1/secrets/api-key', { value: SECRET })).status).toBe(200);
  expect((await call(ops, 'POST', '/v1/subscriptions', { url: receiverUrl, eventTypes: ['plan-approved'] })).status).toBe(201);
  const create = async (draft: unknown) => {
    const created = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', {
      threadId: 't-1',
      sourceThreadId: 't-9',
      leadAgentId: 'planner',
      draft,
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('pending-approval');
    return created.body.runId;
  };

  // A: alice reads it, approves, then does its person's step. B: bob approves. C: carol rejects. D: its agent fails twice.
  const [a, b, c, d] = [
    await create(humanFirstDraft()),
    await create(linearDraft(1)),
    await create(linearDraft(1)),
    await create({
      title: 'Broken',
      objective: 'Fails.',
      nodes: [
        { id: 'call', title: 'Call', executor: { type: 'agent', agentId: 'broken' }, retry: { maxAttempts: 2, initialInterval: '1s' } },
      ],
    }),
  ];
  expect((await call(alice, 'GET', `/v1/plans/${a}/review`)).status).toBe(200);
  expect((await call(alice, 'POST', `/v1/plans/${a}/approve`, {})).status).toBe(200);
  expect((await call(bob, 'POST', `/v1/plans/${b}/approve`, {})).status).toBe(200);
  expect((await call(carol, 'POST', `/v1/plans/${c}/reject`, { reason: REASON })).status).toBe(200);
  expect((await call(alice, 'POST', `/v1/plans/${d}/approve`, {})).status).toBe(200);
  await eventually(`run ${a} to wait for alice`, async () => ((await statusOf(a)) === 'awaiting-human' ? true : undefined));
  expect((await call(alice, 'POST', `/v1/plans/${a}/nodes/review/complete`, { output: 'ok' })).status).toBe(200);

  // Another organization, whose plan escalates after 1 s and expires after 3 s.
  const lateAdmin = await tokenFor(stack, late, 'root', { roles: ['admin'] });
  await tokenFor(stack, late, 'dora');
  const latePlanner = await tokenFor(stack, late, 'planner', { kind: 'agent', roles: [] });
  expect(
    (
      await call(lateAdmin, 'PUT', '/v1/policy', {
        expiresAfter: '3s',
        onExpiry: 'reject',
        escalations: [{ after: '1s', addApprovers: ['role:admin'] }],
      })
    ).status,
  ).toBe(200);
  const e = (
    await call<PlanSnapshot>(latePlanner, 'POST', '/v1/plans', {
      threadId: 't-1',
      sourceThreadId: 't-9',
      leadAgentId: 'planner',
      draft: linearDraft(1),
    })
  ).body.runId;

  for (const [runId, status] of [
    [a, 'completed'],
    [b, 'completed'],
    [c, 'aborted'],
    [d, 'failed'],
    [e, 'aborted'],
  ] as const)
    await eventually(`run ${runId} to be ${status}`, async () => ((await statusOf(runId)) === status ? true : undefined), 30_000);
  // The failed delivery was retried (the receiver takes the second try): every approval reached it.
  expect(failNext).toBe(0);

  // Who may read: an admin's token only.
  expect((await call(undefined, 'GET', '/metrics')).status).toBe(401);
  expect((await call(alice, 'GET', '/metrics')).status).toBe(403);
  expect((await call(stack.operatorToken, 'GET', '/metrics')).status).toBe(403);

  const scraped = await eventually('the admin’s scrape to show every step', async () => {
    const answer = await call<string>(ops, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    return sample(answer.text, 'plans_step_seconds_count', { organization: acme, executor: 'noop', outcome: 'completed' }) === 2
      ? answer
      : undefined;
  });
  expect(scraped.type).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = scraped.text;
  const of = (name: string, labels: Record<string, string> = {}) => sample(text, name, { organization: acme, ...labels });
  expect({
    approvals: [of('plans_approvals_total', { approver: 'alice' }), of('plans_approvals_total', { approver: 'bob' })],
    approved: of('plans_decision_seconds_count', { outcome: 'approved', channel: 'token' }),
    rejected: of('plans_decision_seconds_count', { outcome: 'rejected', channel: 'token' }),
    readThenApproved: of('plans_page_open_to_decision_seconds_count', { outcome: 'approved', channel: 'token' }),
    humanSteps: of('plans_step_seconds_count', { executor: 'human', outcome: 'completed' }),
    agentFailures: [
      of('plans_step_seconds_count', { executor: 'agent', outcome: 'failed' }),
      of('plans_step_failures_total', { executor: 'agent' }),
    ],
    deliveryFailures: of('plans_webhook_delivery_failures_total'),
    runs: ['completed', 'aborted', 'failed', 'pending-approval'].map((status) => of('plans_runs', { status })),
    pending: of('plans_pending_approvals'),
  }).toEqual({
    approvals: [2, 1],
    approved: 3,
    rejected: 1,
    readThenApproved: 1,
    humanSteps: 1,
    agentFailures: [2, 2],
    deliveryFailures: 1,
    runs: [2, 1, 1, 0],
    pending: 0,
  });
  // Only acme's series: not the other organization's, nor the installation's own.
  expect(text).not.toContain(late);
  expect(text).not.toMatch(/^plans_write_conflict_retries_total/m);
  expect(text).not.toMatch(/^temporal_/m);

  // PLANS_METRICS_ADDRESS: everything, without a token.
  const everything = await fetch(stack.metricsUrl!);
  expect(everything.status).toBe(200);
  const all = await everything.text();
  const ofLate = (name: string, labels: Record<string, string> = {}) => sample(all, name, { organization: late, ...labels });
  expect({
    expiries: ofLate('plans_expiries_total'),
    escalations: ofLate('plans_escalations_total'),
    expired: ofLate('plans_decision_seconds_count', { outcome: 'expired', channel: 'expiry' }),
    acmeApproved: sample(all, 'plans_decision_seconds_count', { organization: acme, outcome: 'approved', channel: 'token' }),
  }).toEqual({ expiries: 1, escalations: 1, expired: 1, acmeApproved: 3 });
  expect(all).toMatch(/^plans_write_conflict_retries_total \d+$/m);
  // The Temporal SDK's own metrics, beside ours: those the Grafana dashboard charts among them.
  const dashboard = readFileSync(fileURLToPath(new URL('../../../docs/grafana/execution-plans.json', import.meta.url)), 'utf8');
  const charted = [...new Set([...dashboard.matchAll(/\b(temporal_[a-z_]+)\b/g)].map((match) => match[1]!))];
  expect(charted.length).toBeGreaterThan(0);
  expect(charted.filter((name) => !new RegExp(`^${name}[{ ]`, 'm').test(all))).toEqual([]);
  expect((await fetch(stack.metricsUrl!.replace('/metrics', '/v1/plans'))).status).toBe(404);

  // Nothing a label must never carry: secrets, payloads, run ids, tokens.
  for (const scrape of [text, all]) {
    for (const absent of [SECRET, REASON, a, b, c, d, e, ops, alice]) expect(scrape).not.toContain(absent);
  }
});
