import { ApprovalPolicySchema, type PolicyRecord } from '../domain/policy.js';
import { parseRequest } from '../domain/requests.js';
import type { PlanStore, PolicyChange } from '../storage/plan-store.js';

/** Organizations' approval policies: read, changed (a new version each time), and their history. */
export class PoliciesClient {
  constructor(private readonly store: PlanStore) {}

  /** The policy in force (the defaults, version 0, when never set). */
  get(organizationId: string): Promise<PolicyRecord> {
    return this.store.policies.get(organizationId);
  }

  /** Validates `policy` (defaults filled in) and makes it the organization's next version, recorded as `changedBy`'s. */
  set(organizationId: string, policy: unknown, changedBy: string): Promise<PolicyRecord> {
    return this.store.policies.set(organizationId, parseRequest(ApprovalPolicySchema, policy, 'policy'), changedBy);
  }

  /** Every version, newest first: what it said, who set it, when. */
  history(organizationId: string): Promise<PolicyChange[]> {
    return this.store.policies.history(organizationId);
  }
}
