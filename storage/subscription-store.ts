import { RecordId, type Surreal } from 'surrealdb';

import { runQuery } from './database.js';
import { claimOnce } from './claims.js';
import { fromDb, toDb } from './rows.js';

/** A webhook receiver of an organization's events of chosen types. */
export interface Subscription {
  subscriptionId: string;
  organizationId: string;
  url: string;
  eventTypes: string[];
  /** Signs every delivery (HMAC-SHA256 of the body). */
  secret: string;
  /**
   * The person whose own destination this is (a personal subscription: it receives that person's
   * approval links), or null for the organization's (an admin's; it receives no links).
   */
  principalId: string | null;
  createdBy: string;
  createdAt: string;
}

/** A stored subscription; one stored before personal ones existed is the organization's. */
function withOwner(row: Record<string, unknown>): Subscription {
  const subscription = fromDb<Subscription>(row);
  return { ...subscription, principalId: subscription.principalId ?? null };
}

/** An organization's webhook subscriptions, and the deliveries made to them (each once). */
export class SubscriptionStore {
  constructor(private readonly db: Surreal) {}

  /** A subscription, with its signing secret. */
  async create(subscription: Subscription): Promise<void> {
    await runQuery(this.db, 'CREATE $id CONTENT $fields;', {
      id: new RecordId('plan_subscription', subscription.subscriptionId),
      fields: toDb({ ...subscription }),
    });
  }

  async list(organizationId: string): Promise<Subscription[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_subscription WHERE organizationId = $organizationId ORDER BY createdAt;',
      {
        organizationId,
      },
    );
    return rows.map(withOwner);
  }

  async get(organizationId: string, subscriptionId: string): Promise<Subscription | undefined> {
    const [row] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: new RecordId('plan_subscription', subscriptionId),
    });
    if (!row || row.organizationId !== organizationId) return undefined;
    return withOwner(row);
  }

  /** Deletes an organization's subscription; false when it has none by that id. */
  async delete(organizationId: string, subscriptionId: string): Promise<boolean> {
    const [deleted] = await runQuery<[unknown[]]>(this.db, 'DELETE $id WHERE organizationId = $organizationId RETURN BEFORE;', {
      id: new RecordId('plan_subscription', subscriptionId),
      organizationId,
    });
    return deleted.length > 0;
  }

  /** Records a delivery once; false when it was already recorded. */
  async recordDelivery(subscriptionId: string, runId: string, sequence: number): Promise<boolean> {
    return claimOnce(this.db, new RecordId('plan_delivery', [subscriptionId, runId, sequence]));
  }

  async isDelivered(subscriptionId: string, runId: string, sequence: number): Promise<boolean> {
    const [row] = await runQuery<[unknown]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: new RecordId('plan_delivery', [subscriptionId, runId, sequence]),
    });
    return row !== undefined && row !== null;
  }
}
