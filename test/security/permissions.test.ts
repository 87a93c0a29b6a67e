import { randomUUID } from 'node:crypto';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { linearDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * The permission table (domain/permissions.ts, docs/security-model.md "Who may do what"), tried as each principal
 * of an organization would try to get around it, through the HTTP API. Each refusal leaves
 * everything as it was.
 */

const { stack, call } = apiStackForFile();

async function organization() {
  const organizationId = `org-${randomUUID()}`;
  const as = (id: string, kind: 'person' | 'agent' | 'service', roles: string[]) => tokenFor(stack(), organizationId, id, { kind, roles });
  return {
    organizationId,
    planner: await as('planner', 'agent', []),
    otherAgent: await as('other-agent', 'agent', ['approver']),
    alice: await as('alice', 'person', ['approver']),
    carol: await as('carol', 'person', []),
    admin: await as('ops', 'person', ['admin']),
  };
}

const create = async (token: string, draft: unknown = linearDraft(1)) =>
  (await call<PlanSnapshot>(token, 'POST', '/v1/plans', { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft })).body;

it('an agent may abort or replace only the runs it requested; people may abort any', async () => {
  const org = await organization();
  const plan = await create(org.planner);
  expect(plan.status).toBe('pending-approval');
  const aborted = await call(org.otherAgent, 'POST', `/v1/plans/${plan.runId}/abort`, { reason: 'Mine now.' });
  expect(aborted).toMatchObject({
    status: 403,
    body: {
      error: {
        code: 'forbidden',
        message: expect.stringMatching(
          /^Only a person, a service, or the agent that requested the run may abort this run; other-agent \(agent/,
        ),
      },
    },
  });
  const replaced = await call(org.otherAgent, 'POST', `/v1/plans/${plan.runId}/replace`, {
    threadId: 't-1',
    leadAgentId: 'other-agent',
    reason: 'Mine.',
    draft: linearDraft(2),
  });
  expect(replaced.status).toBe(403);
  expect((await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${plan.runId}`)).body).toMatchObject({
    status: 'pending-approval',
    replacedByRunId: null,
  });
  // Its own requester may; so may a person.
  expect((await call<PlanSnapshot>(org.planner, 'POST', `/v1/plans/${plan.runId}/abort`, { reason: 'Withdrawn.' })).body.status).toBe(
    'aborted',
  );
  const second = await create(org.planner);
  expect((await call<PlanSnapshot>(org.carol, 'POST', `/v1/plans/${second.runId}/abort`, { reason: 'Not now.' })).body.status).toBe(
    'aborted',
  );
}, 60_000);

it('only an admin runs the doctor, manages tokens or changes the policy', async () => {
  const org = await organization();
  for (const token of [org.planner, org.alice, org.carol]) {
    expect((await call(token, 'POST', '/v1/doctor', {})).status).toBe(403);
    expect((await call(token, 'POST', '/v1/tokens', { principalId: 'mallory', kind: 'person', roles: ['admin'] })).status).toBe(403);
    expect((await call(token, 'PUT', '/v1/policy', { approvers: ['role:approver'], required: 1 })).status).toBe(403);
  }
  expect((await call(org.admin, 'POST', '/v1/doctor', {})).status).toBe(200);
});

it('pausing a schedule is for persons; resuming for who paused it, an approver or an admin; deleting for an approver or an admin', async () => {
  const org = await organization();
  const plan = await create(org.planner, { ...linearDraft(1), schedule: { every: '1h' } });
  await call(org.alice, 'POST', `/v1/plans/${plan.runId}/approve`, {});
  const { scheduleId } = await eventually(`run ${plan.runId}'s schedule to be attached`, async () => {
    const schedule = (await call<{ attached: boolean; scheduleId: string }>(org.alice, 'GET', `/v1/plans/${plan.runId}/schedule`)).body;
    return schedule.attached ? schedule : undefined;
  });
  const state = async () => (await call<{ paused: boolean; pausedBy?: string }>(org.admin, 'GET', `/v1/schedules/${scheduleId}`)).body;

  expect((await call(org.planner, 'POST', `/v1/schedules/${scheduleId}/pause`, {})).status).toBe(403);
  expect((await state()).paused).toBe(false);
  expect((await call(org.alice, 'POST', `/v1/schedules/${scheduleId}/pause`, { note: 'Holiday' })).status).toBe(200);
  expect(await state()).toMatchObject({ paused: true, pausedBy: 'alice' });
  // carol (a person, neither approver nor admin) did not pause it: she may not resume it; an agent never.
  expect((await call(org.carol, 'POST', `/v1/schedules/${scheduleId}/resume`, {})).status).toBe(403);
  expect((await call(org.otherAgent, 'POST', `/v1/schedules/${scheduleId}/resume`, {})).status).toBe(403);
  expect((await state()).paused).toBe(true);
  expect((await call(org.alice, 'POST', `/v1/schedules/${scheduleId}/resume`, {})).status).toBe(200);
  // What carol paused, carol may resume.
  expect((await call(org.carol, 'POST', `/v1/schedules/${scheduleId}/pause`, {})).status).toBe(200);
  expect((await call(org.carol, 'POST', `/v1/schedules/${scheduleId}/resume`, {})).status).toBe(200);
  expect((await state()).paused).toBe(false);

  expect((await call(org.planner, 'DELETE', `/v1/schedules/${scheduleId}`)).status).toBe(403);
  expect((await call(org.carol, 'DELETE', `/v1/schedules/${scheduleId}`)).status).toBe(403);
  expect((await state()).paused).toBe(false);
  expect((await call(org.admin, 'DELETE', `/v1/schedules/${scheduleId}`)).status).toBe(204);
}, 90_000);
