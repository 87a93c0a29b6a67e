import type { Credential } from './credentials.js';
import {
  type ApprovalRules,
  type Decider,
  type DecidingRules,
  completerRefusal,
  countedAs,
  deciderRefusal,
  requesterRefusal,
} from './approval.js';
import type { StagePosition } from './approval-stages.js';
import { type RunScope, checkScope } from './context.js';
import { PlanError } from './errors.js';
import { formatInterval } from './duration.js';
import { ID_PATTERN } from './ids.js';
import { heldStepStage } from './step-verdicts.js';
import type { CompiledPlan } from './plan.js';
import { ACTIVE_RUN_STATUSES, type RunStatus, TERMINAL_RUN_STATUSES } from './status.js';

export * from './message-payloads.js';
import {
  type AbortRequest,
  type Decision,
  type NodeCompletion,
  parseAbort,
  parseDecision,
  parseNodeCompletion,
} from './message-payloads.js';

/* The checks of what people send a run against the run as it stands: S4, then the approval gate (docs/DESIGN.md §9). */

export type DecisionKind = 'approve' | 'reject';

/** Every message people send a run: what a malformed one, or a refused signal, is recorded as. */
export type MessageKind = DecisionKind | 'complete-node' | 'abort';

const NOT_PENDING: Record<DecisionKind, string> = {
  approve: 'Only pending-approval plans can be approved.',
  reject: 'Only pending-approval plans can be rejected.',
};

/** A malformed decision payload, as `invalid-input`. */
export function invalidDecision(kind: MessageKind, problems: string[]): PlanError {
  return new PlanError('invalid-input', `Invalid ${kind} decision: ${problems.join('; ')}.`);
}

/** A message checked against a run: the value to act on, or why not (never both). */
export type Checked<T> = { value: T; refusal?: undefined } | { value?: undefined; refusal: PlanError };

/** What a decision is checked against: where the run lives, where it stands, and (runs under the gate) its rules. */
export type DecidedRun = RunScope & {
  runId: string;
  status: RunStatus;
  revision?: string | null;
  /** The plan's whole hash, which a standing approval is bound to (absent on runs from before). */
  planHash?: string | null;
  replacedByRunId?: string | null;
  /** Absent on runs created before the approval gate: they keep S4's checks only. */
  rules?: DecidingRules | null;
  /** Where its approval stands: the open stage an approval is checked against, and who was counted. */
  approval?: (StagePosition & { approvals?: ReadonlyArray<{ by: string; onBehalfOf?: string | null | undefined }> }) | null;
  /** Its steps, where a decision reads them: whether any has started (no edit then), a held step's approvals by stage. */
  nodes?: ReadonlyArray<{ nodeId: string; status: string; approvals?: ReadonlyArray<{ stage?: number | null | undefined }> | null }>;
};

export type { DecidingRules } from './approval.js';

/**
 * S4, then the approval gate, in this order: organization, thread context, a replaced run,
 * status, revision, the requester rule, and — once the decider is looked up (`who`: null when
 * unknown, undefined when not looked up yet, as in an update's validator) — kind and
 * eligibility under the run's rules. Returns the refusal (with its exact message) or the
 * decision to apply. A malformed payload is refused first.
 */
export function checkDecision(
  run: DecidedRun,
  payload: unknown,
  kind: DecisionKind,
  who?: Decider | null,
  /** The time of the decision, where it is applied (the workflow's clock): a rule's fresh sign-in is checked against it. */
  now?: string,
): Checked<Decision> {
  const { value: decision, problems } = parseDecision(payload);
  if (!decision) return { refusal: invalidDecision(kind, problems) };
  if (kind === 'approve' && decision.resolution !== undefined) {
    return { refusal: invalidDecision(kind, ['resolution applies to rejections only']) };
  }
  if (kind === 'reject' && decision.standing !== undefined) {
    return { refusal: invalidDecision(kind, ['standing applies to approvals only']) };
  }
  if (kind === 'reject' && (decision.draft !== undefined || decision.patch !== undefined)) {
    return { refusal: invalidDecision(kind, ['an edit (draft, patch) applies to approvals only']) };
  }
  const refusal =
    checkScope(run, decision) ??
    gateRefusal(run, decision, kind, who) ??
    freshSignInRefusal(run, decision, kind, now) ??
    standingRefusal(run, decision) ??
    editRefusal(run, decision);
  if (!refusal) return { value: decision };
  // Not eligible themselves: a person may still decide for someone who delegated to them.
  const delegator = refusal.code === 'not-eligible' && who ? delegatorFor(run, decision, kind, who) : undefined;
  if (delegator && decision.standing !== undefined) {
    return {
      refusal: new PlanError(
        'not-eligible',
        `A delegate cannot grant a standing approval: ${decision.emittedBy} decides for ${delegator}.`,
      ),
    };
  }
  return delegator ? { value: { ...decision, onBehalfOf: delegator } } : { refusal };
}

/** An edit needs a run under the gate (rules and a revision to move on from). */
function editRefusal(run: DecidedRun, decision: Decision): PlanError | undefined {
  if (decision.draft === undefined && decision.patch === undefined) return undefined;
  if (!run.rules || !run.revision)
    return new PlanError(
      'invalid-input',
      'This run was created before plans could be edited on approval: approve it as it is, or request changes.',
    );
  // A run sent back for approval after its approval lapsed has steps that ran: it is decided as it is.
  const started = run.nodes?.filter((node) => node.status !== 'pending').map((node) => node.nodeId) ?? [];
  return started.length > 0
    ? new PlanError(
        'invalid-input',
        `This plan has started (${started.join(', ')} ${started.length === 1 ? 'is' : 'are'} past pending): approve it as it is, or reject it; an edit is made before anything runs.`,
      )
    : undefined;
}

/** A standing approval is granted only where the run's rules allow one. */
function standingRefusal(run: DecidedRun, decision: Decision): PlanError | undefined {
  if (decision.standing === undefined) return undefined;
  return run.rules?.standing === true && run.planHash
    ? undefined
    : new PlanError('not-eligible', "Standing approvals are not allowed for this plan: its organization's rules forbid them.");
}

/**
 * The first person `who` acts for (an active delegation to them) who may make this decision
 * themselves and has not been counted in this run yet; undefined when none. The delegate must
 * be a person and no requester of the run: a delegation never lets a requester decide.
 */
function delegatorFor(run: DecidedRun, decision: Decision, kind: DecisionKind, who: Decider): string | undefined {
  const { rules } = run;
  if (!rules || who.kind !== 'person' || !who.actsFor || requesterRefusal(rules, decision.emittedBy, kind)) return undefined;
  const counted = new Set((run.approval?.approvals ?? []).flatMap((entry) => [entry.by, countedAs(entry)]));
  const position = positionOf(run, decision);
  return who.actsFor.find((delegator) => !counted.has(delegator.id) && !deciderRefusal(rules, delegator.id, delegator, kind, position))?.id;
}

/**
 * The stage a decision is checked against: the plan's open stage while it waits for approval;
 * for a held step, the first stage whose quorum its approvals have not met yet (a held step
 * goes through the run's stages as the plan did). A decision that only skips is checked
 * against the first stage: not running a step is never the riskier choice.
 */
function positionOf(run: DecidedRun, decision: Decision): StagePosition | undefined {
  if (run.status === 'pending-approval') return run.approval ?? undefined;
  const approving = Object.entries(decision.steps ?? {}).find(([, word]) => word === 'approve')?.[0];
  const node = approving ? run.nodes?.find((candidate) => candidate.nodeId === approving) : undefined;
  return node && run.rules ? { stage: heldStepStage(run.rules, node.approvals ?? []) } : undefined;
}

function gateRefusal(run: DecidedRun, decision: Decision, kind: DecisionKind, who: Decider | null | undefined): PlanError | undefined {
  const { rules } = run;
  if (run.revision && run.replacedByRunId) {
    return new PlanError('stale-revision', `Plan run ${run.runId} was replaced by run ${run.replacedByRunId}; decide that one.`);
  }
  // Once the plan is approved, only its held steps are decided (step-decisions.ts), by whoever may approve it.
  const decidingSteps = kind === 'approve' && decision.steps !== undefined && ACTIVE_RUN_STATUSES.includes(run.status);
  if (run.status !== 'pending-approval' && !decidingSteps) return new PlanError('not-pending', NOT_PENDING[kind]);
  if (run.revision && decision.expectedRevision !== undefined && decision.expectedRevision !== run.revision) {
    return new PlanError(
      'stale-revision',
      `The plan changed since it was shown: revision ${decision.expectedRevision} was decided, the run is at ${run.revision}.`,
    );
  }
  if (!rules)
    return decision.steps ? new PlanError('invalid-input', 'This run was created before steps could be decided one by one.') : undefined;
  // While the plan waits, its steps are held or skipped with it; a step is approved on its own only once held.
  const approvingSteps = Object.entries(decision.steps ?? {}).filter(([, word]) => word === 'approve');
  if (run.status === 'pending-approval' && approvingSteps.length > 0)
    return new PlanError(
      'invalid-input',
      `The plan is pending approval: approve it (every step not held or skipped is approved with it); ${approvingSteps.map(([id]) => id).join(', ')} can be approved on its own only once held.`,
    );
  const position = positionOf(run, decision);
  return who === undefined
    ? requesterRefusal(rules, decision.emittedBy, kind)
    : deciderRefusal(rules, decision.emittedBy, who, kind, position);
}

/**
 * A rule's `freshSignIn`: an approval must come from a person who signed in through the identity
 * provider no longer ago than it says — not a token, a link, a standing approval or a message sent
 * to Temporal. Checked where a time is known (the workflow, and the API's own look before it).
 */
function freshSignInRefusal(run: DecidedRun, decision: Decision, kind: DecisionKind, now: string | undefined): PlanError | undefined {
  const window = run.rules?.freshSignInMs;
  if (kind !== 'approve' || window === undefined || now === undefined) return undefined;
  const { credential } = decision;
  const needs = `Approving this plan needs a sign-in through your organization's identity provider within the last ${formatInterval(window)}`;
  if (credential?.kind !== 'sign-in') return new PlanError('unauthorized', `${needs}: sign in to the inbox and approve there.`);
  if (Date.parse(now) - Date.parse(credential.authTime) > window)
    return new PlanError('unauthorized', `${needs}; you signed in at ${credential.authTime}: sign in again, then approve.`);
  return undefined;
}

/**
 * Org, thread context, then the node must actually be waiting for a person; under the gate,
 * once the completer is looked up, a person and the node's assignee (`assigneeOf`).
 */
export function checkNodeCompletion(
  run: RunScope & { nodes: ReadonlyArray<{ nodeId: string; status: string }>; rules?: DecidingRules | null },
  payload: unknown,
  who?: Decider | null,
  assigneeOf: (nodeId: string) => string | undefined = () => undefined,
): Checked<NodeCompletion> {
  const { value, problems } = parseNodeCompletion(payload);
  if (!value) return { refusal: invalidDecision('complete-node', problems) };
  const node = run.nodes.find((candidate) => candidate.nodeId === value.nodeId);
  const refusal =
    checkScope(run, value) ??
    (!node
      ? new PlanError('not-found', `Plan run has no node "${value.nodeId}".`)
      : node.status !== 'awaiting-human'
        ? new PlanError('not-waiting', `Node "${value.nodeId}" is not waiting for a person.`)
        : run.rules && who !== undefined
          ? completerRefusal(assigneeOf(value.nodeId), value.nodeId, value.emittedBy, who)
          : undefined);
  return refusal ? { refusal } : { value };
}

/** Org, thread context, then the run must still be active. */
export function checkAbort(run: RunScope & { status: RunStatus }, payload: unknown): Checked<AbortRequest> {
  const { value, problems } = parseAbort(payload);
  if (!value) return { refusal: invalidDecision('abort', problems) };
  const refusal = checkScope(run, value) ?? notActive(run, 'aborted');
  return refusal ? { refusal } : { value };
}

function notActive(run: { status: RunStatus }, done: string): PlanError | undefined {
  return TERMINAL_RUN_STATUSES.has(run.status) ? new PlanError('not-active', `Only active plans can be ${done}.`) : undefined;
}

/** Replace a run (S8): it is aborted and `newRunId` starts with the new plan, compiled by the client. */
export interface ReplaceRequest {
  organizationId: string;
  threadId: string;
  leadAgentId: string;
  createdByAgentId?: string;
  reason: string;
  requireApproval?: boolean;
  newRunId: string;
  plan: CompiledPlan;
  /** What the sender signed in with (set by the API): the replaced run's abort records it. */
  credential?: Credential;
  /**
   * The replacement's revision, and the approval rules the client computed for it under the
   * current policy: a proposal only. The replaced run derives the rules it is held to from its
   * own frozen ones (approval-conditions.ts `replacementRules`), so a sender cannot loosen them.
   */
  revision?: string;
  rules?: ApprovalRules;
}

/**
 * A replacement's shape (the client sends a compiled plan; one typed by hand, e.g. in the
 * `temporal` CLI, gets this check), then org, thread context, and the run must still be active.
 */
export function checkReplace(run: RunScope & { status: RunStatus }, request: ReplaceRequest): PlanError | undefined {
  const ids = [request?.newRunId, request?.leadAgentId, request?.organizationId, request?.threadId];
  const plan = request?.plan;
  const wellFormed =
    ids.every((id) => typeof id === 'string' && ID_PATTERN.test(id)) &&
    typeof request.reason === 'string' &&
    request.reason.trim().length > 0 &&
    Array.isArray(plan?.nodes) &&
    plan.nodes.length > 0 &&
    typeof plan.title === 'string';
  if (!wellFormed)
    return new PlanError('invalid-input', 'Invalid replace request: use PlansClient.replacePlan, which validates and compiles the draft.');
  return checkScope(run, request) ?? notActive(run, 'replaced');
}
