import { FeedQuerySchema, IdSchema, parseRequest } from '../domain/requests.js';
import type { FeedEvent, PlanStore } from '../storage/plan-store.js';

/** An organization's events, in the order they were stored: what the live feed serves. */
export class FeedClient {
  constructor(private readonly store: PlanStore) {}

  /**
   * An organization's events after feed position `after`, in the order they were persisted,
   * optionally of one thread or run: what the live feed serves.
   */
  async read(query: { organizationId: string; after: number; threadId?: string; runId?: string; limit?: number }): Promise<FeedEvent[]> {
    const parsed = parseRequest(FeedQuerySchema, query, 'events query');
    return this.store.feed.read(parsed);
  }

  /** The feed position of an organization's latest event: a live feed starts after it. */
  position(organizationId: string): Promise<number> {
    return this.store.feed.position(parseRequest(IdSchema, organizationId, 'organization id'));
  }
}
