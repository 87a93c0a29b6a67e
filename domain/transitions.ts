/**
 * Every transition of a run, in one list. The run state machine is pure and deterministic, so
 * the workflow (which owns the state), the activities (which persist the deltas) and the tests
 * share one definition of every transition. Each transition returns the new state plus a
 * `Transition`: the delta to persist, with its events and checkpoint numbered by the run itself,
 * so retried writes cannot duplicate them (`makeChange` in `state-change.ts` builds them all). The types
 * are in `run-state.ts`.
 */

// Creation (run-creation.ts)
/** S2/S3: a new run, pending approval or running at once with its graph evaluated. */
export { createRun } from './run-creation.js';

// Decisions on a pending run (run-decisions.ts) and the gate's quorum and expiry (approval-steps.ts)
/** S5: `pending-approval` → `running`; attaches the schedule. */
export { approveRun } from './run-decisions.js';
/** S6: `pending-approval` → `aborted`, rejected or with changes requested. */
export { rejectRun } from './run-decisions.js';
/** A signalled decision that failed S4: only an audit event. */
export { refuseDecision } from './run-decisions.js';
/** An eligible person's approval, counted once; the one completing the quorum approves the run. */
export { decideApproval } from './approval-steps.js';
/** A pending run reaching its expiry, decided by `system` per its rules. */
export { expireRun } from './approval-steps.js';

// Abort and replace (run-abort.ts)
/** An active run ends `aborted`; its unfinished nodes are aborted. */
export { abortRun } from './run-abort.js';
/** S8: the run is aborted and replaced by a new run; a replaced spec leaves no live schedule. */
export { replaceRun } from './run-abort.js';

// Schedule (run-schedule.ts)
/** S7: the run records its attached schedule and next fire time. */
export { recordSchedule } from './run-schedule.js';

// Nodes (execution.ts)
/** Starts ready nodes up to the plan's parallelism; people's nodes wait for them. */
export { dispatchReadyNodes } from './execution.js';
/** A node's attempt succeeded: its artifacts are handed on, dependents may become ready. */
export { finishNode } from './execution.js';
/** A person completes the node waiting for them. */
export { completeByPerson } from './execution.js';
/** A node's attempt failed: retried after its backoff, or the node (and maybe the run) fails. */
export { failNodeAttempt } from './execution.js';
/** The next attempt of a node whose previous attempt failed. */
export { restartNode } from './execution.js';
/** A node's deadline warning or miss, recorded once each. */
export { recordDeadline } from './execution.js';
/** A node's deadline timer fired: recorded, and a miss that cancels fails the node. */
export { passDeadline } from './execution.js';

// What the workflow asks before taking a transition (no transitions themselves)
export { scheduleToAttach } from './run-schedule.js';
export { canStartNodes } from './execution.js';
export { approvalsToRecheck } from './approval-steps.js';
