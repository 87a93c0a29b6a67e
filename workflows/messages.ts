import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

import type { AbortRequest, Decision, NodeCompletion } from '../domain/decisions.js';
import type { CompiledPlan } from '../domain/plan.js';
import type { RecordPage, RecordPageRequest } from '../domain/run-record.js';
import type { RunContext, RunState } from '../domain/run-state.js';
import type { PlanSnapshot } from '../domain/snapshot.js';

/** What starts a run: its context (the workflow id is its own) and its compiled plan. */
export type PlanRunInput = Omit<RunContext, 'runId' | 'workflowId'> & {
  /** Defaults to the id carried by the workflow id (`plan-run:<runId>`). */
  runId?: string;
  plan: CompiledPlan;
  /** Set when the run continues as new: its state so far (nothing is persisted again). */
  resume?: { state: RunState };
  /** Continue as new past this many history events (default 10,000, or when Temporal suggests it). */
  historyLimit?: number;
};

/** Replace a run (S8): this run is aborted and `newRunId` starts with the new plan. */
export interface ReplaceRequest {
  organizationId: string;
  threadId: string;
  leadAgentId: string;
  createdByAgentId?: string;
  reason: string;
  requireApproval?: boolean;
  newRunId: string;
  plan: CompiledPlan;
}

export interface ReplaceResult {
  runId: string;
  workflowId: string;
}

/** The current snapshot from workflow state. */
export const planQuery = defineQuery<PlanSnapshot>('plan');

/** What this execution committed, transition by transition, a page at a time: `plans doctor` compares it with SurrealDB. */
export const recordQuery = defineQuery<RecordPage, [RecordPageRequest?]>('record');

/**
 * Approve or reject a pending run, or fail with S4's message. Answers with the run's snapshot
 * once the decision took effect (schedule attached); SurrealDB holds it once it shows the same
 * `version`, which PlansClient waits for.
 */
export const approvePlanUpdate = defineUpdate<PlanSnapshot, [Decision]>('approvePlan');
export const rejectPlanUpdate = defineUpdate<PlanSnapshot, [Decision]>('rejectPlan');

/** The same decisions as fire-and-forget signals (Temporal Web UI, `temporal` CLI). */
export const approveSignal = defineSignal<[Decision]>('approve');
export const rejectSignal = defineSignal<[Decision]>('reject');

/** Abort this run and start its replacement. */
export const replacePlanUpdate = defineUpdate<ReplaceResult, [ReplaceRequest]>('replacePlan');

/** Answers once everything the run has accepted so far took effect (as decisions do); returns the snapshot. */
export const persistedPlanUpdate = defineUpdate<PlanSnapshot>('persistedPlan');

/** A person completes the node waiting for them; same checks as decisions, then the node must be waiting. */
export const completeNodeUpdate = defineUpdate<PlanSnapshot, [NodeCompletion]>('completeNode');
export const completeNodeSignal = defineSignal<[NodeCompletion]>('complete');

/** Abort an active run: in-flight work is cancelled and the run ends `aborted` with the reason. */
export const abortPlanUpdate = defineUpdate<PlanSnapshot, [AbortRequest]>('abortPlan');
export const abortSignal = defineSignal<[AbortRequest]>('abort');
