import { type LinkSigner, signDelivery } from '../auth/links.js';
import { eligibleDeciders } from '../domain/approval.js';
import { decidingRulesOf } from '../domain/snapshot.js';
import type { EgressRules } from '../domain/egress.js';
import type { PlanMetrics } from '../metrics/plan-metrics.js';
import type { PlanStore, Subscription } from '../storage/plan-store.js';
import { postGuarded } from './egress.js';
import type { PlanActivities } from './contract.js';

/**
 * The events that ask the open stage's people to decide, and so carry their links: the run
 * pending, a stage opening, a reminder, an escalation (its new people).
 */
const LINK_EVENTS: ReadonlySet<string> = new Set(['plan-pending-approval', 'plan-stage-opened', 'plan-reminded', 'plan-escalated']);

/** Delivers a run's events (`eventDelivery`): answers how many were delivered, what failed, and the events to retry. */
export type DeliverEvents = (
  runId: string,
  sequences: number[],
) => Promise<{ delivered: number; failures: string[]; undelivered: number[] }>;

/**
 * The delivery of a run's events to the organization's subscriptions (webhooks), with the
 * approve / reject links a person's own subscription gets; used by `notifyEvents` and by
 * `executeNode` for the transitions it carries.
 */
export function eventDelivery({
  store,
  links,
  egressRulesOf,
  metrics,
}: {
  store: PlanStore;
  links: LinkSigner;
  egressRulesOf: (organizationId: string) => Promise<EgressRules>;
  metrics?: PlanMetrics;
}): DeliverEvents {
  /**
   * Delivers a run's events to the subscriptions that want them, each delivery at most once (one
   * already recorded is skipped); answers what failed, for the caller to retry.
   */
  async function deliverEvents(
    runId: string,
    sequences: number[],
  ): Promise<{ delivered: number; failures: string[]; undelivered: number[] }> {
    if (sequences.length === 0) return { delivered: 0, failures: [], undelivered: [] };
    const [events, run] = await Promise.all([store.feed.events(runId, sequences), store.runs.getSnapshot(runId)]);
    if (!run) return { delivered: 0, failures: [], undelivered: [] };
    const subscriptions = await store.subscriptions.list(run.organizationId);
    const rules = subscriptions.length > 0 ? await egressRulesOf(run.organizationId) : {};
    // Links decide as one person, on the revision shown. They go only to a person's own destination
    // (a personal subscription), theirs alone and bound to it: a link read from anyone else's
    // delivery (an organization's integration, the requesting agent's receiver) decides nothing.
    const approval = run.approval;
    const deciders = new Set(
      approval && run.revision && events.some((event) => LINK_EVENTS.has(event.eventType))
        ? eligibleDeciders(decidingRulesOf(approval), await store.principals.list(run.organizationId), approval).map(({ id }) => id)
        : [],
    );
    // A person whose every token was revoked gets no links (their subscription stays, their links would not act).
    const active = subscriptions.some((subscription) => subscription.principalId && deciders.has(subscription.principalId))
      ? await store.principals.withActiveTokens(run.organizationId)
      : new Set<string>();
    const linksFor = (subscription: Subscription) => {
      const principalId = subscription.principalId;
      if (!principalId || !deciders.has(principalId) || !active.has(principalId)) return [];
      const claims = {
        runId,
        organizationId: run.organizationId,
        principalId,
        revision: run.revision!,
        subscriptionId: subscription.subscriptionId,
      };
      return [
        {
          principalId,
          approve: links.link({ ...claims, decision: 'approve' }),
          reject: links.link({ ...claims, decision: 'reject' }),
          requestChanges: links.link({ ...claims, decision: 'changes-requested' }),
        },
      ];
    };
    const failures: string[] = [];
    const undelivered = new Set<number>();
    let delivered = 0;
    for (const event of events) {
      for (const subscription of subscriptions.filter((candidate) => candidate.eventTypes.includes(event.eventType))) {
        if (await store.subscriptions.isDelivered(subscription.subscriptionId, runId, event.sequence)) continue;
        const { feedSeq: _feed, ...payloadEvent } = event;
        const body = JSON.stringify({
          deliveryId: `${subscription.subscriptionId}:${runId}:${event.sequence}`,
          event: payloadEvent,
          run: {
            runId,
            title: run.title,
            status: run.status,
            organizationId: run.organizationId,
            threadId: run.threadId,
            sourceThreadId: run.sourceThreadId,
          },
          ...(LINK_EVENTS.has(event.eventType) ? { links: linksFor(subscription) } : {}),
        });
        try {
          // A refused destination is retried like any failed delivery: the policy may allow it later.
          const response = await postGuarded({
            url: subscription.url,
            headers: {
              'content-type': 'application/json',
              'x-plans-signature': signDelivery(subscription.secret, body),
              'x-plans-event': event.eventType,
            },
            body,
            rules,
            timeoutMs: 10_000,
            maxAnswerBytes: 64 * 1024,
            spanName: 'POST notification',
          });
          if (!response.ok) throw new Error(`answered ${response.status}`);
          await store.subscriptions.recordDelivery(subscription.subscriptionId, runId, event.sequence);
          delivered++;
        } catch (error) {
          failures.push(`${subscription.url}: ${(error as Error).message}`);
          metrics?.webhookDeliveryFailed(run.organizationId);
          undelivered.add(event.sequence);
        }
      }
    }
    return { delivered, failures, undelivered: [...undelivered] };
  }
  return deliverEvents;
}

/** Notifying subscriptions of a run's events. */
export function notificationActivities(deliverEvents: DeliverEvents): Pick<PlanActivities, 'notifyEvents'> {
  return {
    async notifyEvents({ runId, sequences }) {
      const { delivered, failures } = await deliverEvents(runId, sequences);
      if (failures.length > 0) throw new Error(`Undelivered notifications (will retry): ${failures.join('; ')}`);
      return { delivered };
    },
  };
}
