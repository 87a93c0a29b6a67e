import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * "Egress the organization allows" (issue 19, docs/secrets-and-egress.md, docs/DESIGN.md): the requesting
 * agent tries to make the system call inside its network — loopback, the cloud metadata address,
 * IPv6 and IPv4-mapped spellings, a name that resolves there, a redirect there — and read the
 * answer back as its step's artifact. Each try is refused before anything is sent: at draft time
 * when the URL says where it goes, at call time otherwise.
 */

const { stack, call } = apiStackForFile();

/** Requests each receiver got, by path. */
const hits: Array<{ server: 'receiver' | 'internal'; path: string }> = [];
let receiver: Server;
let internal: Server;
let port: number;
let internalPort: number;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  // Stands in for an internal service: whatever reaches it has gone where it should not.
  internal = createServer((request, response) => {
    hits.push({ server: 'internal', path: request.url ?? '' });
    response.end(JSON.stringify({ secret: 'instance credentials' }));
  });
  internalPort = await listen(internal);
  // Stands in for a destination the organization allows.
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      hits.push({ server: 'receiver', path: request.url ?? '' });
      response.setHeader('content-type', 'application/json');
      if (request.url === '/redirect') {
        response.writeHead(302, { location: `http://127.0.0.1:${internalPort}/latest/meta-data` });
        response.end();
      } else if (request.url === '/big') {
        response.end(JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) }));
      } else response.end(JSON.stringify({ ok: true, path: request.url }));
    });
  });
  port = await listen(receiver);
});
afterAll(() => {
  receiver?.close();
  internal?.close();
});

/** An organization whose webhook plans run at once (the policy says only cross-thread plans wait), with `egress` as given. */
async function organization(egress?: { allow: string[] }) {
  const org = await organizationWith(stack());
  await setPolicy(org.admin, egress);
  return org;
}

async function setPolicy(admin: string, egress?: { allow: string[] }) {
  const set = await call(admin, 'PUT', '/v1/policy', { requireApprovalFor: ['cross-thread'], ...(egress ? { egress } : {}) });
  expect(set.status).toBe(200);
}

const hookNode = (url: string, extra: Record<string, unknown> = {}) => ({
  id: 'call',
  title: 'Call',
  executor: { type: 'system', action: 'webhook', url, ...extra },
  retry: { maxAttempts: 1 },
});
const plan = (...nodes: unknown[]) => ({
  threadId: 't-1',
  leadAgentId: 'planner',
  draft: { title: 'Probe', objective: 'Read what answers.', nodes },
});
const runsOf = async (token: string) => (await call<PlanSnapshot[]>(token, 'GET', '/v1/plans')).body;
const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));

/** The run once it ended, and its `call` step. */
async function ended(token: string, runId: string) {
  const run = await eventually(`run ${runId} to end`, async () => {
    const stored = (await call<PlanSnapshot>(token, 'GET', `/v1/plans/${runId}?include=artifacts`)).body;
    return stored.status === 'completed' || stored.status === 'failed' ? stored : undefined;
  });
  return { run, step: run.nodes.find((node) => node.nodeId === 'call')! };
}

it('a webhook step to a literal loopback, metadata, IPv6 or IPv4-mapped address is refused at draft naming the node and the rule; nothing is stored', async () => {
  const org = await organization();
  const POLICY = "the organization's egress policy does not allow it (policy egress.allow)";
  const OPERATOR = 'only the operator may allow a cloud metadata address, by listing the address itself (PLANS_EGRESS_ALLOW)';
  for (const [url, kind] of [
    ['http://127.0.0.1:9/hook', `127.0.0.1, a loopback address; ${POLICY}`],
    ['http://169.254.169.254/latest/meta-data/iam', `169.254.169.254, a cloud metadata address; ${OPERATOR}`],
    ['http://[::1]:9/', `[::1], a loopback address; ${POLICY}`],
    ['http://[::ffff:127.0.0.1]/', `[::ffff:7f00:1], a loopback address; ${POLICY}`],
    ['http://[fd00:ec2::254]/', `[fd00:ec2::254], a cloud metadata address; ${OPERATOR}`],
    ['http://168.63.129.16/machine', `168.63.129.16, a cloud metadata address; ${OPERATOR}`],
    ['http://100.100.100.200/latest/meta-data', `100.100.100.200, a cloud metadata address; ${OPERATOR}`],
    ['http://[64:ff9b:1::a9fe:a9fe]/', `[64:ff9b:1::a9fe:a9fe], a cloud metadata address; ${OPERATOR}`],
    ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', `[2001:0:4136:e378:8000:63bf:3fff:fdd2], a reserved address; ${POLICY}`],
    ['http://10.0.0.8/', `10.0.0.8, a private address; ${POLICY}`],
    ['http://100.64.0.1/', `100.64.0.1, a carrier-grade NAT address; ${POLICY}`],
    ['http://2130706433:9/', `127.0.0.1, a loopback address; ${POLICY}`],
  ]) {
    const refused = await call(org.planner, 'POST', '/v1/plans', plan(hookNode(url!)));
    expect([url, refused.status, refused.body.error]).toEqual([
      url,
      400,
      {
        code: 'invalid-input',
        message: `egress-refused: Node "call" posts to ${kind}.`,
        issues: [{ code: 'egress-refused', nodeId: 'call', message: expect.any(String) }],
      },
    ]);
  }
  await settle();
  expect(await runsOf(org.admin)).toEqual([]);
  expect(hits).toEqual([]);
});

it("an organization's admin cannot open the cloud metadata service to its agents: listing its address (or a name) allows nothing", async () => {
  const org = await organization({ allow: ['169.254.169.254', '[fd00:ec2::254]', '168.63.129.16:80', 'metadata.partner.example'] });
  for (const url of [
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://[fd00:ec2::254]/',
    'http://168.63.129.16/machine',
  ]) {
    const refused = await call(org.planner, 'POST', '/v1/plans', plan(hookNode(url)));
    expect([url, refused.status, refused.body.error?.message]).toEqual([
      url,
      400,
      expect.stringMatching(
        /a cloud metadata address; only the operator may allow a cloud metadata address, by listing the address itself \(PLANS_EGRESS_ALLOW\)\.$/,
      ),
    ]);
  }
  expect(await runsOf(org.admin)).toEqual([]);
});

it('forbidden headers (hop-by-hop, Host, Cookie) are refused at draft naming the node', async () => {
  const org = await organization({ allow: [`127.0.0.1:${port}`] });
  for (const headers of [
    { Host: 'metadata.google.internal' },
    { Cookie: 'session=x' },
    { 'Transfer-Encoding': 'chunked' },
    { 'Proxy-Authorization': 'x' },
  ]) {
    const refused = await call(org.planner, 'POST', '/v1/plans', plan(hookNode(`http://127.0.0.1:${port}/hook`, { headers })));
    expect([headers, refused.status, refused.body.error?.message]).toEqual([
      headers,
      400,
      expect.stringMatching(/^forbidden-header: Node "call" sets /),
    ]);
  }
  expect(await runsOf(org.admin)).toEqual([]);
});

it('a name that resolves to loopback passes the draft and is refused at call time: the step fails with the rule, the receiver is never hit', async () => {
  const org = await organization();
  const before = hits.length;
  const created = await call<PlanSnapshot>(
    org.planner,
    'POST',
    '/v1/plans',
    plan(hookNode(`http://localhost:${port}/hook`, {}), {
      id: 'after',
      title: 'After',
      executor: { type: 'system', action: 'noop' },
      dependsOn: ['call'],
    }),
  );
  expect(created).toMatchObject({ status: 201, body: { status: 'running' } });
  const { run, step } = await ended(org.alice, created.body.runId);
  expect(run.status).toBe('failed');
  expect(step).toMatchObject({ status: 'failed', attempt: 1, artifactIds: [] });
  expect(step.error).toMatch(
    /localhost, which resolves to (127\.0\.0\.1|::1), a loopback address; the organization's egress policy does not allow it \(policy egress\.allow\)/,
  );
  expect(hits.slice(before)).toEqual([]);

  // Listed exactly, the same name is reachable: the organization said so.
  const allowed = await organization({ allow: [`localhost:${port}`] });
  const done = await call<PlanSnapshot>(allowed.planner, 'POST', '/v1/plans', plan(hookNode(`http://localhost:${port}/hook`)));
  expect((await ended(allowed.alice, done.body.runId)).run.status).toBe('completed');
}, 60_000);

it('an explicitly allowed 127.0.0.1:PORT is called and its answer kept; a redirect from it is not followed', async () => {
  const org = await organization({ allow: [`127.0.0.1:${port}`] });
  const ok = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', plan(hookNode(`http://127.0.0.1:${port}/hook`)));
  const { run } = await ended(org.alice, ok.body.runId);
  expect(run.status).toBe('completed');
  expect(run.artifacts).toEqual([expect.objectContaining({ nodeId: 'call', content: { ok: true, path: '/hook' } })]);

  // The allowed host answers with a redirect inside the network: the step fails on the 302, nothing follows it.
  const redirected = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', plan(hookNode(`http://127.0.0.1:${port}/redirect`)));
  const { run: failed, step } = await ended(org.alice, redirected.body.runId);
  expect(failed.status).toBe('failed');
  expect(step.error).toMatch(/answered 302/);
  expect(hits.filter((hit) => hit.server === 'internal')).toEqual([]);
}, 60_000);

it('an answer over the cap fails the step and is not kept', async () => {
  const org = await organization({ allow: [`127.0.0.1:${port}`] });
  const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', plan(hookNode(`http://127.0.0.1:${port}/big`)));
  const { run, step } = await ended(org.alice, created.body.runId);
  expect(run.status).toBe('failed');
  expect(step.error).toMatch(/answered more than 1048576 bytes/);
  expect(run.artifacts).toEqual([]);
}, 60_000);

it('with an allow list nothing else is reachable: refused at draft, and at call time under the policy in force then', async () => {
  const org = await organization({ allow: ['hooks.example.com', `127.0.0.1:${port}`] });
  const refused = await call(org.planner, 'POST', '/v1/plans', plan(hookNode('https://elsewhere.example.net/hook')));
  expect(refused).toMatchObject({
    status: 400,
    body: {
      error: {
        code: 'invalid-input',
        message: `egress-refused: Node "call" posts to elsewhere.example.net:443, which the organization's egress policy does not list (policy egress.allow).`,
      },
    },
  });
  expect(await runsOf(org.admin)).toEqual([]);

  // Allowed when drafted; the organization narrows its list before the step runs: the call is refused then.
  const before = hits.length;
  const created = await call<PlanSnapshot>(
    org.planner,
    'POST',
    '/v1/plans',
    plan(
      { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'alice' } },
      { ...hookNode(`http://127.0.0.1:${port}/hook`), dependsOn: ['review'] },
    ),
  );
  expect(created.status).toBe(201);
  await setPolicy(org.admin, { allow: ['hooks.example.com'] });
  await eventually('the review step to wait', async () =>
    (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${created.body.runId}`)).body.nodes[0]!.status === 'awaiting-human'
      ? true
      : undefined,
  );
  expect(
    (await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/nodes/review/complete`, { threadId: 't-1', output: 'fine' })).status,
  ).toBe(200);
  const { run, step } = await ended(org.alice, created.body.runId);
  expect(run.status).toBe('failed');
  expect(step.error).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}, which the organization's egress policy does not list`));
  expect(hits.slice(before)).toEqual([]);
}, 60_000);

it('subscriptions: a literal private address is refused at creation; a name resolving to loopback is refused at each delivery', async () => {
  const org = await organization();
  for (const url of [`http://127.0.0.1:${port}/events`, 'http://169.254.169.254/', 'http://[::ffff:10.0.0.1]/']) {
    const refused = await call(org.admin, 'POST', '/v1/subscriptions', { url, eventTypes: ['plan-completed'] });
    expect([url, refused.status, refused.body.error?.message]).toEqual([
      url,
      400,
      expect.stringMatching(
        /^The subscription posts to .*; (the organization's egress policy does not allow it \(policy egress\.allow\)|only the operator may allow a cloud metadata address, by listing the address itself \(PLANS_EGRESS_ALLOW\))\.$/,
      ),
    ]);
  }
  expect((await call<unknown[]>(org.admin, 'GET', '/v1/subscriptions')).body).toEqual([]);

  const before = hits.length;
  expect(
    (await call(org.admin, 'POST', '/v1/subscriptions', { url: `http://localhost:${port}/events`, eventTypes: ['plan-completed'] })).status,
  ).toBe(201);
  const created = await call<PlanSnapshot>(
    org.planner,
    'POST',
    '/v1/plans',
    plan({ id: 'call', title: 'Nothing', executor: { type: 'system', action: 'noop' } }),
  );
  expect((await ended(org.alice, created.body.runId)).run.status).toBe('completed');
  await settle();
  expect(hits.slice(before)).toEqual([]);

  // Listed exactly, the receiver gets its deliveries.
  await setPolicy(org.admin, { allow: [`127.0.0.1:${port}`] });
  expect(
    (await call(org.admin, 'POST', '/v1/subscriptions', { url: `http://127.0.0.1:${port}/events`, eventTypes: ['plan-completed'] })).status,
  ).toBe(201);
  const second = await call<PlanSnapshot>(
    org.planner,
    'POST',
    '/v1/plans',
    plan({ id: 'call', title: 'Nothing', executor: { type: 'system', action: 'noop' } }),
  );
  await ended(org.alice, second.body.runId);
  await eventually('the allowed subscription to be delivered to', async () =>
    hits.slice(before).some((hit) => hit.path === '/events') ? true : undefined,
  );
}, 60_000);

it('the review flags a call inside the organization’s network', async () => {
  const org = await organization({ allow: [`127.0.0.1:${port}`] });
  const pending = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', {
    ...plan({ ...hookNode(`http://127.0.0.1:${port}/hook`) }),
    requireApproval: true,
  });
  expect(pending.body.status).toBe('pending-approval');
  const review = await call<{ externalCalls: Array<{ nodeId: string; internal: string | null }> }>(
    org.alice,
    'GET',
    `/v1/plans/${pending.body.runId}/review`,
  );
  expect(review.body.externalCalls).toEqual([expect.objectContaining({ nodeId: 'call', internal: '127.0.0.1 is a loopback address' })]);
});
