import type { ApprovalEntry, ApprovalRules, ApprovalState, Decider } from './approval.js';
import { deciderRefusal } from './approval.js';
import { replacementRules } from './approval-conditions.js';
import { stagesOf } from './approval-stages.js';
import { timerEffects } from './approval-steps.js';
import type { Decision } from './decisions.js';
import { credentialOf } from './decisions.js';
import type { PlanErrorCode } from './errors.js';
import type { PlanDiff } from './plan-diff.js';
import type { CompiledPlan } from './plan.js';
import type { PlanEditRecord } from './plan-revisions.js';
import { deciderInWords } from './run-decisions.js';
import type { NodeState, RunState, StateChange } from './run-state.js';
import { makeChange } from './state-change.js';

/*
 * Edit, then approve (issue 22, docs/DESIGN.md §12): an eligible person approves a pending run
 * with changes. The edited plan is validated and admitted exactly as a draft is (the `admitEdit`
 * activity: compiled, egress and secrets checked, the organization's rules routed for it), and
 * becomes a new revision of the same run. The edit and the approval are two steps, in this order:
 * `plan-edited` (the run's plan, revision, rules and nodes replaced; the approvals given to the
 * earlier revision no longer count), then the editor's approval, counted as any approval is.
 */

/** What an approval with changes carries (a decision's `draft` or `patch`). */
export type { PlanEditRecord, PlanRevisionRecord } from './plan-revisions.js';

export type EditRequest = { draft: unknown; patch?: undefined } | { patch: unknown; draft?: undefined };

/** What the workflow hands the `admitEdit` activity: the run as it stands, and the edit asked for. */
export interface EditAdmissionInput {
  organizationId: string;
  runId: string;
  threadId: string;
  sourceThreadId?: string;
  leadAgentId: string;
  createdByAgentId?: string;
  /** The plan as it stands: a `patch` applies to its draft, and the diff is against it. */
  current: CompiledPlan;
  edit: EditRequest;
}

/** An edit as the gate admitted it: the plan it compiles to, what it changed, and the rules the policy routes it to. */
export interface AdmittedEdit {
  plan: CompiledPlan;
  revision: string;
  planHash: string;
  /** The rules the organization's policy in force gives the edited plan: a proposal, never looser than the run's (`editedRules`). */
  rules: ApprovalRules;
  diff: PlanDiff;
}

/** The activity's answer: the admitted edit, or the refusal (a PlanError's code and message). */
export type EditAdmission =
  { edit: AdmittedEdit; refusal?: undefined } | { edit?: undefined; refusal: { code: PlanErrorCode; message: string } };

/** The spec id of a run's revision `number` (2 on): each revision is a spec of its own, never changed once stored. */
export function specIdOf(runId: string, number: number): string {
  return `${runId}:rev${number}`;
}

/** The draft fields an edit may not change: a draft's own approval rules are its requester's, and only tighten. */
export function approvalChanged(before: CompiledPlan, after: CompiledPlan): boolean {
  return JSON.stringify(before.approval ?? null) !== JSON.stringify(after.approval ?? null);
}

/**
 * The rules an edited plan is held to: the run's own, tightened by what the policy in force
 * routes the edited plan to (stages a new step calls for, a higher quorum, a shorter expiry),
 * never loosened (the draft's narrowing and the timers stay the run's, as for a replacement).
 */
function editedRules(frozen: ApprovalRules, proposed: ApprovalRules): ApprovalRules {
  const rules = replacementRules(frozen, proposed, frozen.requesters);
  const reasons = [...new Set([...(frozen.reasons ?? []), ...(proposed.reasons ?? [])])];
  const { narrowedTo: _proposedNarrowing, ...rest } = rules;
  return { ...rest, ...(frozen.narrowedTo ? { narrowedTo: [...frozen.narrowedTo] } : {}), ...(reasons.length ? { reasons } : {}) };
}

/** In words: `2 steps changed, 1 added, the schedule`. */
function changesInWords(diff: PlanDiff): string {
  const parts = [
    diff.changed.length
      ? `${diff.changed.length} step${diff.changed.length === 1 ? '' : 's'} changed (${diff.changed.map((step) => step.nodeId).join(', ')})`
      : '',
    diff.added.length ? `added ${diff.added.map((step) => step.nodeId).join(', ')}` : '',
    diff.removed.length ? `removed ${diff.removed.map((step) => step.nodeId).join(', ')}` : '',
    diff.schedule.length ? 'the schedule' : '',
    diff.plan.length ? diff.plan.map((change) => change.field).join(', ') : '',
  ].filter(Boolean);
  return parts.join('; ') || 'nothing that runs';
}

/** Why the editor's own approval does not count for the edited revision (its first stage), or undefined when it does. */
function editorRefusal(rules: ApprovalRules, approval: ApprovalState, decision: Decision, who: Decider | null): string | undefined {
  if (decision.onBehalfOf) {
    const delegator = who?.actsFor?.find((candidate) => candidate.id === decision.onBehalfOf);
    return delegator
      ? deciderRefusal(rules, delegator.id, delegator, 'approve', approval)?.message
      : `${decision.emittedBy} no longer acts for ${decision.onBehalfOf}.`;
  }
  return deciderRefusal(rules, decision.emittedBy, who, 'approve', approval)?.message;
}

/**
 * The edit's step: the run's plan becomes `admitted`'s, its revision the next, its rules those
 * the edited plan is held to, its nodes the edited plan's (all pending), and its approval starts
 * again from the first stage (approvals given to the earlier revision are listed as no longer
 * counted). The expiry stays: an edit does not buy time. `plan-edited` is by the editor, with
 * the diff. The approval follows as its own step (`decideApproval`) when it `counts`: the editor
 * is eligible at the edited revision's first stage (the event says why not, otherwise).
 */
export function editPlan(
  state: RunState,
  plan: CompiledPlan,
  decision: Decision,
  admitted: AdmittedEdit,
  /** The editor as last looked up: whether their own approval counts for the edited revision. */
  who: Decider | null,
  now: string,
): { step: StateChange; counts: boolean } {
  const frozen = state.rules!;
  const previous = state.approval!;
  const rules = editedRules(frozen, admitted.rules);
  const stages = rules.stages ? stagesOf(rules) : undefined;
  const approval: ApprovalState = {
    required: stages?.[0]?.required ?? rules.required,
    approvals: [],
    expiresAt: previous.expiresAt,
    policyVersion: rules.policyVersion,
    ...(stages ? { stage: 0, stageOpenedAt: now, escalated: 0, reminded: 0 } : {}),
  };
  const number = (state.revisionNumber ?? 1) + 1;
  const planSpecId = specIdOf(state.runId, number);
  const discarded = previous.approvals.map((entry: ApprovalEntry) => entry.onBehalfOf ?? entry.by);
  const kept = new Set(admitted.plan.nodes.map((node) => node.nodeId));
  const removedNodeIds = plan.nodes.filter((node) => !kept.has(node.nodeId)).map((node) => node.nodeId);
  const nodes: NodeState[] = admitted.plan.nodes.map((node) => ({ nodeId: node.nodeId, status: 'pending' }));
  const by = deciderInWords(decision);
  const notCounted = editorRefusal(rules, approval, decision, who);
  const change = makeChange(state, now, {
    run: {
      planSpecId,
      revision: admitted.revision,
      planHash: admitted.planHash,
      revisionNumber: number,
      rules,
      approval,
      title: admitted.plan.title,
      objective: admitted.plan.objective,
    },
    events: [
      {
        eventType: 'plan-edited',
        message: `${by} edited "${admitted.plan.title}" before approving it: revision ${state.revision} → ${admitted.revision} (${changesInWords(admitted.diff)}).${
          discarded.length ? ` Approvals given to ${state.revision} no longer count: ${discarded.join(', ')}.` : ''
        }${notCounted ? ` Their own approval does not count: ${notCounted}` : ''}`,
        emittedBy: decision.emittedBy,
        detail: {
          fromRevision: state.revision,
          toRevision: admitted.revision,
          revisionNumber: number,
          diff: admitted.diff,
          discardedApprovals: discarded,
          approvalCounted: !notCounted,
          ...(notCounted ? { notCountedBecause: notCounted } : {}),
          credential: credentialOf(decision),
          ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
          ...(decision.reason ? { reason: decision.reason } : {}),
        },
      },
    ],
    checkpoint: { reason: 'plan-edited' },
    effects: stages ? timerEffects(rules, approval, state.createdAt) : [],
  });
  const record: PlanEditRecord = {
    planSpecId,
    current: {
      number,
      revision: admitted.revision,
      planHash: admitted.planHash,
      plan: admitted.plan,
      editedBy: decision.emittedBy,
      ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
      editedAt: now,
    },
    replaced: { number: number - 1, revision: state.revision!, planHash: state.planHash!, plan },
    removedNodeIds,
  };
  return {
    step: { ...change, state: { ...change.state, nodes }, transition: { ...change.transition, nodes, edit: record } },
    counts: !notCounted,
  };
}

/**
 * RFC 7386 JSON Merge Patch, with one addition for a plan's steps: `nodes` given as an object
 * keyed by step id merges step by step (`null` removes a step, a new id adds one at the end);
 * given as an array it replaces the list, as the RFC says.
 */
export function applyPlanPatch(draft: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const { nodes, ...rest } = patch;
  const merged = mergePatch(draft, rest) as Record<string, unknown>;
  if (nodes === undefined) return merged;
  if (nodes === null || Array.isArray(nodes) || typeof nodes !== 'object') return { ...merged, nodes };
  const steps = [...((draft.nodes as Array<Record<string, unknown>>) ?? [])];
  for (const [id, change] of Object.entries(nodes as Record<string, unknown>)) {
    const at = steps.findIndex((step) => step.id === id);
    if (change === null) {
      if (at >= 0) steps.splice(at, 1);
    } else if (at >= 0) steps[at] = mergePatch(steps[at], change) as Record<string, unknown>;
    else steps.push({ id, ...(mergePatch({}, change) as Record<string, unknown>) });
  }
  return { ...merged, nodes: steps };
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    // A patch sets data, never an object's prototype.
    if (key === '__proto__') continue;
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
