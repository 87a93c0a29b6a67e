import { randomUUID } from 'node:crypto';

import { z } from 'zod';

import { type Delegation, untilInstant, untilProblem } from '../domain/delegations.js';
import { PlanError } from '../domain/errors.js';
import type { PrincipalKind } from '../domain/principals.js';
import { type DelegationRequest, DelegationRequestSchema, parseRequest } from '../domain/requests.js';
import type { PlanStore } from '../storage/plan-store.js';

const aKind = (kind: PrincipalKind) => (kind === 'agent' ? 'an agent' : kind === 'service' ? 'a service' : 'a person');

/**
 * Organizations' delegations: while one holds, its delegator's approvals can be made by its
 * delegate (the run's workflow counts them, docs/approval-policies.md#delegation). Both are
 * persons of the organization; it ends in the future, at most MAX_DELEGATION_DAYS ahead. Who
 * may make, list and revoke which is the permission table's (domain/permissions.ts), applied by
 * the organization's view.
 */
export class DelegationsClient {
  constructor(
    private readonly store: PlanStore,
    /** The clock a new delegation's `until` and `?active` are read against. */
    private readonly now: () => Date = () => new Date(),
    /** Told when a delegation is revoked: runs acting on its delegate's approvals look again. */
    private readonly approversChanged: (organizationId: string, principalIds: string[]) => Promise<unknown> = async () => undefined,
  ) {}

  /** Makes a delegation from `from` (else its maker) to `to`; every refusal names its problem, and nothing is stored. */
  async create(request: DelegationRequest): Promise<Delegation> {
    const fields = parseRequest(DelegationRequestSchema, request, 'delegation');
    const { organizationId, createdBy, to, reason } = fields;
    const from = fields.from ?? createdBy;
    if (to === from) throw new PlanError('invalid-input', `A delegation to oneself is refused: ${from} already makes their own approvals.`);
    const createdAt = this.now().toISOString();
    const until = untilInstant(fields.until);
    const problem = untilProblem(until, createdAt);
    if (problem) throw new PlanError('invalid-input', `Invalid delegation: ${problem}.`);
    const [delegator, delegate] = await Promise.all([
      this.store.principals.find(organizationId, from),
      this.store.principals.find(organizationId, to),
    ]);
    if (!delegator) throw new PlanError('invalid-input', `${from} is not a principal of ${organizationId}: no one to delegate for.`);
    if (delegator.kind !== 'person')
      throw new PlanError('invalid-input', `Only a person's approvals can be delegated: ${from} is ${aKind(delegator.kind)}.`);
    if (!delegate) throw new PlanError('invalid-input', `${to} is not a principal of ${organizationId}: no one to delegate to.`);
    if (delegate.kind !== 'person')
      throw new PlanError(
        'invalid-input',
        `A delegation to ${aKind(delegate.kind)} is refused: ${to} is ${aKind(delegate.kind)}, and only persons decide.`,
      );
    return this.store.delegations.create({
      delegationId: randomUUID(),
      organizationId,
      from,
      to,
      until,
      ...(reason !== undefined ? { reason } : {}),
      createdBy,
      createdAt,
    });
  }

  /** The organization's delegations, oldest first: only those from or to `involving` when given, only those that hold now when `active`. */
  list(organizationId: string, options: { involving?: string; active?: boolean } = {}): Promise<Delegation[]> {
    return this.store.delegations.list(organizationId, {
      ...(options.involving !== undefined ? { involving: options.involving } : {}),
      ...(options.active ? { activeAt: this.now().toISOString() } : {}),
    });
  }

  /** One of the organization's delegations, revoked or not; `not-found` for another organization's. */
  async get(organizationId: string, delegationId: string): Promise<Delegation> {
    const id = parseRequest(z.uuid(), delegationId, 'delegation id');
    const found = await this.store.delegations.get(organizationId, id);
    if (!found) throw new PlanError('not-found', `Delegation ${id} was not found.`);
    return found;
  }

  /** Revokes a delegation at once, as `revokedBy`; one revoked already is refused (`not-active`), naming who revoked it. */
  async revoke(organizationId: string, delegationId: string, revokedBy: string): Promise<Delegation> {
    const existing = await this.get(organizationId, delegationId);
    const revoked =
      existing.revokedAt === undefined ? await this.store.delegations.revoke(organizationId, existing.delegationId, revokedBy) : undefined;
    if (revoked) {
      // Approvals its delegate made for its delegator no longer stand: runs acting on them look again.
      await this.approversChanged(organizationId, [revoked.from, revoked.to]);
      return revoked;
    }
    const first = await this.get(organizationId, delegationId);
    throw new PlanError('not-active', `Delegation ${first.delegationId} was revoked already, by ${first.revokedBy} at ${first.revokedAt}.`);
  }
}
