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
  return gatedRun(nodes);
}

/** A state change stored by the storage floor: the run's status after it, and the step it completed, if any. */
type StoreChange = (status: FloorChange['status'], completedNode?: number) => Promise<void>;

/**
 * The gate both baselines share: answered once created, approved by a person with the approver
 * role (looked up by an activity), an expiry timer, then `nodes` no-op steps in a row; each
 * change stored first when `store` is given (the storage floor), nothing stored otherwise.
 */
async function gatedRun(nodes: number, store?: StoreChange): Promise<string> {
  let created = store === undefined;
  let approved = false;
  setHandler(bareStartedUpdate, async () => {
    if (!created) await condition(() => created);
    return 'pending-approval';
  });
  setHandler(bareApproveUpdate, async ({ emittedBy }) => {
    if (!created) await condition(() => created);
    const decider = await findPrincipal(emittedBy);
    if (!decider.roles.includes('approver')) throw new Error(`${emittedBy} may not approve`);
    await store?.('running');
    approved = true;
    return 'running';
  });
  // Not cancelled once decided, as a plan's expiry is not: a cancelled timer is a command for nothing.
  void sleep(EXPIRES_AFTER).then(
    () => undefined,
    () => undefined,
  );
  if (store) {
    await store('pending-approval');
    created = true;
  }
  await condition(() => approved);
  for (let index = 0; index < nodes; index++) {
    await noop();
    await store?.(index === nodes - 1 ? 'completed' : 'running', index);
  }
  return 'completed';
}

/** One state change of the storage floor's run, as a careful user would store it by hand. */
export interface FloorChange {
  runId: string;
  organizationId: string;
  /** The run's status after the change. */
  status: 'pending-approval' | 'running' | 'completed';
  /** How many nodes the run has, and which one just completed (from 0), if a node did. */
  nodes: number;
  completedNode?: number;
  /** The change's number in the run, from 1 (the stored version). */
  version: number;
}

export interface FloorActivities extends BareActivities {
  /** Writes a change's rows (the run, its nodes, its events, the feed counter) in one SurrealDB transaction. */
  storeChange(change: FloorChange): Promise<void>;
}

// A failing write fails the bench rather than retrying for ever.
const floor = proxyActivities<FloorActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

/**
 * The storage floor: the bare workflow plus one activity per state change that writes the same
 * kinds of rows as a plan's flush to the same embedded SurrealDB (bench/floor.ts) — created,
 * approved, each node completed (the last one with the run's completion), each stored before the
 * workflow goes on.
 */
export async function floorApproval(nodes = 0, run: { runId: string; organizationId: string }): Promise<string> {
  let version = 0;
  return gatedRun(nodes, (status, completedNode) =>
    floor.storeChange({ ...run, status, nodes, version: ++version, ...(completedNode !== undefined ? { completedNode } : {}) }),
  );
}
