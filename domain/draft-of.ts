import { DEFAULT_POLICY, type CompiledPlan, type NodePolicy } from './plan.js';
import { formatInterval } from './duration.js';

/*
 * A compiled plan written back as the draft that compiles to it (`plans get RUN --draft`): what a
 * person edits before approving with changes (issue 22). Every field the compiled plan fixed is
 * written out; defaults are left out, so the draft reads as an agent would have written it.
 * `compileDraft(draftOf(plan))` is the same plan (test/unit/draft-of.test.ts).
 */

/** A draft's node as `draftOf` writes it. */
export interface WrittenNode {
  id: string;
  title: string;
  instructions?: string;
  executor: unknown;
  dependsOn: string[];
  optional?: boolean;
  retry?: { maxAttempts?: number; initialInterval?: string; backoffCoefficient?: number; maximumInterval?: string };
  timeout?: string;
  deadline?: { after: string; warnBefore?: string; cancel?: boolean };
  approval?: 'before-run';
}

/** A draft as `draftOf` writes it: what `compileDraft` takes. */
export interface WrittenDraft {
  title: string;
  objective: string;
  nodes: WrittenNode[];
  schedule?: unknown;
  parallelism?: number;
  approval?: { approvers?: string[]; required?: number; expiresAfter?: string; onExpiry?: 'reject' | 'approve' };
  tags?: string[];
  parameters?: Record<string, number | string | boolean>;
}

function policyFields(policy: NodePolicy): Omit<WrittenNode, 'id' | 'title' | 'instructions' | 'executor' | 'dependsOn'> {
  const fallback = DEFAULT_POLICY;
  const retry = {
    ...(policy.retry.maxAttempts !== fallback.retry.maxAttempts ? { maxAttempts: policy.retry.maxAttempts } : {}),
    ...(policy.retry.initialIntervalMs !== fallback.retry.initialIntervalMs
      ? { initialInterval: formatInterval(policy.retry.initialIntervalMs) }
      : {}),
    ...(policy.retry.backoffCoefficient !== fallback.retry.backoffCoefficient
      ? { backoffCoefficient: policy.retry.backoffCoefficient }
      : {}),
    ...(policy.retry.maximumIntervalMs !== fallback.retry.maximumIntervalMs
      ? { maximumInterval: formatInterval(policy.retry.maximumIntervalMs) }
      : {}),
  };
  const { deadline } = policy;
  return {
    ...(policy.optional ? { optional: true } : {}),
    ...(Object.keys(retry).length > 0 ? { retry } : {}),
    ...(policy.timeoutMs !== fallback.timeoutMs ? { timeout: formatInterval(policy.timeoutMs) } : {}),
    ...(deadline
      ? {
          deadline: {
            after: formatInterval(deadline.afterMs),
            ...(deadline.warnAtMs !== undefined ? { warnBefore: formatInterval(deadline.afterMs - deadline.warnAtMs) } : {}),
            ...(deadline.cancel ? { cancel: true } : {}),
          },
        }
      : {}),
  };
}

/** The draft that compiles to `plan`. */
export function draftOf(plan: CompiledPlan): WrittenDraft {
  const { approval } = plan;
  return {
    title: plan.title,
    objective: plan.objective,
    nodes: plan.nodes.map((node) => ({
      id: node.nodeId,
      title: node.title,
      ...(node.instructions !== undefined ? { instructions: node.instructions } : {}),
      executor: node.executor,
      dependsOn: [...node.dependsOn],
      ...policyFields(node.policy),
      ...(node.approval ? { approval: node.approval } : {}),
    })),
    ...(plan.schedule ? { schedule: plan.schedule } : {}),
    parallelism: plan.parallelism,
    ...(approval
      ? {
          approval: {
            ...(approval.approvers ? { approvers: [...approval.approvers] } : {}),
            ...(approval.required !== undefined ? { required: approval.required } : {}),
            ...(approval.expiresAfterMs !== undefined ? { expiresAfter: formatInterval(approval.expiresAfterMs) } : {}),
            ...(approval.onExpiry ? { onExpiry: approval.onExpiry } : {}),
          },
        }
      : {}),
    ...(plan.tags ? { tags: [...plan.tags] } : {}),
    ...(plan.parameters ? { parameters: { ...plan.parameters } } : {}),
  };
}
