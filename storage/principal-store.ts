import { RecordId, type Surreal, Table } from 'surrealdb';

import type { Principal, PrincipalKind, TokenView } from '../domain/principals.js';
import { runQuery } from './database.js';
import { fromDb, toDb } from './rows.js';

/** A token's record id: derived from its hash, so a token is found in one read and imported at most once. */
/** A token's id (`plans token list`), from its hash: the same id every time, never the token. */
export function tokenIdOf(tokenHash: string): string {
  return `tok_${tokenHash.slice(0, 16)}`;
}

interface TokenRow {
  tokenId: string;
  tokenHash: string;
  organizationId: string;
  principalId: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
}

const principalId = (organizationId: string, id: string) => new RecordId('plan_principal', [organizationId, id]);

function principalOf(row: Record<string, unknown>): Principal {
  const {
    organizationId,
    principalId: id,
    kind,
    roles,
  } = fromDb<{ organizationId: string; principalId: string; kind: PrincipalKind; roles: string[] }>(row);
  return { organizationId, id, kind, roles };
}

/**
 * The principals of every organization and the API tokens that stand for them. A token is
 * stored only as its SHA-256 hash; a revoked token is kept (who revoked it, when) and refused.
 */
export class PrincipalStore {
  constructor(private readonly db: Surreal) {}

  /**
   * A principal of an organization, or undefined — also while it is disabled: a disabled
   * principal is no one (its tokens are refused, it decides nothing, gets no links) until enabled.
   */
  async find(organizationId: string, id: string): Promise<Principal | undefined> {
    const stored = await this.stored(organizationId, id);
    return stored && !stored.disabled
      ? { organizationId: stored.organizationId, id: stored.id, kind: stored.kind, roles: stored.roles }
      : undefined;
  }

  /** A principal as stored, disabled or not (sign-in must tell a disabled person, or an agent, from someone new). */
  async stored(organizationId: string, id: string): Promise<(Principal & { disabled: boolean; signInSubject: string | null }) | undefined> {
    const [row] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: principalId(organizationId, id),
    });
    return row
      ? {
          ...principalOf(row),
          disabled: Boolean(row.disabledAt),
          signInSubject: typeof row.signInSubject === 'string' ? row.signInSubject : null,
        }
      : undefined;
  }

  /** The principal of an organization whose sign-ins are bound to this identity of the provider (`<issuer> <sub>`), if any. */
  async boundTo(organizationId: string, signInSubject: string): Promise<string | undefined> {
    const [ids] = await runQuery<[string[]]>(
      this.db,
      // No LIMIT: with the organization's index, SurrealDB 3.0 applies a LIMIT before the rest of the WHERE (and finds nothing).
      'SELECT VALUE principalId FROM plan_principal WHERE organizationId = $organizationId AND signInSubject = $signInSubject;',
      { organizationId, signInSubject },
    );
    return ids[0];
  }

  /** An organization's principals that are not disabled, by id. */
  async list(organizationId: string): Promise<Principal[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_principal WHERE organizationId = $organizationId ORDER BY principalId;',
      { organizationId },
    );
    return rows.filter((row) => !row.disabledAt).map(principalOf);
  }

  /** Disables a principal (every token and link of it stops at once) or enables it again; false when there is none by that id. */
  async setDisabled(organizationId: string, id: string, disabled: boolean, by: string): Promise<boolean> {
    const [rows] = await runQuery<[unknown[]]>(
      this.db,
      disabled
        ? 'UPDATE $id SET disabledAt = disabledAt ?? time::now(), disabledBy = disabledBy ?? $by RETURN AFTER;'
        : 'UPDATE $id UNSET disabledAt, disabledBy RETURN AFTER;',
      { id: principalId(organizationId, id), by },
    );
    return rows.length > 0;
  }

  /** Creates the principal, or sets its roles (and, for a person signed in, binds them to their identity at the provider); its kind never changes once made. */
  async save(principal: Principal, extra: { signInSubject?: string } = {}): Promise<Principal> {
    const [row] = await runQuery<[Record<string, unknown>]>(this.db, 'UPSERT ONLY $id MERGE $fields RETURN AFTER;', {
      id: principalId(principal.organizationId, principal.id),
      fields: toDb({
        organizationId: principal.organizationId,
        principalId: principal.id,
        kind: principal.kind,
        roles: principal.roles,
        ...extra,
        updatedAt: new Date().toISOString(),
      }),
    });
    return principalOf(row);
  }

  /** The active token with this hash and the principal it stands for, or undefined (unknown or revoked). */
  async authenticate(tokenHash: string): Promise<Principal | undefined> {
    const [token] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: new RecordId('plan_token', tokenIdOf(tokenHash)),
    });
    if (!token || token.tokenHash !== tokenHash || token.revokedAt !== undefined) return undefined;
    return this.find(String(token.organizationId), String(token.principalId));
  }

  /** Stores a token's hash for a principal that exists; false when a token with this hash is stored already. */
  async addToken(
    principal: Principal,
    tokenHash: string,
    createdBy: string,
    createdAt = new Date().toISOString(),
  ): Promise<string | undefined> {
    const tokenId = tokenIdOf(tokenHash);
    const row: TokenRow = { tokenId, tokenHash, organizationId: principal.organizationId, principalId: principal.id, createdAt, createdBy };
    const [created] = await runQuery<[unknown[]]>(this.db, 'INSERT IGNORE INTO $table [$row] RETURN AFTER;', {
      table: new Table('plan_token'),
      row: toDb({ id: new RecordId('plan_token', tokenId), ...row }),
    });
    return created.length > 0 ? tokenId : undefined;
  }

  /** An organization's tokens with their principals, oldest first (never a token or its hash). */
  async listTokens(organizationId: string): Promise<TokenView[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_token WHERE organizationId = $organizationId ORDER BY createdAt;',
      { organizationId },
    );
    const principals = new Map((await this.list(organizationId)).map((principal) => [principal.id, principal]));
    return rows.map((raw) => {
      const row = fromDb<TokenRow>(raw);
      const principal = principals.get(row.principalId);
      return {
        tokenId: row.tokenId,
        organizationId: row.organizationId,
        principalId: row.principalId,
        kind: principal?.kind ?? 'agent',
        roles: principal?.roles ?? [],
        createdAt: row.createdAt,
        createdBy: row.createdBy,
        revokedAt: row.revokedAt ?? null,
        revokedBy: row.revokedBy ?? null,
      };
    });
  }

  /** Revokes an organization's token (once; revoking again keeps the first revocation). False when it has no such token. */
  async revokeToken(organizationId: string, tokenId: string, revokedBy: string): Promise<boolean> {
    const [rows] = await runQuery<[unknown[]]>(
      this.db,
      'UPDATE $id SET revokedAt = revokedAt ?? time::now(), revokedBy = revokedBy ?? $revokedBy WHERE organizationId = $organizationId RETURN AFTER;',
      { id: new RecordId('plan_token', tokenId), organizationId, revokedBy },
    );
    return rows.length > 0;
  }

  /** Whether a principal holds any token not revoked: one whose every token was revoked is shut out, links included. */
  async hasActiveToken(organizationId: string, principalId: string): Promise<boolean> {
    if (!(await this.find(organizationId, principalId))) return false; // unknown, or disabled
    const [rows] = await runQuery<[unknown[]]>(
      this.db,
      // No LIMIT: SurrealDB 3.0 applies it to the organization index's scan before the other conditions (found here: `LIMIT 1` answered nothing).
      'SELECT tokenId FROM plan_token WHERE organizationId = $organizationId AND principalId = $principalId AND revokedAt IS NONE;',
      { organizationId, principalId },
    );
    return rows.length > 0;
  }

  /** The principals of an organization that hold a token not revoked, in one read. */
  async withActiveTokens(organizationId: string): Promise<Set<string>> {
    const [rows] = await runQuery<[Array<{ principalId: string }>]>(
      this.db,
      'SELECT principalId FROM plan_token WHERE organizationId = $organizationId AND revokedAt IS NONE;',
      { organizationId },
    );
    return new Set(rows.map((row) => row.principalId));
  }

  /** How many active tokens exist, over every organization. */
  async activeTokenCount(): Promise<number> {
    const [rows] = await runQuery<[Array<{ count: number }>]>(this.db, 'SELECT count() FROM plan_token WHERE revokedAt IS NONE GROUP ALL;');
    return rows[0]?.count ?? 0;
  }
}
