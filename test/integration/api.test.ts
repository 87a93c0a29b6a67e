import { randomUUID } from 'node:crypto';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot, PlanSummary } from '../../domain/snapshot.js';
import { approveSignal } from '../../workflows/messages.js';
import { linearDraft } from '../support/drafts.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';
import { askApi } from '../support/http.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

interface Caller {
  organizationId: string;
  token: string;
}

const call = <T = unknown>(caller: Caller | undefined, method: string, path: string, body?: unknown, raw?: string) =>
  askApi<T>(stack.apiUrl, caller?.token, method, path, body, raw === undefined ? {} : { raw });

type ErrorBody = { error: { code: string; message: string; issues?: Array<{ code: string }> } };

/** A fresh organization with a token for `actor`. */
async function caller(actor = 'alice', organizationId = `org-${randomUUID()}`): Promise<Caller> {
  return { organizationId, token: await tokenFor(stack, organizationId, actor) };
}

/** An organization with an agent that drafts plans and a person who decides them. */
async function team(): Promise<{ planner: Caller; alice: Caller }> {
  const alice = await caller('alice');
  return {
    alice,
    planner: {
      organizationId: alice.organizationId,
      token: await tokenFor(stack, alice.organizationId, 'planner', { kind: 'agent', roles: [] }),
    },
  };
}

const planBody = (extra: Record<string, unknown> = {}) => ({
  threadId: 't-1',
  sourceThreadId: 't-9',
  leadAgentId: 'lead',
  draft: linearDraft(2),
  ...extra,
});

async function count(who: Caller): Promise<number> {
  return (await call<PlanSnapshot[]>(who, 'GET', '/v1/plans')).body.length;
}

it('answers /healthz without a token', async () => {
  expect(await call(undefined, 'GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok', down: [] } });
});

it('refuses every /v1 route without a valid token', async () => {
  for (const [method, path] of [
    ['GET', '/v1/plans'],
    ['POST', '/v1/plans'],
    ['GET', '/v1/plans/x'],
    ['POST', '/v1/plans/x/approve'],
    ['POST', '/v1/plans/x/reject'],
    ['POST', '/v1/plans/x/replace'],
    ['POST', '/v1/plans/x/abort'],
    ['POST', '/v1/plans/x/nodes/y/complete'],
    ['GET', '/v1/threads/t/plans'],
    ['GET', '/v1/threads/t/summaries'],
    ['GET', '/v1/schedules/plan-schedule:x'],
    ['POST', '/v1/schedules/plan-schedule:x/pause'],
    ['DELETE', '/v1/schedules/plan-schedule:x'],
  ] as const) {
    const missing = await call<ErrorBody>(undefined, method, path, method === 'POST' ? {} : undefined);
    expect([path, missing.status, missing.body.error.code]).toEqual([path, 401, 'unauthorized']);
    const wrong = await call<ErrorBody>(
      { organizationId: 'o', token: 'ept_not-a-token' },
      method,
      path,
      method === 'POST' ? {} : undefined,
    );
    expect([path, wrong.status]).toEqual([path, 401]);
  }
});

it('creates, decides and lists plans over HTTP, acting as the token says', async () => {
  const { planner, alice } = await team();
  const created = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', planBody());
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ status: 'pending-approval', organizationId: alice.organizationId, createdByAgentId: 'planner' });
  const runId = created.body.runId;

  const approved = await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${runId}/approve`, { threadId: 't-9' });
  expect(approved.status).toBe(200);
  expect(['running', 'completed']).toContain(approved.body.status); // its two no-op steps may be done when the answer is read

  const shown = await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${runId}?include=events,checkpoints,approvals`);
  expect(shown.body.events!.slice(0, 6).map((event) => [event.eventType, event.emittedBy])).toEqual([
    ['plan-created', 'planner'],
    ['plan-pending-approval', 'planner'],
    ['checkpoint-saved', 'system'],
    ['plan-approval-recorded', 'alice'],
    ['plan-approved', 'alice'],
    ['checkpoint-saved', 'system'],
  ]);
  expect(shown.body.checkpoints![1]).toMatchObject({ runStatus: 'running', readyNodeIds: ['step-1'] });
  expect(shown.body.approvals).toEqual([expect.objectContaining({ decision: 'approved', emittedBy: 'alice' })]);

  const schedule = await call<{ text: string | null; attached: boolean }>(alice, 'GET', `/v1/plans/${runId}/schedule`);
  expect(schedule.body).toMatchObject({ text: null, attached: false });

  const listed = await call<PlanSnapshot[]>(alice, 'GET', '/v1/plans?status=running,completed&sourceThreadId=t-9');
  expect(listed.body.map((plan) => plan.runId)).toEqual([runId]);

  // The approved run finishes its two no-op steps; then the thread's only active run is the next one.
  await eventually(`run ${runId} to be completed`, async () =>
    (await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${runId}`)).body.status === 'completed' ? true : undefined,
  );
  const waiting = await call<PlanSnapshot>(
    planner,
    'POST',
    '/v1/plans',
    planBody({ draft: { ...linearDraft(1), nodes: [{ id: 'ask', title: 'Ask', executor: { type: 'human' } }] } }),
  );
  const active = await call<PlanSnapshot[]>(alice, 'GET', '/v1/threads/t-1/plans');
  expect(active.body.map((plan) => plan.runId)).toEqual([waiting.body.runId]);
  const summaries = await call<PlanSummary[]>(alice, 'GET', '/v1/threads/t-1/summaries');
  expect(summaries.body).toEqual([expect.objectContaining({ runId: waiting.body.runId, status: 'pending-approval', nodeCount: 1 })]);

  const replaced = await call<PlanSnapshot>(planner, 'POST', `/v1/plans/${waiting.body.runId}/replace`, {
    threadId: 't-1',
    leadAgentId: 'lead',
    reason: 'Rework.',
    draft: linearDraft(1),
  });
  expect(replaced).toMatchObject({ status: 201, body: { replacedRunId: waiting.body.runId, status: 'pending-approval' } });
  const rejected = await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${replaced.body.runId}/reject`, {
    threadId: 't-1',
    resolution: 'changes-requested',
  });
  expect(rejected.body.status).toBe('aborted');
});

it('isolates organizations and never lets a body forge who acts', async () => {
  const alice = await caller('alice');
  const mallory = await caller('mallory');
  const { body: plan } = await call<PlanSnapshot>(alice, 'POST', '/v1/plans', planBody());

  expect(await call<ErrorBody>(mallory, 'GET', `/v1/plans/${plan.runId}`)).toMatchObject({
    status: 404,
    body: { error: { code: 'not-found' } },
  });
  expect(await count(mallory)).toBe(0);
  expect((await call<PlanSnapshot[]>(mallory, 'GET', '/v1/threads/t-1/plans')).body).toEqual([]);
  // Another organization's run is not found by any route, decisions included: a refusal must not reveal it exists.
  const notFound = { status: 404, body: { error: { code: 'not-found', message: `Plan run ${plan.runId} was not found.` } } };
  expect(await call<ErrorBody>(mallory, 'POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-1' })).toEqual(notFound);
  expect(await call<ErrorBody>(mallory, 'POST', `/v1/plans/${plan.runId}/reject`, { threadId: 't-1' })).toEqual(notFound);
  expect(await call<ErrorBody>(mallory, 'POST', `/v1/plans/${plan.runId}/abort`, { threadId: 't-1', reason: 'Mine now.' })).toEqual(
    notFound,
  );
  expect(await call<ErrorBody>(mallory, 'POST', `/v1/plans/${plan.runId}/nodes/step-1/complete`, { threadId: 't-1' })).toEqual(notFound);
  const replacement = { threadId: 't-1', leadAgentId: 'lead', reason: 'Mine now.', draft: linearDraft(1) };
  expect(await call<ErrorBody>(mallory, 'POST', `/v1/plans/${plan.runId}/replace`, replacement)).toEqual(notFound);
  expect(await call<ErrorBody>(mallory, 'GET', `/v1/plans/${plan.runId}/schedule`)).toEqual(notFound);
  const naming = await call<ErrorBody>(mallory, 'POST', `/v1/plans/${plan.runId}/approve`, {
    organizationId: alice.organizationId,
    threadId: 't-1',
  });
  expect(naming).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
  const forged = await call<ErrorBody>(alice, 'POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-1', emittedBy: 'ceo' });
  expect(forged).toMatchObject({
    status: 403,
    body: { error: { code: 'forbidden', message: "emittedBy is the token's principal (alice); it cannot be set to another." } },
  });
  const forgedCreator = await call<ErrorBody>(alice, 'POST', '/v1/plans', planBody({ createdByAgentId: 'someone-else' }));
  expect(forgedCreator.status).toBe(403);
  expect((await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}`)).body.status).toBe('pending-approval');
  expect(await count(alice)).toBe(1);
});

it('a person’s decision or step that names no thread is taken from the run’s deciding thread', async () => {
  const { planner, alice } = await team();
  const { body: plan } = await call<PlanSnapshot>(
    planner,
    'POST',
    '/v1/plans',
    planBody({ draft: { title: 'T', objective: 'O', nodes: [{ id: 'ask', title: 'Ask', executor: { type: 'human' } }] } }),
  );
  expect(await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${plan.runId}/approve`, {})).toMatchObject({
    status: 200,
    body: { status: 'awaiting-human' },
  });
  expect(await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${plan.runId}/nodes/ask/complete`, { output: 'done' })).toMatchObject({
    status: 200,
  });
  const done = await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}?include=approvals`);
  expect(done.body.approvals).toEqual([expect.objectContaining({ decision: 'approved', emittedBy: 'alice' })]);
});

it('refuses with one error shape and the fitting status', async () => {
  const { planner, alice } = await team();
  const { body: plan } = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', planBody({ draft: linearDraft(1) }));
  const decide = (path: string, body: unknown) => call<ErrorBody>(alice, 'POST', `/v1/plans/${plan.runId}/${path}`, body);

  expect(await decide('reject', { threadId: 't-5' })).toEqual({
    status: 403,
    body: { error: { code: 'wrong-thread', message: 'Plan run is not available in this thread context.' } },
  });
  expect((await decide('approve', { threadId: 't-1', extra: 1 })).status).toBe(400);
  expect((await decide('approve', { threadId: 't-1' })).status).toBe(200);
  expect(await decide('reject', { threadId: 't-1' })).toEqual({
    status: 409,
    body: { error: { code: 'not-pending', message: 'Only pending-approval plans can be rejected.' } },
  });
  expect((await call<ErrorBody>(alice, 'POST', '/v1/plans/no-such-run/approve', { threadId: 't-1' })).status).toBe(404);
  expect((await call<ErrorBody>(alice, 'GET', '/v1/plans/no-such-run')).body.error.code).toBe('not-found');
  expect((await call<ErrorBody>(alice, 'GET', '/v1/nowhere')).status).toBe(404);
});

it('refuses bad input, oversized bodies and injection attempts, and stores nothing', async () => {
  const alice = await caller('alice');
  const bad = linearDraft(2);
  bad.nodes[1]!.id = 'step-1';
  const invalid = await call<ErrorBody>(alice, 'POST', '/v1/plans', planBody({ draft: { ...bad, schedule: { cron: 'often' } } }));
  expect(invalid.status).toBe(400);
  expect(invalid.body.error.code).toBe('invalid-input');
  expect(invalid.body.error.message.split(' | ').map((part) => part.split(':')[0])).toEqual(['duplicate-node-id', 'invalid-schedule']);
  expect(invalid.body.error.issues!.map((issue) => issue.code)).toEqual(['duplicate-node-id', 'invalid-schedule']);

  expect((await call<ErrorBody>(alice, 'POST', '/v1/plans', undefined, '{"threadId": ')).status).toBe(400);
  expect((await call<ErrorBody>(alice, 'POST', '/v1/plans', undefined, 'null')).status).toBe(400);
  expect((await call<ErrorBody>(alice, 'POST', '/v1/plans', [1, 2])).status).toBe(400);
  const huge = await call<ErrorBody>(
    alice,
    'POST',
    '/v1/plans',
    planBody({ draft: { ...linearDraft(1), objective: 'x'.repeat(2_000_000) } }),
  );
  expect(huge).toMatchObject({ status: 413, body: { error: { code: 'too-large' } } });

  const injected = await call<ErrorBody>(alice, 'POST', '/v1/plans', planBody({ threadId: "t-1'; DELETE plan_run; --" }));
  expect(injected.status).toBe(400);
  expect(injected.body.error.message).toMatch(/threadId/);
  expect((await call<ErrorBody>(alice, 'GET', `/v1/plans/${encodeURIComponent('x; DELETE plan_run')}`)).status).toBe(400);
  expect((await call<ErrorBody>(alice, 'GET', '/v1/plans?status=sleeping')).status).toBe(400);
  expect((await call<ErrorBody>(alice, 'GET', '/v1/plans?include=secrets')).status).toBe(400);
  expect(await count(alice)).toBe(0);
});

it('describes itself in an OpenAPI document whose every path is a route', async () => {
  const { status, body } = await call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
    undefined,
    'GET',
    '/openapi.json',
  );
  expect(status).toBe(200);
  expect(body.openapi).toBe('3.1.0');
  for (const [path, methods] of Object.entries(body.paths)) {
    if (!path.startsWith('/v1')) continue;
    const url = path
      .replace('{runId}', 'r1')
      .replace('{nodeId}', 'n1')
      .replace('{threadId}', 't1')
      .replace('{scheduleId}', 'plan-schedule:s1')
      .replace('{subscriptionId}', 'c0ffee00-0000-4000-8000-000000000000');
    for (const method of Object.keys(methods)) {
      if (path === '/v1/events') continue; // a stream: checked by the live-events test
      const answer = await call<ErrorBody>(undefined, method.toUpperCase(), url, method === 'post' ? {} : undefined);
      expect([method, path, answer.status]).toEqual([method, path, 401]);
    }
  }
});

const FEED_WAIT_MS = 15_000;

/**
 * Reads server-sent events until `count` have arrived, or the feed ends. A feed that does not hand
 * them over within FEED_WAIT_MS is cut off, and the failure says what was awaited and what came.
 */
async function readFeed(
  who: Caller,
  count: number,
  query = '',
  lastEventId?: string,
): Promise<Array<{ id: string; event: string; data: { runId: string; eventType: string; feedSeq: number } }>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FEED_WAIT_MS);
  const received: Array<{ id: string; event: string; data: { runId: string; eventType: string; feedSeq: number } }> = [];
  try {
    const response = await fetch(`${stack.apiUrl}/v1/events${query}`, {
      headers: { authorization: `Bearer ${who.token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    while (received.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          frame
            .split('\n')
            .filter((line) => !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        if (fields.data) received.push({ id: fields.id!, event: fields.event!, data: JSON.parse(fields.data) });
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    const from = `/v1/events${query}${lastEventId ? ` after ${lastEventId}` : ''}`;
    throw new Error(
      `${count} events from ${from} for ${who.organizationId}: not within ${FEED_WAIT_MS / 1000} s; got ${received.length}: ${received.map((frame) => frame.event).join(', ') || 'none'}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return received;
}

it("streams an organization's events live, and a reconnect with Last-Event-ID resumes without a gap", async () => {
  const { planner, alice } = await team();
  const mallory = await caller('mallory');
  const watching = readFeed(alice, 3);
  const spying = readFeed(mallory, 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const first = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', planBody());
  const live = await watching;
  expect(live.map((frame) => [frame.event, frame.data.runId])).toEqual([
    ['plan-created', first.body.runId],
    ['plan-pending-approval', first.body.runId],
    ['checkpoint-saved', first.body.runId],
  ]);
  const lastSeen = live.at(-1)!.id;

  // While nobody listens: a decision and a second plan.
  await call(alice, 'POST', `/v1/plans/${first.body.runId}/reject`, { threadId: 't-1' });
  const second = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', planBody({ threadId: 't-2' }));
  const resumed = await readFeed(alice, 5, '', lastSeen);
  expect(resumed.map((frame) => Number(frame.id))).toEqual([1, 2, 3, 4, 5].map((step) => Number(lastSeen) + step));
  expect(resumed.map((frame) => frame.event)).toEqual([
    'plan-rejected',
    'checkpoint-saved',
    'plan-created',
    'plan-pending-approval',
    'checkpoint-saved',
  ]);

  const oneThread = await readFeed(alice, 3, '?threadId=t-2', '0');
  expect(oneThread.every((frame) => frame.data.runId === second.body.runId)).toBe(true);
  const bad = await call<ErrorBody>(alice, 'GET', '/v1/events?threadId=bad%20id');
  expect(bad.status).toBe(400);
  // A position the feed never handed out is refused at once rather than waited on forever.
  const beyond = await call<ErrorBody>(alice, 'GET', `/v1/events?after=${Number(resumed.at(-1)!.id) + 1000}`);
  expect(beyond).toMatchObject({
    status: 400,
    body: { error: { code: 'invalid-input', message: expect.stringContaining('beyond the end of this feed') } },
  });

  // Another organization hears nothing of it.
  const own = await call<PlanSnapshot>(mallory, 'POST', '/v1/plans', planBody());
  const theirs = await spying;
  expect(theirs[0]!.event).toBe('plan-created');
  expect(theirs.every((frame) => frame.data.runId === own.body.runId)).toBe(true);
});

it('lists a page at a time, newest first, with a cursor to the next page; a page costs the same whatever is stored', async () => {
  const { planner, alice } = await team();
  const created: string[] = [];
  for (let index = 0; index < 5; index++)
    created.push((await call<PlanSnapshot>(planner, 'POST', '/v1/plans', planBody({ threadId: `t-${index % 2}` }))).body.runId);
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const response = await fetch(
      `${stack.apiUrl}/v1/plans?status=pending-approval&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      { headers: { authorization: `Bearer ${alice.token}` } },
    );
    expect(response.status).toBe(200);
    pages.push(((await response.json()) as PlanSnapshot[]).map((plan) => plan.runId));
    cursor = response.headers.get('x-next-cursor');
  } while (cursor);
  expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
  expect(pages.flat()).toEqual([...created].reverse());
  // A filter the keys do not order by is applied across pages too.
  const thread = await call<PlanSnapshot[]>(alice, 'GET', '/v1/plans?threadId=t-0&limit=200');
  expect(thread.body.map((plan) => plan.runId)).toEqual([created[4], created[2], created[0]]);
  // A thread's active runs and their summaries page the same way.
  const threadPage = await fetch(`${stack.apiUrl}/v1/threads/t-0/plans?limit=2`, { headers: { authorization: `Bearer ${alice.token}` } });
  expect(((await threadPage.json()) as PlanSnapshot[]).map((plan) => plan.runId)).toEqual([created[4], created[2]]);
  const rest = await call<PlanSnapshot[]>(
    alice,
    'GET',
    `/v1/threads/t-0/plans?limit=2&cursor=${encodeURIComponent(threadPage.headers.get('x-next-cursor')!)}`,
  );
  expect(rest.body.map((plan) => plan.runId)).toEqual([created[0]]);
  const summaries = await fetch(`${stack.apiUrl}/v1/threads/t-1/summaries?limit=1`, {
    headers: { authorization: `Bearer ${alice.token}` },
  });
  expect(((await summaries.json()) as PlanSummary[]).map((summary) => summary.runId)).toEqual([created[3]]);
  expect(summaries.headers.get('x-next-cursor')).toEqual(expect.any(String));
  expect((await call<ErrorBody>(alice, 'GET', '/v1/plans?cursor=bm90LWEtY3Vyc29y')).body.error).toEqual({
    code: 'invalid-input',
    message: 'cursor is not one a list answered with; start again without it.',
  });
  expect((await call<ErrorBody>(alice, 'GET', '/v1/plans?limit=201')).status).toBe(400);
  // Fifty unless asked.
  for (let index = 0; index < 48; index++) await call(planner, 'POST', '/v1/plans', planBody());
  const first = await fetch(`${stack.apiUrl}/v1/plans`, { headers: { authorization: `Bearer ${alice.token}` } });
  expect(((await first.json()) as unknown[]).length).toBe(50);
  expect(first.headers.get('x-next-cursor')).toEqual(expect.any(String));
}, 60_000);

it("refused decisions are for admins: other principals find them neither in a run's events nor in the live feed", async () => {
  const { planner, alice } = await team();
  const admin = { organizationId: alice.organizationId, token: await tokenFor(stack, alice.organizationId, 'root', { roles: ['admin'] }) };
  const plan = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', planBody());
  const start = (await readFeed(admin, 3, '', '0')).at(-1)!.id;
  // Refused signals, then a decision: a reader who may not see the refusals is handed what follows them.
  const handle = stack.client.workflow.getHandle(plan.body.workflowId);
  for (let index = 0; index < 3; index++)
    await handle.signal(approveSignal, { organizationId: alice.organizationId, threadId: 't-9', emittedBy: 'lead' });
  await eventually(`run ${plan.body.runId} to record its 3 refused approve signals`, async () =>
    (await stack.plans.runs.get(plan.body.runId, { includeEvents: true })).events!.filter((event) => event.eventType === 'decision-refused')
      .length === 3
      ? true
      : undefined,
  );
  await call(alice, 'POST', `/v1/plans/${plan.body.runId}/reject`, { reason: 'No.' });
  const types = async (who: Caller) =>
    (await call<PlanSnapshot>(who, 'GET', `/v1/plans/${plan.body.runId}?include=events`)).body.events!.map((event) => event.eventType);
  expect(await types(admin)).toContain('decision-refused');
  expect(await types(alice)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved', 'plan-rejected', 'checkpoint-saved']);
  expect((await readFeed(admin, 5, '', start)).map((frame) => frame.event)).toEqual([
    'decision-refused',
    'decision-refused',
    'decision-refused',
    'plan-rejected',
    'checkpoint-saved',
  ]);
  expect((await readFeed(alice, 2, '', start)).map((frame) => frame.event)).toEqual(['plan-rejected', 'checkpoint-saved']);
});

it("every route on another organization's run or schedule answers 404, and nothing changes", async () => {
  const alice = await caller('alice');
  const mallory = await caller('mallory');
  const { body: plan } = await call<PlanSnapshot>(
    alice,
    'POST',
    '/v1/plans',
    planBody({ draft: { ...linearDraft(1), schedule: { every: '1h' } } }),
  );
  const attempts: Array<[string, string, unknown?]> = [
    ['GET', `/v1/plans/${plan.runId}`],
    ['GET', `/v1/plans/${plan.runId}/schedule`],
    ['GET', `/v1/plans/${plan.runId}/review`],
    ['GET', `/v1/plans/${plan.runId}/diff`],
    ['POST', `/v1/plans/${plan.runId}/approve`, { threadId: 't-1' }],
    ['POST', `/v1/plans/${plan.runId}/reject`, { threadId: 't-1' }],
    ['POST', `/v1/plans/${plan.runId}/abort`, { threadId: 't-1', reason: 'x' }],
    ['POST', `/v1/plans/${plan.runId}/nodes/step-1/complete`, { threadId: 't-1' }],
    ['POST', `/v1/plans/${plan.runId}/replace`, { threadId: 't-1', leadAgentId: 'l', reason: 'r', draft: linearDraft(1) }],
    ['GET', `/v1/schedules/plan-schedule:${plan.planSpecId}`],
    ['POST', `/v1/schedules/plan-schedule:${plan.planSpecId}/pause`, {}],
    ['DELETE', `/v1/schedules/plan-schedule:${plan.planSpecId}`],
  ];
  for (const [method, path, body] of attempts) {
    const answer = await call<ErrorBody>(mallory, method, path, body);
    expect([method, path, answer.status, answer.body.error.code]).toEqual([method, path, 404, 'not-found']);
  }
  const after = await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}?include=events`);
  expect(after.body.status).toBe('pending-approval');
  expect(after.body.events!.map((event) => event.eventType)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
});

it('every decision route refuses the wrong thread context, and nothing changes', async () => {
  const alice = await caller('alice');
  const { body: plan } = await call<PlanSnapshot>(alice, 'POST', '/v1/plans', planBody({ draft: linearDraft(1) }));
  for (const [path, body] of [
    ['approve', { threadId: 't-elsewhere' }],
    ['reject', { threadId: 't-elsewhere' }],
    ['abort', { threadId: 't-elsewhere', reason: 'x' }],
    ['nodes/step-1/complete', { threadId: 't-elsewhere' }],
    ['replace', { threadId: 't-elsewhere', leadAgentId: 'l', reason: 'r', draft: linearDraft(1) }],
  ] as const) {
    const answer = await call<ErrorBody>(alice, 'POST', `/v1/plans/${plan.runId}/${path}`, body);
    expect([path, answer.status, answer.body.error.message]).toEqual([path, 403, 'Plan run is not available in this thread context.']);
  }
  const after = await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}?include=events`);
  expect(after.body.events!.map((event) => event.eventType)).toEqual(['plan-created', 'plan-pending-approval', 'checkpoint-saved']);
});
