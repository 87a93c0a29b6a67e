import { z } from 'zod';

import { EXPIRY_OUTCOMES } from './approval.js';
import { LIMITS } from './limits.js';
import { parseInterval } from './duration.js';
import { ExpirySchema } from './expiry.js';
import { SECRET_NAME_PATTERN } from './ids.js';
import { SelectorSchema } from './principals.js';

/**
 * The plan draft an agent submits, as JSON. The schema checks shape only (types, lengths,
 * unknown keys); the rules a reviewer would refuse (duplicates, cycles, bad executors, bad
 * schedules) live in `validateDraft` so every problem is reported at once with its own code.
 */

export const SecretNameSchema = z
  .string()
  .regex(SECRET_NAME_PATTERN, 'must be 1-64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Where a draft sends a stored secret: the value is put in its place just before the call. */
export const SecretRefSchema = z
  .object({ $secret: SecretNameSchema })
  .strict()
  .describe('A secret of the organization, by name (plans secret set NAME)');

/** Executors are loose here and checked precisely by the validator (code `invalid-executor`). */
export const DraftExecutorSchema = z.object({ type: z.string() }).catchall(z.unknown());

/** A duration such as "30s", "10m", "1h30m" or "500ms". */
export const DurationSchema = z
  .string()
  .refine((value) => parseInterval(value) !== undefined, 'must be a duration such as "30s", "10m" or "1h30m"');

/** How often a failing node is tried again, and how long it waits in between. */
export const RetrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(20).optional(),
    initialInterval: DurationSchema.optional(),
    backoffCoefficient: z.number().min(1).max(10).optional(),
    maximumInterval: DurationSchema.optional(),
  })
  .strict();

/** A node's deadline, counted from when it starts: a warning before, and an event when missed. */
export const DeadlineSchema = z
  .object({
    after: DurationSchema,
    warnBefore: DurationSchema.optional(),
    /** Fail the node (and count it as a failed attempt) when the deadline is missed. */
    cancel: z.boolean().optional(),
  })
  .strict();

export const DraftNodeSchema = z
  .object({
    id: z.string(),
    title: z.string().trim().min(1, 'title must not be empty').max(LIMITS.maxTitle),
    instructions: z.string().max(LIMITS.maxInstructions).optional(),
    executor: DraftExecutorSchema,
    dependsOn: z.array(z.string()).optional(),
    /** An optional node may fail without failing the run; the nodes that need it are skipped. */
    optional: z.boolean().optional(),
    retry: RetrySchema.optional(),
    /** Longest one attempt may take. */
    timeout: DurationSchema.optional(),
    deadline: DeadlineSchema.optional(),
    /** `before-run`: the step always waits for a person's decision at the moment it would start, with its actual inputs shown. */
    approval: z.literal('before-run').optional(),
  })
  .strict();

/** Schedules are loose here and checked precisely by the validator (code `invalid-schedule`). */
export const DraftScheduleSchema = z
  .object({ cron: z.string().optional(), every: z.string().optional(), timezone: z.string().optional(), overlap: z.string().optional() })
  .catchall(z.unknown());

/** A draft may tighten its organization's approval policy for itself, never loosen it. */
export const DraftApprovalSchema = z
  .object({
    /** Narrower approvers: principal ids and role:NAME; a decider must be on the organization's list too. */
    approvers: z.array(SelectorSchema).min(1).max(100).optional(),
    required: z.number().int().min(1).max(20).optional(),
    expiresAfter: ExpirySchema.optional(),
    onExpiry: z.enum(EXPIRY_OUTCOMES).optional(),
  })
  .strict();

/** A tag a plan carries for its organization's approval rules (`when.tags`). */
export const TagSchema = z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'must be 1-64 lower-case letters, digits, ".", "_", ":" or "-"');

/** A named value a plan declares about itself (an amount, a customer tier), matched by approval rules (`when.parameter`). */
export const ParameterValueSchema = z.union([z.number().finite(), z.string().max(LIMITS.maxTitle), z.boolean()]);
export const ParameterNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be 1-64 letters, digits or "_", starting with a letter');

export const PlanDraftSchema = z
  .object({
    title: z.string().trim().min(1, 'title must not be empty').max(LIMITS.maxTitle),
    objective: z.string().trim().min(1, 'objective must not be empty').max(LIMITS.maxObjective),
    nodes: z.array(DraftNodeSchema).max(LIMITS.maxNodes),
    schedule: DraftScheduleSchema.optional(),
    /** How many nodes may run at once (default 4). */
    parallelism: z.number().int().min(1).max(64).optional(),
    approval: DraftApprovalSchema.optional(),
    /** What the plan is about, for the organization's approval rules (`when.tags`). */
    tags: z.array(TagSchema).max(20).optional(),
    /** Named values the plan declares (e.g. `{"amountEur": 1200}`), shown to approvers and matched by approval rules. */
    parameters: z
      .record(ParameterNameSchema, ParameterValueSchema)
      .refine((parameters) => Object.keys(parameters).length <= 50, 'must declare at most 50 parameters')
      .optional(),
  })
  .strict();

export type PlanDraft = z.infer<typeof PlanDraftSchema>;
export type DraftNode = z.infer<typeof DraftNodeSchema>;

export const AgentExecutorSchema = z.object({ type: z.literal('agent'), agentId: z.string().trim().min(1).max(LIMITS.maxId) }).strict();
export const HumanExecutorSchema = z
  .object({ type: z.literal('human'), assignee: SelectorSchema.optional().describe('Who must complete it: a principal id or role:NAME') })
  .strict();
export const SystemExecutorSchemas = {
  noop: z.object({ type: z.literal('system'), action: z.literal('noop') }).strict(),
  /** A durable timer: the node completes when the duration has passed. */
  wait: z.object({ type: z.literal('system'), action: z.literal('wait'), duration: DurationSchema }).strict(),
  /**
   * POSTs the node (and its upstream artifacts) to a URL; the response body is the node's output.
   * The URL, or a header's value, may be a stored secret by name (`{"$secret": "crm-token"}`).
   */
  webhook: z
    .object({
      type: z.literal('system'),
      action: z.literal('webhook'),
      url: z.union([z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }), SecretRefSchema]),
      headers: z.record(z.string(), z.union([z.string(), SecretRefSchema])).optional(),
      body: z.unknown().optional(),
    })
    .strict(),
} as const;

/** A node's owner, once validated. */
export const ExecutorSchema = z.discriminatedUnion('type', [
  AgentExecutorSchema,
  HumanExecutorSchema,
  z.discriminatedUnion('action', [SystemExecutorSchemas.noop, SystemExecutorSchemas.wait, SystemExecutorSchemas.webhook]),
]);
export type Executor = z.infer<typeof ExecutorSchema>;

export type { OverlapPolicy, PlanSchedule } from './schedule.js';
