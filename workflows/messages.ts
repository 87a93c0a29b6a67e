import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

import type { AbortRequest, Decision, NodeCompletion, ReplaceRequest } from '../domain/decisions.js';
import type { RecordPage, RecordPageRequest } from '../domain/run-record.js';
import type { PlanSnapshot } from '../domain/snapshot.js';

export type { PlanRunInput } from '../domain/run-input.js';
export type { ReplaceRequest };

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

/**
 * Someone the run's approval rests on changed in the directory (roles, disabled, a delegation
 * revoked): the approval is looked up again before the next step acts. Sent by the client after
 * every such change; anyone may send it, it only makes the run look again.
 */
export const approversChangedSignal = defineSignal<[{ principalIds?: string[] }?]>('approversChanged');

/** Abort an active run: in-flight work is cancelled and the run ends `aborted` with the reason. */
export const abortPlanUpdate = defineUpdate<PlanSnapshot, [AbortRequest]>('abortPlan');
export const abortSignal = defineSignal<[AbortRequest]>('abort');
