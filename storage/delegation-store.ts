import { RecordId, type Surreal } from 'surrealdb';

import type { Delegation } from '../domain/delegation-terms.js';
import { runQuery } from './database.js';
import { fromDb, toDb } from './rows.js';

/** A delegation as a row: `from` and `to` are SurrealQL words, so the row says `delegator` and `delegate`. */
function rowOf({ from, to, ...rest }: Delegation): Record<string, unknown> {
  return toDb({ ...rest, delegator: from, delegate: to });
}

function delegationOf(row: Record<string, unknown>): Delegation {
  const { delegator, delegate, ...rest } = fromDb<Omit<Delegation, 'from' | 'to'> & { delegator: string; delegate: string }>(row);
  return { ...rest, from: delegator, to: delegate };
}

/** What a list keeps: delegations from or to one principal, those that hold at an instant. */
export interface DelegationFilter {
  /** Only those from or to this principal. */
  involving?: string;
  /** Only those that hold at this instant (ISO 8601): not revoked, ending after it. */
  activeAt?: string;
}

/**
 * Each organization's delegations, one row per delegation under its (random) id. A revoked one
 * is kept, with who revoked it and when. No query here has a LIMIT: SurrealDB 3.0 applies an
 * unordered one to an index's scan before the other conditions (principal-store.ts).
 */
export class DelegationStore {
  constructor(private readonly db: Surreal) {}

  private idOf(delegationId: string): RecordId {
    return new RecordId('plan_delegation', delegationId);
  }

  async create(delegation: Delegation): Promise<Delegation> {
    await runQuery(this.db, 'CREATE $id CONTENT $fields;', { id: this.idOf(delegation.delegationId), fields: rowOf(delegation) });
    return delegation;
  }

  /** The organization's delegation by id, revoked or not; undefined when it has none by that id. */
  async get(organizationId: string, delegationId: string): Promise<Delegation | undefined> {
    const [row] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: this.idOf(delegationId),
    });
    return row && row.organizationId === organizationId ? delegationOf(row) : undefined;
  }

  /** The organization's delegations, oldest first, as `filter` narrows them. */
  async list(organizationId: string, filter: DelegationFilter = {}): Promise<Delegation[]> {
    const conditions = ['organizationId = $organizationId'];
    if (filter.involving !== undefined) conditions.push('(delegator = $principalId OR delegate = $principalId)');
    if (filter.activeAt !== undefined) conditions.push('revokedAt IS NONE AND until > $at');
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      `SELECT * FROM plan_delegation WHERE ${conditions.join(' AND ')} ORDER BY createdAt, delegationId;`,
      {
        organizationId,
        ...(filter.involving !== undefined ? { principalId: filter.involving } : {}),
        ...(filter.activeAt !== undefined ? { at: new Date(filter.activeAt) } : {}),
      },
    );
    return rows.map(delegationOf);
  }

  /**
   * The delegations to `delegateId` that hold at `atIso` (not revoked, ending after it), oldest
   * first: whose approvals the delegate may make then. The workflow's directory reads it.
   */
  async activeTo(organizationId: string, delegateId: string, atIso: string): Promise<Delegation[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_delegation WHERE organizationId = $organizationId AND delegate = $delegateId AND revokedAt IS NONE AND until > $at ORDER BY createdAt, delegationId;',
      { organizationId, delegateId, at: new Date(atIso) },
    );
    return rows.map(delegationOf);
  }

  /**
   * Revokes the organization's delegation, once: the revoked delegation, or undefined when it
   * has none by that id or it was revoked already (the first revocation stands).
   */
  async revoke(
    organizationId: string,
    delegationId: string,
    revokedBy: string,
    revokedAt = new Date().toISOString(),
  ): Promise<Delegation | undefined> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'UPDATE $id SET revokedAt = $revokedAt, revokedBy = $revokedBy WHERE organizationId = $organizationId AND revokedAt IS NONE RETURN AFTER;',
      { id: this.idOf(delegationId), organizationId, revokedBy, revokedAt: new Date(revokedAt) },
    );
    return rows[0] ? delegationOf(rows[0]) : undefined;
  }
}
