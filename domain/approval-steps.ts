import { type ApprovalEntry, type ApprovalState, type Decider, countedAs, deciderRefusal } from './approval.js';
import { PlanError } from './errors.js';
import { type ApprovalTimer, type StagePosition, type StagedRules, openStage, pendingTimers } from './approval-stages.js';
import { type Decision, credentialOf } from './decisions.js';
import { parseInterval } from './duration.js';
import { type StandingApproval, type StandingGrant, standingHolds, standingIdOf } from './standing.js';
import { deciderInWords } from './run-decisions.js';
import type { CompiledPlan } from './plan.js';
import { approveRun, rejectRun } from './run-decisions.js';
import type { Effect, EventDraft, NodeState, RunState, StateChange } from './run-state.js';
import { verdictsOf } from './step-decisions.js';
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
  /** Events that come first in the same step (a standing approval being applied). */
  leading: readonly EventDraft[] = [],
): StateChange | undefined {
  const approval = state.approval;
  // The skips and holds this approval carries, kept on their steps (step-decisions.ts).
  const verdicts = verdictsOf(state, decision, now);
  if (!approval) return approveRun(state, plan, decision, now, { nodes: verdicts });
  // One approval per person: neither who made an approval nor whom it counts as approves twice.
  const person = decision.onBehalfOf ?? decision.emittedBy;
  if (approval.approvals.some((entry) => [entry.by, countedAs(entry)].some((id) => id === decision.emittedBy || id === person)))
    return undefined;
  const credential = credentialOf(decision);
  const entry: ApprovalEntry = {
    by: decision.emittedBy,
    at: now,
    ...(decision.reason ? { reason: decision.reason } : {}),
    credential,
    ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
  };
  // Only the open stage's approvals are rechecked: one of a stage already passed stands as it was.
  const openIndex = approval.stage ?? 0;
  const withdrawing = (earlier: ApprovalEntry) => recheck.has(earlier.by) && (earlier.stage ?? 0) === openIndex;
  const stillCounted = approval.approvals.filter((earlier) => !withdrawing(earlier));
  const withdrawn: EventDraft[] = approval.approvals.filter(withdrawing).map((earlier) => ({
    eventType: 'plan-approval-withdrawn',
    message: `Withdrew the approval of ${earlier.by} for "${state.title}": ${recheck.get(earlier.by)}`,
    emittedBy: 'system',
    detail: { by: earlier.by, approvedAt: earlier.at, reason: recheck.get(earlier.by)! },
  }));
  const stage = state.rules?.stages ? openStage(state.rules, approval) : undefined;
  const next = { ...approval, approvals: [...stillCounted, stage ? { ...entry, stage: stage.index } : entry] };
  // A withdrawn approval takes the skips and holds it asked for with it.
  const withdrawnBy = new Set(approval.approvals.filter(withdrawing).map((earlier) => earlier.by));
  const unsaid = state.nodes
    .filter((node) => node.verdict && withdrawnBy.has(node.verdict.by) && !verdicts.some((mine) => mine.nodeId === node.nodeId))
    .map(({ verdict: _verdict, ...node }) => node);
  const changedNodes = [...unsaid, ...verdicts];
  // Approvals count toward the stage they were given in; a run without stages has one.
  const count = next.approvals.filter((counted) => (counted.stage ?? 0) === (stage?.index ?? 0)).length;
  const recorded: EventDraft = {
    eventType: 'plan-approval-recorded',
    message: `Recorded approval ${describeCount(count, next.required)}${stage ? ` of stage ${stage.name}` : ''} by ${deciderInWords(decision)}${decision.onBehalfOf ? ',' : ''} for "${state.title}".`,
    emittedBy: decision.emittedBy,
    detail: {
      count,
      required: next.required,
      ...(decision.reason ? { reason: decision.reason } : {}),
      credential,
      ...(stage ? { stage: stage.name } : {}),
      ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
      ...(decision.standing ? { standing: standingGrantOf(state, decision.emittedBy, decision.standing, now) } : {}),
      ...(decision.steps ? { steps: decision.steps } : {}),
    },
  };
  const before = [...leading, ...withdrawn, recorded];
  if (count < next.required) return makeChange(state, now, { run: { approval: next }, nodes: changedNodes, events: before });
  if (stage && stage.index + 1 < stage.of) return openNextStage(state, next, before, now, changedNodes);
  return approveRun(state, plan, decision, now, {
    preceding: before,
    run: { approval: next },
    nodes: changedNodes,
    detail: { approvals: count, required: next.required },
  });
}

/** The standing approval an approval grants (stored with its event, in the same transaction). */
function standingGrantOf(state: RunState, approvedBy: string, lasting: string, now: string): StandingGrant {
  return {
    standingId: standingIdOf(state.runId, approvedBy),
    requester: state.createdByAgentId ?? state.leadAgentId,
    revision: state.revision!,
    planHash: state.planHash!,
    until: new Date(Date.parse(now) + parseInterval(lasting)!).toISOString(),
  };
}

/**
 * A standing approval applied to a run when it was created (looked up again by the run: `found`,
 * and its person as the directory has them now: `who`). It counts as its person's approval —
 * `plan-approved-by-standing`, by that person, its credential the standing approval — and
 * completes the quorum (or the stage) like any approval. Undefined, changing nothing, when it
 * does not hold for this run: revoked or ended, another requester or revision, rules that forbid
 * standing approvals, a person no longer eligible, the run decided meanwhile.
 */
export function approveByStanding(
  state: RunState,
  plan: CompiledPlan,
  found: StandingApproval | null,
  who: Decider | null,
  now: string,
): StateChange | undefined {
  const { rules, approval } = state;
  const requester = state.createdByAgentId ?? state.leadAgentId;
  if (!found || !rules || !approval || state.status !== 'pending-approval' || rules.standing !== true) return undefined;
  if (
    !state.planHash ||
    found.organizationId !== state.organizationId ||
    found.requester !== requester ||
    found.planHash !== state.planHash
  )
    return undefined;
  if (!standingHolds(found, now) || deciderRefusal(rules, found.approvedBy, who, 'approve', approval)) return undefined;
  const decision: Decision = {
    organizationId: state.organizationId,
    threadId: state.sourceThreadId ?? state.threadId,
    emittedBy: found.approvedBy,
    credential: { kind: 'standing', id: found.standingId },
  };
  const applied: EventDraft = {
    eventType: 'plan-approved-by-standing',
    message: `Applied standing approval ${found.standingId} by ${found.approvedBy} (given on run ${found.sourceRunId}, until ${found.until}) to "${state.title}".`,
    emittedBy: found.approvedBy,
    detail: { standingId: found.standingId, sourceRunId: found.sourceRunId, until: found.until, credential: decision.credential },
  };
  return decideApproval(state, plan, decision, now, NOTHING_WITHDRAWN, [applied]);
}

/**
 * The open stage is approved and another follows: `plan-stage-opened` by `system`; the next
 * stage's approvals start from none, its reminders and escalations from now.
 */
function openNextStage(state: RunState, approval: ApprovalState, preceding: EventDraft[], now: string, nodes: NodeState[]): StateChange {
  const rules = state.rules!;
  const index = (approval.stage ?? 0) + 1;
  const opened: ApprovalState = {
    ...approval,
    stage: index,
    stageOpenedAt: now,
    escalated: 0,
    reminded: 0,
    required: rules.stages![index]!.required,
  };
  const stage = openStage(rules, opened);
  const after = rules.stages![index - 1]!.name;
  return makeChange(state, now, {
    run: { approval: opened },
    nodes,
    events: [
      ...preceding,
      {
        eventType: 'plan-stage-opened',
        message: `Stage ${stage.name} (${stage.index + 1} of ${stage.of}) of "${state.title}" is open, after ${after}: ${describeStage(stage)}.`,
        emittedBy: 'system',
        detail: { stage: stage.name, index: stage.index, of: stage.of, approvers: stage.approvers, required: stage.required, after },
      },
    ],
    effects: timerEffects(rules, opened, state.createdAt),
  });
}

function describeStage(stage: { approvers: readonly string[]; required: number }): string {
  return `${stage.required} of ${stage.approvers.join(', ')} must approve`;
}

/** The durable timers of the open stage still to fire (its reminders and escalations). */
export function timerEffects(rules: StagedRules, position: StagePosition, createdAt: string): Effect[] {
  return pendingTimers(rules, position, createdAt).map((timer) => ({ kind: 'arm-approval-timer', timer }));
}

/**
 * A reminder or an escalation of the open stage came due: `plan-reminded` or `plan-escalated` by
 * `system` (an escalation widens or moves who may approve the stage from now on). Undefined when
 * the run moved on meanwhile: decided, or another stage open.
 */
export function fireApprovalTimer(state: RunState, timer: ApprovalTimer, now: string): StateChange | undefined {
  const { approval, rules } = state;
  if (state.status !== 'pending-approval' || !approval || !rules || (approval.stage ?? 0) !== timer.stage) return undefined;
  const stage = openStage(rules, approval);
  if (timer.kind === 'reminder') {
    if ((approval.reminded ?? 0) !== timer.index) return undefined;
    return makeChange(state, now, {
      run: { approval: { ...approval, reminded: timer.index + 1 } },
      events: [
        {
          eventType: 'plan-reminded',
          message: `Reminded ${stage.approvers.join(', ')} that "${state.title}" waits for ${stage.name} (${describeStage(stage)}).`,
          emittedBy: 'system',
          detail: { stage: stage.name, approvers: stage.approvers, reminder: timer.index + 1 },
        },
      ],
    });
  }
  if ((approval.escalated ?? 0) !== timer.index) return undefined;
  const escalated: ApprovalState = { ...approval, escalated: timer.index + 1 };
  const widened = openStage(rules, escalated);
  const escalation = rules.escalations![timer.index]!;
  return makeChange(state, now, {
    run: { approval: escalated },
    events: [
      {
        eventType: 'plan-escalated',
        message: escalation.replaceApprovers
          ? `Escalated ${stage.name} of "${state.title}": ${widened.approvers.join(', ')} approve it instead of ${stage.approvers.join(', ')}.`
          : `Escalated ${stage.name} of "${state.title}": ${escalation.addApprovers!.join(', ')} may approve it too.`,
        emittedBy: 'system',
        detail: {
          stage: stage.name,
          from: stage.approvers,
          approvers: widened.approvers,
          ...(escalation.addApprovers ? { addApprovers: escalation.addApprovers } : {}),
          ...(escalation.replaceApprovers ? { replaceApprovers: escalation.replaceApprovers } : {}),
          escalation: timer.index + 1,
        },
      },
    ],
  });
}

/**
 * Why an approval counted earlier no longer stands, now that its maker was looked up again
 * (`who`; null: gone); undefined when it stands. One made for a delegator stands while the
 * delegation holds and the delegator may still approve; one given before an escalation moved
 * the stage stands if it would stand without the escalation; one a standing approval made stands
 * while that standing approval holds.
 */
export function recheckRefusal(
  state: RunState,
  entry: ApprovalEntry,
  who: Decider | null,
  /** The standing approval that made it, as stored now (null: gone), when one did. */
  standing?: StandingApproval | null,
  now?: string,
): PlanError | undefined {
  const rules = state.rules!;
  const { approval } = state;
  if (entry.credential?.kind === 'standing' && standing !== undefined && (!standing || !standingHolds(standing, now!)))
    return new PlanError('not-eligible', `standing approval ${entry.credential.id} was revoked or ended.`);
  const refusalAt = (position: StagePosition | undefined) => {
    if (!entry.onBehalfOf) return deciderRefusal(rules, entry.by, who, 'approve', position);
    const delegator = who?.kind === 'person' ? who.actsFor?.find((candidate) => candidate.id === entry.onBehalfOf) : undefined;
    return delegator
      ? deciderRefusal(rules, delegator.id, delegator, 'approve', position)
      : new PlanError('not-eligible', `${entry.by} no longer acts for ${entry.onBehalfOf}: their delegation ended or was revoked.`);
  };
  const refused = refusalAt(approval);
  return refused && approval?.escalated && !refusalAt({ ...approval, escalated: 0 }) ? undefined : refused;
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
  // The open stage's approvals: those of a stage already passed were checked when it completed.
  const stage = approval.stage ?? 0;
  const counted = approval.approvals.filter((entry) => (entry.stage ?? 0) === stage);
  return counted.length + 1 >= approval.required ? counted.map((entry) => entry.by) : [];
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
    message: `Execution plan "${state.title}" expired without a decision (${describeCount(approval.approvals.filter((entry) => (entry.stage ?? 0) === (approval.stage ?? 0)).length, approval.required)} approvals); ${outcome === 'approve' ? 'approved' : 'rejected'} as its policy says.`,
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
