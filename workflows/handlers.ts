import { ApplicationFailure, type SignalDefinition, type UpdateDefinition } from '@temporalio/common';
import { setHandler } from '@temporalio/workflow';

import type { PlanError } from '../domain/errors.js';
import type { MessageKind } from '../domain/decisions.js';
import type { PlanSnapshot } from '../domain/snapshot.js';

/**
 * A message people send both as an update (answered, or refused synchronously by its validator
 * without touching history) and as a signal (fire-and-forget: a refusal changes nothing but is
 * recorded as a `decision-refused` event). Declared once; both handlers come from it.
 */
export interface MessagePair<P, V> {
  update: UpdateDefinition<PlanSnapshot, [P]>;
  signal: SignalDefinition<[P]>;
  /** What a refused signal is recorded as. */
  refused: MessageKind;
  /** For the Web UI: what it does, what it carries, and how the signal is called in words. */
  does: string;
  payload: string;
  signalDoes: string;
  /** The rules (pure, shared with the client): the value to act on, or why not. */
  check(payload: P): { value?: V; refusal?: PlanError };
  /** Takes the value into the run; answers the outbox position to settle before answering. */
  act(value: V): number;
}

/** What the pairs need of the run. */
export interface MessageHost {
  settled(position: number): Promise<void>;
  snapshot(): PlanSnapshot;
  refuse(refused: MessageKind, payload: unknown, refusal: PlanError): void;
}

/** A refusal as the failure an update's caller receives: its code is the failure's type, so the client maps it back. */
export function toFailure(error: PlanError): ApplicationFailure {
  return ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true });
}

/** Builds a pair with its types checked (the table in plan-run.ts holds pairs of several payloads). */
export function messagePair<P, V>(pair: MessagePair<P, V>): MessagePair<unknown, unknown> {
  return pair as unknown as MessagePair<unknown, unknown>;
}

/** Registers every pair's update handler, then every pair's signal handler, in table order. */
export function registerMessagePairs(host: MessageHost, pairs: ReadonlyArray<MessagePair<unknown, unknown>>): void {
  for (const pair of pairs) {
    setHandler(
      pair.update,
      async (payload) => {
        await host.settled(pair.act(pair.check(payload).value));
        return host.snapshot();
      },
      {
        validator: (payload) => {
          const { refusal } = pair.check(payload);
          if (refusal) throw toFailure(refusal);
        },
        description: `${pair.does}: ${pair.payload}.`,
      },
    );
  }
  for (const pair of pairs) {
    setHandler(
      pair.signal,
      (payload) => {
        const { value, refusal } = pair.check(payload);
        if (refusal) host.refuse(pair.refused, payload, refusal);
        else pair.act(value);
      },
      { description: `${pair.signalDoes}, fire-and-forget (same payload as ${pair.update.name}).` },
    );
  }
}
