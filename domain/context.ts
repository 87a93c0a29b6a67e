import { PlanError } from './errors.js';

/** S1: a plan is cross-thread when drafted on behalf of another thread. */
export function isCrossThread(sourceThreadId: string | undefined, threadId: string): boolean {
  return sourceThreadId !== undefined && sourceThreadId !== threadId;
}

/**
 * S1: an explicit choice wins (the client has checked it against the policy); otherwise approval
 * is required for a cross-thread plan, and for one for which a condition of the organization's
 * policy held (`reasons`, frozen in its rules; absent on runs from before they were recorded).
 */
export function resolveRequireApproval(
  explicit: boolean | undefined,
  sourceThreadId: string | undefined,
  threadId: string,
  reasons?: readonly string[],
): boolean {
  return explicit ?? (isCrossThread(sourceThreadId, threadId) || (reasons !== undefined && reasons.length > 0));
}

/** Where a run lives: what every decision is checked against. */
export interface RunScope {
  organizationId: string;
  threadId: string;
  sourceThreadId?: string | null;
}

/** Who acts, from where. */
export interface ActingContext {
  organizationId: string;
  threadId: string;
}

/**
 * S4's first two checks, in order: the organization, then the thread context (the acting
 * thread must be the run's thread or its source thread). Returns the refusal or undefined.
 */
export function checkScope(run: RunScope, actor: ActingContext): PlanError | undefined {
  if (run.organizationId !== actor.organizationId) {
    return new PlanError('wrong-organization', 'Plan run belongs to a different organization.');
  }
  if (actor.threadId !== run.threadId && actor.threadId !== run.sourceThreadId) {
    return new PlanError('wrong-thread', 'Plan run is not available in this thread context.');
  }
  return undefined;
}

/** Where a person decides a plan from: the thread it was drafted for, else its own thread. */
export function decidingThreadOf(run: RunScope): string {
  return run.sourceThreadId ?? run.threadId;
}
