import { Context } from '@temporalio/activity';

import type { Transition } from '../domain/run-state.js';
import type { PlanMetrics } from '../metrics/plan-metrics.js';
import { isRetryableConflict } from '../storage/database.js';
import type { PersistTransitionsInput, PlanStore } from '../storage/plan-store.js';

/**
 * After this many attempts failing the same way, a write is taken to be one SurrealDB will never
 * accept (a document it cannot hold), rather than a passing outage.
 */
export const UNSTORABLE_AFTER_ATTEMPTS = 5;

/** Errors of the connection or of concurrent writers: a later attempt may succeed, however many failed. */
function isPassing(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return isRetryableConflict(error) || /connect|closed|socket|timed? ?out|unavailable|ECONN|EPIPE/i.test(message);
}

/** The transitions with what they carry from outside (outputs, event details) replaced by a note saying why. */
export function withholdPayloads(transitions: readonly Transition[], reason: string): Transition[] {
  const withheld = { withheld: `Could not be stored: ${reason}` };
  return transitions.map((transition) => ({
    ...transition,
    events: transition.events.map((event) => ({ ...event, detail: withheld })),
    ...(transition.artifacts ? { artifacts: transition.artifacts.map((artifact) => ({ ...artifact, content: withheld })) } : {}),
  }));
}

/**
 * Stores committed transitions. A write that keeps failing with an error no retry can cure does
 * not wedge the run's records: it is logged naming the run, and the transitions are stored with
 * their payloads withheld (numbers, statuses, checkpoints intact), so later ones follow and
 * `plans doctor` shows where the record differs. Passing errors are retried as long as it takes.
 */
export async function storeCommitted(
  store: PlanStore,
  input: PersistTransitionsInput,
  metrics?: PlanMetrics,
): Promise<{ notify: number[] }> {
  // Only `notify` goes back: the activity's answer is kept in the run's history.
  const stored = async (transitions: Transition[]) => {
    const { notify, applied, createdAt } = await store.runs.persistTransitions({ ...input, transitions });
    metrics?.transitionsStored(input.organizationId, applied, createdAt);
    return { notify };
  };
  try {
    return await stored(input.transitions);
  } catch (error) {
    const context = Context.current();
    const { attempt } = context.info;
    const sequences = input.transitions.map((transition) => transition.sequence);
    const where = { runId: input.runId, sequences: `${sequences[0]}–${sequences.at(-1)}`, attempt };
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^Error: /, '');
    if (isPassing(error) || attempt < UNSTORABLE_AFTER_ATTEMPTS) {
      context.log.warn(`Could not store transitions of run ${input.runId} yet: ${reason}`, where);
      throw error;
    }
    context.log.error(
      `Run ${input.runId}: transitions ${where.sequences} cannot be stored (${reason}); storing them with their payloads withheld.`,
      where,
    );
    return stored(withholdPayloads(input.transitions, reason));
  }
}
