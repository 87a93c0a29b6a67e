import { randomBytes, randomUUID } from 'node:crypto';

import { z } from 'zod';

import { urlRefusal } from '../domain/egress.js';
import { PlanError } from '../domain/errors.js';
import { IdSchema, type SubscriptionRequest, SubscriptionRequestSchema, parseRequest } from '../domain/requests.js';
import type { PlanStore, Subscription } from '../storage/plan-store.js';

/** An organization's webhook subscriptions to its events. */
export class SubscriptionsClient {
  constructor(
    private readonly store: PlanStore,
    /** The operator's `PLANS_EGRESS_ALLOW`. */
    private readonly egressAllow: readonly string[] = [],
  ) {}

  /**
   * Subscribes a webhook to an organization's events; the answer carries the signing secret,
   * shown once. A URL the organization's egress rules refuse before any DNS is refused here;
   * each delivery is checked again when it is made.
   */
  async create(request: SubscriptionRequest): Promise<Subscription> {
    const params = parseRequest(SubscriptionRequestSchema, request, 'subscription');
    const { policy } = await this.store.policies.get(params.organizationId);
    const refusal = urlRefusal(params.url, { allow: policy.egress?.allow, operatorAllow: this.egressAllow });
    if (refusal) throw new PlanError('invalid-input', `The subscription posts to ${refusal}.`);
    const subscription: Subscription = {
      subscriptionId: randomUUID(),
      organizationId: params.organizationId,
      url: params.url,
      eventTypes: [...new Set(params.eventTypes)],
      secret: randomBytes(32).toString('hex'),
      createdBy: params.createdBy,
      createdAt: new Date().toISOString(),
      principalId: params.personal ? params.createdBy : null,
    };
    await this.store.subscriptions.create(subscription);
    return subscription;
  }

  /** An organization's subscriptions, without their secrets. */
  async list(organizationId: string): Promise<Array<Omit<Subscription, 'secret'>>> {
    const subscriptions = await this.store.subscriptions.list(parseRequest(IdSchema, organizationId, 'organization id'));
    return subscriptions.map(({ secret: _secret, ...subscription }) => subscription);
  }

  /** One of an organization's subscriptions, without its secret; `not-found` for another organization's. */
  async get(organizationId: string, subscriptionId: string): Promise<Omit<Subscription, 'secret'>> {
    const id = parseRequest(z.uuid(), subscriptionId, 'subscription id');
    const found = await this.store.subscriptions.get(organizationId, id);
    if (!found) throw new PlanError('not-found', `Subscription ${id} was not found.`);
    const { secret: _secret, ...subscription } = found;
    return subscription;
  }

  async delete(organizationId: string, subscriptionId: string): Promise<void> {
    const id = parseRequest(z.uuid(), subscriptionId, 'subscription id');
    if (!(await this.store.subscriptions.delete(organizationId, id))) throw new PlanError('not-found', `Subscription ${id} was not found.`);
  }
}
