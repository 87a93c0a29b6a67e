import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { trace } from '@opentelemetry/api';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { cachedWorkflowBundle } from '../../worker/bundle.js';
import { eventually, startTestStack, tempDir, workflowBundle } from '../support/stack.js';
import { tokenFor } from '../support/principals.js';

/*
 * Traces end to end (docs/tracing.md): an in-process OTLP/HTTP receiver collects what a stack
 * exports, a webhook receiver what the worker calls. One create → approve → complete, sent with
 * one caller's trace, is one trace: the API requests, the Temporal client's calls, the workflow,
 * its activities, the SurrealDB writes and the calls out, carrying the run, organization and
 * principal — and never a secret, a token or a payload.
 */

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
  kvlistValue?: { values?: Array<{ key: string; value: OtlpValue }> };
}
interface OtlpSpan {
  traceId: string;
  status?: { code?: number; message?: string };
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: OtlpValue }>;
  events?: Array<{ name: string; attributes?: Array<{ key: string; value: OtlpValue }> }>;
}
interface CollectedSpan extends OtlpSpan {
  /** The span's attributes, read. */
  values: Record<string, unknown>;
  /** Its resource's attributes, read. */
  resource: Record<string, unknown>;
}

function valueOf(value: OtlpValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.kvlistValue) return Object.fromEntries((value.kvlistValue.values ?? []).map(({ key, value: inner }) => [key, valueOf(inner)]));
  return undefined;
}
const read = (attributes: OtlpSpan['attributes'] = []) => Object.fromEntries(attributes.map(({ key, value }) => [key, valueOf(value)]));

/** A tiny OTLP/HTTP JSON receiver on /v1/traces, as a collector would be. */
class OtlpReceiver {
  readonly spans: CollectedSpan[] = [];
  readonly exportHeaders: IncomingHttpHeaders[] = [];
  readonly bodies: string[] = [];
  private server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.statusCode = 404;
        return response.end();
      }
      this.exportHeaders.push(request.headers);
      this.bodies.push(body);
      const parsed = JSON.parse(body) as {
        resourceSpans?: Array<{ resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
      };
      for (const resourceSpans of parsed.resourceSpans ?? []) {
        const resource = read(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? [])
          for (const span of scope.spans ?? []) this.spans.push({ ...span, values: read(span.attributes), resource });
      }
      response.setHeader('content-type', 'application/json');
      response.end('{}');
    });
  });
  url = '';
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
    return this;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  ofTrace(traceId: string): CollectedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }
}

/** The webhook steps' and subscriptions' receiver: what each call carried in its headers. */
class HookReceiver {
  readonly calls: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];
  /** The agent's next answer fails, quoting what it was sent (its attempt is retried). */
  failNextAgentCall = false;
  private server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      this.calls.push({ path: request.url ?? '', headers: request.headers, body });
      if (request.url === '/agent' && this.failNextAgentCall) {
        this.failNextAgentCall = false;
        response.statusCode = 500;
        return response.end(`could not handle ${body}`);
      }
      response.setHeader('content-type', 'application/json');
      response.end('{"ok":true}');
    });
  });
  host = '';
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const traceparent = (traceId: string, flags = '01') => `00-${traceId}-${hex(8)}-${flags}`;

async function api<T>(
  stack: Stack,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const SECRET = `sk-live-${hex(12)}`;
const PAYLOAD = `payload-marker-${hex(6)}`;

interface Scenario {
  runId: string;
  organizationId: string;
  tokens: string[];
}

/**
 * A plan an agent drafts for another thread (so it waits for approval) whose one step calls the
 * hook receiver with a secret in a header and a payload, with a subscription to its events;
 * created and approved with `headers` (a caller's traceparent), and run to completion.
 */
async function createApproveComplete(stack: Stack, hooks: HookReceiver, headers: () => Record<string, string>): Promise<Scenario> {
  const organizationId = `org-${randomUUID()}`;
  await stack.plans.policies.set(organizationId, { egress: { allow: [hooks.host] } }, 'test');
  await stack.plans.secrets.set(organizationId, 'hook-token', { value: SECRET, hosts: [hooks.host] }, 'ops');
  const ops = await tokenFor(stack, organizationId, 'ops', { roles: ['admin'] });
  const alice = await tokenFor(stack, organizationId, 'alice');
  const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  const subscribed = await api(stack, ops, 'POST', '/v1/subscriptions', {
    url: `http://${hooks.host}/notify`,
    eventTypes: ['plan-approved', 'plan-completed'],
  });
  expect(subscribed.status).toBe(201);
  const draft = {
    title: 'Traced plan',
    objective: `Call the hook (${PAYLOAD}).`,
    nodes: [
      {
        id: 'call',
        title: 'Call the hook',
        instructions: `Send ${PAYLOAD}.`,
        executor: {
          type: 'system',
          action: 'webhook',
          url: `http://${hooks.host}/step`,
          headers: { authorization: { $secret: 'hook-token' } },
          body: { marker: PAYLOAD },
        },
      },
      {
        id: 'ask',
        title: 'Ask the agent',
        instructions: `About ${PAYLOAD}.`,
        executor: { type: 'agent', agentId: 'remote' },
        dependsOn: ['call'],
      },
    ],
  };
  const created = await api<PlanSnapshot>(
    stack,
    planner,
    'POST',
    '/v1/plans',
    { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft },
    headers(),
  );
  expect(created.status).toBe(201);
  expect(created.body.status).toBe('pending-approval');
  const { runId } = created.body;
  const approved = await api<PlanSnapshot>(stack, alice, 'POST', `/v1/plans/${runId}/approve`, { threadId: 't-9' }, headers());
  expect(approved.status).toBe(200);
  await eventually(
    `run ${runId} to complete`,
    async () => ((await api<PlanSnapshot>(stack, alice, 'GET', `/v1/plans/${runId}`)).body.status === 'completed' ? true : undefined),
    30_000,
  );
  await eventually(`the notification of ${runId}'s completion`, async () =>
    hooks.calls.some((call) => call.path === '/notify' && call.body.includes('plan-completed') && call.body.includes(runId))
      ? true
      : undefined,
  );
  return { runId, organizationId, tokens: [ops, alice, planner] };
}

/** Every string a span tells: its name, attributes, events' attributes and resource. */
function everythingTold(span: CollectedSpan): string {
  return JSON.stringify([
    span.name,
    span.values,
    span.resource,
    span.status,
    (span.events ?? []).map((event) => [event.name, read(event.attributes)]),
  ]);
}

const hooks = new HookReceiver();
const receiver = new OtlpReceiver();
beforeAll(async () => {
  await hooks.start();
  await receiver.start();
});
afterAll(async () => {
  await hooks.stop();
  await receiver.stop();
});

it('with no OTEL_* configuration nothing is traced: no SDK, no traceparent sent, nothing exported, and the stack works', async () => {
  const stack = await startTestStack({ egressAllow: [hooks.host], httpAgents: [{ name: 'remote', url: `http://${hooks.host}/agent` }] });
  try {
    expect(stack.config.tracing).toBeUndefined();
    expect(stack.tracing).toBeUndefined();
    // The OpenTelemetry API has no SDK behind it: its spans record nothing.
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    const before = hooks.calls.length;
    const { runId } = await createApproveComplete(stack, hooks, () => ({ traceparent: traceparent(hex(16)) }));
    const calls = hooks.calls.slice(before);
    expect(calls.filter((call) => call.path === '/step')).toHaveLength(1);
    expect(calls.filter((call) => call.path === '/agent')).toHaveLength(1);
    expect(calls.filter((call) => call.path === '/notify' && call.body.includes(runId)).length).toBeGreaterThanOrEqual(2);
    for (const call of calls) expect(call.headers.traceparent).toBeUndefined();
  } finally {
    await stack.stop();
  }
  expect(receiver.bodies).toHaveLength(0);
}, 90_000);

describe('with an OTLP endpoint', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({
      egressAllow: [hooks.host],
      httpAgents: [{ name: 'remote', url: `http://${hooks.host}/agent` }],
      tracing: {
        endpoint: receiver.url,
        protocol: 'http/json',
        headers: { 'x-collector-key': 'collector-credential' },
        serviceName: 'plans-under-test',
        resourceAttributes: { 'deployment.environment.name': 'test' },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    // Stopped, the SDK is unregistered: the API is a no-op again.
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
  });

  /** The spans of `traceId` once those named have arrived (the stack's batches flushed meanwhile). */
  const spansOf = (traceId: string, names: string[]) =>
    eventually(
      `spans ${names.join(', ')} of trace ${traceId}`,
      async () => {
        await stack.tracing!.flush();
        const spans = receiver.ofTrace(traceId);
        return names.every((name) => spans.some((span) => span.name === name)) ? spans : undefined;
      },
      30_000,
    );

  it('one create → approve → complete sent with one traceparent is one trace, from the API request to the webhook, with whose work it is and no secret', async () => {
    const traceId = hex(16);
    const sent: string[] = [];
    const before = hooks.calls.length;
    // The agent's first attempt fails with an answer quoting the step's payload: the error is traced, the quote is not.
    hooks.failNextAgentCall = true;
    const { runId, organizationId, tokens } = await createApproveComplete(stack, hooks, () => {
      const header = traceparent(traceId);
      sent.push(header);
      return { traceparent: header };
    });
    const names = [
      'POST /v1/plans',
      'POST /v1/plans/:runId/approve',
      'UpdateWithStartWorkflow:persistedPlan',
      'StartWorkflowUpdate:approvePlan',
      'RunWorkflow:planRun',
      'HandleUpdate:approvePlan',
      'StartActivity:executeNode',
      'RunActivity:executeNode',
      'surrealdb persistTransitions',
      'POST webhook step',
      'POST notification',
      'POST agent',
    ];
    const spans = await spansOf(traceId, names);
    const named = (name: string) => spans.filter((span) => span.name === name);
    const one = (name: string) => named(name)[0]!;

    // The chain: the caller's span → API request → Temporal client → workflow → activity → the call out.
    const create = one('POST /v1/plans');
    const approve = one('POST /v1/plans/:runId/approve');
    expect(create.parentSpanId).toBe(sent[0]!.split('-')[2]);
    expect(approve.parentSpanId).toBe(sent[1]!.split('-')[2]);
    expect(create.kind).toBe(2); // SERVER
    expect(one('UpdateWithStartWorkflow:persistedPlan').parentSpanId).toBe(create.spanId);
    expect(one('StartWorkflowUpdate:approvePlan').parentSpanId).toBe(approve.spanId);
    expect(one('RunWorkflow:planRun').parentSpanId).toBe(one('UpdateWithStartWorkflow:persistedPlan').spanId);
    expect(one('HandleUpdate:approvePlan').parentSpanId).toBe(one('StartWorkflowUpdate:approvePlan').spanId);
    const activity = one('RunActivity:executeNode');
    expect(named('StartActivity:executeNode').map((span) => span.spanId)).toContain(activity.parentSpanId);
    const step = one('POST webhook step');
    expect(step.parentSpanId).toBe(activity.spanId);
    expect(step.kind).toBe(3); // CLIENT
    expect(spans.filter((span) => span.name.startsWith('surrealdb ')).every((span) => span.values['db.system'] === 'surrealdb')).toBe(true);

    // Whose work it is: the run, the organization, who asked.
    expect(create.values).toMatchObject({
      'plans.run_id': runId,
      'plans.organization_id': organizationId,
      'plans.principal_id': 'planner',
      'http.route': '/v1/plans',
      'http.response.status_code': 201,
    });
    expect(approve.values).toMatchObject({ 'plans.run_id': runId, 'plans.organization_id': organizationId, 'plans.principal_id': 'alice' });
    for (const name of [
      'RunWorkflow:planRun',
      'RunActivity:executeNode',
      'surrealdb persistTransitions',
      'POST webhook step',
      'POST notification',
    ])
      expect(one(name).values).toMatchObject({ 'plans.run_id': runId, 'plans.organization_id': organizationId });
    expect(one('UpdateWithStartWorkflow:persistedPlan').values).toMatchObject({ 'plans.run_id': runId, 'plans.principal_id': 'planner' });
    expect(create.resource).toMatchObject({ 'service.name': 'plans-under-test', 'deployment.environment.name': 'test' });

    // The receivers of the calls out got the trace, and the collector its credential.
    const calls = hooks.calls.slice(before).filter((call) => call.body.includes(runId) || call.path === '/step');
    expect(calls.filter((call) => call.path === '/step')).toHaveLength(1);
    expect(calls.filter((call) => call.path === '/agent')).toHaveLength(2);
    expect(calls.filter((call) => call.path === '/notify').length).toBeGreaterThanOrEqual(2);
    for (const call of calls) expect(String(call.headers.traceparent).split('-')[1]).toBe(traceId);
    const failed = named('RunActivity:executeNode').find((span) => span.status?.code === 2);
    expect(failed?.status?.message).toBeUndefined();
    expect(failed?.events?.map((event) => [event.name, read(event.attributes)])).toEqual([['exception', { 'exception.type': 'Error' }]]);
    expect(
      named('POST agent')
        .map((span) => span.values['http.response.status_code'])
        .sort(),
    ).toEqual([200, 500]);
    expect(String(calls.find((call) => call.path === '/step')!.headers.traceparent).split('-')[2]).toBe(step.spanId);
    expect(receiver.exportHeaders.every((headers) => headers['x-collector-key'] === 'collector-credential')).toBe(true);

    // Never a secret, a token, a payload or the collector's credential in what a span tells.
    const forbidden = [SECRET, PAYLOAD, 'collector-credential', ...tokens];
    for (const span of receiver.spans) {
      const told = everythingTold(span);
      for (const value of forbidden) expect(told).not.toContain(value);
    }
    for (const body of receiver.bodies) for (const value of forbidden) expect(body).not.toContain(value);
  }, 90_000);

  it('a decision without a traceparent starts its own trace; a caller’s "not sampled" flag does not hide a request', async () => {
    const organizationId = `org-${randomUUID()}`;
    const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
    const unsampled = hex(16);
    const created = await api<PlanSnapshot>(
      stack,
      planner,
      'POST',
      '/v1/plans',
      {
        threadId: 't-1',
        leadAgentId: 'planner',
        draft: { title: 'Quick', objective: 'Do it.', nodes: [{ id: 'a', title: 'A', executor: { type: 'system', action: 'noop' } }] },
      },
      { traceparent: traceparent(unsampled, '00') },
    );
    expect(created.status).toBe(201);
    const spans = await spansOf(unsampled, ['POST /v1/plans', 'UpdateWithStartWorkflow:persistedPlan']);
    expect(spans.find((span) => span.name === 'POST /v1/plans')!.values['plans.run_id']).toBe(created.body.runId);
    const read = await api<PlanSnapshot>(stack, planner, 'GET', `/v1/plans/${created.body.runId}`);
    expect(read.status).toBe(200);
    await eventually('the read’s own trace', async () => {
      await stack.tracing!.flush();
      return receiver.spans.find(
        (span) =>
          span.name === 'GET /v1/plans/:runId' &&
          span.values['plans.run_id'] === created.body.runId &&
          span.traceId !== unsampled &&
          !span.parentSpanId,
      );
    });
  }, 60_000);

  it('what a caller sends in trace headers names at most a parent: a malformed traceparent is ignored, never refused, and no header becomes an attribute', async () => {
    const organizationId = `org-${randomUUID()}`;
    const planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
    const created = await api<PlanSnapshot>(stack, planner, 'POST', '/v1/plans', {
      threadId: 't-1',
      leadAgentId: 'planner',
      draft: { title: 'Quick', objective: 'Do it.', nodes: [{ id: 'a', title: 'A', executor: { type: 'system', action: 'noop' } }] },
    });
    const path = `/v1/plans/${created.body.runId}`;
    const smuggled = hex(16);
    const malformed = [
      `00-${'0'.repeat(32)}-${hex(8)}-01`, // an all-zero trace id
      `00-${smuggled}-${hex(8)}-01-plans.organization_id=evil`, // version 00 with more after its flags
      `ff-${smuggled}-${hex(8)}-01`, // the forbidden version
      `00-${smuggled.toUpperCase()}-${hex(8)}-01`, // upper-case hex
      `00-${smuggled}-${'0'.repeat(16)}-01`, // an all-zero parent
      'x'.repeat(8000),
      '00-evil\r\n',
    ];
    for (const header of malformed) {
      const answer = await fetch(`${stack.apiUrl}${path}`, {
        headers: {
          authorization: `Bearer ${planner}`,
          traceparent: header.replace(/[\r\n]/g, ''),
          tracestate: 'plans.organization_id=evil,congo=t61rcWkgMzE',
          baggage: 'plans.organization_id=evil,plans.principal_id=evil',
          'x-plans-organization-id': 'evil',
        },
      });
      expect(answer.status).toBe(200);
      await answer.text();
    }
    // Two traceparent headers at once are one malformed value.
    const twice = await fetch(`${stack.apiUrl}${path}`, {
      headers: [
        ['authorization', `Bearer ${planner}`],
        ['traceparent', traceparent(smuggled)],
        ['traceparent', traceparent(hex(16))],
      ],
    });
    expect(twice.status).toBe(200);
    await twice.text();
    const reads = await eventually('every read’s span', async () => {
      await stack.tracing!.flush();
      const spans = receiver.spans.filter(
        (span) => span.name === 'GET /v1/plans/:runId' && span.values['plans.run_id'] === created.body.runId,
      );
      return spans.length >= malformed.length + 1 ? spans : undefined;
    });
    for (const span of reads) {
      expect(span.traceId).not.toBe(smuggled);
      expect(span.traceId).not.toBe('0'.repeat(32));
      expect(span.parentSpanId || undefined).toBeUndefined(); // each a trace of its own
      expect(span.values).toMatchObject({ 'plans.organization_id': organizationId, 'plans.principal_id': 'planner' });
    }
    expect(receiver.ofTrace(smuggled)).toHaveLength(0);
    for (const span of receiver.spans) expect(everythingTold(span)).not.toContain('evil');
  }, 60_000);
});

it('the workflow bundle holds the tracing interceptors only when tracing is on, in memory and as the file plans start caches', async () => {
  const marker = 'OpenTelemetryInboundInterceptor';
  expect((await workflowBundle()).code).not.toContain(marker);
  expect((await workflowBundle({ tracing: true })).code).toContain(marker);
  const { codePath } = await cachedWorkflowBundle(tempDir('plans-traced-bundle-'), { tracing: true });
  expect(basename(codePath)).toMatch(/^workflow-bundle-[0-9a-f]{16}-traced\.js$/);
  expect(readFileSync(codePath, 'utf8')).toContain(marker);
}, 120_000);
