/**
 * A delegation: while it holds, the approvals of one person (`from`) can be made by another
 * (`to`), recorded as `to for from`. What a delegation is and when it holds, free of zod so the
 * workflow can use it (as approval-conditions.ts); its schemas, for the edges, are in
 * delegations.ts.
 */

/** How far ahead a delegation may end: a longer absence is a change of approvers, for the policy. */
export const MAX_DELEGATION_DAYS = 90;

/** A delegation as stored and answered. */
export interface Delegation {
  delegationId: string;
  organizationId: string;
  /** The delegator: the person whose approvals the delegate may make. */
  from: string;
  /** The delegate: the person who may make them, recorded as `to for from`. */
  to: string;
  /** When it ends (ISO 8601, UTC): it holds before this instant, not at it. */
  until: string;
  reason?: string;
  /** Who made it: the delegator, or an admin for them. */
  createdBy: string;
  createdAt: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** Whether `delegation` holds at `atIso`: not revoked, and `until` is after that instant. */
export function isActive(delegation: Pick<Delegation, 'until' | 'revokedAt'>, atIso: string): boolean {
  return delegation.revokedAt === undefined && Date.parse(delegation.until) > Date.parse(atIso);
}

/**
 * The instant an `until` as sent means, as UTC ISO 8601: a date alone is its midnight UTC
 * (`2026-12-24` → `2026-12-24T00:00:00.000Z`); a date and time carries its own offset.
 */
export function untilInstant(until: string): string {
  return new Date(/^\d{4}-\d{2}-\d{2}$/.test(until) ? `${until}T00:00:00.000Z` : until).toISOString();
}

/**
 * What is wrong with a delegation ending at `untilIso` made at `nowIso`, or undefined: it must
 * end in the future and at most MAX_DELEGATION_DAYS ahead.
 */
export function untilProblem(untilIso: string, nowIso: string): string | undefined {
  const until = Date.parse(untilIso);
  const now = Date.parse(nowIso);
  if (until <= now) return `until must be in the future: ${untilIso} is not after ${nowIso}`;
  const latest = new Date(now + MAX_DELEGATION_DAYS * 24 * 60 * 60 * 1000).toISOString();
  if (until > Date.parse(latest))
    return `until must be at most ${MAX_DELEGATION_DAYS} days ahead (by ${latest}): ${untilIso} is later; make a new delegation when it ends`;
  return undefined;
}
