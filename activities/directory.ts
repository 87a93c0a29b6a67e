import type { PlanStore } from '../storage/plan-store.js';
import type { PlanActivities } from './contract.js';

/** The organization's directory, as the approval gate reads it. */
export function directoryActivities(store: PlanStore): Pick<PlanActivities, 'findPrincipal'> {
  return {
    async findPrincipal({ organizationId, principalId }) {
      const principal = await store.principals.find(organizationId, principalId);
      return principal ? { id: principal.id, kind: principal.kind, roles: principal.roles } : null;
    },
  };
}
