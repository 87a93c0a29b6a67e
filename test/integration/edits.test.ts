import type { PlanDiffView } from '../../client/reviews-client.js';
import { revisionOf } from '../../client/revision.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { crossThread, linearDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith, tokenFor } from '../support/principals.js';

/**
 * Edit, then approve (issue 22, item 1) through the HTTP API against the real stack: the edited
 * draft validated like a draft (400 naming the field, nothing changed), admitted by the run
 * (egress, the organization's rules), stored as the run's next revision with the one before it
 * kept, and diffed by revision.
 */

const { stack, call } = apiStackForFile();

type ErrorBody = { error: { code: string; message: string; issues?: Array<{ code: string; message: string }> } };

interface Events {
  events: Array<{ eventType: string; emittedBy: string; detail: Record<string, unknown> }>;
}

async function pendingRun(token: string, draft: unknown = linearDraft(2)): Promise<PlanSnapshot> {
  const created = await call<PlanSnapshot>(token, 'POST', '/v1/plans', crossThread(draft));
  expect(created.status).toBe(201);
  return created.body;
}

async function settled(token: string, runId: string): Promise<PlanSnapshot> {
  for (;;) {
    const run = (await call<PlanSnapshot>(token, 'GET', `/v1/plans/${runId}`)).body;
    if (!['running', 'pending-approval'].includes(run.status)) return run;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('alice approves with changes: the edited plan is the next revision, stored and run; the first is kept; the diff names what alice changed', async () => {
  const org = await organizationWith(stack(), []);
  const run = await pendingRun(org.planner);
  const { body: shown } = await call<{ revision: string; draft: { nodes: Array<Record<string, unknown>> } }>(
    org.alice,
    'GET',
    `/v1/plans/${run.runId}/draft`,
  );
  const edited = {
    ...shown.draft,
    nodes: [...shown.draft.nodes, { id: 'report', title: 'Report', executor: { type: 'system', action: 'noop' }, dependsOn: ['step-2'] }],
  };

  const approved = await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, {
    draft: edited,
    expectedRevision: shown.revision,
    reason: 'Report too.',
  });
  expect(approved.status).toBe(200);
  expect(approved.body.revision).toBe(revisionOf(compileDraft(edited)));
  expect(approved.body.nodes.map((node) => node.nodeId)).toEqual(['step-1', 'step-2', 'report']);

  const done = await settled(org.alice, run.runId);
  expect(done.status).toBe('completed');
  expect(done.nodes.every((node) => node.status === 'completed')).toBe(true);
  // What is read back is the plan that ran.
  const { body: draft } = await call<{ revision: string; draft: unknown }>(org.alice, 'GET', `/v1/plans/${run.runId}/draft`);
  expect(draft.revision).toBe(approved.body.revision);
  expect(revisionOf(compileDraft(draft.draft))).toBe(approved.body.revision);

  const { body: events } = await call<Events>(org.planner, 'GET', `/v1/plans/${run.runId}?include=events`);
  const types = events.events.map((event) => `${event.eventType}:${event.emittedBy}`).filter((type) => !type.startsWith('checkpoint'));
  expect(types.slice(0, 5)).toEqual([
    'plan-created:planner',
    'plan-pending-approval:planner',
    'plan-edited:alice',
    'plan-approval-recorded:alice',
    'plan-approved:alice',
  ]);

  // The requester sees what alice changed: by default the last edit, or any two revisions.
  const diff = await call<PlanDiffView>(org.planner, 'GET', `/v1/plans/${run.runId}/diff`);
  expect(diff.body).toMatchObject({
    from: { number: 1, revision: run.revision, editedBy: null },
    to: { number: 2, revision: approved.body.revision, editedBy: 'alice' },
    diff: { added: [{ nodeId: 'report', title: 'Report' }], removed: [], changed: [] },
  });
  expect(diff.body.revisions.map((revision) => revision.number)).toEqual([1, 2]);
  const byRevision = await call<PlanDiffView>(org.planner, 'GET', `/v1/plans/${run.runId}/diff?revisions=${approved.body.revision}..1`);
  expect(byRevision.body.diff).toMatchObject({ added: [], removed: [{ nodeId: 'report' }] });
  const unknown = await call<ErrorBody>(org.planner, 'GET', `/v1/plans/${run.runId}/diff?revisions=1..3`);
  expect(unknown.status).toBe(400);
  expect(unknown.body.error.message).toContain('Revision 3 is not one of run');
});

it('an edited draft with a bad step is refused with 400 naming it; nothing is stored or changed', async () => {
  const org = await organizationWith(stack(), []);
  const run = await pendingRun(org.planner);
  const bad = {
    ...linearDraft(2),
    nodes: [...linearDraft(2).nodes, { id: 'x', title: 'X', executor: { type: 'system', action: 'launch' } }],
  };
  const refused = await call<ErrorBody>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, { draft: bad });
  expect(refused.status).toBe(400);
  expect(refused.body.error.issues?.[0]).toMatchObject({ code: 'invalid-executor' });
  const after = (await call<PlanSnapshot & Events>(org.alice, 'GET', `/v1/plans/${run.runId}?include=events`)).body;
  expect(after).toMatchObject({ status: 'pending-approval', revision: run.revision });
  expect(after.events.map((event) => event.eventType)).not.toContain('plan-edited');
});

it('an edit that widens egress (a webhook to an internal address) is refused by the run; nothing changes', async () => {
  const org = await organizationWith(stack(), []);
  const run = await pendingRun(org.planner);
  const widening = {
    ...linearDraft(2),
    nodes: [
      ...linearDraft(2).nodes,
      { id: 'leak', title: 'Leak', executor: { type: 'system', action: 'webhook', url: 'http://169.254.169.254/latest/meta-data' } },
    ],
  };
  const refused = await call<ErrorBody>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, { draft: widening });
  expect(refused.status).toBe(400);
  expect(refused.body.error.code).toBe('invalid-input');
  expect(refused.body.error.message).toContain('leak');
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}`)).body).toMatchObject({
    status: 'pending-approval',
    revision: run.revision,
  });
});

it('the requester cannot edit its own plan through approve, nor an agent anyone’s; a rejection carries no edit', async () => {
  const org = await organizationWith(stack(), []);
  const run = await pendingRun(org.planner);
  const edit = { draft: linearDraft(3) };
  expect((await call<ErrorBody>(org.planner, 'POST', `/v1/plans/${run.runId}/approve`, edit)).status).toBe(403);
  const other = await tokenFor(stack(), org.organizationId, 'helper', { kind: 'agent', roles: ['approver'] });
  expect((await call<ErrorBody>(other, 'POST', `/v1/plans/${run.runId}/approve`, edit)).status).toBe(403);
  const rejecting = await call<ErrorBody>(org.alice, 'POST', `/v1/plans/${run.runId}/reject`, edit);
  expect(rejecting.status).toBe(400);
  expect(rejecting.body.error.message).toContain('applies to approvals only');
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}`)).body).toMatchObject({
    status: 'pending-approval',
    revision: run.revision,
  });
});

it('an edit that adds what a rule gates (a webhook) is held to that rule too: the edited plan needs the rule’s quorum', async () => {
  const org = await organizationWith(stack(), ['bob']);
  const policy = await call(org.admin, 'PUT', '/v1/policy', {
    required: 1,
    rules: [{ name: 'outside-calls', when: { executors: ['webhook'] }, require: { required: 2 } }],
    egress: { allow: ['hooks.example.com'] },
  });
  expect(policy.status).toBe(200);
  const run = await pendingRun(org.planner);
  expect(run.approval?.required).toBe(1);
  const calling = {
    ...linearDraft(2),
    nodes: [
      ...linearDraft(2).nodes,
      { id: 'notify', title: 'Notify', executor: { type: 'system', action: 'webhook', url: 'https://hooks.example.com/x' } },
    ],
  };
  const edited = await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, { draft: calling });
  expect(edited.status).toBe(200);
  expect(edited.body).toMatchObject({ status: 'pending-approval', approval: { required: 2 } });
  expect(edited.body.approval?.approvals.map((entry) => entry.by)).toEqual(['alice']);
});

it('an edit may not take a step’s "approval": "before-run" off, nor change the draft’s own approval rules', async () => {
  const org = await organizationWith(stack(), []);
  const guarded = {
    ...linearDraft(2),
    nodes: linearDraft(2).nodes.map((node) => (node.id === 'step-2' ? { ...node, approval: 'before-run' } : node)),
  };
  const run = await pendingRun(org.planner, guarded);
  const unguarded = await call<ErrorBody>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, { draft: linearDraft(2) });
  expect(unguarded.status).toBe(400);
  expect(unguarded.body.error.message).toContain('may not take "approval": "before-run" off step-2');
  const loosened = await call<ErrorBody>(org.alice, 'POST', `/v1/plans/${run.runId}/approve`, {
    draft: { ...guarded, approval: { required: 1 } },
  });
  expect(loosened.status).toBe(400);
  expect(loosened.body.error.message).toContain("an edit may not change the draft's own approval rules");
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}`)).body).toMatchObject({
    status: 'pending-approval',
    revision: run.revision,
  });
});
