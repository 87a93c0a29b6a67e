import type { Effect } from './run-state.js';

export type { Effect } from './run-state.js';

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
  'arm-approval-timer': 'run',
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
