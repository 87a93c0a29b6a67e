import { Context } from '@temporalio/activity';
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';

import type { PlanSchedule } from '../domain/draft.js';
import type { CompiledPlan } from '../domain/plan.js';
import { describeSchedule, parseInterval } from '../domain/schedule.js';
import type { PersistTransitionInput, PlanStore, RunHeader } from '../storage/plan-store.js';
import { scheduleIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import type { PlanRunInput } from '../workflows/messages.js';

export interface AttachScheduleInput {
  run: RunHeader;
  plan: CompiledPlan;
  schedule: PlanSchedule;
}

export interface AttachedSchedule {
  scheduleId: string;
  scheduledAt?: string;
  description: string;
}

/** What the workflow may ask of the outside world. Every activity is safe to retry. */
export interface PlanActivities {
  /** Persists one run transition in one SurrealDB transaction (idempotent, never rolls back). */
  persistTransition(input: PersistTransitionInput): Promise<void>;
  /** Creates the spec's Temporal Schedule (if absent) and its `plan_schedule` mirror; returns the next fire time. */
  attachSchedule(input: AttachScheduleInput): Promise<AttachedSchedule>;
}

export interface ActivityDependencies {
  store: PlanStore;
  client: Client;
  taskQueue: string;
}

export function createActivities({ store, client, taskQueue }: ActivityDependencies): PlanActivities {
  return {
    async persistTransition(input) {
      await store.persistTransition(input);
    },

    async attachSchedule({ run, plan, schedule }) {
      const scheduleId = scheduleIdOf(run.planSpecId);
      // Each fire starts a run of the approved spec that needs no further approval.
      const fired: PlanRunInput = {
        planSpecId: run.planSpecId,
        organizationId: run.organizationId,
        threadId: run.threadId,
        ...(run.sourceThreadId ? { sourceThreadId: run.sourceThreadId } : {}),
        leadAgentId: run.leadAgentId,
        ...(run.createdByAgentId ? { createdByAgentId: run.createdByAgentId } : {}),
        requireApproval: false,
        plan,
      };
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
          policies: { overlap: ScheduleOverlapPolicy.SKIP },
          memo: { runId: run.runId, planSpecId: run.planSpecId },
        });
      } catch (error) {
        if (!(error instanceof ScheduleAlreadyRunning)) throw error;
        Context.current().log.info('Schedule already exists', { scheduleId });
      }
      const description = await client.schedule.getHandle(scheduleId).describe();
      const next = description.info.nextActionTimes[0];
      const scheduledAt = next ? next.toISOString() : undefined;
      await store.upsertSchedule({
        scheduleId,
        planSpecId: run.planSpecId,
        runId: run.runId,
        organizationId: run.organizationId,
        threadId: run.threadId,
        schedule,
        ...(scheduledAt ? { nextFireAt: scheduledAt } : {}),
      });
      return { scheduleId, ...(scheduledAt ? { scheduledAt } : {}), description: describeSchedule(schedule) };
    },
  };
}
