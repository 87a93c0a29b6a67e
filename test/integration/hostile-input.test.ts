import { randomUUID } from 'node:crypto';

import type { Stack } from '../../app/stack.js';
import { MAX_DEPTH } from '../../domain/limits.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { completeNodeSignal } from '../../workflows/messages.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';
import { askApi } from '../support/http.js';

/**
 * Input that once crashed, hung or wedged a run (a chaos run's findings): JSON nested thousands
 * of levels deep in a request body, a person's output, a webhook body or an agent's answer.
 * Each is refused where it enters, naming the field, and nothing is stored or started.
 */

let stack: Stack;
const nested = (depth: number, leaf: unknown = 'x'): unknown => {
  let value: unknown = leaf;
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
};

beforeAll(async () => {
  stack = await startTestStack(
    {},
    {
      deep: async () => ({ output: nested(300) }),
    },
  );
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const call = <T = { error: { code: string; message: string } }>(token: string, method: string, path: string, body?: unknown) =>
  askApi<T>(stack.apiUrl, token, method, path, typeof body === 'string' ? undefined : body, {
    timeoutMs: 10_000,
    ...(typeof body === 'string' ? { raw: body } : {}),
  });

async function organization() {
  const organizationId = `org-${randomUUID()}`;
  return {
    organizationId,
    alice: await tokenFor(stack, organizationId, 'alice'),
    planner: await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] }),
  };
}

const webhookDraft = (body: unknown) => ({
  title: 'Deep',
  objective: 'Nested bodies.',
  nodes: [{ id: 'hook', title: 'Hook', executor: { type: 'system', action: 'webhook', url: 'https://hooks.example.com/hook', body } }],
});

describe('JSON nested too deep', () => {
  it(`is refused in any request body, naming where, up to 5,000 levels (the limit is ${MAX_DEPTH})`, async () => {
    const { organizationId, planner } = await organization();
    for (const depth of [MAX_DEPTH + 1, 300, 5000]) {
      // Built as text: a client could not even stringify the deepest one.
      const raw = `{"threadId":"t-1","leadAgentId":"planner","draft":{"title":"Deep","objective":"x","nodes":[{"id":"hook","title":"Hook","executor":{"type":"system","action":"webhook","url":"https://hooks.example.com/hook","body":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}]}}`;
      const answer = await call(planner, 'POST', '/v1/plans', raw);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('invalid-input');
      expect(answer.body.error.message).toMatch(
        new RegExp(`^The request body nests deeper than ${MAX_DEPTH} levels, at draft\\.nodes\\.0\\.executor\\.body(\\.a)+\\.$`),
      );
    }
    expect(await stack.plans.runs.list({ organizationId })).toEqual([]);
    // At the limit, it is an ordinary draft.
    expect(
      (await call(planner, 'POST', '/v1/plans', { threadId: 't-1', leadAgentId: 'planner', draft: webhookDraft(nested(MAX_DEPTH - 6)) }))
        .status,
    ).toBe(201);
  });

  it('is refused in a draft handed to the client directly, and nothing starts', async () => {
    const { organizationId } = await organization();
    await expect(
      stack.plans.runs.create({ organizationId, threadId: 't-1', leadAgentId: 'planner', draft: webhookDraft(nested(300)) }),
    ).rejects.toThrow(/nests deeper than 64 levels/);
    expect(await stack.plans.runs.list({ organizationId })).toEqual([]);
  });

  it('in a person’s output sent as a Temporal signal, is refused and recorded, and the run goes on', async () => {
    const { organizationId, alice } = await organization();
    const plan = await stack.plans.runs.create({
      organizationId,
      threadId: 't-1',
      leadAgentId: 'planner',
      draft: {
        title: 'Person',
        objective: 'A person hands something in.',
        nodes: [{ id: 'sign', title: 'Sign', executor: { type: 'human' } }],
      },
    });
    await eventually(`run ${plan.runId} to be awaiting-human`, async () =>
      (await stack.plans.runs.get(plan.runId)).status === 'awaiting-human' ? true : undefined,
    );
    const tooDeep = await call(alice, 'POST', `/v1/plans/${plan.runId}/nodes/sign/complete`, { output: nested(300) });
    expect(tooDeep.status).toBe(400);
    await stack.client.workflow
      .getHandle(plan.workflowId)
      .signal(completeNodeSignal, { organizationId, threadId: 't-1', emittedBy: 'alice', nodeId: 'sign', output: nested(300) });
    const refused = await eventually(`run ${plan.runId} to record the too-deep complete-node signal as refused`, async () =>
      (await stack.plans.runs.get(plan.runId, { includeEvents: true })).events!.find((event) => event.eventType === 'decision-refused'),
    );
    expect(refused.detail.reason).toMatch(/^Invalid complete-node decision: output(\.a)+ nests deeper than 64 levels\.$/);
    // Nothing wedged: the run still takes what follows.
    const done = await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${plan.runId}/nodes/sign/complete`, { output: { ok: true } });
    expect(done.body.status).toBe('completed');
  });

  it('in an agent’s answer, fails the attempt with a clear error rather than the run’s records', async () => {
    const { organizationId, alice } = await organization();
    const plan = await stack.plans.runs.create({
      organizationId,
      threadId: 't-1',
      leadAgentId: 'planner',
      draft: {
        title: 'Deep agent',
        objective: 'x',
        nodes: [{ id: 'deep', title: 'Deep', executor: { type: 'agent', agentId: 'deep' }, retry: { maxAttempts: 1 } }],
      },
    });
    const failed = await eventually(`run ${plan.runId} to fail on the agent's too-deep answer`, async () => {
      const run = await stack.plans.runs.get(plan.runId);
      return run.status === 'failed' ? run : undefined;
    });
    expect(failed.nodes[0]!.error).toMatch(/^Agent deep answered with output(\.a)+ nested deeper than 64 levels\.$/);
    // The record kept advancing: the failure is stored and readable.
    expect((await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${plan.runId}`)).body.status).toBe('failed');
  });
});
