import { type Client, ScheduleNotFoundError } from '@temporalio/client';

import { PlanError } from '../domain/errors.js';
import { type ScheduleRequest, ScheduleRequestSchema, parseRequest } from '../domain/requests.js';
import type { PlanStore, ScheduleRecord } from '../storage/plan-store.js';
import { runIdOf } from '../temporal/names.js';

/** A schedule as its mirror records it, with what Temporal says of it now. */
export type ScheduleView = ScheduleRecord & { paused: boolean; nextFireTimes: string[]; recentRunIds: string[] };

/** The Temporal Schedules of approved recurring plans, each belonging to its plan's organization. */
export class SchedulesClient {
  constructor(
    private readonly client: Client,
    private readonly store: PlanStore,
  ) {}

  /** A schedule with its next fire times, as Temporal sees it. */
  async get(request: ScheduleRequest): Promise<ScheduleView> {
    const record = await this.scheduleFor(request);
    const description = await this.client.schedule.getHandle(record.scheduleId).describe();
    return {
      ...record,
      paused: description.state.paused,
      nextFireTimes: description.info.nextActionTimes.map((time) => time.toISOString()),
      recentRunIds: description.info.recentActions.map((action) => runIdOf(action.action.workflow.workflowId)),
    };
  }

  /** Stops a schedule from firing until resumed. */
  async pause(request: ScheduleRequest): Promise<ScheduleView> {
    const record = await this.scheduleFor(request);
    await this.client.schedule.getHandle(record.scheduleId).pause(request.note ?? 'Paused through execution-plans.');
    await this.store.schedules.patch(record.scheduleId, { state: 'paused', pausedBy: request.emittedBy ?? null });
    return this.get(request);
  }

  async resume(request: ScheduleRequest): Promise<ScheduleView> {
    const record = await this.scheduleFor(request);
    const handle = this.client.schedule.getHandle(record.scheduleId);
    await handle.unpause(request.note ?? 'Resumed through execution-plans.');
    const next = (await handle.describe()).info.nextActionTimes[0];
    await this.store.schedules.patch(record.scheduleId, { state: 'active', pausedBy: null, nextFireAt: next ? next.toISOString() : null });
    return this.get(request);
  }

  /** Deletes a schedule for good; runs it started are not touched. */
  async delete(request: ScheduleRequest): Promise<void> {
    const record = await this.scheduleFor(request);
    try {
      await this.client.schedule.getHandle(record.scheduleId).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
    await this.store.schedules.patch(record.scheduleId, { state: 'deleted', nextFireAt: null });
  }

  /** A schedule's mirror (no call to Temporal): who paused it, its state; `not-found` for another organization's. */
  record(request: ScheduleRequest): Promise<ScheduleRecord> {
    return this.scheduleFor(request);
  }

  /** Looks up a schedule's mirror for its organization; `not-found` for another organization's. */
  private async scheduleFor(request: ScheduleRequest): Promise<ScheduleRecord> {
    const { scheduleId, organizationId } = parseRequest(ScheduleRequestSchema, request, 'schedule request');
    const record = await this.store.schedules.get(scheduleId);
    if (!record || record.organizationId !== organizationId || record.state === 'deleted') {
      throw new PlanError('not-found', `Schedule ${scheduleId} was not found.`);
    }
    return record;
  }
}
