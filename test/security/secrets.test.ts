import { randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { planRunInput } from '../../domain/run-input.js';
import { compileDraft } from '../../domain/validate.js';
import { workflowIdOf } from '../../temporal/names.js';
import { apiStackForFile } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * "Secrets stay in their step" (README "Secrets", docs/DESIGN.md): tried as someone who wants a
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
/** What the receiver got: each call's path and headers. */
const received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received.push({ url: request.url ?? '', headers: request.headers });
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as AddressInfo).port;
});
afterAll(() => receiver?.close());

async function organization() {
  const organizationId = `org-${randomUUID()}`;
  const org = {
    organizationId,
    planner: await tokenFor(stack(), organizationId, 'planner', { kind: 'agent', roles: [] }),
    alice: await tokenFor(stack(), organizationId, 'alice'),
    admin: await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] }),
  };
  // The receiver listens on loopback, which an organization reaches only when it lists it.
  expect((await call(org.admin, 'PUT', '/v1/policy', { egress: { allow: [`127.0.0.1:${port}`] } })).status).toBe(200);
  return org;
}

const webhookDraft = (executor: Record<string, unknown>) => ({
  threadId: 't-1',
  leadAgentId: 'planner',
  draft: { title: 'Tell the CRM', objective: 'Post the deal.', nodes: [{ id: 'call', title: 'Call the CRM', executor: { type: 'system', action: 'webhook', ...executor } }] },
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
  expect(listed).toEqual({ status: 200, body: [{ name: 'crm-token', updatedBy: 'ops', updatedAt: set.body && (set.body as { updatedAt: string }).updatedAt }] });
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
  expect((await stack().store.secrets.values(org.organizationId, ['crm-token'])).get('crm-token')).toBe(TOKEN);
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
    expect([executor, refused.status, refused.body.error?.message]).toEqual([executor, 400, expect.stringMatching(/Node "call" sends a literal credential in .*plans secret set NAME.*\{"\$secret": "NAME"\}/)]);
    expect(JSON.stringify(refused.body)).not.toMatch(/hunter2|Bearer x|abc/);
  }
  expect(await runsOf(org.alice)).toEqual([]);
});

it('a draft naming a secret its organization does not have is refused, naming the node and the secret', async () => {
  const org = await organization();
  const other = await organization();
  await call(other.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
  const refused = await call(org.planner, 'POST', '/v1/plans', webhookDraft({ url: `http://127.0.0.1:${port}/hook`, headers: { Authorization: { $secret: 'crm-token' } } }));
  expect(refused).toMatchObject({ status: 400, body: { error: { code: 'invalid-input', message: expect.stringContaining('Node "call" sends secret "crm-token"') } } });
  expect(await runsOf(org.alice)).toEqual([]);
});

it('the value reaches the receiver, and nothing else: not history, snapshots, events, review, page', async () => {
  const org = await organization();
  await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: `Bearer ${TOKEN}` });
  await call(org.admin, 'PUT', '/v1/secrets/crm-hook', { value: `http://127.0.0.1:${port}${HOOK_PATH}?sig=${TOKEN}` });
  const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', webhookDraft({ url: { $secret: 'crm-hook' }, headers: { Authorization: { $secret: 'crm-token' }, 'X-Team': 'sales' } }));
  expect(created).toMatchObject({ status: 201, body: { status: 'pending-approval' } });
  const { runId } = created.body;
  // The person deciding sees which secrets it sends, by name.
  const review = await call<{ steps: Array<{ executor: unknown }>; externalCalls: Array<{ url: string }> }>(org.alice, 'GET', `/v1/plans/${runId}/review`);
  expect(review.body.steps[0]!.executor).toEqual({ type: 'system', action: 'webhook', url: { $secret: 'crm-hook' }, headers: { Authorization: { $secret: 'crm-token' }, 'X-Team': 'sales' } });
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
  const text = JSON.stringify(everything, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
  expect(text).toContain('crm-token');
  expect(text).not.toContain(TOKEN);
});

it('a step whose secret was deleted after approval fails without calling out, naming it', async () => {
  const org = await organization();
  await call(org.admin, 'PUT', '/v1/secrets/crm-token', { value: TOKEN });
  const path = `/gone/${randomUUID()}`;
  const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', webhookDraft({ url: `http://127.0.0.1:${port}${path}`, headers: { Authorization: { $secret: 'crm-token' } } }));
  expect((await call(org.admin, 'DELETE', '/v1/secrets/crm-token')).status).toBe(204);
  expect((await call(org.alice, 'POST', `/v1/plans/${created.body.runId}/approve`, {})).status).toBe(200);
  const failed = await eventually(`run ${created.body.runId} to fail`, async () => {
    const run = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${created.body.runId}`)).body;
    return run.status === 'failed' ? run : undefined;
  });
  expect(failed.nodes[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('sends secret "crm-token", which organization') });
  expect(received.filter((entry) => entry.url.startsWith(path))).toEqual([]);
});

it('credentials an older run wrote into its plan come back masked from every answer', async () => {
  const org = await organization();
  const runId = randomUUID();
  // As a client from before secrets would have started it: the credentials are in the plan itself.
  const plan = compileDraft(webhookDraft({ url: `http://127.0.0.1:${port}/old` }).draft);
  plan.nodes[0]!.executor = { type: 'system', action: 'webhook', url: `http://bot:${TOKEN}@127.0.0.1:${port}/old?token=${TOKEN}&team=sales`, headers: { Authorization: `Bearer ${TOKEN}`, 'X-Team': 'sales' } };
  await stack().client.workflow.start('planRun', {
    workflowId: workflowIdOf(runId),
    taskQueue: stack().config.taskQueue,
    args: [planRunInput({ runId, planSpecId: runId, organizationId: org.organizationId, threadId: 't-1', leadAgentId: 'planner', requireApproval: true, plan })],
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
  const answers = [stored, await call(org.alice, 'GET', '/v1/plans'), await call(org.alice, 'GET', `/v1/plans/${runId}/review`), await call(org.alice, 'GET', '/v1/threads/t-1/plans')];
  expect(JSON.stringify(answers)).not.toContain(TOKEN);
  const rejected = await call(org.alice, 'POST', `/v1/plans/${runId}/reject`, { reason: 'Old credentials.' });
  expect(rejected.status).toBe(200);
  expect(JSON.stringify(rejected.body)).not.toContain(TOKEN);
});
