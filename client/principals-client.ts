import { renameSync } from 'node:fs';

import { hashToken, newToken, readLegacyTokenFile } from '../auth/tokens.js';
import type { Credential } from '../domain/decisions.js';
import { PlanError } from '../domain/errors.js';
import { knownRoles } from '../domain/policy.js';
import { type Principal, type TokenRequest, TokenRequestSchema, type TokenView } from '../domain/principals.js';
import { parseRequest } from '../domain/requests.js';
import type { PlanStore } from '../storage/plan-store.js';
import { tokenIdOf } from '../storage/principal-store.js';

/** A token just made: shown once, stored only as its hash. */
export interface IssuedToken {
  token: string;
  tokenId: string;
  principal: Principal;
}

/**
 * Principals and their API tokens. A token is made for a principal of an organization, which
 * is created on the way (its kind is then required) or updated (its roles, when given; its
 * kind never changes). Every role named must be one the organization has.
 */
/** Who signed a request in, and with which token. */
export interface SignedIn {
  principal: Principal;
  credential: Extract<Credential, { kind: 'token' }>;
}

export class PrincipalsClient {
  constructor(
    private readonly store: PlanStore,
    /** Told when a principal's roles change or it is disabled: runs acting on its approvals look again. */
    private readonly approversChanged: (organizationId: string, principalIds: string[]) => Promise<unknown> = async () => undefined,
  ) {}

  /**
   * A person signed in through the organization's identity provider: created at first sign-in
   * (a person, always), their roles set to the groups the provider lists that name one of the
   * organization's roles (replaced at every sign-in: a group removed is a role lost). An agent or
   * a service of that id never becomes a person this way; a disabled person stays disabled.
   */
  async signInPerson(organizationId: string, principalId: string, groups: readonly string[], signInSubject: string): Promise<Principal> {
    const existing = await this.store.principals.stored(organizationId, principalId);
    // Bound at the first sign-in to the provider's own id for the person (issuer and sub): a name
    // (preferred_username) that changes hands, or one person under a new name, never takes over a principal.
    if (existing?.signInSubject && existing.signInSubject !== signInSubject)
      throw new PlanError(
        'forbidden',
        `${principalId} of ${organizationId} signs in as another identity of the provider; an admin must look into it (the provider's name for this person may have changed hands).`,
      );
    const bound = await this.store.principals.boundTo(organizationId, signInSubject);
    if (bound !== undefined && bound !== principalId)
      throw new PlanError(
        'forbidden',
        `This identity of the provider signs in as ${bound}, not ${principalId}; an admin must look into it (was the person renamed?).`,
      );
    if (existing && existing.kind !== 'person')
      throw new PlanError(
        'forbidden',
        `${principalId} is ${existing.kind === 'agent' ? 'an agent' : 'a service'} of ${organizationId}: only persons sign in, and no sign-in makes one of it.`,
      );
    if (existing?.disabled)
      throw new PlanError('forbidden', `${principalId} is disabled in ${organizationId}; an admin can enable them again.`);
    const known = knownRoles((await this.store.policies.get(organizationId)).policy);
    const roles = [...new Set(groups.filter((group) => known.has(group)))].sort();
    const principal = await this.store.principals.save({ organizationId, id: principalId, kind: 'person', roles }, { signInSubject });
    const changed = existing && [...existing.roles].sort().join(',') !== roles.join(',');
    if (changed) await this.approversChanged(organizationId, [principalId]);
    return principal;
  }

  /** The principal a bearer token stands for; undefined for an unknown or revoked token. */
  authenticate(token: string): Promise<Principal | undefined> {
    return this.store.principals.authenticate(hashToken(token));
  }

  /** The same, with the credential it signed in with (what its decisions record). */
  async signIn(token: string): Promise<SignedIn | undefined> {
    const tokenHash = hashToken(token);
    const principal = await this.store.principals.authenticate(tokenHash);
    return principal ? { principal, credential: { kind: 'token', id: tokenIdOf(tokenHash) } } : undefined;
  }

  /** One principal of an organization, or undefined. */
  find(organizationId: string, principalId: string): Promise<Principal | undefined> {
    return this.store.principals.find(organizationId, principalId);
  }

  list(organizationId: string): Promise<Principal[]> {
    return this.store.principals.list(organizationId);
  }

  /** Makes a token for the principal the request names (made or updated first), as `createdBy`. */
  async issueToken(request: TokenRequest, createdBy: string): Promise<IssuedToken> {
    const { organizationId, principalId, kind, roles } = parseRequest(TokenRequestSchema, request, 'token request');
    const existing = await this.store.principals.find(organizationId, principalId);
    if (existing && kind !== undefined && kind !== existing.kind) {
      throw new PlanError('invalid-input', `${principalId} is a ${existing.kind} of ${organizationId}; a principal's kind cannot change.`);
    }
    const chosenKind = kind ?? existing?.kind;
    if (!chosenKind)
      throw new PlanError('invalid-input', `${principalId} is new in ${organizationId}: say its kind (person, agent or service).`);
    // An admin manages tokens, subscriptions and policy: a person's power, never an agent's or a service's.
    if (chosenKind !== 'person' && (roles ?? existing?.roles ?? []).includes('admin')) {
      throw new PlanError(
        'invalid-input',
        `admin is a role for persons only; ${principalId} is ${chosenKind === 'agent' ? 'an agent' : 'a service'}.`,
      );
    }
    if (roles) {
      const known = knownRoles((await this.store.policies.get(organizationId)).policy);
      const unknown = roles.filter((role) => !known.has(role));
      if (unknown.length > 0) {
        throw new PlanError(
          'invalid-input',
          `Unknown role ${unknown.map((role) => `"${role}"`).join(', ')}: ${organizationId} has ${[...known].join(', ')} (declare more in its policy's roles).`,
        );
      }
    }
    const principal = await this.store.principals.save({
      organizationId,
      id: principalId,
      kind: chosenKind,
      roles: [...new Set(roles ?? existing?.roles ?? [])],
    });
    // Told whenever roles are given to someone who exists (a retry after a failed telling tells again).
    if (existing && roles) await this.approversChanged(organizationId, [principalId]);
    const token = newToken();
    const tokenId = await this.store.principals.addToken(principal, hashToken(token), createdBy);
    if (!tokenId) throw new Error('A token collided with a stored one; try again.');
    return { token, tokenId, principal };
  }

  /**
   * Disables a principal — every token of it is refused, it decides nothing and its links stop —
   * or enables it again. `not-found` when the organization has no principal by that id.
   */
  async setDisabled(
    organizationId: string,
    principalId: string,
    disabled: boolean,
    by: string,
  ): Promise<{ organizationId: string; principalId: string; disabled: boolean }> {
    if (!(await this.store.principals.setDisabled(organizationId, principalId, disabled, by))) {
      throw new PlanError('not-found', `${organizationId} has no principal ${principalId}.`);
    }
    if (disabled) await this.approversChanged(organizationId, [principalId]);
    return { organizationId, principalId, disabled };
  }

  /** An organization's tokens (active and revoked), never the tokens themselves. */
  listTokens(organizationId: string): Promise<TokenView[]> {
    return this.store.principals.listTokens(organizationId);
  }

  /** Revokes a token of the organization; it is refused from then on. */
  async revokeToken(organizationId: string, tokenId: string, revokedBy: string): Promise<TokenView> {
    if (!(await this.store.principals.revokeToken(organizationId, tokenId, revokedBy))) {
      throw new PlanError('not-found', `Token ${tokenId} was not found in ${organizationId}.`);
    }
    return (await this.listTokens(organizationId)).find((token) => token.tokenId === tokenId)!;
  }

  /**
   * Imports the token file of an earlier version once: each token keeps working, for a principal
   * of its actor's id (kind `agent` unless the entry says otherwise). The file is then renamed
   * `<file>.imported`. Returns how many tokens were new.
   */
  async importTokenFile(file: string): Promise<number> {
    const entries = readLegacyTokenFile(file);
    let imported = 0;
    for (const entry of entries) {
      const existing = await this.store.principals.find(entry.organizationId, entry.actor);
      const principal =
        existing ??
        (await this.store.principals.save({
          organizationId: entry.organizationId,
          id: entry.actor,
          kind: entry.kind ?? 'agent',
          roles: entry.roles ?? [],
        }));
      if (await this.store.principals.addToken(principal, entry.tokenHash, 'import', entry.createdAt)) imported++;
    }
    if (entries.length > 0) {
      try {
        renameSync(file, `${file}.imported`);
      } catch (error) {
        // An API started beside this one on the same data dir imported the same file and renamed it first.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return imported;
  }
}
