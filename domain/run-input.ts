import { resolveRequireApproval } from './context.js';
import type { CompiledPlan } from './plan.js';
import type { PlanRunInput, RunContext } from './run-state.js';

/**
 * How a run's workflow behaves, fixed in its input when it starts, so every replay of it decides
 * the same way. Runs without one started before formats existed: they replay as recorded (the
 * `persist-from-committed-history` patch marker tells their two behaviours apart). Format 2
 * stores from committed history without a patch marker (which costs every run a search-attribute
 * upsert), hands run-level transitions to a lone node activity too, and leaves the status
 * attribute at `running` when the run completes (workflows/ARCHITECTURE.md, "Run formats").
 * Format 3 re-checks its approval before a step acts (approval-lapse.ts), and a schedule it
 * attaches carries its approvals into every fire, which checks them again. Format 4 ends the
 * status attribute at the run's final status, `completed` too (one upsert more per run), so a run
 * of format 4 that shows `running` is running (a schedule attached by an older run fires runs of
 * that run's format: workflows/ARCHITECTURE.md, "Run formats").
 */
export const RUN_FORMAT = 4;

/** How a run of one generation behaves: every "which generation is this run" question, answered once. */
export interface RunBehaviour {
  /**
   * Stores from committed history (a regular activity flushes) rather than with a local activity
   * before answering; `ask-marker`: runs from before formats, told apart by the
   * `persist-from-committed-history` patch marker.
   */
  storesFromCommittedHistory: true | 'ask-marker';
  /** Hands run-level transitions to a lone node activity too, and carries while callers wait. */
  handsOffEverything: boolean;
  /** Leaves the status search attribute at `running` when the run completes (formats 2 and 3: its workflow's Completed says so). */
  keepsRunningWhenCompleted: boolean;
  /** Re-checks its approval immediately before a step acts, and hands it to the fires of the schedule it attaches (issue 22). */
  rechecksAtAction: boolean;
  /** Takes an approval's edit (`draft`, `patch`) and its word on steps (`steps`); before, those were unknown fields, refused. */
  takesEditsAndSteps: boolean;
}

const BEHAVIOURS: { readonly [format in 1 | 2 | 3 | typeof RUN_FORMAT]: RunBehaviour } = {
  1: {
    storesFromCommittedHistory: 'ask-marker',
    handsOffEverything: false,
    keepsRunningWhenCompleted: false,
    rechecksAtAction: false,
    takesEditsAndSteps: false,
  },
  2: {
    storesFromCommittedHistory: true,
    handsOffEverything: true,
    keepsRunningWhenCompleted: true,
    rechecksAtAction: false,
    takesEditsAndSteps: false,
  },
  3: {
    storesFromCommittedHistory: true,
    handsOffEverything: true,
    keepsRunningWhenCompleted: true,
    rechecksAtAction: true,
    takesEditsAndSteps: true,
  },
  4: {
    storesFromCommittedHistory: true,
    handsOffEverything: true,
    keepsRunningWhenCompleted: false,
    rechecksAtAction: true,
    takesEditsAndSteps: true,
  },
};

/** The behaviour of a run of `format` (absent: started before formats, format 1). */
export function behaviourOf(format: number | undefined): RunBehaviour {
  const generation = format ?? 1;
  return generation >= 4 ? BEHAVIOURS[4] : generation >= 3 ? BEHAVIOURS[3] : generation >= 2 ? BEHAVIOURS[2] : BEHAVIOURS[1];
}

export type { PlanRunInput } from './run-state.js';

/** Who asks for a run and for whom; `requireApproval` is the explicit choice, if any (S1). */
export type RunRequest = Omit<RunContext, 'runId' | 'workflowId' | 'requireApproval'> & {
  runId?: string;
  requireApproval?: boolean;
  plan: CompiledPlan;
  /** A standing approval found for the plan (the run applies it if it still holds). */
  standingApprovalId?: string;
};

/**
 * The one way a run's input is made — a create, a schedule's fire and a replacement all use
 * it: approval is required per S1 (cross-thread, or a condition of the policy held: its rules'
 * `reasons`) unless the request chose explicitly.
 */
export function planRunInput(request: RunRequest): PlanRunInput {
  const {
    runId,
    sourceThreadId,
    createdByAgentId,
    replacedRunId,
    firedByScheduleId,
    requireApproval,
    plan,
    standingApprovalId,
    ...context
  } = request;
  return {
    format: RUN_FORMAT,
    ...(runId ? { runId } : {}),
    ...context,
    ...(sourceThreadId ? { sourceThreadId } : {}),
    ...(createdByAgentId ? { createdByAgentId } : {}),
    requireApproval: resolveRequireApproval(requireApproval, sourceThreadId, context.threadId, context.rules?.reasons),
    ...(replacedRunId ? { replacedRunId } : {}),
    ...(firedByScheduleId ? { firedByScheduleId } : {}),
    ...(standingApprovalId ? { standingApprovalId } : {}),
    plan,
  };
}
