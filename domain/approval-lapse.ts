import { type ApprovalEntry, type ApprovalState, type Decider, approvalStateOf } from './approval.js';
import { openStage, stagesOf } from './approval-stages.js';
import { recheckRefusal, timerEffects } from './approval-steps.js';
import { formatInterval } from './duration.js';
import type { RunState, StateChange } from './run-state.js';
import { makeChange } from './state-change.js';

/*
 * Re-checked at the moment of action (issue 22, item 4; docs/deciding.md). Immediately before a
 * step the approval covered starts — and before a recurring plan's fire acts — the run checks
 * that its approval still holds: each counted approver is still a principal the run's frozen
 * rules let approve (not disabled, still holding the role, the delegation still in force), each
 * stage still has its quorum, and, before the plan's first action, the policy's `validFor` has
 * not run out. If not, nothing starts: the run goes back to `pending-approval` for its remaining
 * steps (`approval-lapsed`, then `plan-pending-approval`). What already ran is not undone.
 */

/** The approvals the run acts on: counted in the gate, or carried from the run that attached the schedule. */
function approvalsOf(state: RunState): readonly ApprovalEntry[] {
  return state.approval?.approvals ?? [];
}

/** Whom to look up again before the plan acts: every person whose approval it acts on (none for a run nobody approved). */
export function approversToRecheck(state: RunState): string[] {
  return [...new Set(approvalsOf(state).map((entry) => entry.by))];
}

/** Whether anything could make the approval lapse: approvals to recheck, or a validity still running before the first action. */
export function mayLapse(state: RunState): boolean {
  if (!state.rules || !state.approval) return false;
  return approvalsOf(state).length > 0 || (state.rules.validForMs !== undefined && !hasActed(state));
}

/** Whether a step has started yet: `validFor` counts from the approval to the plan's first action. */
function hasActed(state: RunState): boolean {
  return state.nodes.some((node) => node.startedAt !== undefined);
}

/** When the earliest approval the run acts on was given (each approver was looked up then); undefined when none. */
export function earliestApprovalAt(state: RunState): string | undefined {
  return approvalTimes(state)[0];
}

/** When the approval the run acts on was given: its last counted approval, else (approved at expiry) when the run started. */
function approvedAt(state: RunState): string | undefined {
  return approvalTimes(state).at(-1) ?? state.startedAt;
}

/** The times of the approvals the run acts on, earliest first (ISO times sort as text). */
function approvalTimes(state: RunState): string[] {
  return approvalsOf(state)
    .map((entry) => entry.at)
    .sort();
}

/**
 * Why the approval the run acts on no longer holds, now that its approvers were looked up again
 * (`found`: by principal id, null for one gone or disabled); empty when it holds. A stage loses
 * its quorum when approvals that counted no longer stand; one approved with more approvals than
 * it needed keeps it while enough stand.
 */
export function lapseReasons(state: RunState, found: ReadonlyMap<string, Decider | null>, now: string): string[] {
  const { rules, approval } = state;
  if (!rules || !approval) return [];
  const expired: string[] = [];
  const withdrawn: string[] = [];
  const validFor = rules.validForMs;
  const since = approvedAt(state);
  // A schedule's fire acts on an approval given for the plan's first run, which acted: `validFor` was that run's.
  if (validFor !== undefined && since && !hasActed(state) && !state.firedByScheduleId && Date.parse(now) - Date.parse(since) > validFor) {
    expired.push(`the approval given at ${since} held for ${formatInterval(validFor)} before the plan's first action, and that has passed`);
  }
  const stages = stagesOf(rules);
  const standing = new Map<number, number>();
  const counted = new Map<number, number>();
  for (const entry of approvalsOf(state)) {
    const stage = entry.stage ?? 0;
    counted.set(stage, (counted.get(stage) ?? 0) + 1);
    // Each approval is held to the stage it was given in. How far an earlier stage had escalated
    // is not kept: it stands if its person may approve that stage with or without its escalations.
    const escalated = stage === (approval.stage ?? 0) ? approval.escalated : (rules.escalations?.length ?? 0);
    const position: ApprovalState = { ...approval, stage, escalated };
    const who = found.get(entry.by);
    const refused = found.has(entry.by) ? recheckRefusal({ ...state, approval: position }, entry, who!) : undefined;
    if (refused) withdrawn.push(whyLapsed(entry, who!, refused.message, openStage(rules, position).approvers));
    else standing.set(stage, (standing.get(stage) ?? 0) + 1);
  }
  const quorumLost = stages.some((stage, index) => {
    const required = stages.length === 1 ? approval.required : stage.required;
    return (counted.get(index) ?? 0) >= required && (standing.get(index) ?? 0) < required;
  });
  // Approvals that no longer stand matter only where they leave a stage short of its quorum.
  return [...expired, ...(quorumLost ? withdrawn : [])];
}

/** Why one approval no longer stands, in words: "alice no longer holds role:approver". */
function whyLapsed(entry: ApprovalEntry, who: Decider | null, refusal: string, approvers: readonly string[]): string {
  if (!who) return `${entry.by} is no longer a principal of the organization (removed or disabled)`;
  if (entry.onBehalfOf) return refusal.replace(/\.$/, '');
  return `${entry.by} no longer holds ${approvers.join(' or ')}`;
}

/**
 * The approval lapsed before `nodeIds` could start: `approval-lapsed` (by `system`, saying why),
 * then `plan-pending-approval`; the run waits for approval again under its frozen rules, from
 * the first stage, with a new expiry. Steps that ran stay done; those in flight finish.
 */
export function lapseApproval(state: RunState, reasons: readonly string[], nodeIds: readonly string[], now: string): StateChange {
  const rules = state.rules!;
  const stages = stagesOf(rules);
  const approval: ApprovalState = {
    ...approvalStateOf(rules, now),
    required: stages[0]!.required,
    ...(rules.stages ? { stage: 0 } : {}),
    stageOpenedAt: now,
    escalated: 0,
    reminded: 0,
  };
  const previous = approvalsOf(state).map((entry) => entry.onBehalfOf ?? entry.by);
  return makeChange(state, now, {
    run: { status: 'pending-approval', approval },
    events: [
      {
        eventType: 'approval-lapsed',
        message: `The approval of "${state.title}" no longer holds, so ${nodeIds.join(', ')} did not start: ${reasons.join('; ')}. It waits for approval again.`,
        fromStatus: state.status,
        toStatus: 'pending-approval',
        emittedBy: 'system',
        detail: { reasons: [...reasons], nodeIds: [...nodeIds], previousApprovals: previous },
      },
      {
        eventType: 'plan-pending-approval',
        message: `Execution plan "${state.title}" is pending approval again: its approval lapsed.`,
        toStatus: 'pending-approval',
        emittedBy: 'system',
        detail: { required: approval.required, expiresAt: approval.expiresAt, revision: state.revision ?? null, lapsed: true },
      },
    ],
    checkpoint: { reason: 'approval-lapsed' },
    effects: [{ kind: 'arm-expiry', at: approval.expiresAt }, ...timerEffects(rules, approval, state.createdAt)],
  });
}
