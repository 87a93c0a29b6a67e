import { z } from 'zod';

import { PlanError } from './errors.js';
import { LIMITS } from './limits.js';

/** Organization, thread, agent, actor and run ids: printable, no spaces, at most 128 characters. */
export const IdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/,
    'must be 1-128 letters, digits or "_.:@-", starting with a letter or digit',
  );

export const ReasonSchema = z.string().trim().min(1).max(LIMITS.maxObjective);

/** S1: a plan is cross-thread when drafted on behalf of another thread. */
export function isCrossThread(sourceThreadId: string | undefined, threadId: string): boolean {
  return sourceThreadId !== undefined && sourceThreadId !== threadId;
}

/** S1: an explicit choice wins; otherwise approval is required exactly for cross-thread plans. */
export function resolveRequireApproval(
  explicit: boolean | undefined,
  sourceThreadId: string | undefined,
  threadId: string,
): boolean {
  return explicit ?? isCrossThread(sourceThreadId, threadId);
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
