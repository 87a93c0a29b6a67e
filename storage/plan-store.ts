import type { Surreal } from 'surrealdb';

import type { Decider } from '../domain/approval.js';
import { AuditStore } from './audit-store.js';
import { DelegationStore } from './delegation-store.js';
import { DEFAULT_SIGNING_CADENCE, HeadSigner, type SigningCadence } from './head-signer.js';
import { FeedStore } from './feed-store.js';
import { LinkStore } from './link-store.js';
import { PolicyStore } from './policy-store.js';
import { PrincipalStore } from './principal-store.js';
import { RunStore } from './run-store.js';
import { ScheduleStore } from './schedule-store.js';
import { SecretStore } from './secret-store.js';
import { StandingStore } from './standing-store.js';
import { SubscriptionStore } from './subscription-store.js';

export type { AuditReceipt, ExportWindow, LiveVerifyReport } from './audit-store.js';
export type { DelegationFilter } from './delegation-store.js';
export type { SigningCadence } from './head-signer.js';
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
  readonly standing: StandingStore;
  readonly audit: AuditStore;
  /** Signs the audit chain heads of what this process writes (storage/head-signer.ts). */
  readonly headSigner: HeadSigner;

  /**
   * `secretKey` encrypts the organizations' secrets and audit signing keys (auth/secret-box.ts); a
   * store without one cannot read or set them, nor sign. `signing` is how often heads are signed.
   */
  constructor(
    readonly db: Surreal,
    secretKey: () => Buffer = () => {
      throw new Error("This process has no secret key (PLANS_SECRET_KEY or the data dir's secret-key).");
    },
    signing: SigningCadence = DEFAULT_SIGNING_CADENCE,
  ) {
    this.audit = new AuditStore(db, secretKey);
    this.headSigner = new HeadSigner(this.audit, signing);
    this.runs = new RunStore(db, (organizationId, events) => this.headSigner.written(organizationId, events));
    this.feed = new FeedStore(db);
    this.subscriptions = new SubscriptionStore(db);
    this.schedules = new ScheduleStore(db);
    this.links = new LinkStore(db);
    this.principals = new PrincipalStore(db);
    this.policies = new PolicyStore(db);
    this.secrets = new SecretStore(db, secretKey);
    this.delegations = new DelegationStore(db);
    this.standing = new StandingStore(db);
  }

  /**
   * A principal as the approval gate reads it: its kind and roles, and — for a person — whom it
   * acts for at `atIso` (its active delegations' delegators, each as the directory has them now;
   * a disabled or deleted delegator is left out). Null when the organization has no such principal.
   */
  async decider(organizationId: string, principalId: string, atIso = new Date().toISOString()): Promise<Decider | null> {
    const principal = await this.principals.find(organizationId, principalId);
    return principal ? this.actingFor(organizationId, principal, atIso) : null;
  }

  /** `principal` as a decider, with whom it acts for at `atIso` (a person's active delegations' delegators). */
  async actingFor(organizationId: string, principal: Decider, atIso = new Date().toISOString()): Promise<Decider> {
    const decider: Decider = { id: principal.id, kind: principal.kind, roles: principal.roles };
    if (principal.kind !== 'person') return decider;
    const delegations = await this.delegations.activeTo(organizationId, principal.id, atIso);
    const delegators = await Promise.all(delegations.map((delegation) => this.principals.find(organizationId, delegation.from)));
    const actsFor = delegators.flatMap((delegator) =>
      delegator?.kind === 'person' ? [{ id: delegator.id, kind: delegator.kind, roles: delegator.roles }] : [],
    );
    return actsFor.length > 0 ? { ...decider, actsFor } : decider;
  }
}
