import type { ValidationIssue } from './errors.js';
import type { Executor, PlanSchedule } from './draft.js';

/** How a node is retried, timed out and watched; every field resolved to its default. */
export interface NodePolicy {
  optional: boolean;
  retry: { maxAttempts: number; initialIntervalMs: number; backoffCoefficient: number; maximumIntervalMs: number };
  /** Longest one attempt may take. */
  timeoutMs: number;
  /** Counted from when the node starts. */
  deadline?: { afterMs: number; warnAtMs?: number; cancel: boolean };
}

export const DEFAULT_POLICY: NodePolicy = {
  optional: false,
  retry: { maxAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
  timeoutMs: 10 * 60_000,
};

export const DEFAULT_PARALLELISM = 4;

/** A validated node with its edges made explicit. */
export interface CompiledNode {
  nodeId: string;
  title: string;
  instructions?: string;
  executor: Executor;
  dependsOn: string[];
  policy: NodePolicy;
  /** `before-run`: it waits for a decision at the moment it would start (absent: the plan's approval covers it). */
  approval?: 'before-run';
}

/** A draft's own approval rules: it may only tighten its organization's policy (`freezeRules`). */
export interface PlanApproval {
  /** A narrower list of approvers (principal ids, `role:NAME`): a decider must match it too. */
  approvers?: string[];
  required?: number;
  expiresAfterMs?: number;
  onExpiry?: 'reject' | 'approve';
}

/** A value a plan declares about itself. */
export type PlanParameter = number | string | boolean;

/** A validated draft, ready to run: what the workflow receives and the spec stores. */
export interface CompiledPlan {
  title: string;
  objective: string;
  nodes: CompiledNode[];
  schedule?: PlanSchedule;
  /** How many nodes may run at once. */
  parallelism: number;
  /** Tightens the organization's approval policy for this plan. */
  approval?: PlanApproval;
  /** What the plan is about, each once, sorted (the organization's approval rules match them). */
  tags?: string[];
  /** Named values the plan declares (approval rules compare them). */
  parameters?: Record<string, PlanParameter>;
  /** Non-blocking issues found while validating, kept with the spec. */
  warnings: ValidationIssue[];
}

/** The delay before retry `attempt + 1` after attempt `attempt` failed (exponential, capped). */
export function retryDelayMs(policy: NodePolicy, attempt: number): number {
  const { initialIntervalMs, backoffCoefficient, maximumIntervalMs } = policy.retry;
  return Math.min(maximumIntervalMs, Math.round(initialIntervalMs * backoffCoefficient ** (attempt - 1)));
}
