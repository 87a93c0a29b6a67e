import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

/** The baseline: a bare workflow that waits for the same approval and does nothing else. */
export const bareApproveUpdate = defineUpdate<string, [unknown]>('approvePlan');
/** Answers once the workflow runs, as `persistedPlan` does for a plan (minus the persisting). */
export const bareStartedUpdate = defineUpdate<string>('persistedPlan');

export async function bareApproval(): Promise<string> {
  let approved = false;
  setHandler(bareStartedUpdate, () => 'pending-approval');
  setHandler(bareApproveUpdate, () => {
    approved = true;
    return 'running';
  });
  await condition(() => approved);
  return 'approved';
}
