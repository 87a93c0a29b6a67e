import { PlanError } from '../domain/errors.js';
import type { StandingApproval } from '../domain/standing.js';
import type { PlanStore } from '../storage/plan-store.js';

/**
 * Standing approvals: given with an approval (`plans approve RUN --standing 30d`), stored with
 * it by the run, applied by new runs of the same plan and requester. Here they are listed and
 * revoked; who may is the permission table's, applied by the organization's view.
 */
export class StandingClient {
  constructor(private readonly store: PlanStore) {}

  /** The organization's standing approvals, oldest first (revoked and ended ones too unless `active`); only `approvedBy`'s when given. */
  list(organizationId: string, options: { approvedBy?: string; active?: boolean } = {}): Promise<StandingApproval[]> {
    return this.store.standing.list(organizationId, {
      ...(options.approvedBy !== undefined ? { approvedBy: options.approvedBy } : {}),
      ...(options.active ? { activeAt: new Date().toISOString() } : {}),
    });
  }

  /** One of the organization's standing approvals, revoked or not; `not-found` for another organization's. */
  async get(organizationId: string, standingId: string): Promise<StandingApproval> {
    const found = standingId.length <= 300 ? await this.store.standing.get(organizationId, standingId) : undefined;
    if (!found) throw new PlanError('not-found', `Standing approval ${standingId} was not found.`);
    return found;
  }

  /** Revokes one at once, as `revokedBy`: runs created from then on are not approved by it. One revoked already is refused (`not-active`). */
  async revoke(organizationId: string, standingId: string, revokedBy: string): Promise<StandingApproval> {
    const revoked = await this.store.standing.revoke(organizationId, standingId, revokedBy);
    if (revoked) return revoked;
    const existing = await this.get(organizationId, standingId);
    throw new PlanError(
      'not-active',
      `Standing approval ${existing.standingId} was revoked already, by ${existing.revokedBy} at ${existing.revokedAt}.`,
    );
  }
}
