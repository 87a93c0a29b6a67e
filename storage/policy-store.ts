import { RecordId, type Surreal } from 'surrealdb';

import { type ApprovalPolicy, ApprovalPolicySchema, DEFAULT_APPROVAL_POLICY, type PolicyRecord } from '../domain/policy.js';
import { runQuery } from './database.js';
import { fromDb, toDb } from './rows.js';

/** One version of an organization's policy: what it said, who set it, when. */
export interface PolicyChange {
  organizationId: string;
  version: number;
  policy: ApprovalPolicy;
  changedBy: string;
  changedAt: string;
}

/**
 * Each organization's approval policy, versioned: every change is kept as its own record (who,
 * when, what), and the one in force is the latest. An organization that never set one has the
 * defaults, as version 0.
 */
export class PolicyStore {
  constructor(private readonly db: Surreal) {}

  async get(organizationId: string): Promise<PolicyRecord> {
    const [row] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: new RecordId('plan_policy', organizationId),
    });
    if (!row) return { organizationId, version: 0, policy: DEFAULT_APPROVAL_POLICY, updatedBy: null, updatedAt: null };
    const record = fromDb<PolicyRecord>(row);
    // A policy stored before a field existed reads back with that field's default.
    return { ...record, policy: ApprovalPolicySchema.parse(record.policy) };
  }

  /** Makes `policy` the organization's next version; two writers at once each get their own version. */
  async set(organizationId: string, policy: ApprovalPolicy, changedBy: string): Promise<PolicyRecord> {
    for (let attempt = 1; ; attempt++) {
      const version = (await this.get(organizationId)).version + 1;
      const changedAt = new Date().toISOString();
      try {
        await runQuery(this.db, 'BEGIN; CREATE $change CONTENT $changeFields; UPSERT $id CONTENT $fields; COMMIT;', {
          change: new RecordId('plan_policy_change', [organizationId, version]),
          changeFields: toDb({ organizationId, version, policy, changedBy, changedAt }),
          id: new RecordId('plan_policy', organizationId),
          fields: toDb({ organizationId, version, policy, updatedBy: changedBy, updatedAt: changedAt }),
        });
        return { organizationId, version, policy, updatedBy: changedBy, updatedAt: changedAt };
      } catch (error) {
        // Another writer took this version first: read again and take the next one.
        if (attempt >= 5 || !/already exists/i.test((error as Error).message)) throw error;
      }
    }
  }

  /** Every version the organization's policy had, newest first. */
  async history(organizationId: string): Promise<PolicyChange[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_policy_change WHERE organizationId = $organizationId ORDER BY version DESC;',
      { organizationId },
    );
    return rows.map((row) => fromDb<PolicyChange>(row));
  }
}
