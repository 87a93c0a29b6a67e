import type { WorkflowInterceptors } from '@temporalio/workflow';
import type { coresdk } from '@temporalio/proto';

/*
 * Every record a run stores is stamped with workflow time, which Temporal defines as the time
 * of the workflow task that made it — the same on first execution and on every replay. One
 * path in the SDK breaks that (Temporal TypeScript SDK 1.24, reproduced on a dev server):
 *
 *   1. a worker dies while the run waits, say, on an activity; another worker starts;
 *   2. a query is dispatched to the new worker while no workflow task is pending, and waits in
 *      matching for the dead worker's sticky queue before it falls back (≈10 s);
 *   3. meanwhile the activity times out: its event and a new workflow task join the history;
 *   4. the new worker replays that history for the query, *including the new events*, with the
 *      clock of the last completed workflow task, and keeps the run cached;
 *   5. the next workflow task reuses the cached run: the run's reaction (here `node-retried`)
 *      was made with the old clock and is handed to storage with it, while a replay makes it
 *      with the task's own time — the stored record and the workflow's state now differ (I1).
 *
 * The activation of step 4 is recognisable: it carries the clock and history size of the
 * previous activation (no new workflow task started) but a longer history. Every genuine
 * workflow task has a larger history size than the one before (its own events count), so this
 * never matches a real task, replayed or not. Failing that activation makes the SDK drop the
 * cached run (the query fails once, with the reason); the next workflow task replays it from
 * history with the right clock. ARCHITECTURE.md, "Workflow time".
 */

/** The words that tell a query's caller the worker refused a stale replay (and to ask again). */
const REFUSAL = 'ahead of its next workflow task';

/** The replay a query asked for got ahead of the run's next workflow task. */
export class StaleClockError extends Error {
  override readonly name = 'StaleClockError';
}

/** Whether a failed query was this refusal: asked again, it is answered. */
export function isStaleClockRefusal(error: unknown): boolean {
  return error instanceof Error && error.message.includes(REFUSAL);
}

interface Clock {
  timestamp: string;
  historyLength: number;
  historySize: number;
}

function clockOf(activation: coresdk.workflow_activation.IWorkflowActivation): Clock | undefined {
  const { timestamp, historyLength, historySizeBytes } = activation;
  if (!timestamp || !historyLength) return undefined;
  return { timestamp: `${timestamp.seconds}.${timestamp.nanos ?? 0}`, historyLength, historySize: Number(historySizeBytes ?? 0) };
}

/** Every kind of activation job the SDK delivers (a job is a oneof: its one set field names its kind). */
type JobKind = NonNullable<coresdk.workflow_activation.IWorkflowActivationJob['variant']>;

/**
 * Whether a job of each kind reacts to new history (and so stamps what it makes with the clock);
 * only a query reads the run and only an eviction drops it. A kind a new SDK adds does not
 * compile until it is placed here.
 */
const CHANGES_THE_RUN: { readonly [K in JobKind]: boolean } = {
  initializeWorkflow: true,
  fireTimer: true,
  updateRandomSeed: true,
  queryWorkflow: false,
  cancelWorkflow: true,
  signalWorkflow: true,
  resolveActivity: true,
  notifyHasPatch: true,
  resolveChildWorkflowExecutionStart: true,
  resolveChildWorkflowExecution: true,
  resolveSignalExternalWorkflow: true,
  resolveRequestCancelExternalWorkflow: true,
  doUpdate: true,
  resolveNexusOperationStart: true,
  resolveNexusOperation: true,
  removeFromCache: false,
};

function changesTheRun(activation: coresdk.workflow_activation.IWorkflowActivation): boolean {
  // An unknown kind (a newer core than these types) counts as a change: the guard errs towards refusing.
  return (activation.jobs ?? []).some((job) =>
    Object.entries(job).some(([kind, value]) => kind !== 'variant' && value != null && (CHANGES_THE_RUN[kind as JobKind] ?? true)),
  );
}

/** One guard per workflow instance: the clock of its last activation that carried one. */
export const interceptors = (): WorkflowInterceptors => {
  let last: Clock | undefined;
  return {
    internals: [
      {
        activate(input, next) {
          const clock = input.batchIndex === 0 ? clockOf(input.activation) : undefined;
          if (clock) {
            const stale =
              last !== undefined &&
              clock.timestamp === last.timestamp &&
              clock.historySize > 0 &&
              clock.historySize === last.historySize &&
              clock.historyLength !== last.historyLength;
            if (stale && changesTheRun(input.activation)) {
              throw new StaleClockError(
                `This worker replayed the run for a query ${REFUSAL} (history ${last!.historyLength} -> ${clock.historyLength} events with the same clock); it reloads the run from history. Ask again.`,
              );
            }
            // A stale clock is never taken as the reference: a later activation with it is caught too.
            if (!stale) last = clock;
          }
          return next(input);
        },
      },
    ],
  };
};
