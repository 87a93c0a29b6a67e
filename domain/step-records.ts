import type { Executor } from './draft.js';
import type { StepView } from './plan-review.js';
import type { StepApproval, StepVerdict } from './run-state.js';

/*
 * Three records of every step, kept apart (issue 22, item 3): what the agent *proposed* (its
 * draft, revision 1), what was *approved* (the revision that runs, after edits, with who approved
 * it), and what was *effective* (what the executor was actually called with, each attempt,
 * credentials masked). `GET /v1/plans/:runId/steps/:step`, `plans get RUN --step STEP`.
 */

/** What one attempt of a step was called with, as the worker called it (credentials masked, secrets by name). */
export interface EffectiveCall {
  attempt: number;
  at: string;
  executor: Executor;
  instructions: string | null;
  /** The outputs it was handed, by artifact id. */
  upstreamArtifactIds: string[];
  /** A webhook's body as sent: the draft's own, else the step with its upstream outputs (by id here). */
  body?: unknown;
}

/** Who approved what ran: the plan's approvers, and the step's own word when it was decided on its own. */
export interface ApprovedStep {
  revision: string | null;
  revisionNumber: number;
  step: StepView;
  approvedBy: Array<{ by: string; at: string; onBehalfOf: string | null }>;
  verdict: StepVerdict | null;
  stepApprovals: StepApproval[];
}

export interface StepRecords {
  runId: string;
  nodeId: string;
  /** The step as its requester drafted it; null for one an edit added. */
  proposed: StepView | null;
  /** The step as approved; null while the plan waits for approval (or for one an edit removed). */
  approved: ApprovedStep | null;
  /** Every attempt, as called; empty until it ran (a person's step and a wait call nothing). */
  effective: EffectiveCall[];
}
