import { getEventListeners } from 'node:events';

import { runIdOf } from '../../mcp/resources.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { planAnswerOf } from '../../tools/plan-answers.js';
import { PLAN_TOOL_LIST, jsonSchemasOf, runTool } from '../../tools/plan-tools.js';
import { pause } from '../../tools/pause.js';
import { pathOf } from '../../tools/plans-api.js';

/** The plan tools' pure parts: names and schemas, arguments refused before anything is sent, answers in words. */

const nothingSent = {
  api: {
    send: () => {
      throw new Error('nothing may be sent for a refused call');
    },
  },
  inboxUrl: (runId: string) => `http://plans.test/inbox#/plan/${runId}`,
};

it('every tool: a snake_case name hosts take, a self-contained object schema for input and output, every annotation set', () => {
  for (const tool of PLAN_TOOL_LIST) {
    expect(tool.name).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
    const { input, output } = jsonSchemasOf(tool);
    expect([input.type, output.type, input.additionalProperties]).toEqual(['object', 'object', false]);
    expect(JSON.stringify({ input, output })).not.toMatch(/\$ref|\$defs|\$schema/);
    expect(Object.keys(tool.annotations).sort()).toEqual(['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint']);
    if (tool.annotations.readOnlyHint) expect(tool.annotations.destructiveHint).toBe(false);
  }
});

it('an unknown tool, a bad argument, an unknown one or an oversized one is refused by name, and nothing is sent', async () => {
  await expect(runTool('approve_plan', {}, nothingSent)).rejects.toThrow(/^Unknown tool "approve_plan"; the tools are validate_plan, /);
  await expect(runTool('get_plan', { runId: 7 }, nothingSent)).rejects.toThrow(
    'Invalid arguments for get_plan: runId: Invalid input: expected string, received number.',
  );
  await expect(runTool('get_plan', { runId: 'r-1', emittedBy: 'alice' }, nothingSent)).rejects.toThrow(/Unrecognized key: "emittedBy"/);
  await expect(runTool('wait_for_decision', { runId: 'r-1', timeoutSeconds: 600 }, nothingSent)).rejects.toThrow(
    /timeoutSeconds: Too big: expected number to be <=55/,
  );
  await expect(runTool('validate_plan', { draft: { objective: 'x'.repeat(800_000) } }, nothingSent)).rejects.toMatchObject({
    code: 'too-large',
    message: expect.stringMatching(/^Argument draft of validate_plan is \d+ KB of JSON; an argument may be at most 768 KB\.$/),
  });
});

it('ids in paths: encoded, never a dot segment; plan:// URIs name run ids only', () => {
  expect(pathOf`/v1/plans/${'a/b?c'}/review`).toBe('/v1/plans/a%2Fb%3Fc/review');
  for (const id of ['', '.', '..']) expect(() => pathOf`/v1/plans/${id}`).toThrow(`"${id}" is not an id.`);
  expect(runIdOf('plan://run-1')).toBe('run-1');
  for (const uri of ['plan://..', 'plan://.', 'plan://%E0%A4%A', 'plan://a/b', 'plans://policy']) expect(runIdOf(uri)).toBeUndefined();
});

it('a pause leaves no listener on its signal, however many times a watch pauses', async () => {
  const controller = new AbortController();
  for (let i = 0; i < 20; i++) await pause(1, controller.signal);
  expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
});

const run = (fields: Partial<PlanSnapshot>): PlanSnapshot =>
  ({
    runId: 'r-1',
    status: 'running',
    revision: 'abc',
    title: 'T',
    threadId: 't-1',
    sourceThreadId: 't-9',
    requireApproval: true,
    createdAt: '2026-12-07T00:00:00.000Z',
    updatedAt: '2026-12-07T00:00:00.000Z',
    nodes: [],
    approval: null,
    approvals: [],
    waitingNodeId: null,
    ...fields,
  }) as unknown as PlanSnapshot;
const record = (decision: 'approved' | 'rejected' | 'changes-requested', emittedBy: string, reason: string | null = null) => ({
  decision,
  emittedBy,
  reason,
  at: '2026-12-07T00:00:00.000Z',
  credential: null,
});

it('the decision and what happens next, in words, from the run as stored', () => {
  const answer = (fields: Partial<PlanSnapshot>) => planAnswerOf(run(fields), 'http://plans.test/inbox#/plan/r-1');
  expect(answer({ approvals: [record('approved', 'alice'), record('approved', 'bob')] })).toMatchObject({
    decision: 'approved',
    decidedBy: 'bob',
    next: 'Approved by bob; it is running. Call get_plan to follow its steps.',
    inboxUrl: null,
  });
  expect(answer({ status: 'aborted', approvals: [record('approved', 'alice'), record('rejected', 'bob', 'Too wide.')] })).toMatchObject({
    decision: 'rejected',
    decidedBy: 'bob',
    next: 'Rejected by bob. Nothing runs. Their reason: Too wide.',
  });
  expect(answer({ status: 'aborted', approvals: [record('changes-requested', 'alice', 'Only EU.')] }).next).toBe(
    'alice asked for changes: draft a changed plan and create it (nothing of this one runs). What to change: Only EU.',
  );
  expect(answer({ requireApproval: false, status: 'completed' })).toMatchObject({
    decision: 'not-required',
    next: 'It completed: every step is done.',
  });
  expect(answer({ status: 'aborted' })).toMatchObject({ decision: 'aborted', next: 'Aborted: nothing more of it runs.' });
});
