import { parseInterval } from './duration.js';

/*
 * Standing approvals (docs/approval-policies.md, "Standing approvals"): a person approving a plan
 * may also approve future plans identical to it from the same requester, for a while. Bound to
 * the requester and the plan's revision (its steps, executors, hosts, schedule, parameters: any
 * change makes another revision), never to a run. Free of zod: the workflow checks them.
 */

/** How long a standing approval may last at most. */
export const MAX_STANDING_DAYS = 90;
const MIN_STANDING_MS = 60_000;

/** A standing approval as stored and answered. */
export interface StandingApproval {
  /** `<runId>:<approver>`: one per approval it was given with. */
  standingId: string;
  organizationId: string;
  /** Whose plans it approves: the requester of the run it was given on. */
  requester: string;
  /** Which plan: the revision of the run it was given on (shown), and its whole hash (matched). */
  revision: string;
  planHash: string;
  /** The person whose approval it is. */
  approvedBy: string;
  sourceRunId: string;
  createdAt: string;
  until: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** A `--standing` duration's problem (1 minute to 90 days), or undefined when it is one. */
export function standingProblem(value: unknown): string | undefined {
  const ms = typeof value === 'string' ? parseInterval(value) : undefined;
  return ms === undefined || ms < MIN_STANDING_MS || ms > MAX_STANDING_DAYS * 86_400_000
    ? `standing must be a duration from 1m to ${MAX_STANDING_DAYS}d, such as "30d"`
    : undefined;
}

/** The id of the standing approval `approvedBy` gives with their approval of `runId`. */
export function standingIdOf(runId: string, approvedBy: string): string {
  return `${runId}:${approvedBy}`;
}

/** Whether a standing approval holds at `atIso`: not revoked, and `until` is after it. */
export function standingHolds(standing: Pick<StandingApproval, 'until' | 'revokedAt'>, atIso: string): boolean {
  return standing.revokedAt === undefined && Date.parse(standing.until) > Date.parse(atIso);
}

/** What a standing approval granted with an approval records in its event's `detail.standing`. */
export interface StandingGrant {
  standingId: string;
  requester: string;
  revision: string;
  planHash: string;
  until: string;
}
