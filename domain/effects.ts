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

/**
 * Where each kind is carried out: by the run's outbox, in order behind the transitions that asked
 * for it (it talks to the world), or at once by the run (timers and node work in flight). A new
 * kind does not compile until it is placed here.
 */
const CARRIED_BY = {
  'cancel-all': 'run',
  'attach-schedule': 'outbox',
  'refresh-schedule': 'outbox',
  'delete-schedule': 'outbox',
  'start-replacement': 'outbox',
  'start-attempt': 'run',
  'retry-attempt': 'run',
  'cancel-attempt': 'run',
  'arm-deadline': 'run',
  'cancel-deadline': 'run',
  'arm-expiry': 'run',
} as const satisfies { readonly [K in Effect['kind']]: 'outbox' | 'run' };

type KindsCarriedBy<Where> = { [K in keyof typeof CARRIED_BY]: (typeof CARRIED_BY)[K] extends Where ? K : never }[keyof typeof CARRIED_BY];

/** The effects the run's outbox carries out in order with its transitions. */
export type OutboxEffect = Extract<Effect, { kind: KindsCarriedBy<'outbox'> }>;
/** The effects the run carries out at once. */
export type RunEffect = Extract<Effect, { kind: KindsCarriedBy<'run'> }>;

export function isOutboxEffect(effect: Effect): effect is OutboxEffect {
  return CARRIED_BY[effect.kind] === 'outbox';
}

/**
 * One handler per kind of `E`, each given its own kind's effect: a table of these is a dispatch
 * that fails to compile until every kind is handled (the run's, and its outbox's).
 */
export type EffectHandlers<E extends Effect, R> = { readonly [K in E['kind']]: (effect: Extract<E, { kind: K }>) => R };

/** Calls the handler of `effect`'s kind. */
export function dispatchEffect<E extends Effect, R>(handlers: EffectHandlers<E, R>, effect: E): R {
  return (handlers[effect.kind as E['kind']] as (effect: E) => R)(effect);
}
