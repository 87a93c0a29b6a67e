import { randomUUID } from 'node:crypto';

import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { OpenAPIClientAxios } from 'openapi-client-axios';

import type { Stack } from '../../app/stack.js';
import { linearDraft } from '../support/drafts.js';
import { startTestStack } from '../support/stack.js';
import { tokenFor } from '../support/principals.js';

/**
 * The OpenAPI document is generated from the routes' own schemas: a standard validator accepts
 * it, and a client generated from it at run time — method names from operationIds, paths and
 * bodies from the document — drives the API, every answer matching its documented schema.
 */

let stack: Stack;
type Document = {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};
type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: { required?: boolean };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};
let document: Document;

beforeAll(async () => {
  stack = await startTestStack();
  document = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as Document;
});
afterAll(async () => {
  await stack?.stop();
});

const operations = () =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );

it('is a valid OpenAPI 3.1 document, served from where it was fetched', async () => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(document));
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
  expect(document.openapi).toBe('3.1.0');
  expect(document.servers).toEqual([{ url: stack.apiUrl }]);
});

it('names every operation, declares 413 wherever a body is sent, and needs no token only for health and links', () => {
  const ids = operations().map(({ operation }) => operation.operationId);
  expect(ids.every((id) => typeof id === 'string')).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
  for (const { path, method, operation } of operations()) {
    if (operation.requestBody)
      expect([method, path, Object.keys(operation.responses)]).toEqual([method, path, expect.arrayContaining(['413'])]);
    const open = path === '/healthz' || (path.startsWith('/links/') && method === 'get');
    // Using a link takes the token of the person it names, or none from that person's own subscription.
    const optional = path.startsWith('/links/') && method === 'post';
    expect([path, method, operation.security]).toEqual([path, method, open ? [] : optional ? [{}, { bearer: [] }] : undefined]);
  }
  expect(document.paths['/v1/events']!.get!.responses['200']!.content).toHaveProperty('text/event-stream');
  for (const path of ['/v1/plans', '/v1/threads/{threadId}/plans', '/v1/threads/{threadId}/summaries']) {
    expect(document.paths[path]!.get!.responses['200']).toMatchObject({ headers: { 'X-Next-Cursor': { schema: { type: 'string' } } } });
  }
  expect(document.paths['/v1/schedules/{scheduleId}/pause']!.post!.requestBody!.required).toBe(false);
  expect(document.paths['/v1/plans/{runId}/approve']!.post!.requestBody!.required).toBe(true);
});

it('a client generated from the document drives the API, and every answer matches its documented schema', async () => {
  const organizationId = `org-${randomUUID()}`;
  type Operations = Record<string, (params?: unknown, body?: unknown) => Promise<{ status: number; data: unknown }>>;
  const clientFor = async (token: string) =>
    (await new OpenAPIClientAxios({
      definition: structuredClone(document) as never,
      axiosConfigDefaults: { headers: { authorization: `Bearer ${token}` }, validateStatus: () => true },
    }).init()) as unknown as Operations;
  // A person who decides, and the agent that drafts (the requester of a plan never decides it).
  const client = await clientFor(await tokenFor(stack, organizationId, 'alice'));
  const planner = await clientFor(await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] }));
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ ...structuredClone(document), $id: 'doc' });
  const pointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');
  /** Calls an operation and checks its answer against the schema the document gives for that status. */
  const call = async (operationId: string, params?: unknown, body?: unknown, as: Operations = client) => {
    const answer = await as[operationId]!(params, body);
    const { path, method, operation } = operations().find((candidate) => candidate.operation.operationId === operationId)!;
    if (operation.responses[String(answer.status)]?.content?.['application/json']) {
      const ref = `doc#/paths/${pointer(path)}/${method}/responses/${answer.status}/content/${pointer('application/json')}/schema`;
      const matches = ajv.validate({ $ref: ref }, answer.data);
      expect([operationId, answer.status, matches ? 'matches' : ajv.errorsText()]).toEqual([operationId, answer.status, 'matches']);
    } else {
      expect([operationId, answer.status, 'documented']).toEqual([
        operationId,
        answer.status,
        operation.responses[String(answer.status)] ? 'documented' : 'undocumented',
      ]);
    }
    return answer;
  };

  expect((await call('me')).data).toEqual({ organizationId, id: 'alice', kind: 'person', roles: ['approver'], signedIn: null });
  const created = await call(
    'createPlan',
    null,
    { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft: { ...linearDraft(1), schedule: { every: '1h' } } },
    planner,
  );
  expect(created.status).toBe(201);
  const runId = (created.data as { runId: string }).runId;
  expect((await call('getPlanSchedule', { runId })).data).toMatchObject({ attached: false, text: expect.any(String) });
  expect((await call('reviewPlan', { runId })).data).toMatchObject({
    runId,
    you: { may: true, why: null },
    externalCalls: [],
    steps: [expect.objectContaining({ timeout: '10m' })],
  });
  expect((await call('diffPlan', { runId })).data).toEqual({
    runId,
    revision: expect.any(String),
    replacedRunId: null,
    replacedRevision: null,
    revisions: [{ number: 1, revision: expect.any(String), editedBy: null, onBehalfOf: null, editedAt: null }],
    from: null,
    to: null,
    diff: null,
  });
  // Answered once stored: the run as it stands then, approved and possibly already further on.
  expect(['running', 'completed']).toContain(
    ((await call('approvePlan', { runId }, { threadId: 't-9' })).data as { status: string }).status,
  );
  expect((await call('approvePlan', { runId }, { threadId: 't-9' })).status).toBe(409);
  expect((await call('getPlan', { runId, include: 'events,checkpoints,approvals,artifacts' })).status).toBe(200);
  expect((await call('listPlans', { status: 'running,completed' })).status).toBe(200);
  expect((await call('listThreadSummaries', { threadId: 't-1' })).status).toBe(200);
  const scheduleId = (await call('getPlan', { runId })).data as { scheduleId: string };
  expect((await call('pauseSchedule', { scheduleId: scheduleId.scheduleId })).data).toMatchObject({ paused: true });
  expect((await call('resumeSchedule', { scheduleId: scheduleId.scheduleId }, { note: 'Back.' })).data).toMatchObject({ paused: false });
  const subscribed = await call('createSubscription', null, {
    url: 'https://hooks.example.com/hook',
    eventTypes: ['plan-approved'],
    personal: true,
  });
  expect(subscribed.data).toHaveProperty('secret');
  expect((await call('listSubscriptions')).data).toEqual([expect.not.objectContaining({ secret: expect.anything() })]);
  expect(
    (await call('deleteSubscription', { subscriptionId: (subscribed.data as { subscriptionId: string }).subscriptionId })).status,
  ).toBe(204);
  expect((await call('doctor')).status).toBe(403);
  expect((await call('getPolicy')).data).toMatchObject({ version: 0, policy: { required: 1 } });
  expect((await call('policyHistory')).data).toEqual([]);
  expect((await call('listTokens')).status).toBe(403);
  const admin = await clientFor(await tokenFor(stack, organizationId, 'root', { roles: ['admin'] }));
  expect((await call('doctor', null, undefined, admin)).status).toBe(200);
  expect((await call('setPolicy', null, { required: 2 }, admin)).data).toMatchObject({ version: 1, updatedBy: 'root' });
  const made = await call('createToken', null, { principalId: 'temp', kind: 'service' }, admin);
  expect(made.status).toBe(201);
  expect((await call('listTokens', null, undefined, admin)).status).toBe(200);
  expect((await call('setSecret', { name: 'crm-token' }, { value: 'Bearer v' })).status).toBe(403);
  expect((await call('setSecret', { name: 'crm-token' }, { value: 'Bearer v', hosts: ['api.crm.example'] }, admin)).data).toMatchObject({
    name: 'crm-token',
    hosts: ['api.crm.example'],
    updatedBy: 'root',
  });
  expect((await call('listSecrets', null, undefined, admin)).data).toEqual([
    { name: 'crm-token', hosts: ['api.crm.example'], updatedBy: 'root', updatedAt: expect.any(String) },
  ]);
  expect((await call('deleteSecret', { name: 'crm-token' }, undefined, admin)).status).toBe(204);
  expect((await call('revokeToken', { tokenId: (made.data as { tokenId: string }).tokenId }, undefined, admin)).data).toMatchObject({
    revokedBy: 'root',
  });
  expect((await call('deleteSchedule', { scheduleId: scheduleId.scheduleId })).status).toBe(204);
  expect((await call('getPlan', { runId: 'no-such-run' })).status).toBe(404);
  expect((await call('reviewPlan', { runId: 'no-such-run' })).status).toBe(404);
  expect((await call('diffPlan', { runId: 'no-such-run' })).status).toBe(404);
});
