import type { PlanStore } from '../storage/plan-store.js';
import type { PlanActivities } from './contract.js';

/** The organization's directory, as the approval gate reads it. */
export function directoryActivities(store: PlanStore): Pick<PlanActivities, 'findPrincipal' | 'findStanding'> {
  return {
    /** The principal, with whom it acts for by delegation now (a delegate may decide for a delegator). */
    async findPrincipal({ organizationId, principalId }) {
      return store.decider(organizationId, principalId);
    },
    async findStanding({ organizationId, standingId }) {
      return (await store.standing.get(organizationId, standingId)) ?? null;
    },
  };
}
