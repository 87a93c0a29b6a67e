import { planHashOf, revisionOf } from '../../client/revision.js';
import type { PlanRunInput } from '../../domain/run-input.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { approvePlanUpdate, planQuery, rejectPlanUpdate } from '../../workflows/messages.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, until, refusal } from './harness.js';

/**
 * Step by step (issue 22, item 2) as the workflow applies it: skips, holds and `before-run` steps,
 * each rule tried as the principal who should not get through would try it.
 */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

const noop = { type: 'system', action: 'noop' };

/** collect → report, with send (optional) after report, and an independent audit step. */
function draft(extra: Record<string, Record<string, unknown>> = {}) {
  const step = (id: string, fields: Record<string, unknown> = {}) => ({ id, title: id, executor: noop, ...fields, ...extra[id] });
  return {
    title: 'Steps',
    objective: 'Decide step by step.',
    nodes: [
      step('collect', { dependsOn: [] }),
      step('report', { dependsOn: ['collect'] }),
      step('send', { dependsOn: ['report'], optional: true }),
      step('audit', { dependsOn: [] }),
    ],
  };
}

function governedRun(plan: unknown = draft(), rules = defaultRules()): PlanRunInput {
  const compiled = compileDraft(plan);
  const input = runInput({ draft: plan, rules, revision: revisionOf(compiled), planHash: planHashOf(compiled) });
  tier.stub.know(
    input.organizationId,
    'alice',
    'bob',
    { id: 'planner', kind: 'agent', roles: [] },
    { id: 'bot', kind: 'agent', roles: ['approver'] },
  );
  return input;
}

const statusOf = (run: PlanSnapshot, nodeId: string) => run.nodes.find((node) => node.nodeId === nodeId)!.status;

async function whenNode(handle: Awaited<ReturnType<WorkflowTier['start']>>, nodeId: string, status: string): Promise<PlanSnapshot> {
  return until(`${nodeId} to be ${status}`, async () => {
    const run = await handle.query(planQuery);
    return statusOf(run, nodeId) === status ? run : undefined;
  });
}

it('a held step waits in awaiting-approval while the rest runs; an eligible person approves it later and it runs', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, {
    args: [{ ...from(input, 'alice'), steps: { report: 'hold' }, reason: 'Check the numbers first.' }],
  });
  await whenNode(handle, 'report', 'awaiting-approval');
  // Once audit (which needs nothing held) has run too, only the held step is left open.
  const held = await until('audit to run', async () => {
    const run = await handle.query(planQuery);
    return statusOf(run, 'audit') === 'completed' ? run : undefined;
  });
  expect(held.status).toBe('awaiting-human');
  expect(statusOf(held, 'send')).toBe('pending');
  expect(held.nodes.find((node) => node.nodeId === 'report')!.verdict).toMatchObject({
    decision: 'hold',
    by: 'alice',
    reason: 'Check the numbers first.',
  });

  // Neither the requester nor an agent approves a held step; nor a step that is not held.
  expect(
    (await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'planner'), steps: { report: 'approve' } }] }))).type,
  ).toBe('not-eligible');
  expect(
    (await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bot'), steps: { report: 'approve' } }] }))).type,
  ).toBe('not-eligible');
  expect(await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { send: 'approve' } }] }))).toEqual(
    {
      type: 'not-waiting',
      message: 'Step "send" is not waiting for a decision (it is pending).',
    },
  );
  // A plain approval of a running plan is still refused.
  expect((await refusal(handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] }))).type).toBe('not-pending');

  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { report: 'approve' } }] });
  expect((await handle.result()).status).toBe('completed');
  const events = tier.stub.events(input.runId!);
  expect(events).toEqual(expect.arrayContaining(['node-held:alice', 'node-approved:bob']));
  expect(events.indexOf('node-approved:bob')).toBeGreaterThan(events.indexOf('node-held:alice'));
});

it('a skipped optional step is not run, with who and why; skipping a step that is not optional is refused and changes nothing', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  expect(
    await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { report: 'skip' } }] })),
  ).toEqual({
    type: 'invalid-input',
    message:
      'Only optional steps may be skipped: skipping report would skip report, which is not optional. Hold it instead, edit the plan (remove the step or mark it optional), or reject it.',
  });
  expect((await handle.query(planQuery)).approval?.approvals).toEqual([]);

  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { send: 'skip' }, reason: 'Not this week.' }] });
  const done = await handle.result();
  expect(done.status).toBe('completed');
  expect(statusOf(done, 'send')).toBe('skipped');
  expect(done.nodes.find((node) => node.nodeId === 'send')!.verdict).toMatchObject({
    decision: 'skip',
    by: 'alice',
    reason: 'Not this week.',
  });
  expect(tier.stub.attempts.filter((attempt) => attempt.startsWith(`${input.runId}/send`))).toEqual([]);
  expect(tier.stub.events(input.runId!)).toContain('node-skipped:alice');
});

it('a skip takes what depends on the plan only through the skipped step, and leaves a step that also depends on another', async () => {
  const plan = {
    title: 'Cascade',
    objective: 'Skip through.',
    nodes: [
      { id: 'a', title: 'a', executor: noop, dependsOn: [], optional: true },
      { id: 'only-a', title: 'only-a', executor: noop, dependsOn: ['a'], optional: true },
      { id: 'b', title: 'b', executor: noop, dependsOn: [] },
      { id: 'a-and-b', title: 'a-and-b', executor: noop, dependsOn: ['a', 'b'] },
    ],
  };
  const input = governedRun(plan);
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { a: 'skip' } }] });
  const done = await handle.result();
  expect(done.nodes.map((node) => [node.nodeId, node.status])).toEqual([
    ['a', 'skipped'],
    ['only-a', 'skipped'],
    ['b', 'completed'],
    ['a-and-b', 'completed'],
  ]);
  // A skip whose cascade would reach a required step is refused.
  const required = governedRun({ ...plan, nodes: plan.nodes.map((node) => (node.id === 'only-a' ? { ...node, optional: false } : node)) });
  const other = await tier.start(required);
  expect(
    (await refusal(other.executeUpdate(approvePlanUpdate, { args: [{ ...from(required, 'alice'), steps: { a: 'skip' } }] }))).message,
  ).toContain('skipping a would skip only-a, which is not optional');
});

it('a before-run step waits for a decision when it would start, under the run’s quorum; a held step may be skipped later if optional', async () => {
  const input = governedRun(draft({ report: { approval: 'before-run' }, send: { approval: 'before-run' } }), defaultRules({ required: 2 }));
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  await whenNode(handle, 'report', 'awaiting-approval');
  const one = await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { report: 'approve' } }] });
  expect(statusOf(one, 'report')).toBe('awaiting-approval');
  expect(one.nodes.find((node) => node.nodeId === 'report')!.approvals.map((entry) => entry.by)).toEqual(['alice']);
  // The same person twice is one approval.
  const again = await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { report: 'approve' } }] });
  expect(statusOf(again, 'report')).toBe('awaiting-approval');
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { report: 'approve' } }] });
  await whenNode(handle, 'send', 'awaiting-approval');
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { send: 'skip' }, reason: 'Hold the mail.' }] });
  const done = await handle.result();
  expect(done.status).toBe('completed');
  expect(statusOf(done, 'send')).toBe('skipped');
  expect(tier.stub.events(input.runId!)).toEqual(
    expect.arrayContaining(['node-held:system', 'node-approval-recorded:alice', 'node-approved:bob', 'node-skipped:bob']),
  );
});

it('skips asked for by two approvers are checked together: one that would reach a required step with another’s is refused', async () => {
  const plan = {
    title: 'Two skips',
    objective: 'Each optional, together not.',
    nodes: [
      { id: 'x', title: 'x', executor: noop, dependsOn: [], optional: true },
      { id: 'y', title: 'y', executor: noop, dependsOn: [], optional: true },
      { id: 'z', title: 'z', executor: noop, dependsOn: ['x', 'y'] },
    ],
  };
  const input = governedRun(plan, defaultRules({ required: 2 }));
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { x: 'skip' } }] });
  expect(
    (await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { y: 'skip' } }] }))).message,
  ).toContain('skipping y, x (with the skips already asked for) would skip z, which is not optional');
  expect((await handle.query(planQuery)).approval?.approvals.map((entry) => entry.by)).toEqual(['alice']);
  await handle.executeUpdate(rejectPlanUpdate, { args: [from(input, 'bob')] });
});

it('a step is approved on its own only once held: sent with a pending plan, the word is refused, not taken as the plan’s approval', async () => {
  const input = governedRun();
  const handle = await tier.start(input);
  expect(
    (await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { report: 'approve' } }] }))).message,
  ).toContain('can be approved on its own only once held');
  expect((await handle.query(planQuery)).status).toBe('pending-approval');
  await handle.executeUpdate(rejectPlanUpdate, { args: [from(input, 'alice')] });
});

it('under stages, a held step goes through every stage in order: the first stage’s approver cannot release it alone', async () => {
  const stages = [
    { name: 'approval', approvers: ['role:approver'], required: 1 },
    { name: 'security', approvers: ['role:security'], required: 1 },
  ];
  const input = governedRun(draft({ report: { approval: 'before-run' } }), defaultRules({ stages }));
  tier.stub.know(input.organizationId, { id: 'sam', kind: 'person', roles: ['security'] });
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'alice')] });
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'sam')] });
  await whenNode(handle, 'report', 'awaiting-approval');
  // Security first is out of order; the first stage's approval alone leaves it waiting for security.
  expect(
    (await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'sam'), steps: { report: 'approve' } }] }))).type,
  ).toBe('not-eligible');
  const first = await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'bob'), steps: { report: 'approve' } }] });
  expect(statusOf(first, 'report')).toBe('awaiting-approval');
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'sam'), steps: { report: 'approve' } }] });
  expect((await handle.result()).status).toBe('completed');
});

it('a withdrawn approval takes its skip with it: the step runs once others complete the quorum', async () => {
  const input = governedRun(draft(), defaultRules({ required: 2 }));
  tier.stub.know(input.organizationId, 'carol');
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { send: 'skip' } }] });
  tier.stub.know(input.organizationId, { id: 'alice', kind: 'person', roles: [] });
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'carol')] });
  const done = await handle.result();
  expect(statusOf(done, 'send')).toBe('completed');
  expect(done.nodes.find((node) => node.nodeId === 'send')!.verdict).toBeNull();
});

it('a run started before step decisions (format 2) refuses steps and edits as the unknown fields they were', async () => {
  const input = { ...governedRun(), format: 2 };
  const handle = await tier.start(input);
  expect(await refusal(handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), steps: { send: 'skip' } }] }))).toEqual({
    type: 'invalid-input',
    message: 'Invalid approve decision: unknown field "steps".',
  });
  await handle.executeUpdate(rejectPlanUpdate, { args: [from(input, 'alice')] });
});
