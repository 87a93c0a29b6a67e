import { randomUUID } from 'node:crypto';

import { RecordId } from 'surrealdb';

import type { Stack } from '../../app/stack.js';
import type { DoctorReport } from '../../client/doctor.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { runQuery } from '../../storage/database.js';
import { humanFirstDraft, linearDraft } from '../support/drafts.js';
import { expectRecordEqualsWorkflow } from '../support/record.js';
import { eventually, resultOf, startTestStack, tampersWithStoredEvents } from '../support/stack.js';
import { castIn, tokenFor } from '../support/principals.js';

/**
 * `plans doctor`: records written wrong (as the local-activity persistence of earlier versions
 * could) are found by comparing them with what Temporal committed, and rewritten from it.
 */

let stack: Stack;
// It tampers with stored events on purpose.
tampersWithStoredEvents();
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const context = (organizationId: string) => ({ organizationId, threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner' });

/** Three quiet runs of one organization: pending, approved and completed, and waiting for a person's step. */
async function threeRuns(organizationId: string): Promise<{ pending: PlanSnapshot; completed: PlanSnapshot; waiting: PlanSnapshot }> {
  const decision = { organizationId, threadId: 't-9', emittedBy: 'carol' };
  await castIn(stack, organizationId);
  const pending = await stack.plans.runs.create({ ...context(organizationId), draft: linearDraft(1) });
  const completed = await stack.plans.runs.create({ ...context(organizationId), draft: linearDraft(2) });
  await stack.plans.runs.approve({ ...decision, runId: completed.runId });
  await resultOf(stack.client.workflow.getHandle(completed.workflowId));
  const waiting = await stack.plans.runs.create({ ...context(organizationId), draft: humanFirstDraft() });
  await stack.plans.runs.approve({ ...decision, runId: waiting.runId });
  for (const run of [pending, completed, waiting]) await expectRecordEqualsWorkflow(stack, run.runId);
  return { pending, completed, waiting };
}

async function corrupt(text: string, bindings: Record<string, unknown>): Promise<void> {
  await runQuery(stack.db, text, bindings);
}

it('finds runs stored differently from what Temporal committed, says where, and repairs them on request', async () => {
  const organizationId = `org-${randomUUID()}`;
  const { pending, completed, waiting } = await threeRuns(organizationId);
  expect(await stack.plans.records.examine({ organizationId })).toEqual({
    organizationId,
    checked: 3,
    consistent: 3,
    diverged: 0,
    repaired: 0,
    busy: 0,
    noWorkflow: 0,
    runs: [],
    audit: expect.objectContaining({ ok: true, break: null }),
  });

  // What the chaos run found: the refused decider recorded as the approver, a run stored running that ended.
  await corrupt("UPDATE plan_event SET emittedBy = 'heidi' WHERE runId = $runId AND eventType = 'plan-approved';", {
    runId: completed.runId,
  });
  await corrupt("UPDATE $run SET status = 'running';", { run: new RecordId('plan_run', completed.runId) });
  await corrupt('DELETE plan_checkpoint WHERE runId = $runId;', { runId: pending.runId });
  // A run Temporal started that SurrealDB never recorded.
  for (const table of ['plan_run', 'plan_node_run', 'plan_event', 'plan_checkpoint']) {
    await corrupt(`DELETE ${table} WHERE runId = $runId;`, { runId: waiting.runId });
  }

  const found = await stack.plans.records.examine({ organizationId });
  expect(found).toMatchObject({ checked: 3, consistent: 0, diverged: 3, repaired: 0 });
  const divergences = (runId: string) => found.runs.find((run) => run.runId === runId)!.divergences;
  expect(divergences(completed.runId)).toEqual(
    expect.arrayContaining([
      { path: 'run.status', stored: 'running', committed: 'completed' },
      expect.objectContaining({ path: expect.stringMatching(/^event \d+\.emittedBy$/), stored: 'heidi', committed: 'carol' }),
    ]),
  );
  expect(divergences(pending.runId)).toEqual([{ path: 'checkpoint 1', stored: undefined, committed: 'present' }]);
  expect(divergences(waiting.runId)).toEqual([{ path: 'run', stored: undefined, committed: 'awaiting-human' }]);
  // Examining changes nothing.
  expect((await stack.plans.runs.get(completed.runId)).status).toBe('running');

  const repaired = await stack.plans.records.examine({ organizationId, repair: true });
  expect(repaired).toMatchObject({ checked: 3, diverged: 0, repaired: 3 });
  expect(repaired.runs.map((run) => run.verdict)).toEqual(['repaired', 'repaired', 'repaired']);
  for (const run of [pending, completed, waiting]) await expectRecordEqualsWorkflow(stack, run.runId);
  expect(await stack.plans.records.examine({ organizationId })).toMatchObject({ checked: 3, consistent: 3 });

  // The repaired run carries on: the person completes the step, and the record follows.
  await stack.plans.runs.completeNode({
    organizationId,
    threadId: 't-1',
    emittedBy: 'alice',
    runId: waiting.runId,
    nodeId: 'review',
    output: { ok: true },
  });
  await resultOf(stack.client.workflow.getHandle(waiting.workflowId));
  await expectRecordEqualsWorkflow(stack, waiting.runId);
});

it('a run edited before approval (a step added, one removed) is consistent, and repaired from what Temporal committed', async () => {
  const organizationId = `org-${randomUUID()}`;
  await castIn(stack, organizationId);
  const run = await stack.plans.runs.create({ ...context(organizationId), draft: linearDraft(2) });
  const edited = {
    ...linearDraft(1),
    nodes: [...linearDraft(1).nodes, { id: 'added', title: 'Added', executor: { type: 'system', action: 'noop' } }],
  };
  await stack.plans.runs.approve({ organizationId, threadId: 't-9', emittedBy: 'carol', runId: run.runId, draft: edited });
  await resultOf(stack.client.workflow.getHandle(run.workflowId));
  await expectRecordEqualsWorkflow(stack, run.runId);
  expect((await stack.plans.runs.get(run.runId)).nodes.map((node) => node.nodeId)).toEqual(['step-1', 'added']);

  await corrupt('DELETE $node;', { node: new RecordId('plan_node_run', [run.runId, 'added']) });
  expect(await stack.plans.records.examine({ organizationId })).toMatchObject({ diverged: 1 });
  expect(await stack.plans.records.examine({ organizationId, repair: true })).toMatchObject({ repaired: 1 });
  await expectRecordEqualsWorkflow(stack, run.runId);
  expect(await stack.plans.records.examine({ organizationId })).toMatchObject({ consistent: 1, diverged: 0 });
});

it('never examines or repairs another organization’s runs', async () => {
  const ours = `org-${randomUUID()}`;
  const theirs = `org-${randomUUID()}`;
  const run = await stack.plans.runs.create({ ...context(theirs), draft: linearDraft(1) });
  await corrupt("UPDATE plan_event SET emittedBy = 'mallory' WHERE runId = $runId;", { runId: run.runId });
  const report = await stack.plans.records.examine({ organizationId: ours, runIds: [run.runId], repair: true });
  expect(report).toMatchObject({ checked: 0, repaired: 0, runs: [] });
  expect(await stack.plans.records.examine({ organizationId: ours, repair: true })).toMatchObject({ checked: 0 });
  const events = (await stack.plans.runs.get(run.runId, { includeEvents: true })).events!;
  expect(new Set(events.map((event) => event.emittedBy))).toEqual(new Set(['mallory']));
});

it('over HTTP: POST /v1/doctor reports for the token’s organization and repairs with repair: true', async () => {
  const organizationId = `org-${randomUUID()}`;
  const token = await tokenFor(stack, organizationId, 'ops', { roles: ['admin'] });
  const run = await stack.plans.runs.create({ ...context(organizationId), draft: linearDraft(1) });
  await corrupt("UPDATE $run SET title = 'Something else';", { run: new RecordId('plan_run', run.runId) });
  const doctor = async (body: unknown) => {
    const response = await fetch(`${stack.apiUrl}/v1/doctor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as DoctorReport & { error?: { code: string } } };
  };
  const found = await doctor({});
  expect(found.status).toBe(200);
  expect(found.body).toMatchObject({
    organizationId,
    diverged: 1,
    runs: [{ runId: run.runId, verdict: 'diverged', divergences: [{ path: 'run.title', stored: 'Something else' }] }],
  });
  expect((await doctor({ repair: 'yes' })).body.error?.code).toBe('invalid-input');
  // Anyone of the organization may look; only an admin rewrites records.
  const looker = await tokenFor(stack, organizationId, 'alice');
  const refused = await fetch(`${stack.apiUrl}/v1/doctor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${looker}` },
    body: JSON.stringify({ repair: true }),
  });
  expect(refused.status).toBe(403);
  expect((await doctor({ repair: true })).body).toMatchObject({ repaired: 1 });
  expect((await doctor({})).body).toMatchObject({ consistent: 1, diverged: 0 });
  await eventually(`the repaired run ${run.runId} to read back its title "${run.title}"`, async () =>
    (await stack.plans.runs.get(run.runId)).title === run.title ? true : undefined,
  );
});
