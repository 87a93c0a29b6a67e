import {
  type ApprovalStage,
  type Escalation,
  type MatchedRule,
  type StagePosition,
  everyStageApprover,
  openStage,
} from './approval-stages.js';
import type { Credential } from './credentials.js';
import { PlanError } from './errors.js';
import type { PrincipalKind } from './principals.js';

/*
 * The approval gate's rules: who may decide a run, who may complete a person's step, who may
 * skip approval. Pure and free of zod (the workflow sandbox evaluates them for every run, see
 * decisions.ts), so the workflow's validators and handlers, the client and the tests share one
 * definition of each rule and of its refusal message.
 */

/** A principal as the rules see it (looked up by id in the organization's directory). */
export interface Decider {
  id: string;
  kind: PrincipalKind;
  roles: readonly string[];
  /**
   * The persons whose approvals this person may make now, by their active delegations to them
   * (each as the directory has them now). Absent: none, or looked up before delegations existed.
   */
  actsFor?: Decider[];
}

export const EXPIRY_OUTCOMES = ['reject', 'approve'] as const;
export type ExpiryOutcome = (typeof EXPIRY_OUTCOMES)[number];

/**
 * What makes a plan need approval, as an organization's policy lists them (`requireApprovalFor`):
 * `cross-thread` (drafted for another thread; always on), `external-calls` (a webhook step),
 * `recurring` (a schedule), `agent-plans` (its requester is an agent of the organization).
 */
export const APPROVAL_CONDITIONS = ['cross-thread', 'external-calls', 'recurring', 'agent-plans'] as const;
export type ApprovalCondition = (typeof APPROVAL_CONDITIONS)[number];

/**
 * Why a run needs approval: a condition of `requireApprovalFor` that held, or `policy-rule` — a
 * rule of the policy matched its plan and requires approvers (policy-rules.ts).
 */
export const APPROVAL_REASONS = [...APPROVAL_CONDITIONS, 'policy-rule'] as const;
export type ApprovalReason = (typeof APPROVAL_REASONS)[number];

/**
 * The approval rules of one run: the organization's policy in force when the run was created,
 * tightened by its draft, and who asked for it. Frozen into the run; a later policy change does
 * not alter it.
 */
export interface ApprovalRules {
  /** The version of the organization's policy these rules were frozen from (0: the defaults, never set). */
  policyVersion: number;
  /** Who may decide: principal ids and `role:NAME` selectors (the organization's list). */
  approvers: string[];
  /** A draft's narrower list: a decider must match both lists. */
  narrowedTo?: string[];
  /** How many distinct eligible persons must approve. */
  required: number;
  expiresAfterMs: number;
  onExpiry: ExpiryOutcome;
  /** Who may start a plan that needs approval without it (selectors); empty: nobody. */
  skipApproval: string[];
  /** The lead agent, the creating principal and `createdByAgentId`: never deciders of this run. */
  requesters: string[];
  /**
   * Why the run needs approval: the conditions of the organization's policy that held for its
   * plan when it was created (empty when none did). Absent on runs created before they were recorded.
   */
  reasons?: ApprovalReason[];
  /**
   * The conditions the policy required approval for when these rules were frozen (its
   * `requireApprovalFor` as in force): what a replacement is checked against in the workflow.
   * Absent on runs created before they were recorded (cross-thread only, then).
   */
  conditions?: ApprovalCondition[];
  /**
   * The stages its approval goes through in order, from the policy's matching rules (absent: one
   * stage, `approvers` and `required`). Each stage opens when the one before it is approved.
   */
  stages?: ApprovalStage[];
  /** When the open stage's people are reminded, counted from its opening (ascending). */
  reminderMs?: number[];
  /** How the open stage widens or moves while it waits, counted from its opening (ascending). */
  escalations?: Escalation[];
  /** The policy's rules that matched the plan, and why: what these rules were made of. */
  matched?: MatchedRule[];
  /** Whether a standing approval may approve the plan (false when a matching rule forbids it). */
  standing?: boolean;
  /** How long an approval holds before the plan first acts (the policy's `validFor`); absent: as long as its approvers stand. */
  validForMs?: number;
  /** An approval needs a sign-in through the identity provider no older than this (a matching rule's `freshSignIn`); absent: any credential. */
  freshSignInMs?: number;
}

/** One counted approval. */
export interface ApprovalEntry {
  by: string;
  at: string;
  reason?: string;
  /** What made it (decisions.ts `Credential`); absent on approvals counted before credentials were recorded. */
  credential?: Credential;
  /** The stage it approved (absent: 0, the first or only one). */
  stage?: number;
  /** The delegator it was made for, by `by` as their delegate (`bob for alice`): the person it counts as. */
  onBehalfOf?: string;
}

/** The person an approval counts as: its delegator when made by a delegate, else who made it. */
export function countedAs(entry: { by: string; onBehalfOf?: string | null | undefined }): string {
  return entry.onBehalfOf ?? entry.by;
}

/** Where a governed run stands on its way through the gate (the snapshot's `approval`). */
export interface ApprovalState extends StagePosition {
  /** How many approvals the open stage needs. */
  required: number;
  approvals: ApprovalEntry[];
  /** When a pending run is decided by `system` per `onExpiry`. */
  expiresAt: string;
  policyVersion: number;
}

/** The gate's state for a run created at `createdAt` under `rules`: nothing approved yet. */
export function approvalStateOf(rules: ApprovalRules, createdAt: string): ApprovalState {
  return {
    required: rules.required,
    approvals: [],
    expiresAt: new Date(Date.parse(createdAt) + rules.expiresAfterMs).toISOString(),
    policyVersion: rules.policyVersion,
  };
}

/** A selector is `role:NAME` (anyone with that role) or a principal id. */
export function matchesSelector(who: Decider, selector: string): boolean {
  return selector.startsWith('role:') ? who.roles.includes(selector.slice('role:'.length)) : who.id === selector;
}

export function matchesAny(who: Decider, selectors: readonly string[]): boolean {
  return selectors.some((selector) => matchesSelector(who, selector));
}

const KIND_WORDS: Record<PrincipalKind, string> = { person: 'People', agent: 'Agents', service: 'Services' };

export type DecisionVerb = 'approve' | 'reject';

/** The requester rule, which needs no lookup: the validator applies it before anything else is known. */
export function requesterRefusal(rules: Pick<ApprovalRules, 'requesters'>, principalId: string, verb: DecisionVerb): PlanError | undefined {
  return rules.requesters.includes(principalId) ? new PlanError('not-eligible', `The requester of a plan cannot ${verb} it.`) : undefined;
}

/** A principal the directory does not know: named by a Temporal signal, or deleted since. */
function unknownPrincipal(principalId: string): PlanError {
  return new PlanError('not-eligible', `${principalId} is not a principal of this organization.`);
}

/**
 * Whether `who` (looked up as `principalId`; null when unknown) may approve or reject a run
 * under `rules`: not a requester, a person, and an approver under the organization's list; to
 * approve, under the draft's narrower one too. A draft narrows who may let its plan run, never
 * who may stop it: any approver of the organization may reject. Returns the refusal naming the
 * rule, or undefined.
 */
export function deciderRefusal(
  rules: DecidingRules,
  principalId: string,
  who: Decider | null,
  verb: DecisionVerb,
  position?: StagePosition,
): PlanError | undefined {
  const requester = requesterRefusal(rules, principalId, verb);
  if (requester) return requester;
  if (!who) return unknownPrincipal(principalId);
  if (who.kind !== 'person') return new PlanError('not-eligible', `${KIND_WORDS[who.kind]} cannot ${verb} plans.`);
  // Runs without stages or escalations keep the one list (and their recorded answers).
  if (!rules.stages && !rules.escalations) {
    if (!matchesAny(who, rules.approvers)) return notAnApprover(who);
    return verb === 'approve' ? narrowingRefusal(rules, who) : undefined;
  }
  if (verb === 'reject') return matchesAny(who, everyStageApprover(rules)) ? undefined : notAnApprover(who);
  const stage = openStage(rules, position);
  if (!matchesAny(who, stage.approvers)) {
    const later = (rules.stages ?? []).slice(stage.index + 1).find((candidate) => matchesAny(who, candidate.approvers));
    if (later) {
      return new PlanError(
        'not-eligible',
        `This plan is waiting for ${stage.name}: ${who.id} approves at ${later.name}, which opens after it.`,
      );
    }
    return rules.stages
      ? new PlanError('not-eligible', `${who.id} is not an approver of this plan's ${stage.name} stage (${stage.approvers.join(', ')}).`)
      : notAnApprover(who);
  }
  return narrowingRefusal(rules, who);
}

function notAnApprover(who: Decider): PlanError {
  return new PlanError('not-eligible', `${who.id} is not an approver under this organization's policy.`);
}

/** What of a run's rules a decider is checked against. */
export type DecidingRules = Pick<
  ApprovalRules,
  'requesters' | 'approvers' | 'narrowedTo' | 'stages' | 'escalations' | 'required' | 'standing' | 'freshSignInMs'
>;

/**
 * The draft's narrowing: `who` is not among the plan's own approvers. It applies to approvals;
 * runs that applied it to a rejection before that rule keep doing so on replay (plan-run's
 * `REJECT_BY_ANY_APPROVER` patch).
 */
export function narrowingRefusal(rules: Pick<ApprovalRules, 'narrowedTo'>, who: Decider): PlanError | undefined {
  return rules.narrowedTo && !matchesAny(who, rules.narrowedTo)
    ? new PlanError('not-eligible', `${who.id} is not among this plan's approvers (${rules.narrowedTo.join(', ')}).`)
    : undefined;
}

/** The persons among `principals` who may approve a run under `rules` now, at its open stage (whom approval links are made for). */
export function eligibleDeciders(rules: DecidingRules, principals: readonly Decider[], position?: StagePosition): Decider[] {
  return principals.filter((principal) => deciderRefusal(rules, principal.id, principal, 'approve', position) === undefined);
}

/** A step meant for a person is completed by a person, and by its assignee (a principal id or `role:NAME`) when it has one. */
export function completerRefusal(
  assignee: string | undefined,
  nodeId: string,
  principalId: string,
  who: Decider | null,
): PlanError | undefined {
  if (!who) return unknownPrincipal(principalId);
  if (who.kind !== 'person') return new PlanError('not-eligible', `${KIND_WORDS[who.kind]} cannot complete steps meant for people.`);
  if (assignee !== undefined && !matchesSelector(who, assignee)) {
    return new PlanError('not-eligible', `${who.id} is not the assignee of node "${nodeId}" (${assignee}).`);
  }
  return undefined;
}

const CONDITION_PLANS: Record<ApprovalReason, string> = {
  'policy-rule': "a plan the organization's rules route to approval",
  'cross-thread': 'a cross-thread plan',
  'external-calls': 'a plan that calls external endpoints',
  recurring: 'a recurring plan',
  'agent-plans': "an agent's plan",
};

/** A plan that needs approval for `reasons`, in words ("a cross-thread plan"; several: "a plan that needs approval (…)"). */
function planNeeding(reasons: readonly ApprovalReason[]): string {
  return reasons.length === 1 ? CONDITION_PLANS[reasons[0]!] : `a plan that needs approval (${reasons.join(', ')})`;
}

/**
 * Whether `who` may start a plan that needs approval (for `reasons`: by default, being
 * cross-thread) without it, under the policy's `skipApproval`.
 */
export function skipRefusal(
  skipApproval: readonly string[],
  principalId: string,
  who: Decider | null,
  reasons: readonly ApprovalReason[] = ['cross-thread'],
): PlanError | undefined {
  if (who && matchesAny(who, skipApproval)) return undefined;
  const allowed = skipApproval.length === 0 ? 'lets no one skip it' : `lets only ${skipApproval.join(', ')} skip it`;
  return new PlanError(
    'not-eligible',
    `${principalId} may not start ${planNeeding(reasons)} without approval: this organization's policy ${allowed}.`,
  );
}
