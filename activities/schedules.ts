import { Context } from '@temporalio/activity';
import { type Client, ScheduleAlreadyRunning, ScheduleNotFoundError, type ScheduleOverlapPolicy } from '@temporalio/client';

import { planRunInput } from '../domain/run-input.js';
import { type PlanSchedule, describeSchedule, parseInterval } from '../domain/schedule.js';
import type { PlanStore } from '../storage/plan-store.js';
import { scheduleIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import type { PlanActivities } from './contract.js';

const OVERLAP: Record<NonNullable<PlanSchedule['overlap']>, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
};

/** A recurring plan's Temporal Schedule and its `plan_schedule` mirror. */
export function scheduleActivities({
  store,
  client,
  taskQueue,
}: {
  store: PlanStore;
  client: Client;
  taskQueue: string;
}): Pick<PlanActivities, 'attachSchedule' | 'refreshSchedule' | 'deleteSchedule'> {
  async function nextFireTime(scheduleId: string): Promise<string | undefined> {
    const description = await client.schedule.getHandle(scheduleId).describe();
    return description.info.nextActionTimes[0]?.toISOString();
  }

  return {
    async attachSchedule({ run, plan, schedule }) {
      const scheduleId = scheduleIdOf(run.planSpecId);
      // Each fire starts a run of the approved spec that needs no further approval.
      const fired = planRunInput({
        planSpecId: run.planSpecId,
        organizationId: run.organizationId,
        threadId: run.threadId,
        ...(run.sourceThreadId ? { sourceThreadId: run.sourceThreadId } : {}),
        leadAgentId: run.leadAgentId,
        ...(run.createdByAgentId ? { createdByAgentId: run.createdByAgentId } : {}),
        requireApproval: false,
        firedByScheduleId: scheduleId,
        // Fires run the approved revision under the rules it was approved with (a person's steps keep their assignees).
        ...(run.revision ? { revision: run.revision } : {}),
        ...(run.rules ? { rules: run.rules } : {}),
        // Who approved it (from format 3): every fire checks them again before it acts.
        ...(run.approvedBy ? { approvedBy: run.approvedBy } : {}),
        plan,
      });
      try {
        await client.schedule.create({
          scheduleId,
          spec: {
            ...('cron' in schedule ? { cronExpressions: [schedule.cron] } : { intervals: [{ every: parseInterval(schedule.every)! }] }),
            ...(schedule.timezone ? { timezone: schedule.timezone } : {}),
          },
          action: {
            type: 'startWorkflow',
            workflowType: 'planRun',
            taskQueue,
            workflowId: workflowIdOf(`${run.planSpecId}.fired`),
            args: [fired],
            typedSearchAttributes: searchAttributesOf({ ...fired, status: 'running' }),
            staticSummary: plan.title,
          },
          policies: { overlap: OVERLAP[schedule.overlap ?? 'skip'] },
          memo: { runId: run.runId, planSpecId: run.planSpecId },
        });
      } catch (error) {
        if (!(error instanceof ScheduleAlreadyRunning)) throw error;
        Context.current().log.info('Schedule already exists', { scheduleId });
      }
      const scheduledAt = await nextFireTime(scheduleId);
      await store.schedules.upsert({
        scheduleId,
        planSpecId: run.planSpecId,
        runId: run.runId,
        organizationId: run.organizationId,
        threadId: run.threadId,
        schedule,
        state: 'active',
        ...(scheduledAt ? { nextFireAt: scheduledAt } : {}),
      });
      return { scheduleId, ...(scheduledAt ? { scheduledAt } : {}), description: describeSchedule(schedule) };
    },

    async refreshSchedule({ scheduleId, firedRunId }) {
      try {
        const nextFireAt = await nextFireTime(scheduleId);
        await store.schedules.patch(scheduleId, { nextFireAt: nextFireAt ?? null, lastFiredRunId: firedRunId });
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
    },

    async deleteSchedule({ scheduleId }) {
      try {
        await client.schedule.getHandle(scheduleId).delete();
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
      await store.schedules.patch(scheduleId, { state: 'deleted', nextFireAt: null });
    },
  };
}
