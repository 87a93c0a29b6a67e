import { z } from 'zod';

import { LIMITS } from './limits.js';

/**
 * The plan draft an agent submits, as JSON. The schema checks shape only (types, lengths,
 * unknown keys); the rules a reviewer would refuse (duplicates, cycles, bad executors, bad
 * schedules) live in `validateDraft` so every problem is reported at once with its own code.
 */

/** Executors are loose here and checked precisely by the validator (code `invalid-executor`). */
export const DraftExecutorSchema = z
  .object({ type: z.string() })
  .catchall(z.unknown());

export const DraftNodeSchema = z
  .object({
    id: z.string(),
    title: z.string().trim().min(1, 'title must not be empty').max(LIMITS.maxTitle),
    instructions: z.string().max(LIMITS.maxInstructions).optional(),
    executor: DraftExecutorSchema,
    dependsOn: z.array(z.string()).optional(),
  })
  .strict();

/** Schedules are loose here and checked precisely by the validator (code `invalid-schedule`). */
export const DraftScheduleSchema = z
  .object({ cron: z.string().optional(), every: z.string().optional(), timezone: z.string().optional() })
  .catchall(z.unknown());

export const PlanDraftSchema = z
  .object({
    title: z.string().trim().min(1, 'title must not be empty').max(LIMITS.maxTitle),
    objective: z.string().trim().min(1, 'objective must not be empty').max(LIMITS.maxObjective),
    nodes: z.array(DraftNodeSchema).max(LIMITS.maxNodes),
    schedule: DraftScheduleSchema.optional(),
  })
  .strict();

export type PlanDraft = z.infer<typeof PlanDraftSchema>;
export type DraftNode = z.infer<typeof DraftNodeSchema>;

export const SYSTEM_ACTIONS = ['noop', 'wait', 'webhook'] as const;

export const AgentExecutorSchema = z
  .object({ type: z.literal('agent'), agentId: z.string().trim().min(1).max(LIMITS.maxId) })
  .strict();
export const HumanExecutorSchema = z
  .object({ type: z.literal('human'), assignee: z.string().trim().min(1).max(LIMITS.maxId).optional() })
  .strict();
export const SystemExecutorSchema = z
  .object({ type: z.literal('system'), action: z.enum(SYSTEM_ACTIONS) })
  .catchall(z.unknown());

/** A node's owner, once validated. */
export const ExecutorSchema = z.discriminatedUnion('type', [
  AgentExecutorSchema,
  HumanExecutorSchema,
  SystemExecutorSchema,
]);
export type Executor = z.infer<typeof ExecutorSchema>;

/** A schedule, once validated: exactly one of `cron` (5 fields) or `every` (e.g. "15m"). */
export const PlanScheduleSchema = z.union([
  z.object({ cron: z.string(), timezone: z.string().optional() }).strict(),
  z.object({ every: z.string(), timezone: z.string().optional() }).strict(),
]);
export type PlanSchedule = z.infer<typeof PlanScheduleSchema>;
