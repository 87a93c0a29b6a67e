import { z } from 'zod';

import { IdSchema, ReasonSchema, type RunScope, checkScope } from './context.js';
import { PlanError } from './errors.js';
import type { RunStatus } from './status.js';

export const RESOLUTIONS = ['rejected', 'changes-requested'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/** The payload of every decision, whether sent as an update, a signal, an API call or a CLI command. */
export const DecisionSchema = z
  .object({
    organizationId: IdSchema,
    threadId: IdSchema,
    emittedBy: IdSchema,
    reason: ReasonSchema.optional(),
    resolution: z.enum(RESOLUTIONS).optional(),
  })
  .strict();
export type Decision = z.infer<typeof DecisionSchema>;

export type DecisionKind = 'approve' | 'reject';

const NOT_PENDING: Record<DecisionKind, string> = {
  approve: 'Only pending-approval plans can be approved.',
  reject: 'Only pending-approval plans can be rejected.',
};

/**
 * S4, in this order: organization, thread context, status. Returns the refusal (with S4's exact
 * message) or undefined when the decision may be applied. A malformed payload is refused first.
 */
export function checkDecision(
  run: RunScope & { status: RunStatus },
  payload: unknown,
  kind: DecisionKind,
): { decision: Decision; refusal?: undefined } | { decision?: Decision; refusal: PlanError } {
  const parsed = DecisionSchema.safeParse(payload);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'payload'} ${issue.message}`).join('; ');
    return { refusal: new PlanError('invalid-input', `Invalid ${kind} decision: ${detail}.`) };
  }
  const decision = parsed.data;
  if (kind === 'approve' && decision.resolution !== undefined) {
    return { refusal: new PlanError('invalid-input', 'Invalid approve decision: resolution applies to rejections only.') };
  }
  const refusal = checkScope(run, decision) ??
    (run.status !== 'pending-approval' ? new PlanError('not-pending', NOT_PENDING[kind]) : undefined);
  return refusal ? { decision, refusal } : { decision };
}
