import { RecordId, type Surreal } from 'surrealdb';

import type { PlanEventRecord } from '../domain/run-state.js';
import { runQuery } from './database.js';
import { fromDb } from './rows.js';

/** An event as the live feed serves it. */
export type FeedEvent = PlanEventRecord & { runId: string; organizationId: string; threadId: string; feedSeq: number };

/** An organization's events in the order they were stored: the live feed, and what notifications send. */
export class FeedStore {
  constructor(private readonly db: Surreal) {}

  /** A run's events by sequence number. */
  async events(runId: string, sequences: readonly number[]): Promise<FeedEvent[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_event WHERE runId = $runId AND sequence IN $sequences ORDER BY sequence;',
      { runId, sequences },
    );
    return rows.map((row) => fromDb<FeedEvent>(row));
  }

  /**
   * An organization's events after `after` in the order they were persisted (the feed), at
   * most `limit`, optionally of one thread or run.
   */
  async read(query: { organizationId: string; after: number; threadId?: string; runId?: string; limit?: number }): Promise<FeedEvent[]> {
    const conditions = ['organizationId = $organizationId', 'feedSeq > $after'];
    if (query.threadId) conditions.push('threadId = $threadId');
    if (query.runId) conditions.push('runId = $runId');
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      `SELECT * FROM plan_event WHERE ${conditions.join(' AND ')} ORDER BY feedSeq LIMIT $limit;`,
      { ...query, limit: query.limit ?? 500 },
    );
    return rows.map((row) => fromDb<FeedEvent>(row));
  }

  /** The feed position of an organization's latest event (0 when none). */
  async position(organizationId: string): Promise<number> {
    const [seq] = await runQuery<[number | undefined]>(this.db, 'RETURN (SELECT VALUE seq FROM ONLY $feed) ?? 0;', {
      feed: new RecordId('plan_feed', organizationId),
    });
    return seq ?? 0;
  }
}
