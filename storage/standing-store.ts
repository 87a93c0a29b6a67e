import { RecordId, type Surreal } from 'surrealdb';

import type { StandingApproval } from '../domain/standing.js';
import { runQuery } from './database.js';
import { fromDb } from './rows.js';

/**
 * Each organization's standing approvals, one row per approval that granted one, under
 * `<runId>:<approver>`. Rows are written with the run's transitions (run-writes.ts), in the
 * transaction that stores the granting event; here they are read and revoked. No query has a
 * LIMIT: SurrealDB 3.0 applies an unordered one to an index's scan before the other conditions.
 */
export class StandingStore {
  constructor(private readonly db: Surreal) {}

  private idOf(standingId: string): RecordId {
    return new RecordId('plan_standing', standingId);
  }

  /** The organization's standing approval by id, revoked or not; undefined when it has none by that id. */
  async get(organizationId: string, standingId: string): Promise<StandingApproval | undefined> {
    const [row] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', { id: this.idOf(standingId) });
    return row && row.organizationId === organizationId ? standingOf(row) : undefined;
  }

  /** Those that hold at `atIso` for plans of `requester` with this whole hash, oldest first: what a new run may be approved by. */
  async matching(organizationId: string, requester: string, planHash: string, atIso: string): Promise<StandingApproval[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_standing WHERE organizationId = $organizationId AND requester = $requester AND planHash = $planHash AND revokedAt IS NONE AND until > $at ORDER BY createdAt, standingId;',
      { organizationId, requester, planHash, at: new Date(atIso) },
    );
    return rows.map(standingOf);
  }

  /** The organization's standing approvals, oldest first, as `filter` narrows them (as DelegationStore.list does). */
  async list(organizationId: string, filter: { approvedBy?: string; activeAt?: string } = {}): Promise<StandingApproval[]> {
    const conditions = ['organizationId = $organizationId'];
    if (filter.approvedBy !== undefined) conditions.push('approvedBy = $approvedBy');
    if (filter.activeAt !== undefined) conditions.push('revokedAt IS NONE AND until > $at');
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      `SELECT * FROM plan_standing WHERE ${conditions.join(' AND ')} ORDER BY createdAt, standingId;`,
      {
        organizationId,
        ...(filter.approvedBy !== undefined ? { approvedBy: filter.approvedBy } : {}),
        ...(filter.activeAt !== undefined ? { at: new Date(filter.activeAt) } : {}),
      },
    );
    return rows.map(standingOf);
  }

  /** Revokes one, once: the revoked standing approval, or undefined when there is none by that id or it was revoked already. */
  async revoke(
    organizationId: string,
    standingId: string,
    revokedBy: string,
    revokedAt = new Date().toISOString(),
  ): Promise<StandingApproval | undefined> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'UPDATE $id SET revokedAt = $revokedAt, revokedBy = $revokedBy WHERE organizationId = $organizationId AND revokedAt IS NONE RETURN AFTER;',
      { id: this.idOf(standingId), organizationId, revokedBy, revokedAt: new Date(revokedAt) },
    );
    return rows[0] ? standingOf(rows[0]) : undefined;
  }
}

function standingOf(row: Record<string, unknown>): StandingApproval {
  return fromDb<StandingApproval>(row);
}
