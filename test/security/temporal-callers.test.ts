import { randomUUID } from 'node:crypto';

import { WorkflowUpdateFailedError } from '@temporalio/client';

import type { ApprovalRules } from '../../domain/approval.js';
import type { ReplaceRequest } from '../../domain/decisions.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { replacePlanUpdate } from '../../workflows/messages.js';
import { crossThread, linearDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith } from '../support/principals.js';
import { eventually, startThroughTemporal } from '../support/stack.js';

/**
 * A caller that reaches Temporal itself (the `temporal` CLI, an SDK client) is an operator by
 * docs/security-model.md, yet the rules the workflow applies hold there too: a replacement gets
 * no rules of its sender's choosing, and a run started without the approval its rules require
 * is checked where it starts. Tried as such a caller would, each asserting nothing ran.
 */

const { stack, call } = apiStackForFile();

async function organization() {
  const org = await organizationWith(stack());
  expect((await call(org.admin, 'PUT', '/v1/policy', { required: 2, expiresAfter: '7d' })).status).toBe(200);
  return org;
}

/** Rules as loose as a sender could wish: one approval, an agent among the approvers, the requester may skip, expiry approves. */
const loose = (organizationId: string): ApprovalRules => ({
  policyVersion: 99,
  approvers: ['role:approver', 'planner'],
  required: 1,
  expiresAfterMs: 30 * 86_400_000,
  onExpiry: 'approve',
  skipApproval: ['planner'],
  requesters: [`nobody-of-${organizationId}`],
  reasons: [],
  conditions: ['cross-thread'],
});

async function pendingRun(org: Awaited<ReturnType<typeof organization>>): Promise<PlanSnapshot> {
  const created = await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread());
  expect(created.body).toMatchObject({ status: 'pending-approval', approval: { required: 2 } });
  return created.body;
}

function replaceThroughTemporal(run: PlanSnapshot, extra: Partial<ReplaceRequest>): Promise<unknown> {
  const request: ReplaceRequest = {
    organizationId: run.organizationId,
    threadId: run.threadId,
    leadAgentId: 'planner',
    reason: 'Swapped by hand.',
    newRunId: randomUUID(),
    plan: compileDraft(linearDraft(2)),
    ...extra,
  };
  return stack()
    .client.workflow.getHandle(run.workflowId)
    .executeUpdate(replacePlanUpdate, { args: [request] });
}

it('a replacement sent through Temporal asking to skip approval, with rules of its own, is refused and nothing is replaced', async () => {
  const org = await organization();
  const run = await pendingRun(org);
  const refused = await replaceThroughTemporal(run, { requireApproval: false, rules: loose(org.organizationId) }).catch(
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({
    type: 'not-eligible',
    message: expect.stringContaining('planner may not start a cross-thread plan without approval'),
  });
  const after = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}`)).body;
  expect([after.status, after.replacedByRunId]).toEqual(['pending-approval', null]);
});

it('a replacement sent through Temporal is held to the replaced run’s rules, whatever rules it carries', async () => {
  const org = await organization();
  const run = await pendingRun(org);
  const newRunId = randomUUID();
  await replaceThroughTemporal(run, { newRunId, rules: loose(org.organizationId) });
  const replacement = await eventually(`replacement ${newRunId} to be stored`, async () => {
    const answer = await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${newRunId}`);
    return answer.status === 200 ? answer.body : undefined;
  });
  expect(replacement).toMatchObject({
    status: 'pending-approval',
    approval: {
      required: 2,
      onExpiry: 'reject',
      approvers: ['role:approver'],
      reasons: ['cross-thread'],
      requesters: expect.arrayContaining(['planner']),
    },
  });
  // Seven days and rejected then, not thirty and approved.
  expect(Date.parse(replacement.approval!.expiresAt) - Date.parse(replacement.createdAt)).toBe(7 * 86_400_000);
  // One approval is not enough, as under the replaced run.
  expect((await call<PlanSnapshot>(org.alice, 'POST', `/v1/plans/${newRunId}/approve`, {})).body).toMatchObject({
    status: 'pending-approval',
  });
});

it('a run started through Temporal without the approval its rules require ends before anything runs; one its rules let skip runs', async () => {
  const org = await organization();
  const start = async (rules: ApprovalRules) => {
    const runId = randomUUID();
    await startThroughTemporal(stack(), {
      runId,
      organizationId: org.organizationId,
      threadId: 't-1',
      sourceThreadId: 't-9',
      leadAgentId: 'planner',
      requireApproval: false,
      rules,
      plan: compileDraft(linearDraft(2)),
    });
    return eventually(`run ${runId} to end`, async () => {
      const answer = await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${runId}?include=events`);
      return answer.status === 200 && ['aborted', 'completed'].includes(answer.body.status) ? answer.body : undefined;
    });
  };
  const strict: ApprovalRules = {
    policyVersion: 1,
    approvers: ['role:approver'],
    required: 2,
    expiresAfterMs: 7 * 86_400_000,
    onExpiry: 'reject',
    skipApproval: [],
    requesters: ['planner'],
    reasons: ['cross-thread'],
  };

  const refused = await start(strict);
  expect(refused.status).toBe('aborted');
  expect(refused.nodes.map((node) => node.status)).toEqual(['aborted', 'aborted']);
  expect(refused.events!.find((event) => event.eventType === 'plan-aborted')).toMatchObject({
    emittedBy: 'system',
    detail: {
      reason: expect.stringContaining(
        "planner may not start a cross-thread plan without approval: this organization's policy lets no one skip it",
      ),
    },
  });
  expect(refused.events!.some((event) => event.eventType === 'node-started')).toBe(false);

  const allowed = await start({ ...strict, skipApproval: ['planner'] });
  expect(allowed.status).toBe('completed');
});
