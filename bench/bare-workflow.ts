import { condition, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

/**
 * The baselines: bare workflows that wait for the same approval update and, for execution,
 * run the same number of no-op activities in a row — no validation, no state machine, no
 * persistence.
 */
export const bareApproveUpdate = defineUpdate<string, [unknown]>('approvePlan');
/** Answers once the workflow runs, as `persistedPlan` does for a plan (minus the persisting). */
export const bareStartedUpdate = defineUpdate<string>('persistedPlan');

export interface BareActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<BareActivities>({ startToCloseTimeout: '30s' });

export async function bareApproval(nodes = 0): Promise<string> {
  let approved = false;
  setHandler(bareStartedUpdate, () => 'pending-approval');
  setHandler(bareApproveUpdate, () => {
    approved = true;
    return 'running';
  });
  await condition(() => approved);
  for (let index = 0; index < nodes; index++) await noop();
  return 'completed';
}
