import { RecordId, type Surreal } from 'surrealdb';

import type { PlanSchedule } from '../domain/draft.js';
import { runQuery } from './database.js';
import { fromDb, toDb } from './rows.js';

/** The mirror of a spec's Temporal Schedule, for reads and the organization it belongs to. */
export interface ScheduleRecord {
  scheduleId: string;
  planSpecId: string;
  /** The approved run that attached it. */
  runId: string;
  organizationId: string;
  threadId: string;
  schedule: PlanSchedule;
  state: 'active' | 'paused' | 'deleted';
  /** Who paused it through execution-plans, while it is paused. */
  pausedBy?: string;
  nextFireAt?: string;
  lastFiredRunId?: string;
}

/** The `plan_schedule` mirrors of Temporal Schedules. */
export class ScheduleStore {
  constructor(private readonly db: Surreal) {}

  /** Mirrors a Temporal Schedule; idempotent. */
  async upsert(record: ScheduleRecord): Promise<void> {
    await runQuery(this.db, 'UPSERT $id MERGE $fields;', {
      id: new RecordId('plan_schedule', record.scheduleId),
      fields: toDb({ ...record, updatedAt: new Date().toISOString() }),
    });
  }

  /** Changes some fields of a schedule's mirror; `null` removes a field. */
  async patch(scheduleId: string, patch: { [K in keyof ScheduleRecord]?: ScheduleRecord[K] | null }): Promise<void> {
    await runQuery(this.db, 'UPDATE $id MERGE $fields;', {
      id: new RecordId('plan_schedule', scheduleId),
      fields: toDb({ ...patch, updatedAt: new Date().toISOString() }),
    });
  }

  async get(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const [row] = await runQuery<[Record<string, unknown> | undefined]>(this.db, 'SELECT * FROM ONLY $id;', {
      id: new RecordId('plan_schedule', scheduleId),
    });
    return row ? fromDb<ScheduleRecord>(row) : undefined;
  }
}
