import type { PlanMetrics } from '../metrics/plan-metrics.js';
import type { PlanStore } from '../storage/plan-store.js';
import type { PlanActivities } from './contract.js';
import { storeCommitted } from './store-committed.js';

/** Storing what the workflow committed: its transitions, in one transaction each call (see `store-committed.ts`). */
export function persistenceActivities(store: PlanStore, metrics?: PlanMetrics): Pick<PlanActivities, 'persistTransitions'> {
  return {
    async persistTransitions(input) {
      return storeCommitted(store, input, metrics);
    },
  };
}
