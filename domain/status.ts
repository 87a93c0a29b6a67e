export const RUN_STATUSES = ['pending-approval', 'running', 'awaiting-human', 'blocked', 'failed', 'completed', 'aborted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A thread's active runs: not finished, whether or not they are moving. */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['pending-approval', 'running', 'awaiting-human', 'blocked'];

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['failed', 'completed', 'aborted']);

export const NODE_STATUSES = [
  'pending',
  'ready',
  'running',
  'awaiting-human',
  /** Held for a decision before it runs: by an approver (`hold`), or by its draft (`"approval": "before-run"`). */
  'awaiting-approval',
  'completed',
  'failed',
  'skipped',
  'blocked',
  'aborted',
] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** A node in one of these is done with: it runs no more and nothing waits on it to finish. */
export const FINISHED_NODE_STATUSES: ReadonlySet<NodeStatus> = new Set(['completed', 'failed', 'skipped', 'aborted']);
