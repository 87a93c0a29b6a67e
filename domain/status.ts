export const RUN_STATUSES = [
  'pending-approval',
  'running',
  'awaiting-human',
  'blocked',
  'failed',
  'completed',
  'aborted',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** S10: statuses at which the orchestrator does nothing more until something outside acts. */
export const STABLE_RUN_STATUSES: ReadonlySet<RunStatus> = new Set([
  'pending-approval',
  'awaiting-human',
  'blocked',
  'failed',
  'completed',
  'aborted',
]);

/** A thread's active runs: not finished, whether or not they are moving. */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['pending-approval', 'running', 'awaiting-human', 'blocked'];

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['failed', 'completed', 'aborted']);

export const NODE_STATUSES = [
  'pending',
  'ready',
  'running',
  'awaiting-human',
  'completed',
  'failed',
  'skipped',
  'blocked',
  'aborted',
] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
