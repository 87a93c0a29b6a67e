import { APPROVAL_CONDITIONS, type ApprovalCondition, type ApprovalRules } from './approval.js';
import { type ApprovalStage, stagesOf } from './approval-stages.js';
import { isCrossThread } from './context.js';
import type { CompiledPlan } from './plan.js';
import type { PrincipalKind } from './principals.js';
import { isWebhook } from './webhook.js';

/*
 * Which plans need approval, and the rules a replacement is held to. Pure and free of zod: the
 * client decides with it when a plan is created, and the workflow when one of its runs is
 * replaced (a Temporal caller's replacement gets no rules of its own choosing).
 */

/** What a policy that does not say requires approval for. */
export const DEFAULT_APPROVAL_CONDITIONS: readonly ApprovalCondition[] = ['cross-thread', 'external-calls'];

/**
 * The conditions a policy requires approval for, as in force: `cross-thread` always (whatever the
 * list says), the rest as listed, each once, in `APPROVAL_CONDITIONS` order. A policy stored
 * before the list existed has the defaults.
 */
export function approvalConditionsOf(policy: { requireApprovalFor?: readonly ApprovalCondition[] | undefined }): ApprovalCondition[] {
  const listed = new Set<ApprovalCondition>(['cross-thread', ...(policy.requireApprovalFor ?? DEFAULT_APPROVAL_CONDITIONS)]);
  return APPROVAL_CONDITIONS.filter((condition) => listed.has(condition));
}

/** What decides which of a policy's conditions hold for a new plan. */
export interface ApprovalFacts {
  threadId: string;
  sourceThreadId?: string | null | undefined;
  plan: Pick<CompiledPlan, 'nodes' | 'schedule'>;
  /** The requester's kind in the organization's directory (createdByAgentId, else the lead agent); null when it is not there. */
  requesterKind: PrincipalKind | null;
}

/** Whether a plan has a step that calls outside the system by itself: a webhook. */
export function callsExternally(plan: Pick<CompiledPlan, 'nodes'>): boolean {
  return plan.nodes.some((node) => isWebhook(node.executor));
}

const HOLDS: Record<ApprovalCondition, (facts: ApprovalFacts) => boolean> = {
  'cross-thread': (facts) => isCrossThread(facts.sourceThreadId ?? undefined, facts.threadId),
  'external-calls': (facts) => callsExternally(facts.plan),
  recurring: (facts) => facts.plan.schedule !== undefined,
  'agent-plans': (facts) => facts.requesterKind === 'agent',
};

/**
 * The conditions of `policy` that hold for a new plan — why it needs approval; none: it needs
 * none unless asked. `cross-thread` is checked whatever the policy lists.
 */
export function approvalReasonsOf(
  policy: { requireApprovalFor?: readonly ApprovalCondition[] | undefined },
  facts: ApprovalFacts,
): ApprovalCondition[] {
  return approvalConditionsOf(policy).filter((condition) => HOLDS[condition](facts));
}

/** Both lists, each condition once, in `APPROVAL_CONDITIONS` order. */
function unionOf(...lists: ReadonlyArray<readonly ApprovalCondition[] | undefined>): ApprovalCondition[] {
  const listed = new Set(lists.flatMap((list) => list ?? []));
  return APPROVAL_CONDITIONS.filter((condition) => listed.has(condition));
}

/**
 * Both runs' stages: the replaced run's, in order, then the proposal's it does not have (a stage
 * of both keeps the replaced run's approvers and the larger `required`).
 */
function unionOfStages(replaced: readonly ApprovalStage[] | undefined, proposed: readonly ApprovalStage[] | undefined): ApprovalStage[] {
  const stages = (replaced ?? []).map((stage) => ({ ...stage, approvers: [...stage.approvers] }));
  for (const stage of proposed ?? []) {
    const same = stages.find((candidate) => candidate.name === stage.name);
    if (same) same.required = Math.max(same.required, stage.required);
    else stages.push({ ...stage, approvers: [...stage.approvers] });
  }
  return stages;
}

/**
 * The conditions a run's rules were frozen under; a run frozen before they were recorded was
 * gated for being cross-thread only.
 */
export function conditionsOfRules(rules: Pick<ApprovalRules, 'conditions'>): ApprovalCondition[] {
  return approvalConditionsOf({ requireApprovalFor: rules.conditions ?? ['cross-thread'] });
}

/**
 * The rules a replacement is held to: the replaced run's frozen rules, never loosened, tightened
 * by what the request proposes (the new draft under the policy as it is now, as the client
 * computed it; a Temporal caller may propose anything, or nothing). The proposal's narrowing
 * replaces the old draft's (a narrowing decides only who may approve); every other field keeps
 * the tighter of the two: more approvals required, expiry rejecting if either rejects (and then
 * the sooner, else the later), only those who may skip approval under both, conditions of both,
 * the requesters of both and of the replacement, the stages of both; reminders and escalations
 * stay the replaced run's, and standing approvals only if both allow them. `reasons` are left to
 * the replaced run's workflow (`admitReplacement`).
 */
export function replacementRules(
  replaced: ApprovalRules,
  proposed: ApprovalRules | undefined,
  requesters: readonly string[],
): ApprovalRules {
  const onExpiry = replaced.onExpiry === 'reject' || proposed?.onExpiry === 'reject' ? 'reject' : 'approve';
  const expiries = [replaced.expiresAfterMs, ...(proposed ? [proposed.expiresAfterMs] : [])];
  const narrowedTo = proposed ? proposed.narrowedTo : replaced.narrowedTo;
  // The replaced run's stages, its own first stage included (the organization's approvers), then any the proposal adds.
  const stages = replaced.stages || proposed?.stages ? unionOfStages(stagesOf(replaced), proposed?.stages) : [];
  const required = Math.max(replaced.required, proposed?.required ?? 0, stages[0]?.required ?? 0);
  if (stages[0]) stages[0] = { ...stages[0], required };
  const matched = [...(replaced.matched ?? [])];
  for (const rule of proposed?.matched ?? []) if (!matched.some((known) => known.rule === rule.rule)) matched.push(rule);
  const standing = replaced.standing === true && (proposed ? proposed.standing === true : true);
  return {
    policyVersion: Math.max(replaced.policyVersion, proposed?.policyVersion ?? 0),
    approvers: [...replaced.approvers],
    ...(narrowedTo ? { narrowedTo: [...narrowedTo] } : {}),
    required,
    ...(stages.length > 0 ? { stages } : {}),
    // Timers that widen who may approve are the replaced run's own, never a sender's.
    ...(replaced.reminderMs ? { reminderMs: [...replaced.reminderMs] } : {}),
    ...(replaced.escalations ? { escalations: replaced.escalations.map((escalation) => ({ ...escalation })) } : {}),
    ...(replaced.matched || proposed?.matched ? { matched, standing } : {}),
    expiresAfterMs: onExpiry === 'reject' ? Math.min(...expiries) : Math.max(...expiries),
    // The shorter validity of the two: an approval never holds longer than either says.
    // The fresher sign-in of the two too: a replacement never asks for less presence than what it replaces.
    ...tighter('validForMs', replaced.validForMs, proposed?.validForMs),
    ...tighter('freshSignInMs', replaced.freshSignInMs, proposed?.freshSignInMs),
    onExpiry,
    skipApproval: proposed
      ? replaced.skipApproval.filter((selector) => proposed.skipApproval.includes(selector))
      : [...replaced.skipApproval],
    requesters: [...new Set([...replaced.requesters, ...(proposed?.requesters ?? []), ...requesters])],
    conditions: unionOf(conditionsOfRules(replaced), proposed?.conditions),
  };
}

/** The shorter of two optional limits, as `{[key]: ms}`; nothing when neither is set. */
function tighter<K extends string>(key: K, a: number | undefined, b: number | undefined): { [k in K]?: number } {
  return a === undefined && b === undefined ? {} : ({ [key]: Math.min(a ?? Infinity, b ?? Infinity) } as { [k in K]?: number });
}
