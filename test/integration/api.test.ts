import { randomUUID } from 'node:crypto';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot, PlanSummary } from '../../domain/snapshot.js';
import { linearDraft } from '../support/drafts.js';
import { startTestStack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

async function call<T = unknown>(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

type ErrorBody = { error: { code: string; message: string; issues?: Array<{ code: string }> } };

function scope() {
  return { organizationId: `org-${randomUUID()}`, threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'lead' };
}

async function count(organizationId: string): Promise<number> {
  return (await call<PlanSnapshot[]>('GET', `/v1/plans?organizationId=${organizationId}`)).body.length;
}

it('answers /healthz once ready', async () => {
  expect(await call('GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
});

it('creates, decides and lists plans over HTTP', async () => {
  const ctx = scope();
  const created = await call<PlanSnapshot>('POST', '/v1/plans', { ...ctx, draft: linearDraft(2) });
  expect(created.status).toBe(201);
  expect(created.body.status).toBe('pending-approval');
  const runId = created.body.runId;

  const approved = await call<PlanSnapshot>('POST', `/v1/plans/${runId}/approve`, { organizationId: ctx.organizationId, threadId: 't-9', emittedBy: 'alice' });
  expect(approved).toMatchObject({ status: 200, body: { status: 'running' } });

  const shown = await call<PlanSnapshot>('GET', `/v1/plans/${runId}?include=events,checkpoints,approvals`);
  expect(shown.body.events!.map((event) => event.eventType).slice(0, 5)).toEqual([
    'plan-created',
    'plan-pending-approval',
    'checkpoint-saved',
    'plan-approved',
    'checkpoint-saved',
  ]);
  expect(shown.body.checkpoints![1]).toMatchObject({ runStatus: 'running', readyNodeIds: ['step-1'] });
  expect(shown.body.approvals).toEqual([expect.objectContaining({ decision: 'approved', emittedBy: 'alice' })]);

  const listed = await call<PlanSnapshot[]>('GET', `/v1/plans?organizationId=${ctx.organizationId}&status=running,completed&sourceThreadId=t-9`);
  expect(listed.body.map((plan) => plan.runId)).toEqual([runId]);

  const waiting = await call<PlanSnapshot>('POST', '/v1/plans', { ...ctx, draft: { ...linearDraft(1), nodes: [{ id: 'ask', title: 'Ask', executor: { type: 'human' } }] } });
  const active = await call<PlanSnapshot[]>('GET', '/v1/threads/t-1/plans');
  expect(active.body.map((plan) => plan.runId)).toContain(waiting.body.runId);
  const summaries = await call<PlanSummary[]>('GET', '/v1/threads/t-1/summaries');
  expect(summaries.body.find((summary) => summary.runId === waiting.body.runId)).toMatchObject({ status: 'pending-approval', nodeCount: 1 });

  const replaced = await call<PlanSnapshot>('POST', `/v1/plans/${waiting.body.runId}/replace`, {
    organizationId: ctx.organizationId,
    threadId: 't-1',
    leadAgentId: 'lead',
    reason: 'Rework.',
    draft: linearDraft(1),
  });
  expect(replaced).toMatchObject({ status: 201, body: { replacedRunId: waiting.body.runId, status: 'pending-approval' } });
  const rejected = await call<PlanSnapshot>('POST', `/v1/plans/${replaced.body.runId}/reject`, {
    organizationId: ctx.organizationId,
    threadId: 't-1',
    emittedBy: 'bob',
    resolution: 'changes-requested',
  });
  expect(rejected.body.status).toBe('aborted');
});

it('refuses with one error shape and the fitting status', async () => {
  const ctx = scope();
  const { body: plan } = await call<PlanSnapshot>('POST', '/v1/plans', { ...ctx, draft: linearDraft(1) });
  const decide = (path: string, body: unknown) => call<ErrorBody>('POST', `/v1/plans/${plan.runId}/${path}`, body);
  const who = { organizationId: ctx.organizationId, threadId: 't-1', emittedBy: 'x' };

  expect(await decide('approve', { ...who, organizationId: 'other' })).toEqual({
    status: 403,
    body: { error: { code: 'wrong-organization', message: 'Plan run belongs to a different organization.' } },
  });
  expect(await decide('reject', { ...who, threadId: 't-5' })).toEqual({
    status: 403,
    body: { error: { code: 'wrong-thread', message: 'Plan run is not available in this thread context.' } },
  });
  expect((await decide('approve', { ...who, extra: 1 })).status).toBe(400);
  expect((await decide('approve', who)).status).toBe(200);
  expect(await decide('reject', who)).toEqual({
    status: 409,
    body: { error: { code: 'not-pending', message: 'Only pending-approval plans can be rejected.' } },
  });
  expect((await call<ErrorBody>('POST', '/v1/plans/no-such-run/approve', who)).status).toBe(404);
  expect((await call<ErrorBody>('GET', '/v1/plans/no-such-run')).body.error.code).toBe('not-found');
  expect((await call<ErrorBody>('GET', '/v1/nowhere')).status).toBe(404);
});

it('refuses bad input and stores nothing', async () => {
  const ctx = scope();
  const bad = linearDraft(2);
  bad.nodes[1]!.id = 'step-1';
  const invalid = await call<ErrorBody>('POST', '/v1/plans', { ...ctx, draft: { ...bad, schedule: { cron: 'often' } } });
  expect(invalid.status).toBe(400);
  expect(invalid.body.error.code).toBe('invalid-input');
  expect(invalid.body.error.message.split(' | ').map((part) => part.split(':')[0])).toEqual(['duplicate-node-id', 'invalid-schedule']);
  expect(invalid.body.error.issues!.map((issue) => issue.code)).toEqual(['duplicate-node-id', 'invalid-schedule']);

  expect((await call<ErrorBody>('POST', '/v1/plans', undefined, '{"organizationId": ')).status).toBe(400);
  expect((await call<ErrorBody>('POST', '/v1/plans', undefined, 'null')).status).toBe(400);
  expect((await call<ErrorBody>('POST', '/v1/plans', [1, 2])).status).toBe(400);
  const huge = await call<ErrorBody>('POST', '/v1/plans', { ...ctx, draft: { ...linearDraft(1), objective: 'x'.repeat(2_000_000) } });
  expect(huge.status).toBe(413);
  expect(huge.body.error.code).toBe('too-large');

  const injected = await call<ErrorBody>('POST', '/v1/plans', { ...ctx, threadId: "t-1'; DELETE plan_run; --", draft: linearDraft(1) });
  expect(injected.status).toBe(400);
  expect(injected.body.error.message).toMatch(/threadId/);
  expect((await call<ErrorBody>('GET', `/v1/plans/${encodeURIComponent('x; DELETE plan_run')}`)).status).toBe(400);
  expect((await call<ErrorBody>('GET', '/v1/plans')).status).toBe(400);
  expect((await call<ErrorBody>('GET', `/v1/plans?organizationId=${ctx.organizationId}&status=sleeping`)).status).toBe(400);
  expect((await call<ErrorBody>('GET', `/v1/plans?organizationId=${ctx.organizationId}&include=secrets`)).status).toBe(400);
  expect(await count(ctx.organizationId)).toBe(0);
});
