import { z } from 'zod';

import { OVERLAP_POLICIES } from '../domain/schedule.js';
import { PlanDraftSchema } from '../domain/draft.js';
import { RESOLUTIONS } from '../domain/decisions.js';
import { LIMITS } from '../domain/limits.js';
import type { DoctorReport } from '../client/doctor.js';
import { CreatePlanRequestSchema, DoctorRequestSchema, IdSchema, ReplacePlanRequestSchema, SubscriptionRequestSchema } from '../domain/requests.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { NODE_STATUSES, RUN_STATUSES } from '../domain/status.js';

/**
 * The HTTP bodies and answers, as zod schemas: the source of the OpenAPI document. Bodies are the
 * client's requests less what the token decides (the organization, who acts).
 */
const Organization = { organizationId: IdSchema.optional().describe("Optional: the token's organization.") };
const Reason = z.string().trim().min(1).max(LIMITS.maxObjective);
const IdempotencyKey = z.string().min(1).max(200);

export const CreatePlanBodySchema = CreatePlanRequestSchema.omit({ organizationId: true, createdByAgentId: true, draft: true })
  .extend({ ...Organization, draft: PlanDraftSchema })
  .describe('Create a plan run; createdByAgentId is the token’s actor.');

export const ReplacePlanBodySchema = ReplacePlanRequestSchema.omit({ runId: true, organizationId: true, createdByAgentId: true, draft: true })
  .extend({ ...Organization, draft: PlanDraftSchema })
  .describe('Abort an active run and start its replacement.');

export const DecisionBodySchema = z
  .object({ ...Organization, threadId: IdSchema, reason: Reason.optional(), resolution: z.enum(RESOLUTIONS).optional(), idempotencyKey: IdempotencyKey.optional() })
  .strict()
  .describe('Approve or reject (resolution applies to rejections); emittedBy is the token’s actor.');

export const CompleteNodeBodySchema = z
  .object({ ...Organization, threadId: IdSchema, output: z.unknown().optional(), idempotencyKey: IdempotencyKey.optional() })
  .strict();

export const AbortBodySchema = z.object({ ...Organization, threadId: IdSchema, reason: Reason, idempotencyKey: IdempotencyKey.optional() }).strict();

export const ScheduleNoteBodySchema = z.object({ ...Organization, note: z.string().trim().min(1).max(500).optional() }).strict();

export const SubscriptionBodySchema = SubscriptionRequestSchema.omit({ organizationId: true, createdBy: true })
  .extend(Organization)
  .describe('Deliveries are POSTed as JSON with `X-Plans-Signature: sha256=<HMAC-SHA256 of the body with the secret>`.');

export const DoctorBodySchema = DoctorRequestSchema.omit({ organizationId: true })
  .extend(Organization)
  .describe("Compare the organization's stored runs with what Temporal committed; `repair` rewrites those that differ.");

export const DoctorReportSchema = z.object({
  organizationId: z.string(),
  checked: z.number().int(),
  consistent: z.number().int(),
  diverged: z.number().int(),
  repaired: z.number().int(),
  busy: z.number().int(),
  noWorkflow: z.number().int(),
  runs: z
    .array(
      z.object({
        runId: z.string(),
        verdict: z.enum(['consistent', 'diverged', 'repaired', 'busy', 'no-workflow']),
        divergences: z.array(z.object({ path: z.string(), stored: z.unknown(), committed: z.unknown() })),
      }),
    )
    .describe('Every run that was not consistent, with where its stored record differed.'),
});

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() })).optional(),
  }),
});

const Nullable = z.string().nullable();
const EventSchema = z.object({
  sequence: z.number().int(),
  eventType: z.string(),
  message: z.string(),
  fromStatus: z.enum(RUN_STATUSES).optional(),
  toStatus: z.enum(RUN_STATUSES).optional(),
  emittedBy: z.string(),
  nodeId: z.string().optional(),
  detail: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});
const CheckpointSchema = z.object({
  sequence: z.number().int(),
  runStatus: z.enum(RUN_STATUSES),
  readyNodeIds: z.array(z.string()),
  activeNodeIds: z.array(z.string()),
  lastCompletedNodeIds: z.array(z.string()),
  snapshot: z.looseObject({ reason: z.string() }),
  createdAt: z.string(),
});

export const PlanSnapshotSchema = z.object({
  runId: z.string(),
  workflowId: z.string(),
  planSpecId: z.string(),
  organizationId: z.string(),
  threadId: z.string(),
  sourceThreadId: Nullable,
  leadAgentId: z.string(),
  createdByAgentId: Nullable,
  requireApproval: z.boolean(),
  status: z.enum(RUN_STATUSES),
  title: z.string(),
  objective: z.string(),
  readyNodeIds: z.array(z.string()),
  currentNodeId: Nullable,
  waitingNodeId: Nullable,
  nodes: z.array(
    z.object({
      nodeId: z.string(),
      title: z.string(),
      status: z.enum(NODE_STATUSES),
      executor: z.looseObject({ type: z.enum(['agent', 'human', 'system']) }),
      dependsOn: z.array(z.string()),
      attempt: z.number().int().nullable(),
      startedAt: Nullable,
      completedAt: Nullable,
      error: Nullable,
      artifactIds: z.array(z.string()),
    }),
  ),
  scheduleId: Nullable,
  scheduledAt: Nullable,
  startedAt: Nullable,
  completedAt: Nullable,
  replacedRunId: Nullable,
  replacedByRunId: Nullable,
  firedByScheduleId: Nullable,
  failureCount: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int().describe('How many state changes the run has made; the same version is the same state.'),
  events: z.array(EventSchema).optional(),
  checkpoints: z.array(CheckpointSchema).optional(),
  artifacts: z.array(z.unknown()).optional(),
  approvals: z
    .array(z.object({ decision: z.enum(['approved', 'rejected', 'changes-requested']), emittedBy: z.string(), reason: Nullable, at: z.string() }))
    .optional(),
  validationIssues: z.array(z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() })).optional(),
});

/** The schema and the TypeScript type describe the same answer: this fails to compile otherwise. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const snapshotSchemaMatchesType: Same<keyof z.infer<typeof PlanSnapshotSchema>, keyof PlanSnapshot> = true;
const reportSchemaMatchesType: Same<z.infer<typeof DoctorReportSchema>['runs'][number]['verdict'], DoctorReport['runs'][number]['verdict']> &
  Same<keyof z.infer<typeof DoctorReportSchema>, keyof DoctorReport> = true;
void snapshotSchemaMatchesType;
void reportSchemaMatchesType;

export const ScheduleSchema = z.object({
  scheduleId: z.string(),
  planSpecId: z.string(),
  runId: z.string(),
  organizationId: z.string(),
  threadId: z.string(),
  schedule: z.looseObject({ timezone: z.string().optional(), overlap: z.enum(OVERLAP_POLICIES).optional() }),
  state: z.enum(['active', 'paused', 'deleted']),
  nextFireAt: z.string().optional(),
  lastFiredRunId: z.string().optional(),
  paused: z.boolean(),
  nextFireTimes: z.array(z.string()),
  recentRunIds: z.array(z.string()),
});
