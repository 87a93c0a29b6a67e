import type { AuditClient } from './audit-client.js';
import type { DelegationsClient } from './delegations-client.js';
import type { RecordDoctor } from './doctor.js';
import type { FeedClient } from './feed-client.js';
import type { PoliciesClient } from './policies-client.js';
import type { PrincipalsClient } from './principals-client.js';
import type { ReviewsClient } from './reviews-client.js';
import type { RunsClient } from './runs-client.js';
import type { SchedulesClient } from './schedules-client.js';
import type { SecretsClient } from './secrets-client.js';
import type { StandingClient } from './standing-client.js';
import type { SubscriptionsClient } from './subscriptions-client.js';

/**
 * What execution plans offer, one client per capability, for every organization at once:
 * `PlansClient` is one, and an organization's view (`OrganizationPlans`) acts through one.
 */
export interface PlansServices {
  readonly runs: RunsClient;
  readonly schedules: SchedulesClient;
  readonly subscriptions: SubscriptionsClient;
  readonly feed: FeedClient;
  readonly records: RecordDoctor;
  readonly principals: PrincipalsClient;
  readonly policies: PoliciesClient;
  readonly secrets: SecretsClient;
  readonly delegations: DelegationsClient;
  readonly standing: StandingClient;
  readonly reviews: ReviewsClient;
  readonly audit: AuditClient;
}
