import { randomUUID } from 'node:crypto';

import fc from 'fast-check';

import type { Stack } from '../../app/stack.js';
import { validateDraft } from '../../domain/validate.js';
import { PlanError } from '../../domain/errors.js';
import { compileDraft } from '../../domain/validate.js';
import { tokenFor } from '../support/principals.js';
import { startTestStack, within } from '../support/stack.js';

/**
 * No input crashes or hangs anything: property-based tests (fast-check, seeded) throw malformed,
 * wrongly typed, huge, deep, unicode, SurrealQL-looking and path-traversing values at every
 * route of the OpenAPI document — bodies, path parameters, queries — and at the draft format.
 * Each answer is a 4xx in the error shape within a bound, and nothing is stored or started.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const ANSWER_WITHIN_MS = 3000;

let stack: Stack;
let token: string;
const organizationId = `org-${randomUUID()}`;

type Operation = { method: string; path: string; operationId: string };
let operations: Operation[];

beforeAll(async () => {
  stack = await startTestStack();
  // A person with the approver role: may decide, may not administer.
  token = await tokenFor(stack, organizationId, 'alice');
  const document = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { operationId: string }>>;
  };
  operations = Object.entries(document.paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operationId: operation.operationId })),
    )
    // A live stream never ends by itself; its refusals are tested with the feed.
    .filter((operation) => operation.path !== '/v1/events');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** Strings people and attackers send: SurrealQL, traversal, control and wide characters, sizes. */
const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom(
    "'; DELETE plan_run; --",
    'x" OR 1=1; REMOVE TABLE plan_run; --',
    '$organizationId',
    'type::thing("plan_run", "x")',
    '../../../etc/passwd',
    '..%2F..%2Fetc%2Fpasswd',
    '\u0000',
    '‮evil',
    '🧨'.repeat(40),
    'plan_run:⟨x⟩',
    '{{7*7}}',
    '<script>alert(1)</script>',
  ),
  fc.string({ minLength: 5000, maxLength: 20_000 }),
);

/** JSON nested `depth` levels, as text (a client could not even build the deepest). */
const deepText = fc.integer({ min: 60, max: 3000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
}

/** A value nested 60 to 6,000 levels. */
const deepValue = fc.integer({ min: 60, max: 6000 }).map(nested);

const hostileJson = fc.oneof(
  fc.anything({ maxDepth: 4, values: [hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null)] }),
  fc.dictionary(hostileString, fc.anything({ maxDepth: 2 })),
  // Almost right: the fields a route wants, wrongly typed or with extra ones.
  fc.record(
    {
      threadId: fc.oneof(hostileString, fc.integer(), fc.constant(null)),
      leadAgentId: fc.oneof(hostileString, fc.array(fc.string())),
      reason: fc.oneof(hostileString, fc.object(), deepValue),
      output: fc.oneof(fc.anything({ maxDepth: 3 }), deepValue),
      draft: fc.oneof(
        fc.anything({ maxDepth: 3 }),
        fc.record({ title: hostileString, nodes: fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 5 }) }),
      ),
      organizationId: hostileString,
      emittedBy: hostileString,
    },
    { requiredKeys: [] },
  ),
);

/** JSON.stringify recurses: values nested thousands of levels deep are written out by hand. */
function stringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const parts: string[] = [];
  const stack: Array<{ value: unknown } | { close: string }> = [{ value }];
  while (stack.length) {
    const item = stack.pop()!;
    if ('close' in item) {
      parts.push(item.close);
      continue;
    }
    const current = item.value;
    if (current === null || typeof current !== 'object') {
      parts.push(JSON.stringify(current) ?? 'null');
      continue;
    }
    const isArray = Array.isArray(current);
    const entries = Object.entries(current);
    parts.push(isArray ? '[' : '{');
    // Last in, first out: the closing bracket first, then each entry's value and, above it, its key.
    stack.push({ close: isArray ? ']' : '}' });
    for (let index = entries.length - 1; index >= 0; index--) {
      stack.push({ value: entries[index]![1] });
      stack.push({ close: `${index > 0 ? ',' : ''}${isArray ? '' : `${JSON.stringify(entries[index]![0])}:`}` });
    }
  }
  return parts.join('');
}

/** A raw body: JSON of any of the above, deep JSON, or text that is not JSON at all. */
const hostileBody = fc.oneof(
  hostileJson.map((value) => stringify(value)),
  deepText,
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '{"a":', '[1,2', 'nul', '\u0000', '{"threadId":"t-1",}', ''),
);

const segment = fc.oneof(hostileString, fc.uuid()).map((value) => encodeURIComponent(value.slice(0, 300) || 'x'));
const query = fc.dictionary(
  fc.constantFrom('include', 'status', 'limit', 'threadId', 'sourceThreadId', 'after', 'runId', 'x'),
  hostileString.map((value) => value.slice(0, 300)),
  { maxKeys: 3 },
);

/** Routes a person may call with a body that happens to be acceptable (reads, the doctor's check). */
const ANSWERS_MAY_SUCCEED = new Set([
  'doctor',
  'auditKeys',
  'verifyAudit',
  'exportAudit',
  'rotateAuditKey',
  'me',
  'getPolicy',
  'policyHistory',
  'listPlans',
  'listDelegations',
  'listStandingApprovals',
  'listSubscriptions',
  'listThreadPlans',
  'listThreadSummaries',
  'health',
]);

async function send(method: string, url: string, body?: string, as = token) {
  const started = Date.now();
  const signal = AbortSignal.timeout(ANSWER_WITHIN_MS * 3);
  try {
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${as}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
      signal,
    });
    const text = await response.text();
    return { status: response.status, text, ms: Date.now() - started };
  } catch (error) {
    if (!signal.aborted) throw error;
    throw new Error(
      `${method} ${url.length > 300 ? `${url.slice(0, 300)}…` : url} to answer: not within ${(ANSWER_WITHIN_MS * 3) / 1000} s`,
      { cause: error },
    );
  }
}

function expectRefusedInShape(operation: Operation, answer: { status: number; text: string; ms: number }) {
  expect([operation.operationId, answer.status < 500, answer.ms < ANSWER_WITHIN_MS]).toEqual([operation.operationId, true, true]);
  if (answer.status >= 400) {
    const body = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
    expect([operation.operationId, typeof body.error?.code, typeof body.error?.message]).toEqual([
      operation.operationId,
      'string',
      'string',
    ]);
  } else {
    expect([operation.operationId, answer.status]).toEqual([
      operation.operationId,
      ANSWERS_MAY_SUCCEED.has(operation.operationId) ? answer.status : 'a refusal',
    ]);
  }
}

it('every route refuses hostile bodies, path parameters and queries with a 4xx in the error shape, at once', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.nat(),
      fc.array(segment, { minLength: 3, maxLength: 3 }),
      query,
      fc.option(hostileBody, { nil: undefined }),
      async (pick, segments, params, body) => {
        const operation = operations[pick % operations.length]!;
        let index = 0;
        const path = operation.path.replace(/\{[^}]+\}/g, () => segments[index++]!);
        const search = new URLSearchParams(params).toString();
        const sendsBody = operation.method !== 'GET' && operation.method !== 'DELETE';
        expectRefusedInShape(
          operation,
          await send(operation.method, `${stack.apiUrl}${path}${search ? `?${search}` : ''}`, sendsBody ? body : undefined),
        );
      },
    ),
    { seed: SEED, numRuns: RUNS * 2, endOnFailure: true },
  );
  // Nothing was stored or started for the organization.
  expect(await stack.plans.runs.list({ organizationId })).toEqual([]);
  expect(await stack.plans.subscriptions.list(organizationId)).toEqual([]);
  expect((await stack.plans.policies.history(organizationId)).length).toBe(0);
  const visibilityQuery = `OrganizationId = '${organizationId}'`;
  const started = await within(`Temporal to list the workflows where ${visibilityQuery}`, (signal) =>
    stack.client.withAbortSignal(signal, async () => {
      const ids: string[] = [];
      for await (const execution of stack.client.workflow.list({ query: visibilityQuery })) ids.push(execution.workflowId);
      return ids;
    }),
  );
  expect(started).toEqual([]);
}, 300_000);

it('the same against real runs, as a person who may decide them: never a 5xx or a hang, and their records stay what Temporal committed', async () => {
  const victims = `org-${randomUUID()}`;
  // A person with the approver role gets furthest: past every check, to the workflows and the store.
  const agent = await tokenFor(stack, victims, 'alice');
  const admin = await tokenFor(stack, victims, 'root', { roles: ['admin'] });
  const pending = await stack.plans.runs.create({
    organizationId: victims,
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    draft: { title: 'Pending', objective: 'x', nodes: [{ id: 'sign', title: 'Sign', executor: { type: 'human' } }] },
  });
  const waiting = await stack.plans.runs.create({
    organizationId: victims,
    threadId: 't-1',
    leadAgentId: 'planner',
    draft: { title: 'Waiting', objective: 'x', nodes: [{ id: 'sign', title: 'Sign', executor: { type: 'human' } }] },
  });
  // Mostly real ids, so requests get past "not found" to the checks and the workflows behind them.
  const real = {
    runId: fc.constantFrom(pending.runId, waiting.runId),
    nodeId: fc.constant('sign'),
    scheduleId: fc.constant(`plan-schedule:${pending.runId}`),
  };
  const param = (name: string) =>
    fc.oneof({ weight: 4, arbitrary: real[name as keyof typeof real] ?? segment }, { weight: 1, arbitrary: segment });
  // A body that is right but for one field: the field is where the hostile value goes.
  const almostRight = fc
    .record({
      field: fc.constantFrom('output', 'reason', 'draft', 'resolution', 'expectedRevision', 'threadId', 'note', 'emittedBy'),
      value: fc.oneof(hostileString, deepValue, fc.anything({ maxDepth: 3 })),
    })
    .map(({ field, value }) => stringify({ threadId: 't-1', reason: 'Because.', ...{ [field]: value } }));
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...operations),
      fc.tuple(param('runId'), param('nodeId'), param('scheduleId')),
      fc.option(fc.oneof(almostRight, hostileBody), { nil: undefined }),
      async (operation, [runId, nodeId, scheduleId], body) => {
        const values: Record<string, string> = { runId, nodeId, scheduleId };
        const path = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? runId);
        const sendsBody = operation.method !== 'GET' && operation.method !== 'DELETE';
        const answer = await send(operation.method, `${stack.apiUrl}${path}`, sendsBody ? body : undefined, agent);
        expect([operation.operationId, answer.status < 500, answer.ms < ANSWER_WITHIN_MS]).toEqual([operation.operationId, true, true]);
      },
    ),
    { seed: SEED, numRuns: RUNS * 2, endOnFailure: true },
  );
  // And systematically: every field of every change, given each kind of hostile value.
  const kinds: unknown[] = [
    nested(300),
    nested(6000),
    'x'.repeat(300_000),
    "'; DELETE plan_run; --",
    '‮🧨\u0000',
    { a: [1, { b: null }] },
    [1, 2],
    12,
    null,
    true,
  ];
  const fields = [
    'output',
    'reason',
    'draft',
    'resolution',
    'expectedRevision',
    'threadId',
    'note',
    'emittedBy',
    'organizationId',
    'nodeId',
    'url',
    'eventTypes',
    'policy',
    'principalId',
  ];
  const changes = operations.filter((operation) => operation.method === 'POST' || operation.method === 'PUT');
  for (const operation of changes) {
    const path = operation.path.replace(
      /\{([^}]+)\}/g,
      (_, name: string) => ({ runId: waiting.runId, nodeId: 'sign', scheduleId: `plan-schedule:${pending.runId}` })[name] ?? 'x',
    );
    for (const field of fields) {
      for (const value of kinds) {
        const answer = await send(
          operation.method,
          `${stack.apiUrl}${path}`,
          stringify({ threadId: 't-1', reason: 'Because.', [field]: value }),
          agent,
        );
        expect([operation.operationId, field, answer.status < 500, answer.ms < ANSWER_WITHIN_MS]).toEqual([
          operation.operationId,
          field,
          true,
          true,
        ]);
      }
    }
  }
  const report = JSON.parse((await send('POST', `${stack.apiUrl}/v1/doctor`, '{}', admin)).text) as {
    checked: number;
    diverged: number;
    consistent: number;
  };
  expect(report).toMatchObject({ diverged: 0 });
  expect(report.checked).toBeGreaterThanOrEqual(2);
}, 300_000);

it('a plan with hostile drafts is refused whole, and nothing starts', async () => {
  await fc.assert(
    fc.asyncProperty(hostileBody, async (draft) => {
      const body = `{"threadId":"t-1","leadAgentId":"planner","draft":${draft.trim() === '' ? '""' : draft}}`;
      const answer = await send('POST', `${stack.apiUrl}/v1/plans`, body);
      expect([answer.status, answer.ms < ANSWER_WITHIN_MS]).toEqual([400, true]);
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  expect(await stack.plans.runs.list({ organizationId })).toEqual([]);
}, 300_000);

describe('the draft format', () => {
  const node = fc.record(
    {
      id: fc.oneof(fc.constantFrom('a', 'b', 'c'), hostileString),
      title: hostileString,
      executor: fc.oneof(
        fc.record(
          {
            type: fc.constantFrom('agent', 'human', 'system', 'robot'),
            agentId: hostileString,
            action: fc.constantFrom('noop', 'wait', 'webhook', 'rm'),
            url: hostileString,
            duration: hostileString,
          },
          { requiredKeys: ['type'] },
        ),
        fc.anything({ maxDepth: 2 }),
      ),
      dependsOn: fc.oneof(fc.array(fc.constantFrom('a', 'b', 'c', 'zz')), fc.anything({ maxDepth: 1 })),
      retry: fc.anything({ maxDepth: 2 }),
      timeout: hostileString,
      deadline: fc.anything({ maxDepth: 2 }),
    },
    { requiredKeys: ['id'] },
  );
  const draft = fc.record(
    {
      title: hostileString,
      objective: hostileString,
      nodes: fc.array(node, { maxLength: 6 }),
      schedule: fc.anything({ maxDepth: 2 }),
      approval: fc.anything({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  );

  it("(the test's own writer of deep JSON writes what JSON.stringify writes)", () => {
    fc.assert(
      fc.property(fc.json(), (text) => expect(stringify(JSON.parse(text))).toBe(JSON.stringify(JSON.parse(text)))),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('never throws from validation: every draft is compiled or refused with named problems', () => {
    fc.assert(
      fc.property(fc.oneof(draft, fc.anything({ maxDepth: 5 })), (input) => {
        const result = validateDraft(input);
        if (result.ok) expect(result.plan.nodes.length).toBeGreaterThan(0);
        else expect(result.issues.every((issue) => typeof issue.code === 'string' && issue.message.length > 0)).toBe(true);
        try {
          compileDraft(input);
        } catch (error) {
          expect(error).toBeInstanceOf(PlanError);
        }
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });
});
