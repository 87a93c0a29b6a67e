import { WorkflowUpdateFailedError } from '@temporalio/client';

import type { StandingApproval } from '../../domain/standing.js';
import { approvePlanUpdate, planQuery } from '../../workflows/messages.js';
import { type WorkflowTier, defaultRules, from, runInput, startWorkflowTier, stored, until } from './harness.js';

/**
 * Standing approvals as the workflow applies them (issue 21, item 5): granted with an approval
 * where the rules allow, applied at creation only while they hold for the very same plan and
 * requester — tried as an agent hoping an old approval covers something else would.
 */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

const REVISION = 'a1b2c3d4e5f60718';
const PLAN_HASH = `${REVISION}${'0'.repeat(48)}`;

function standingFor(organizationId: string, overrides: Partial<StandingApproval> = {}): StandingApproval {
  const standing: StandingApproval = {
    standingId: `earlier-run:alice:${Math.random().toString(36).slice(2)}`,
    organizationId,
    requester: 'planner',
    revision: REVISION,
    planHash: PLAN_HASH,
    approvedBy: 'alice',
    sourceRunId: 'earlier-run',
    createdAt: new Date(Date.now() - 60_000).toISOString(),
    until: new Date(Date.now() + 86_400_000).toISOString(),
    ...overrides,
  };
  tier.stub.standing.set(standing.standingId, standing);
  return standing;
}

/** A run of the same plan from the same requester, pointing at `standingId` as the client would. */
function runWith(standingId: (organizationId: string) => string, rules = defaultRules({ standing: true })) {
  const input = runInput({ revision: REVISION, planHash: PLAN_HASH, rules });
  tier.stub.know(input.organizationId, 'alice');
  return { ...input, standingApprovalId: standingId(input.organizationId) };
}

const eventsOf = (runId: string) => tier.stub.events(runId);

/** Waits until the run looked its standing approval up (and its person, if found) and stored what it then did. */
async function lookedUp(handle: Awaited<ReturnType<WorkflowTier['start']>>): Promise<void> {
  await until('the standing approval to be looked up and acted on', async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'findStanding');
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    return scheduled.length > 0 && pending.length === 0 ? true : undefined;
  });
  await stored(handle);
}

it('a standing approval that holds approves an identical plan at creation, as its person, with its own event', async () => {
  let standing!: StandingApproval;
  const input = runWith((organizationId) => (standing = standingFor(organizationId)).standingId);
  const handle = await tier.start(input);
  expect((await handle.result()).status).toBe('completed');
  expect(eventsOf(input.runId!).slice(0, 5)).toEqual([
    'plan-created:planner',
    'plan-pending-approval:planner',
    'plan-approved-by-standing:alice',
    'plan-approval-recorded:alice',
    'plan-approved:alice',
  ]);
  const approved = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((event) => event.eventType === 'plan-approved')!;
  expect(approved.detail.credential).toEqual({ kind: 'standing', id: standing.standingId });
});

it.each([
  ['revoked', { revokedAt: new Date().toISOString(), revokedBy: 'alice' }],
  ['ended', { until: new Date(Date.now() - 1000).toISOString() }],
  ['for another plan (its whole hash)', { planHash: `${REVISION}${'f'.repeat(48)}` }],
  ['for another requester', { requester: 'scout' }],
  ["of another organization's", { organizationId: 'elsewhere' }],
])('a standing approval %s approves nothing: the run waits for a person', async (_, overrides) => {
  const input = runWith((organizationId) => standingFor(organizationId, overrides).standingId);
  const handle = await tier.start(input);
  await lookedUp(handle);
  expect((await handle.query(planQuery)).status).toBe('pending-approval');
  expect(eventsOf(input.runId!)).not.toContain('plan-approved-by-standing:alice');
  await handle.terminate('test done');
});

it('rules that forbid standing approvals make one that holds approve nothing, and refuse granting one', async () => {
  const input = runWith((organizationId) => standingFor(organizationId).standingId, defaultRules({ standing: false }));
  const handle = await tier.start(input);
  await lookedUp(handle);
  expect((await handle.query(planQuery)).status).toBe('pending-approval');
  const refused = await handle
    .executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), standing: '30d' }] })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((refused as WorkflowUpdateFailedError).cause?.message).toBe(
    "Standing approvals are not allowed for this plan: its organization's rules forbid them.",
  );
  await handle.terminate('test done');
});

it('an approval with standing records the grant with its event: bound to the requester and the revision, not the run', async () => {
  const input = runInput({ revision: REVISION, planHash: PLAN_HASH, rules: defaultRules({ standing: true }) });
  tier.stub.know(input.organizationId, 'alice');
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [{ ...from(input, 'alice'), standing: '30d' }] });
  await handle.result();
  const recorded = tier.stub
    .transitions(input.runId!)
    .flatMap((transition) => transition.events)
    .find((event) => event.eventType === 'plan-approval-recorded')!;
  const grant = recorded.detail.standing as { standingId: string; requester: string; revision: string; until: string };
  expect(grant).toMatchObject({ standingId: `${input.runId}:alice`, requester: 'planner', revision: REVISION, planHash: PLAN_HASH });
  expect(Date.parse(grant.until) - Date.parse(recorded.createdAt)).toBe(30 * 86_400_000);
});

it('a standing approval revoked before the quorum completes no longer counts: the approval it made is withdrawn', async () => {
  let standing!: StandingApproval;
  const input = runWith(
    (organizationId) => (standing = standingFor(organizationId)).standingId,
    defaultRules({ standing: true, required: 2 }),
  );
  tier.stub.know(input.organizationId, 'bob');
  const handle = await tier.start(input);
  await until('the standing approval to count', async () =>
    ((await handle.query(planQuery)).approval?.approvals.length ?? 0) === 1 ? true : undefined,
  );
  tier.stub.standing.set(standing.standingId, { ...standing, revokedAt: new Date().toISOString(), revokedBy: 'alice' });
  const after = await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  expect(after.status).toBe('pending-approval');
  expect(after.approval!.approvals.map((entry) => entry.by)).toEqual(['bob']);
  await stored(handle);
  expect(eventsOf(input.runId!)).toContain('plan-approval-withdrawn:system');
  await handle.terminate('test done');
});
