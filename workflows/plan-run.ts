import { CancellationScope, allHandlersFinished, condition, continueAsNew, isCancellation, workflowInfo } from '@temporalio/workflow';

import { canStartNodes, dispatchReadyNodes } from '../domain/execution.js';
import type { PlanRunInput } from '../domain/run-input.js';
import type { RunHeader } from '../domain/run-state.js';
import { abortRun } from '../domain/transitions.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { TERMINAL_RUN_STATUSES } from '../domain/status.js';
import { runIdOf } from '../temporal/names.js';
import { registerHandlers } from './handlers.js';
import { WorkflowRun, now } from './run.js';

const DEFAULT_HISTORY_LIMIT = 10_000;

/**
 * One execution plan run. A run that needs approval waits in `pending-approval` until a
 * decision arrives (S2, S4–S6); a running run executes its DAG, at most `parallelism` nodes at a
 * time, until it is completed, failed or aborted. Every change is stored in SurrealDB from
 * committed history, strictly in order (ARCHITECTURE.md).
 */
export async function planRun(input: PlanRunInput): Promise<PlanSnapshot> {
  const { workflowId } = workflowInfo();
  const { plan, runId = runIdOf(workflowId), resume: _resume, historyLimit: _limit, format: _format, ...context } = input;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const header: RunHeader = { ...context, runId, workflowId, title: plan.title, objective: plan.objective, createdAt: now() };
  // State and handlers exist before the first await, so no early decision is ever lost.
  const run = new WorkflowRun(input, header);
  const { outbox, nodes } = run;

  registerHandlers(run);

  const wantsContinueAsNew = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyLimit;
  const check = run.actionCheck;
  const canDispatch = () => run.admitted && !check.busy && !wantsContinueAsNew() && canStartNodes(run.state, run.plan);
  const ended = () => TERMINAL_RUN_STATUSES.has(run.state.status);
  const quiet = () => outbox.quiet && nodes.outcomes.length === 0 && nodes.idle && allHandlersFinished();
  const inFlight = (nodeId: string) => nodes.isInFlight(nodeId);

  if (input.resume) nodes.resume();

  // The run's single writer: applies what happened, starts what can start, stores, repeats.
  try {
    for (;;) {
      await condition(
        () =>
          (outbox.needsDrain(inFlight) && !check.busy) ||
          nodes.outcomes.length > 0 ||
          canDispatch() ||
          ((ended() || (wantsContinueAsNew() && run.admitted)) && quiet()),
      );
      while (nodes.outcomes.length > 0) run.apply(nodes.outcomes.shift()!);
      // Immediately before a step acts, its approval is checked again (format 3): it starts once cleared.
      // (A check that needs no lookup clears the steps, or lapses the approval, at once: then they start now, or not at all.)
      if (canDispatch() && check.needed()) check.start();
      const dispatched = canDispatch() && !check.needed() ? dispatchReadyNodes(run.state, run.plan, now()) : undefined;
      if (dispatched) {
        run.take(dispatched);
        check.spent();
      }
      // A node starts only once its start is stored: flushed now, or carried by its own activity.
      const launching = nodes.takeQueued();
      const carried =
        launching.length === 1
          ? outbox.carry(
              run.plan.nodes.find((node) => node.nodeId === launching[0])!,
              !nodes.idle,
            )
          : undefined;
      if (carried) nodes.launch(launching[0]!, carried);
      // While the approval is checked again, what waits to be stored stays for the step that starts after it to carry.
      if (!check.busy || launching.length > 0) await outbox.drain(inFlight);
      if (!carried) for (const nodeId of launching) nodes.launch(nodeId);
      if (ended() && quiet()) return run.snapshot();
      if (wantsContinueAsNew() && run.admitted && quiet() && !ended()) {
        nodes.cancelDeadlines();
        await continueAsNew<typeof planRun>(run.continuedInput());
      }
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled from Temporal (Web UI, CLI, a schedule's overlap policy): end aborted, stored.
    return CancellationScope.nonCancellable(async () => {
      if (!ended()) run.take(abortRun(run.state, { reason: 'Cancelled through Temporal.', emittedBy: 'temporal' }, now()));
      do await outbox.drain(inFlight);
      while (!outbox.drained);
      return run.snapshot();
    });
  }
}
