import type { CompiledPlan } from './plan.js';
import type { RunState, StateChange } from './run-state.js';
import { makeChange } from './state-change.js';

/* The run's schedule, once attached (see `transitions.ts`). */

/** S7: the schedule to attach — none when the spec has none or the run already has it. */
export function scheduleToAttach(state: RunState, plan: CompiledPlan): CompiledPlan['schedule'] {
  return state.scheduleId ? undefined : plan.schedule;
}

/** S7: the run records its schedule and next fire time. */
export function recordSchedule(
  state: RunState,
  schedule: { scheduleId: string; scheduledAt?: string; description: string },
  now: string,
): StateChange {
  return makeChange(state, now, {
    run: { scheduleId: schedule.scheduleId, scheduledAt: schedule.scheduledAt ?? null },
    events: [
      {
        eventType: 'plan-schedule-attached',
        message: `Attached schedule ${schedule.description} to execution plan "${state.title}".`,
        emittedBy: 'system',
        detail: { scheduleId: schedule.scheduleId, ...(schedule.scheduledAt ? { nextFireAt: schedule.scheduledAt } : {}) },
      },
    ],
  });
}
