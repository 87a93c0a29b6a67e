import { randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { workflowIdOf } from '../../temporal/names.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith } from '../support/principals.js';
import { eventually, startThroughTemporal } from '../support/stack.js';

/**
 * "Secrets stay in their step" (docs/secrets-and-egress.md, docs/DESIGN.md): tried as someone who wants a
 * secret's value would try. Only admins set, list or delete secrets, and no answer carries a
 * value; a draft cannot carry a credential itself, nor name a secret its organization lacks; the
 * value reaches the receiver and nothing else: not the history, the snapshots, the events, the
 * review, nor the database's row. Credentials an older run stored in its plan come back masked.
 */

const { stack, call } = apiStackForFile();

const TOKEN = `crm-${randomUUID()}`;
const HOOK_PATH = `/hook/${randomUUID()}`;
let receiver: Server;
let port: number;
/** The requesting agent's own host: whatever reaches it, the agent reads. */
let attacker: Server;
let attackerPort: number;
/** A port nothing listens on. */
let closedPort: number;
/** What the receiver got: each call's path and headers. */
const received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
/** What the agent's host got. */
const stolen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received.push({ url: request.url ?? '', headers: request.headers });
      response.setHeader('content-type', 'application/json');
      // A service that echoes what it got, and one that refuses the key and says which.
      if (request.url?.startsWith('/echo')) response.end(JSON.stringify({ youSent: request.headers, path: request.url }));
      else if (request.url?.startsWith('/deny')) {
        response.writeHead(401);
        response.end(
          `{"error": "invalid key ${request.headers['x-api-key']}", "authorization": ${JSON.stringify(request.headers.authorization ?? null)}, "path": "${request.url}"}`,
        );
      } else response.end(JSON.stringify({ ok: true }));
    });
  });
  port = await listen(receiver);
  attacker = createServer((request, response) => {
    stolen.push({ url: request.url ?? '', headers: request.headers });
    response.end('{}');
  });
  attackerPort = await listen(attacker);
  const closed = createServer();
  closedPort = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
});
afterAll(() => {
  receiver?.close();
  attacker?.close();
});

/** An organization whose policy lists the receivers (loopback, reached only when listed), with the policy's other fields as given. */
async function organization(policy: Record<string, unknown> = {}) {
  const org = await organizationWith(stack());
  const allow = [`127.0.0.1:${port}`, `127.0.0.1:${attackerPort}`, `127.0.0.1:${closedPort}`];
  expect((await call(org.admin, 'PUT', '/v1/policy', { egress: { allow }, ...policy })).status).toBe(200);
  return org;
}

/** The run once it ended. */
async function ended(token: string, runId: string): Promise<PlanSnapshot> {
  return eventually(`run ${runId} to end`, async () => {
    const run = (await call<PlanSnapshot>(token, 'GET', `/v1/plans/${runId}?include=artifacts`)).body;
    return run.status === 'completed' || run.status === 'failed' ? run : undefined;
  });
}

/** Everything a principal of the organization, or an operator, could read of a run, as one text. */
async function everythingOf(org: { alice: string }, runId: string): Promise<string> {
  const everything = [
    await call(org.alice, 'GET', `/v1/plans/${runId}?include=events,checkpoints,approvals,artifacts,validation-issues`),
    await call(org.alice, 'GET', `/v1/plans/${runId}/review`),
    await stack().client.workflow.getHandle(workflowIdOf(runId)).fetchHistory(),
  ];
  return JSON.stringify(everything, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
}

const webhookDraft = (executor: Record<string, unknown>) => ({
  threadId: 't-1',
  leadAgentId: 'planner',
  draft: {
    title: 'Tell the CRM',
    objective: 'Post the deal.',
    nodes: [{ id: 'call', title: 'Call the CRM', executor: { type: 'system', action: 'webhook', ...executor }, retry: { maxAttempts: 1 } }],
  },
});
const runsOf = async (token: string) => (await call<PlanSnapshot[]>(token, 'GET', '/v1/plans')).body;

it('only an admin (a person) sets, lists or deletes secrets, and no answer carries a value', async () => {
  const org = await organization();
  for (const token of [org.planner, org.alice]) {
    expect((await call(token, 'PUT', '/v1/secrets/crm-token', { value: TOKEN })).status).toBe(403);
    expect((await call(token, 'GET', '/v1/secrets')).status).toBe(403);
    expect((await call(token, 'DELETE', '/v1/secrets/crm-token')).status).toBe(403);
  }
  const set = await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
  expect(set).toMatchObject({ status: 200, body: { name: 'crm-token', updatedBy: 'ops', updatedAt: expect.any(String) } });
  expect(JSON.stringify(set.body)).not.toContain(TOKEN);
  // Refused tries changed nothing, and another organization's admin sees none of it.
  const listed = await call(org.admin, 'GET', '/v1/secrets');
  expect(listed).toEqual({
    status: 200,
    body: [{ name: 'crm-token', hosts: [], updatedBy: 'ops', updatedAt: set.body && (set.body as { updatedAt: string }).updatedAt }],
  });
  const other = await organization();
  expect((await call(other.admin, 'GET', '/v1/secrets')).body).toEqual([]);
  expect((await call(other.admin, 'DELETE', '/v1/secrets/crm-token')).status).toBe(404);
  // A name that is no slug is refused before anything is stored.
  expect((await call(org.admin, 'PUT', `/v1/secrets/${encodeURIComponent('../Other')}`, { value: 'x' })).status).toBe(400);
  expect((await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, organizationId: other.organizationId })).status).toBe(400);
  expect((await call(org.admin, 'DELETE', '/v1/secrets/crm-token')).status).toBe(204);
  expect((await call(org.admin, 'GET', '/v1/secrets')).body).toEqual([]);
});

it('the database holds the value only as ciphertext, bound to its organization and name', async () => {
  const org = await organization();
  await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
  const [rows] = await stack().db.query<[unknown[]]>('SELECT * FROM plan_secret WHERE organizationId = $org;', { org: org.organizationId });
  expect(rows).toHaveLength(1);
  expect(JSON.stringify(rows)).not.toContain(TOKEN);
  expect(JSON.stringify(rows)).not.toContain(Buffer.from(TOKEN).toString('base64'));
  expect((await stack().store.secrets.values(org.organizationId, ['crm-token'])).get('crm-token')).toEqual({ value: TOKEN, hosts: [] });
});

it('a draft that writes a credential itself is refused, pointing to secrets; nothing is stored', async () => {
  const org = await organization();
  for (const executor of [
    { url: `http://127.0.0.1:${port}/hook`, headers: { Authorization: 'Bearer x' } },
    { url: `http://127.0.0.1:${port}/hook`, headers: { 'X-Api-Key': 'k' } },
    { url: `http://bot:hunter2@127.0.0.1:${port}/hook` },
    { url: `http://127.0.0.1:${port}/hook?token=abc` },
  ]) {
    const refused = await call(org.planner, 'POST', '/v1/plans', webhookDraft(executor));
    expect([executor, refused.status, refused.body.error?.message]).toEqual([
      executor,
      400,
      expect.stringMatching(/Node "call" sends a literal credential in .*plans secret set NAME.*\{"\$secret": "NAME"\}/),
    ]);
    expect(JSON.stringify(refused.body)).not.toMatch(/hunter2|Bearer x|abc/);
  }
  expect(await runsOf(org.alice)).toEqual([]);
});

it('a draft naming a secret its organization does not have is refused, naming the node and the secret', async () => {
  const org = await organization();
  const other = await organization();
  await call(other.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
  const refused = await call(
    org.planner,
    'POST',
    '/v1/plans',
    webhookDraft({ url: `http://127.0.0.1:${port}/hook`, headers: { Authorization: { $secret: 'crm-token' } } }),
  );
  expect(refused).toMatchObject({
    status: 400,
    body: { error: { code: 'invalid-input', message: expect.stringContaining('Node "call" sends secret "crm-token"') } },
  });
  expect(await runsOf(org.alice)).toEqual([]);
});

it('the value reaches the receiver, and nothing else: not history, snapshots, events, review, page', async () => {
  const org = await organization();
  await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: `Bearer ${TOKEN}` });
  await call(org.admin, 'PUT', '/v1/secrets/crm-hook', { value: `http://127.0.0.1:${port}${HOOK_PATH}?sig=${TOKEN}` });
  const created = await call<PlanSnapshot>(
    org.planner,
    'POST',
    '/v1/plans',
    webhookDraft({ url: { $secret: 'crm-hook' }, headers: { Authorization: { $secret: 'crm-token' }, 'X-Team': 'sales' } }),
  );
  expect(created).toMatchObject({ status: 201, body: { status: 'pending-approval' } });
  const { runId } = created.body;
  // The person deciding sees which secrets it sends, by name.
  const review = await call<{ steps: Array<{ executor: unknown }>; externalCalls: Array<{ url: string }> }>(
    org.alice,
    'GET',
    `/v1/plans/${runId}/review`,
  );
  expect(review.body.steps[0]!.executor).toEqual({
    type: 'system',
    action: 'webhook',
    url: { $secret: 'crm-hook' },
    headers: { Authorization: { $secret: 'crm-token' }, 'X-Team': 'sales' },
  });
  expect(review.body.externalCalls[0]!.url).toBe('{"$secret":"crm-hook"}');
  expect((await call(org.alice, 'POST', `/v1/plans/${runId}/approve`, {})).status).toBe(200);
  const done = await eventually(`run ${runId} to complete`, async () => {
    const run = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${runId}`)).body;
    return run.status === 'completed' ? run : undefined;
  });
  const calls = received.filter((entry) => entry.url.startsWith(HOOK_PATH));
  expect(calls).toHaveLength(1);
  expect(calls[0]!.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'x-team': 'sales' });
  expect(calls[0]!.url).toBe(`${HOOK_PATH}?sig=${TOKEN}`);

  const everything = [
    done,
    await call(org.alice, 'GET', `/v1/plans/${runId}?include=events,checkpoints,approvals,artifacts,validation-issues`),
    await call(org.alice, 'GET', '/v1/plans'),
    await call(org.alice, 'GET', `/v1/plans/${runId}/review`),
    await call(org.alice, 'GET', `/v1/plans/${runId}/diff`),
    await call(org.admin, 'GET', '/v1/secrets'),
    await stack().plans.runs.get(runId, { includeEvents: true, includeCheckpoints: true, includeArtifacts: true }),
    await stack().store.runs.getPlan(created.body.planSpecId),
    await stack().plans.feed.read({ organizationId: org.organizationId, after: 0 }),
    await stack().client.workflow.getHandle(workflowIdOf(runId)).fetchHistory(),
  ];
  const text = JSON.stringify(everything, (_key, value: unknown) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value,
  );
  expect(text).toContain('crm-token');
  expect(text).not.toContain(TOKEN);
});

it('a step whose secret was deleted after approval fails without calling out, naming it', async () => {
  const org = await organization();
  await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
  const path = `/gone/${randomUUID()}`;
  const created = await call<PlanSnapshot>(
    org.planner,
    'POST',
    '/v1/plans',
    webhookDraft({ url: `http://127.0.0.1:${port}${path}`, headers: { Authorization: { $secret: 'crm-token' } } }),
  );
  expect((await call(org.admin, 'DELETE', '/v1/secrets/crm-token')).status).toBe(204);
  expect((await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/approve`, {})).status).toBe(200);
  const failed = await eventually(`run ${created.body.runId} to fail`, async () => {
    const run = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${created.body.runId}`)).body;
    return run.status === 'failed' ? run : undefined;
  });
  expect(failed.nodes[0]).toMatchObject({
    status: 'failed',
    error: expect.stringContaining('sends secret "crm-token", which organization'),
  });
  expect(received.filter((entry) => entry.url.startsWith(path))).toEqual([]);
});

it('credentials an older run wrote into its plan come back masked from every answer', async () => {
  const org = await organization();
  const runId = randomUUID();
  // As a client from before secrets would have started it: the credentials are in the plan itself.
  const plan = compileDraft(webhookDraft({ url: `http://127.0.0.1:${port}/old` }).draft);
  plan.nodes[0]!.executor = {
    type: 'system',
    action: 'webhook',
    url: `http://bot:${TOKEN}@127.0.0.1:${port}/old?token=${TOKEN}&team=sales`,
    headers: { Authorization: `Bearer ${TOKEN}`, 'X-Team': 'sales' },
  };
  await startThroughTemporal(stack(), {
    runId,
    organizationId: org.organizationId,
    threadId: 't-1',
    leadAgentId: 'planner',
    requireApproval: true,
    plan,
  });
  const stored = await eventually(`run ${runId} to be stored`, async () => {
    const answer = await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${runId}`);
    return answer.status === 200 ? answer.body : undefined;
  });
  expect(stored.nodes[0]!.executor).toEqual({
    type: 'system',
    action: 'webhook',
    url: `http://••••••@127.0.0.1:${port}/old?token=••••••&team=sales`,
    headers: { Authorization: '••••••', 'X-Team': 'sales' },
  });
  const answers = [
    stored,
    await call(org.alice, 'GET', '/v1/plans'),
    await call(org.alice, 'GET', `/v1/plans/${runId}/review`),
    await call(org.alice, 'GET', '/v1/threads/t-1/plans'),
  ];
  expect(JSON.stringify(answers)).not.toContain(TOKEN);
  const rejected = await call(org.alice, 'POST', `/v1/plans/${runId}/reject`, { reason: 'Old credentials.' });
  expect(rejected.status).toBe(200);
  expect(JSON.stringify(rejected.body)).not.toContain(TOKEN);
});

describe("an agent sending its organization's secret to its own host", () => {
  /** Under a policy where webhook plans run at once: only cross-thread plans wait. */
  const noExternalCalls = { requireApprovalFor: ['cross-thread'] };

  it('a secret bound to hosts is refused at draft when the URL goes elsewhere, naming the node, the secret and the host; nothing is stored or sent', async () => {
    const org = await organization(noExternalCalls);
    const set = await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: [`127.0.0.1:${port}`] });
    expect(set).toMatchObject({ status: 200, body: { name: 'crm-token', hosts: [`127.0.0.1:${port}`] } });
    expect((await call(org.admin, 'GET', '/v1/secrets')).body).toEqual([
      expect.objectContaining({ name: 'crm-token', hosts: [`127.0.0.1:${port}`] }),
    ]);
    const before = stolen.length;
    for (const url of [`http://127.0.0.1:${attackerPort}/collect`, `http://127.0.0.1:${attackerPort}/?to=127.0.0.1:${port}`]) {
      for (const requireApproval of [undefined, true, false]) {
        const refused = await call(org.planner, 'POST', '/v1/plans', {
          ...webhookDraft({ url, headers: { 'X-K': { $secret: 'crm-token' } } }),
          ...(requireApproval === undefined ? {} : { requireApproval }),
        });
        expect([url, requireApproval, refused.status, refused.body.error]).toEqual([
          url,
          requireApproval,
          400,
          {
            code: 'invalid-input',
            message: `secret-host: Node "call" sends secret "crm-token" to 127.0.0.1:${attackerPort}, a host the secret is not bound to; only an admin binds it elsewhere (plans secret set crm-token --host HOST).`,
            issues: [{ code: 'secret-host', nodeId: 'call', message: expect.any(String) }],
          },
        ]);
      }
    }
    // A bound host that is a name is matched by name: its address does not stand in for it.
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: [`localhost:${port}`] });
    expect(
      (
        await call(
          org.planner,
          'POST',
          '/v1/plans',
          webhookDraft({ url: `http://127.0.0.1:${port}/hook`, headers: { 'X-K': { $secret: 'crm-token' } } }),
        )
      ).status,
    ).toBe(400);
    expect(await runsOf(org.alice)).toEqual([]);
    expect(stolen.slice(before)).toEqual([]);
  });

  it('a bound secret going where it is bound runs at once under such a policy, and reaches its host', async () => {
    const org = await organization(noExternalCalls);
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: [`127.0.0.1:${port}`, 'api.crm.example'] });
    const path = `/bound/${randomUUID()}`;
    const created = await call<PlanSnapshot>(
      org.planner,
      'POST',
      '/v1/plans',
      webhookDraft({ url: `http://127.0.0.1:${port}${path}`, headers: { 'X-K': { $secret: 'crm-token' } } }),
    );
    expect(created).toMatchObject({ status: 201, body: { status: 'running' } });
    expect((await ended(org.alice, created.body.runId)).status).toBe('completed');
    expect(received.filter((entry) => entry.url === path).map((entry) => entry.headers['x-k'])).toEqual([TOKEN]);
  });

  it('a secret bound to no host makes its plan wait for a person even where webhook plans run at once; skipping is refused', async () => {
    const org = await organization(noExternalCalls);
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
    expect((await call(org.admin, 'GET', '/v1/secrets')).body).toEqual([expect.objectContaining({ name: 'crm-token', hosts: [] })]);
    const before = stolen.length;
    const draft = webhookDraft({ url: `http://127.0.0.1:${attackerPort}/collect`, headers: { 'X-K': { $secret: 'crm-token' } } });
    const skipped = await call(org.planner, 'POST', '/v1/plans', { ...draft, requireApproval: false });
    expect(skipped).toMatchObject({
      status: 403,
      body: {
        error: {
          code: 'not-eligible',
          message: expect.stringContaining('planner may not start a plan that calls external endpoints without approval'),
        },
      },
    });
    const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', draft);
    expect(created).toMatchObject({ status: 201, body: { status: 'pending-approval', approval: { reasons: ['external-calls'] } } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(stolen.slice(before)).toEqual([]);
    // A plan without secrets under the same policy still runs at once: only sending one makes it wait.
    const plain = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', webhookDraft({ url: `http://127.0.0.1:${port}/plain` }));
    expect(plain).toMatchObject({ status: 201, body: { status: 'running' } });
  });

  it('a secret URL that resolves elsewhere than a header secret is bound to fails the step at call time, naming the secret; nothing is sent', async () => {
    const org = await organization(noExternalCalls);
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: [`127.0.0.1:${port}`] });
    // The URL is a secret too (here one that happens to point at the agent's host): known only when the step runs.
    await call(org.admin, 'PUT', '/v1/secrets/chat-hook', { value: `http://127.0.0.1:${attackerPort}/chat` });
    const before = stolen.length;
    const created = await call<PlanSnapshot>(
      org.planner,
      'POST',
      '/v1/plans',
      webhookDraft({ url: { $secret: 'chat-hook' }, headers: { 'X-K': { $secret: 'crm-token' } } }),
    );
    expect(created).toMatchObject({ status: 201, body: { status: 'running' } });
    const run = await ended(org.alice, created.body.runId);
    expect(run.status).toBe('failed');
    expect(run.nodes[0]!.error).toBe(
      'Node "call" would send secret "crm-token" to {"$secret":"chat-hook"}, a host it is not bound to (plans secret set NAME --host HOST); nothing was sent.',
    );
    expect(run.nodes[0]!.attempt).toBe(1);
    expect(stolen.slice(before)).toEqual([]);
    expect(await everythingOf(org, created.body.runId)).not.toMatch(new RegExp(`${TOKEN}|:${attackerPort}`));
  });

  it('a secret re-bound after the plan was approved is checked again when the step calls, naming the host', async () => {
    const org = await organization();
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: [`127.0.0.1:${port}`] });
    const path = `/rebound/${randomUUID()}`;
    const created = await call<PlanSnapshot>(
      org.planner,
      'POST',
      '/v1/plans',
      webhookDraft({ url: `http://127.0.0.1:${port}${path}`, headers: { 'X-K': { $secret: 'crm-token' } } }),
    );
    expect(created.body.status).toBe('pending-approval');
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: ['api.crm.example'] });
    expect((await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/approve`, {})).status).toBe(200);
    const run = await ended(org.alice, created.body.runId);
    expect(run.nodes[0]!.error).toBe(
      `Node "call" would send secret "crm-token" to 127.0.0.1:${port}, a host it is not bound to (plans secret set NAME --host HOST); nothing was sent.`,
    );
    expect(received.filter((entry) => entry.url === path)).toEqual([]);
  });

  it('hosts are checked like an egress allow list, and only an admin sets them', async () => {
    const org = await organization();
    for (const hosts of [[], ['http://api.crm.example'], ['api.crm.example/path'], ['*']]) {
      const refused = await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts });
      expect([hosts, refused.status]).toEqual([hosts, 400]);
      expect(JSON.stringify(refused.body)).not.toContain(TOKEN);
    }
    expect((await call(org.planner, 'PUT', '/v1/secrets/crm-token', { value: TOKEN, hosts: [`127.0.0.1:${attackerPort}`] })).status).toBe(
      403,
    );
    expect((await call(org.admin, 'GET', '/v1/secrets')).body).toEqual([]);
  });
});

describe('a secret the called service echoes back', () => {
  it('is masked out of the step output: a receiver that answers with the headers it got', async () => {
    const org = await organization();
    await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: `Bearer ${TOKEN}`, hosts: [`127.0.0.1:${port}`] });
    await call(org.admin, 'PUT', '/v1/secrets/api-key', { value: `k"${TOKEN}\\x` });
    const created = await call<PlanSnapshot>(
      org.planner,
      'POST',
      '/v1/plans',
      webhookDraft({
        url: `http://127.0.0.1:${port}/echo`,
        headers: { Authorization: { $secret: 'crm-token' }, 'X-Api-Key': { $secret: 'api-key' } },
      }),
    );
    await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/approve`, {});
    const run = await ended(org.alice, created.body.runId);
    expect(run.status).toBe('completed');
    expect(run.artifacts![0]!.content).toMatchObject({ youSent: { authorization: '••••••', 'x-api-key': '••••••' }, path: '/echo' });
    expect(await everythingOf(org, created.body.runId)).not.toContain(TOKEN);
  });

  it('is masked out of the error: a receiver that answers 401 naming the key it refused', async () => {
    const org = await organization();
    await call(org.admin, 'PUT', '/v1/secrets/api-key', { value: TOKEN });
    await call(org.admin, 'PUT', '/v1/secrets/deny-hook', { value: `http://127.0.0.1:${port}/deny/${TOKEN.slice(4)}?sig=s1gnature` });
    const created = await call<PlanSnapshot>(
      org.planner,
      'POST',
      '/v1/plans',
      webhookDraft({ url: { $secret: 'deny-hook' }, headers: { 'X-Api-Key': { $secret: 'api-key' } } }),
    );
    await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/approve`, {});
    const run = await ended(org.alice, created.body.runId);
    expect(run.status).toBe('failed');
    expect(run.nodes[0]!.error).toBe(
      'Webhook {"$secret":"chat-hook"} answered 401: {"error": "invalid key ••••••", "authorization": null, "path": "••••••?sig=••••••"}'.replace(
        'chat-hook',
        'deny-hook',
      ),
    );
    expect(await everythingOf(org, created.body.runId)).not.toMatch(new RegExp(`${TOKEN.slice(4)}|s1gnature|:${port}`));
  });
});

describe("a secret URL's host stays out of messages", () => {
  it('an egress refusal and a network error name the secret, not the host or its address', async () => {
    const org = await organization();
    await call(org.admin, 'PUT', '/v1/secrets/internal-hook', { value: `http://10.1.2.3:8080/${TOKEN}` });
    await call(org.admin, 'PUT', '/v1/secrets/closed-hook', { value: `http://127.0.0.1:${closedPort}/${TOKEN}` });
    const errors: string[] = [];
    for (const name of ['internal-hook', 'closed-hook']) {
      const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', webhookDraft({ url: { $secret: name } }));
      await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/approve`, {});
      const run = await ended(org.alice, created.body.runId);
      errors.push(run.nodes[0]!.error!);
      expect(await everythingOf(org, created.body.runId)).not.toMatch(new RegExp(`${TOKEN}|10\\.1\\.2\\.3|:${closedPort}`));
    }
    expect(errors).toEqual([
      `Egress refused: the call to {"$secret":"internal-hook"}, which the organization's egress policy does not list (policy egress.allow)`,
      'Webhook {"$secret":"closed-hook"} failed: ECONNREFUSED',
    ]);
  });
});
