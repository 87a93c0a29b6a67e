import { condition, defineUpdate, proxyActivities, setHandler, sleep } from '@temporalio/workflow';

/**
 * The baselines: bare workflows with the same approval gate as a plan — the decider looked up
 * by an activity, an expiry timer armed while pending — that then run the same number of no-op
 * activities in a row; no validation, no state machine, no persistence.
 */
export const bareApproveUpdate = defineUpdate<string, [{ emittedBy: string }]>('approvePlan');
/** Answers once the workflow runs, as `persistedPlan` does for a plan (minus the persisting). */
export const bareStartedUpdate = defineUpdate<string>('persistedPlan');

export interface BareActivities {
  noop(): Promise<void>;
  findPrincipal(principalId: string): Promise<{ id: string; roles: string[] }>;
}

const { noop, findPrincipal } = proxyActivities<BareActivities>({ startToCloseTimeout: '30s' });

/** How long a pending plan waits for its decision by default (as the organization policy's default). */
const EXPIRES_AFTER = '7 days';

export async function bareApproval(nodes = 0): Promise<string> {
  let approved = false;
  setHandler(bareStartedUpdate, () => 'pending-approval');
  setHandler(bareApproveUpdate, async ({ emittedBy }) => {
    const decider = await findPrincipal(emittedBy);
    if (!decider.roles.includes('approver')) throw new Error(`${emittedBy} may not approve`);
    approved = true;
    return 'running';
  });
  // Not cancelled once decided, as a plan's expiry is not: a cancelled timer is a command for nothing.
  void sleep(EXPIRES_AFTER).then(
    () => undefined,
    () => undefined,
  );
  await condition(() => approved);
  for (let index = 0; index < nodes; index++) await noop();
  return 'completed';
}
