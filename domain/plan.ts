import type { ValidationIssue } from './errors.js';
import type { Executor, PlanSchedule } from './draft.js';

/** A validated node with its edges made explicit. */
export interface CompiledNode {
  nodeId: string;
  title: string;
  instructions?: string;
  executor: Executor;
  dependsOn: string[];
}

/** A validated draft, ready to run: what the workflow receives and the spec stores. */
export interface CompiledPlan {
  title: string;
  objective: string;
  nodes: CompiledNode[];
  schedule?: PlanSchedule;
  /** Non-blocking issues found while validating, kept with the spec. */
  warnings: ValidationIssue[];
}
