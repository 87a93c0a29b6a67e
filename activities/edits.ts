import { Admission } from '../client/admission.js';
import { draftOf } from '../domain/draft-of.js';
import { PlanError } from '../domain/errors.js';
import { diffPlans } from '../domain/plan-diff.js';
import { type EditAdmission, type EditAdmissionInput, applyPlanPatch, approvalChanged } from '../domain/plan-edit.js';
import { compileDraft } from '../domain/validate.js';
import type { PlanStore } from '../storage/plan-store.js';
import type { PlanActivities } from './contract.js';

/**
 * The gate's look at an edit before approval (plan-edit.ts): the edited draft compiled and
 * admitted exactly as a new draft of the same requester on the same threads would be — steps
 * and executors checked, egress and secrets, the organization's policy in force routed for it —
 * so no edit reaches further than a draft could. Its answer is in the run's history: a replay
 * decides the same.
 */
export function editActivities(deps: {
  store: PlanStore;
  knownAgents: ReadonlySet<string>;
  egressAllow: readonly string[];
}): Pick<PlanActivities, 'admitEdit'> {
  const admission = new Admission(deps.store, deps.egressAllow);
  return {
    async admitEdit(input: EditAdmissionInput): Promise<EditAdmission> {
      try {
        const draft =
          input.edit.draft !== undefined
            ? input.edit.draft
            : applyPlanPatch(draftOf(input.current) as unknown as Record<string, unknown>, input.edit.patch as Record<string, unknown>);
        const plan = compileDraft(draft, { knownAgents: deps.knownAgents });
        const unheld = input.current.nodes
          .filter((node) => node.approval === 'before-run')
          .filter((node) => plan.nodes.some((edited) => edited.nodeId === node.nodeId && edited.approval !== 'before-run'))
          .map((node) => node.nodeId);
        if (unheld.length > 0)
          throw new PlanError(
            'invalid-input',
            `nodes: an edit may not take "approval": "before-run" off ${unheld.join(', ')}: a step its requester asked to decide before it runs stays so (remove the step instead).`,
          );
        if (approvalChanged(input.current, plan))
          throw new PlanError(
            'invalid-input',
            "approval: an edit may not change the draft's own approval rules (they are the requester's, and only tighten the policy); edit the steps or the schedule.",
          );
        const gate = await admission.admit(
          {
            organizationId: input.organizationId,
            leadAgentId: input.leadAgentId,
            ...(input.createdByAgentId ? { createdByAgentId: input.createdByAgentId } : {}),
            requireApproval: true,
            threads: { threadId: input.threadId, sourceThreadId: input.sourceThreadId },
          },
          plan,
        );
        return {
          edit: { plan, revision: gate.revision, planHash: gate.planHash, rules: gate.rules, diff: diffPlans(input.current, plan) },
        };
      } catch (error) {
        if (error instanceof PlanError) return { refusal: { code: error.code, message: error.message } };
        throw error;
      }
    },
  };
}
