import type { PlanRunInput } from './run-input.js';

/**
 * What a transition asks of the world besides being stored, in the order the workflow carries
 * it out. The domain decides them, so the rules that produce them (S5, S7, S8, retries,
 * deadlines) are unit tests; the workflow only performs them.
 */
export type Effect =
  /** The run has ended: everything still in flight (attempts, backoffs, deadline timers) stops. */
  | { kind: 'cancel-all' }
  /** S3, S5, S7: create the spec's Temporal Schedule, once the transition asking for it is stored. */
  | { kind: 'attach-schedule' }
  /** A run a schedule fired brings the schedule's mirror (next fire time) up to date. */
  | { kind: 'refresh-schedule'; scheduleId: string }
  /** S8: a replaced spec leaves no live schedule. */
  | { kind: 'delete-schedule'; scheduleId: string }
  /** S8: start the run that replaces this one. */
  | { kind: 'start-replacement'; input: PlanRunInput & { runId: string } }
  /** Run this attempt of an agent or system node (once its start is stored). */
  | { kind: 'start-attempt'; nodeId: string }
  /** Wait out a retry's backoff, then report that the attempt may restart. */
  | { kind: 'retry-attempt'; nodeId: string; attempt: number; inMs: number }
  /** Stop the attempt (or backoff) in flight for this node. */
  | { kind: 'cancel-attempt'; nodeId: string }
  /** Time the node's deadline (warning, then miss) from its start. */
  | { kind: 'arm-deadline'; nodeId: string }
  /** The node finished: its deadline no longer matters. */
  | { kind: 'cancel-deadline'; nodeId: string }
  /** The gate: at `at`, a run still pending is decided by `system` per its rules' `onExpiry`. */
  | { kind: 'arm-expiry'; at: string };

/** The effects of kinds that the run's outbox carries out in order with its transitions. */
export type OutboxEffect = Extract<Effect, { kind: 'attach-schedule' | 'refresh-schedule' | 'delete-schedule' | 'start-replacement' }>;

const OUTBOX_KINDS: ReadonlySet<Effect['kind']> = new Set(['attach-schedule', 'refresh-schedule', 'delete-schedule', 'start-replacement']);

export function isOutboxEffect(effect: Effect): effect is OutboxEffect {
  return OUTBOX_KINDS.has(effect.kind);
}
