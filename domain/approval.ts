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
  reasons?: ApprovalCondition[];
  /**
   * The conditions the policy required approval for when these rules were frozen (its
   * `requireApprovalFor` as in force): what a replacement is checked against in the workflow.
   * Absent on runs created before they were recorded (cross-thread only, then).
   */
  conditions?: ApprovalCondition[];
}

/** One counted approval. */
export interface ApprovalEntry {
  by: string;
  at: string;
  reason?: string;
  /** What made it (decisions.ts `Credential`); absent on approvals counted before credentials were recorded. */
  credential?: Credential;
}

/** Where a governed run stands on its way through the gate (the snapshot's `approval`). */
export interface ApprovalState {
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
  rules: Pick<ApprovalRules, 'requesters' | 'approvers' | 'narrowedTo'>,
  principalId: string,
  who: Decider | null,
  verb: DecisionVerb,
): PlanError | undefined {
  const requester = requesterRefusal(rules, principalId, verb);
  if (requester) return requester;
  if (!who) return unknownPrincipal(principalId);
  if (who.kind !== 'person') return new PlanError('not-eligible', `${KIND_WORDS[who.kind]} cannot ${verb} plans.`);
  if (!matchesAny(who, rules.approvers)) {
    return new PlanError('not-eligible', `${who.id} is not an approver under this organization's policy.`);
  }
  return verb === 'approve' ? narrowingRefusal(rules, who) : undefined;
}

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

/** The persons among `principals` who may decide a run under `rules` (whom approval links are made for). */
export function eligibleDeciders(
  rules: Pick<ApprovalRules, 'requesters' | 'approvers' | 'narrowedTo'>,
  principals: readonly Decider[],
): Decider[] {
  return principals.filter((principal) => deciderRefusal(rules, principal.id, principal, 'approve') === undefined);
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

const CONDITION_PLANS: Record<ApprovalCondition, string> = {
  'cross-thread': 'a cross-thread plan',
  'external-calls': 'a plan that calls external endpoints',
  recurring: 'a recurring plan',
  'agent-plans': "an agent's plan",
};

/** A plan that needs approval for `reasons`, in words ("a cross-thread plan"; several: "a plan that needs approval (…)"). */
function planNeeding(reasons: readonly ApprovalCondition[]): string {
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
  reasons: readonly ApprovalCondition[] = ['cross-thread'],
): PlanError | undefined {
  if (who && matchesAny(who, skipApproval)) return undefined;
  const allowed = skipApproval.length === 0 ? 'lets no one skip it' : `lets only ${skipApproval.join(', ')} skip it`;
  return new PlanError(
    'not-eligible',
    `${principalId} may not start ${planNeeding(reasons)} without approval: this organization's policy ${allowed}.`,
  );
}
