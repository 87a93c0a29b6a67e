import { type RunScope, checkScope } from './context.js';
import { PlanError } from './errors.js';
import { ID_PATTERN, ID_RULE } from './ids.js';
import { LIMITS } from './limits.js';
import type { RunStatus } from './status.js';

/*
 * Decisions are checked inside the workflow sandbox, which evaluates its modules afresh for
 * every run. zod costs several milliseconds of CPU per run there (measured with `npm run bench`:
 * create+approve throughput 0.6x → 0.75x of the bare workflow without it), so this one payload
 * is checked by hand, with the id and length rules the zod request schemas also use.
 */

export const RESOLUTIONS = ['rejected', 'changes-requested'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/** The payload of every decision, whether sent as an update, a signal, an API call or a CLI command. */
export interface Decision {
  organizationId: string;
  threadId: string;
  emittedBy: string;
  reason?: string;
  resolution?: Resolution;
}

const DECISION_KEYS = new Set(['organizationId', 'threadId', 'emittedBy', 'reason', 'resolution']);

/** Checks a decision payload; returns it (reason trimmed) or every problem found. */
export function parseDecision(payload: unknown): { decision: Decision; problems?: undefined } | { decision?: undefined; problems: string[] } {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { problems: ['payload must be an object {organizationId, threadId, emittedBy, reason?, resolution?}'] };
  }
  const fields = payload as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(fields)) if (!DECISION_KEYS.has(key)) problems.push(`unknown field "${key}"`);
  for (const key of ['organizationId', 'threadId', 'emittedBy']) {
    const value = fields[key];
    if (value === undefined) problems.push(`${key} is required`);
    else if (typeof value !== 'string' || !ID_PATTERN.test(value)) problems.push(`${key} ${ID_RULE}`);
  }
  const reason = typeof fields.reason === 'string' ? fields.reason.trim() : undefined;
  if (fields.reason !== undefined && (reason === undefined || reason.length === 0 || reason.length > LIMITS.maxObjective)) {
    problems.push(`reason must be a non-empty text of at most ${LIMITS.maxObjective} characters`);
  }
  const resolution = fields.resolution;
  if (resolution !== undefined && !(RESOLUTIONS as readonly unknown[]).includes(resolution)) {
    problems.push(`resolution must be one of ${RESOLUTIONS.join(', ')}`);
  }
  if (problems.length > 0) return { problems };
  return {
    decision: {
      organizationId: fields.organizationId as string,
      threadId: fields.threadId as string,
      emittedBy: fields.emittedBy as string,
      ...(reason !== undefined ? { reason } : {}),
      ...(resolution !== undefined ? { resolution: resolution as Resolution } : {}),
    },
  };
}

export type DecisionKind = 'approve' | 'reject';

const NOT_PENDING: Record<DecisionKind, string> = {
  approve: 'Only pending-approval plans can be approved.',
  reject: 'Only pending-approval plans can be rejected.',
};

/** A malformed decision payload, as `invalid-input`. */
export function invalidDecision(kind: DecisionKind, problems: string[]): PlanError {
  return new PlanError('invalid-input', `Invalid ${kind} decision: ${problems.join('; ')}.`);
}

/**
 * S4, in this order: organization, thread context, status. Returns the refusal (with S4's exact
 * message) or undefined when the decision may be applied. A malformed payload is refused first.
 */
export function checkDecision(
  run: RunScope & { status: RunStatus },
  payload: unknown,
  kind: DecisionKind,
): { decision: Decision; refusal?: undefined } | { decision?: Decision; refusal: PlanError } {
  const { decision, problems } = parseDecision(payload);
  if (!decision) return { refusal: invalidDecision(kind, problems) };
  if (kind === 'approve' && decision.resolution !== undefined) {
    return { refusal: invalidDecision(kind, ['resolution applies to rejections only']) };
  }
  const refusal = checkScope(run, decision) ??
    (run.status !== 'pending-approval' ? new PlanError('not-pending', NOT_PENDING[kind]) : undefined);
  return refusal ? { decision, refusal } : { decision };
}
