import type { EgressRules } from '../domain/egress.js';
import type { ActivityDependencies, PlanActivities } from './contract.js';
import { directoryActivities } from './directory.js';
import { editActivities } from './edits.js';
import { nodeActivities } from './nodes.js';
import { eventDelivery, notificationActivities } from './notifications.js';
import { persistenceActivities } from './persistence.js';
import { scheduleActivities } from './schedules.js';

export type * from './contract.js';

/**
 * The activities, family by family: persistence (`persistence.ts`), the directory
 * (`directory.ts`), edits before approval (`edits.ts`), notifications (`notifications.ts`), schedules (`schedules.ts`) and node
 * attempts (`nodes.ts`). What families share is made here: the egress rules and the delivery of
 * events (a node attempt delivers the events of the transitions it carries).
 */
export function createActivities({
  store,
  client,
  taskQueue,
  agents,
  links,
  egressAllow = [],
  metrics,
}: ActivityDependencies): PlanActivities {
  /** The egress rules in force for an organization now: its current policy's list and the operator's. */
  async function egressRulesOf(organizationId: string): Promise<EgressRules> {
    const { policy } = await store.policies.get(organizationId);
    return { allow: policy.egress?.allow, operatorAllow: egressAllow };
  }
  const deliverEvents = eventDelivery({ store, links, egressRulesOf, metrics });
  return {
    ...persistenceActivities(store, metrics),
    ...directoryActivities(store),
    ...editActivities({ store, knownAgents: new Set(Object.keys(agents)), egressAllow }),
    ...notificationActivities(deliverEvents),
    ...scheduleActivities({ store, client, taskQueue }),
    ...nodeActivities({ store, agents, egressRulesOf, deliverEvents, metrics }),
  };
}
