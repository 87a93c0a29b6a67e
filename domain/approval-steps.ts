import type { ApprovalEntry } from './approval.js';
import { type Decision, credentialOf } from './decisions.js';
import type { CompiledPlan } from './plan.js';
import { approveRun, rejectRun } from './run-decisions.js';
import type { EventDraft, RunState, StateChange } from './run-state.js';
import { makeChange } from './state-change.js';

/*
 * The gate's transitions on a governed run (one created with approval rules): approvals that
 * accumulate to a quorum, and expiry. Rejections need nothing new: any eligible one ends the run
 * at once (S6's `rejectRun`). Runs from before the gate approve with one decision, as S5 says.
 */

function describeCount(count: number, required: number): string {
  return `${count} of ${required}`;
}

/**
 * An eligible person's approval. Counted once per person: a second approval from the same
 * person changes nothing (undefined: answer with the run as it stands). Earlier approvals that
 * no longer stand (`recheck`) are withdrawn first, each a `plan-approval-withdrawn` event by
 * `system`. The approval that completes the quorum also approves the run (S5), in the same step.
 */
export function decideApproval(
  state: RunState,
  plan: CompiledPlan,
  decision: Decision,
  now: string,
  recheck: Recheck = NOTHING_WITHDRAWN,
): StateChange | undefined {
  const approval = state.approval;
  if (!approval) return approveRun(state, plan, decision, now);
  if (approval.approvals.some((entry) => entry.by === decision.emittedBy)) return undefined;
  const credential = credentialOf(decision);
  const entry: ApprovalEntry = { by: decision.emittedBy, at: now, ...(decision.reason ? { reason: decision.reason } : {}), credential };
  const stillCounted = approval.approvals.filter((earlier) => !recheck.has(earlier.by));
  const withdrawn: EventDraft[] = approval.approvals
    .filter((earlier) => recheck.has(earlier.by))
    .map((earlier) => ({
      eventType: 'plan-approval-withdrawn',
      message: `Withdrew the approval of ${earlier.by} for "${state.title}": ${recheck.get(earlier.by)}`,
      emittedBy: 'system',
      detail: { by: earlier.by, approvedAt: earlier.at, reason: recheck.get(earlier.by)! },
    }));
  const next = { ...approval, approvals: [...stillCounted, entry] };
  const count = next.approvals.length;
  const recorded: EventDraft = {
    eventType: 'plan-approval-recorded',
    message: `Recorded approval ${describeCount(count, next.required)} by ${decision.emittedBy} for "${state.title}".`,
    emittedBy: decision.emittedBy,
    detail: { count, required: next.required, ...(decision.reason ? { reason: decision.reason } : {}), credential },
  };
  if (count < next.required) return makeChange(state, now, { run: { approval: next }, events: [...withdrawn, recorded] });
  return approveRun(state, plan, decision, now, {
    preceding: [...withdrawn, recorded],
    run: { approval: next },
    detail: { approvals: count, required: next.required },
  });
}

/**
 * Approvals counted earlier that no longer stand, by who gave them, with why (the refusal their
 * approval would get now: disabled, deleted, no longer an approver).
 */
export type Recheck = ReadonlyMap<string, string>;
const NOTHING_WITHDRAWN: Recheck = new Map();

/**
 * Whose counted approvals to look up again before `decision` is taken: when it would complete
 * the quorum, every earlier approver's (none otherwise, nor for a decision that changes nothing).
 * The quorum is then of approvals that stand when it completes, not of ones given by someone
 * since disabled or stripped of the approver role.
 */
export function approvalsToRecheck(state: RunState, decision: Decision): string[] {
  const approval = state.approval;
  if (!approval || approval.approvals.some((entry) => entry.by === decision.emittedBy)) return [];
  return approval.approvals.length + 1 >= approval.required ? approval.approvals.map((entry) => entry.by) : [];
}

/**
 * A governed run still pending at its expiry: `plan-expired`, then the outcome its rules say,
 * as a decision by `system` with `detail.expired: true`.
 */
export function expireRun(state: RunState, plan: CompiledPlan, now: string): StateChange {
  const approval = state.approval!;
  const outcome = state.rules?.onExpiry ?? 'reject';
  const expired: EventDraft = {
    eventType: 'plan-expired',
    message: `Execution plan "${state.title}" expired without a decision (${describeCount(approval.approvals.length, approval.required)} approvals); ${outcome === 'approve' ? 'approved' : 'rejected'} as its policy says.`,
    emittedBy: 'system',
    detail: { expiresAt: approval.expiresAt, outcome, approvals: approval.approvals.length, required: approval.required },
  };
  const decision: Decision = {
    organizationId: state.organizationId,
    threadId: state.sourceThreadId ?? state.threadId,
    emittedBy: 'system',
    reason: 'Expired without a decision.',
    credential: { kind: 'expiry' },
  };
  const extras = { preceding: [expired], detail: { expired: true } };
  return outcome === 'approve' ? approveRun(state, plan, decision, now, extras) : rejectRun(state, decision, now, extras);
}
