import type { Client } from '@temporalio/client';

import { operatorOf } from '../auth/operator.js';

import type { CheckedCredential } from '../domain/decisions.js';
import type { Principal } from '../domain/principals.js';
import type { PlanStore } from '../storage/plan-store.js';
import { DEFAULT_TASK_QUEUE } from '../temporal/names.js';
import { DelegationsClient } from './delegations-client.js';
import { RecordDoctor } from './doctor.js';
import { FeedClient } from './feed-client.js';
import { OrganizationPlans } from './organization-plans.js';
import { Admission } from './admission.js';
import { PoliciesClient } from './policies-client.js';
import { StandingClient } from './standing-client.js';
import { PrincipalsClient } from './principals-client.js';
import { ReviewsClient } from './reviews-client.js';
import { AuditClient } from './audit-client.js';
import { RunsClient } from './runs-client.js';
import { SchedulesClient } from './schedules-client.js';
import { SecretsClient } from './secrets-client.js';
import type { PlansServices } from './services.js';
import { SubscriptionsClient } from './subscriptions-client.js';

export type { DoctorReport, RunExamination } from './doctor.js';
export type { IssuedToken } from './principals-client.js';
export type { PlanDiffView, PlanReview } from './reviews-client.js';
export type { RunScheduleView } from './runs-client.js';
export type { ScheduleView } from './schedules-client.js';

export interface PlansClientOptions {
  /** A connected Temporal client. */
  client: Client;
  /** Where runs are read from (the stored view). */
  store: PlanStore;
  taskQueue?: string;
  /** The agent ids the workers run; a draft naming another is refused. Unchecked when omitted. */
  knownAgents?: Iterable<string>;
  /** Agents served over HTTP and where (`PLANS_HTTP_AGENTS`): people reviewing a plan see that their steps leave the system. */
  agentEndpoints?: Readonly<Record<string, string>>;
  /** The operator's `PLANS_EGRESS_ALLOW`: hosts every organization may call even at a non-public address. */
  egressAllow?: readonly string[];
}

/**
 * The TypeScript API of execution plans, what agents, the HTTP API and the CLI call — like
 * Temporal's `Client`, a set of clients by concern. Writes go through each run's workflow
 * (which stores them); reads come from SurrealDB. It trusts its caller with any organization;
 * `forOrganization` gives the view that acts for one principal and sees only its organization.
 */
export class PlansClient implements PlansServices {
  /** Create, replace, decide, complete, abort and read plan runs. */
  readonly runs: RunsClient;
  /** The Temporal Schedules of approved recurring plans. */
  readonly schedules: SchedulesClient;
  /** Webhook subscriptions to an organization's events. */
  readonly subscriptions: SubscriptionsClient;
  /** An organization's events in stored order (the live feed). */
  readonly feed: FeedClient;
  /** `plans doctor`: stored records compared with (and repaired from) what Temporal committed. */
  readonly records: RecordDoctor;
  /** Who acts: principals and their API tokens. */
  readonly principals: PrincipalsClient;
  /** Organizations' approval policies. */
  readonly policies: PoliciesClient;
  /** Organizations' secrets, by name (values only ever go in, and to the steps that send them). */
  readonly secrets: SecretsClient;
  /** Delegations: while one holds, a person's approvals can be made by another person. */
  readonly delegations: DelegationsClient;
  /** Standing approvals: a person's approval of future identical plans from the same requester, for a while. */
  readonly standing: StandingClient;
  /** What people see before they act: steps in full, what a replacement changed, whether they may. */
  readonly reviews: ReviewsClient;
  /** The audit chains: exports, verification, receipts, signing keys. */
  readonly audit: AuditClient;

  constructor(options: PlansClientOptions) {
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    const validation = options.knownAgents ? { knownAgents: new Set(options.knownAgents) } : {};
    this.runs = new RunsClient({
      client: options.client,
      store: options.store,
      taskQueue,
      validation,
      ...(options.egressAllow ? { egressAllow: options.egressAllow } : {}),
    });
    this.schedules = new SchedulesClient(options.client, options.store);
    this.subscriptions = new SubscriptionsClient(options.store, options.egressAllow ?? []);
    this.feed = new FeedClient(options.store);
    this.records = new RecordDoctor(options.client, options.store);
    // A change of who may approve reaches the runs acting on their approvals (workflows/action-check.ts).
    const approversChanged = (organizationId: string, principalIds: string[]) => this.runs.approversChanged(organizationId, principalIds);
    this.principals = new PrincipalsClient(options.store, approversChanged);
    this.policies = new PoliciesClient(options.store, new Admission(options.store, options.egressAllow ?? []), validation);
    this.secrets = new SecretsClient(options.store);
    this.delegations = new DelegationsClient(options.store, undefined, approversChanged);
    this.standing = new StandingClient(options.store);
    this.reviews = new ReviewsClient(options.store, options.agentEndpoints ?? {}, validation);
    this.audit = new AuditClient(options.store);
  }

  /** The view acting as `principal`: every read scoped to its organization, every write made by it. */
  forOrganization(principal: Principal, credential?: CheckedCredential): OrganizationPlans {
    return new OrganizationPlans(this, principal, false, credential);
  }

  /** The view the data dir's operator token acts through, for the organization it names: it manages tokens only (api/server.ts). */
  asOperatorOf(organizationId: string): OrganizationPlans {
    return new OrganizationPlans(this, operatorOf(organizationId), true);
  }
}
