import { type Credential, type ReplaceRequest, credentialOf } from './decisions.js';
import { planRunInput } from './run-input.js';
import type { RunState, StateChange } from './run-state.js';
import { makeChange, openNodes } from './state-change.js';

/* The end of an active run: aborted, or replaced by a new run (see `transitions.ts`). */

/** The run ends `aborted` with its reason; unfinished nodes are aborted (S8, abortPlan). */
export function abortRun(
  state: RunState,
  abort: { reason: string; emittedBy: string; replacedByRunId?: string; credential?: Credential },
  now: string,
): StateChange {
  const replacing = abort.replacedByRunId !== undefined;
  return makeChange(state, now, {
    run: {
      status: 'aborted',
      currentNodeId: null,
      waitingNodeId: null,
      readyNodeIds: [],
      completedAt: now,
      ...(replacing ? { replacedByRunId: abort.replacedByRunId } : {}),
    },
    nodes: openNodes(state).map((node) => ({ ...node, status: 'aborted', completedAt: now })),
    events: [
      {
        eventType: 'plan-aborted',
        message: replacing
          ? `Aborted execution plan "${state.title}": replaced by run ${abort.replacedByRunId}.`
          : `Aborted execution plan "${state.title}": ${abort.reason}`,
        fromStatus: state.status,
        toStatus: 'aborted',
        emittedBy: abort.emittedBy,
        detail: { reason: abort.reason, ...(replacing ? { replacedByRunId: abort.replacedByRunId } : {}), credential: credentialOf(abort) },
      },
    ],
    checkpoint: { reason: 'plan-aborted', ...(replacing ? { replacedByRunId: abort.replacedByRunId } : {}) },
  });
}

/**
 * S8: the run is aborted, replaced by the run `request` describes, which keeps this run's
 * source thread and needs approval per S1 against it; a replaced spec leaves no live schedule.
 */
export function replaceRun(state: RunState, request: ReplaceRequest, now: string): StateChange {
  const step = abortRun(
    state,
    // Recorded as who sent it (through the API, the token's principal), not as the lead agent it names.
    {
      replacedByRunId: request.newRunId,
      reason: request.reason,
      emittedBy: request.createdByAgentId ?? request.leadAgentId,
      ...(request.credential ? { credential: request.credential } : {}),
    },
    now,
  );
  const scheduleId = state.scheduleId ?? state.firedByScheduleId;
  const input = planRunInput({
    runId: request.newRunId,
    planSpecId: request.newRunId,
    organizationId: state.organizationId,
    threadId: state.threadId,
    ...(state.sourceThreadId ? { sourceThreadId: state.sourceThreadId } : {}),
    leadAgentId: request.leadAgentId,
    createdByAgentId: request.createdByAgentId ?? request.leadAgentId,
    ...(request.requireApproval !== undefined ? { requireApproval: request.requireApproval } : {}),
    replacedRunId: state.runId,
    ...(request.revision ? { revision: request.revision } : {}),
    ...(request.rules ? { rules: request.rules } : {}),
    plan: request.plan,
  });
  return {
    ...step,
    effects: [
      ...step.effects,
      ...(scheduleId ? [{ kind: 'delete-schedule', scheduleId } as const] : []),
      { kind: 'start-replacement', input: { ...input, runId: request.newRunId } },
    ],
  };
}
