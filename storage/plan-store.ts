import type { Surreal } from 'surrealdb';

import { DelegationStore } from './delegation-store.js';
import { FeedStore } from './feed-store.js';
import { LinkStore } from './link-store.js';
import { PolicyStore } from './policy-store.js';
import { PrincipalStore } from './principal-store.js';
import { RunStore } from './run-store.js';
import { ScheduleStore } from './schedule-store.js';
import { SecretStore } from './secret-store.js';
import { SubscriptionStore } from './subscription-store.js';

export type { DelegationFilter } from './delegation-store.js';
export type { FeedEvent } from './feed-store.js';
export type { PolicyChange } from './policy-store.js';
export type { ListPosition, RunFilter } from './run-store.js';
export type { PersistTransitionsInput } from '../domain/run-record.js';
export { RunMovedOnError } from './run-store.js';
export type { ScheduleRecord } from './schedule-store.js';
export type { OpenedSecret, SecretView } from './secret-store.js';
export type { Subscription } from './subscription-store.js';

/** Everything execution-plans keeps in SurrealDB, one store per concern over one connection. */
export class PlanStore {
  readonly runs: RunStore;
  readonly feed: FeedStore;
  readonly subscriptions: SubscriptionStore;
  readonly schedules: ScheduleStore;
  readonly links: LinkStore;
  readonly principals: PrincipalStore;
  readonly policies: PolicyStore;
  readonly secrets: SecretStore;
  readonly delegations: DelegationStore;

  /** `secretKey` encrypts the organizations' secrets (auth/secret-box.ts); a store without one cannot read or set them. */
  constructor(
    readonly db: Surreal,
    secretKey: () => Buffer = () => {
      throw new Error("This process has no secret key (PLANS_SECRET_KEY or the data dir's secret-key).");
    },
  ) {
    this.runs = new RunStore(db);
    this.feed = new FeedStore(db);
    this.subscriptions = new SubscriptionStore(db);
    this.schedules = new ScheduleStore(db);
    this.links = new LinkStore(db);
    this.principals = new PrincipalStore(db);
    this.policies = new PolicyStore(db);
    this.secrets = new SecretStore(db, secretKey);
    this.delegations = new DelegationStore(db);
  }
}
