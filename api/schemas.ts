import { z } from 'zod';

import { STACK_PARTS } from './health.js';
import type { DoctorReport } from '../client/doctor.js';
import type { PlanDiffView, PlanReview } from '../client/reviews-client.js';
import type { RunScheduleView } from '../client/runs-client.js';
import type { ScheduleView } from '../client/schedules-client.js';
import { PlanDraftSchema } from '../domain/draft.js';
import {
  AbortBodySchema as AbortBody,
  CompleteNodeBodySchema as CompleteNodeBody,
  CreatePlanBodySchema as CreatePlanBody,
  DEFAULT_PAGE,
  DecisionBodySchema as DecisionBody,
  DoctorBodySchema as DoctorBody,
  IdSchema,
  MAX_PAGE,
  ReplacePlanBodySchema as ReplacePlanBody,
  ScheduleNoteBodySchema as ScheduleNoteBody,
  SubscriptionBodySchema as SubscriptionBody,
} from '../domain/requests.js';
import { APPROVAL_CONDITIONS, EXPIRY_OUTCOMES } from '../domain/approval.js';
import { ApprovalPolicySchema, type PolicyRecord } from '../domain/policy.js';
import { PRINCIPAL_KINDS, TokenRequestSchema, type TokenView } from '../domain/principals.js';
import { OVERLAP_POLICIES } from '../domain/schedule.js';
import { SecretNameSchema, SecretValueSchema } from '../domain/secrets.js';
import type { PlanSnapshot, PlanSummary } from '../domain/snapshot.js';
import { NODE_STATUSES, RUN_STATUSES } from '../domain/status.js';
import type { FeedEvent, SecretView, Subscription } from '../storage/plan-store.js';

/**
 * The HTTP API's requests and answers as zod schemas: routes are registered with them (requests
 * are checked by them, answers encoded by them) and the OpenAPI document is generated from them,
 * so the document cannot drift from what is served. Bodies are the client's requests less what
 * the token decides (the organization, who acts).
 */

const named = <T extends z.ZodType>(id: string, schema: T): T => {
  z.globalRegistry.add(schema, { id });
  return schema;
};

const Organization = { organizationId: IdSchema.optional().describe("Optional: the token's organization; another is refused (403).") };

/** Drafts are checked by `validateDraft`, which reports every problem with its code (S11); documented as PlanDraft. */
named('PlanDraft', PlanDraftSchema);
export const DraftInput = z.unknown().meta({
  $ref: '#/components/schemas/PlanDraft',
  description: 'The plan draft; every problem in it is reported at once as `code: message`, joined by ` | ` (400, with `issues`).',
});

export const CreatePlanBodySchema = named(
  'CreatePlanBody',
  CreatePlanBody.extend({ draft: DraftInput }).describe(
    'Create a plan run; a plan the organization’s policy gates (cross-thread, calls out, …) waits for approval.',
  ),
);

export const ReplacePlanBodySchema = named(
  'ReplacePlanBody',
  ReplacePlanBody.extend({ draft: DraftInput }).describe('Abort an active run and start its replacement.'),
);

/** What made a decision (domain/decisions.ts `Credential`): null on decisions recorded before credentials were. */
const CredentialSchema = named(
  'Credential',
  z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('token'), id: z.string().describe('The API token’s id, as `plans token list` shows it') }),
      z.object({
        kind: z.literal('link'),
        id: z.string().describe('The signed link’s one-time id'),
        provedBy: z
          .object({ kind: z.enum(['token', 'subscription']), id: z.string() })
          .describe('How its person proved it was them: their token, or delivery to their own subscription'),
      }),
      z
        .object({ kind: z.literal('temporal') })
        .describe('Sent to the workflow directly (temporal CLI, Web UI): no credential the API checked'),
      z.object({ kind: z.literal('expiry') }).describe('The run’s expiry, decided by `system`'),
    ])
    .describe('The credential that made a decision'),
);

export const DecisionBodySchema = named(
  'DecisionBody',
  DecisionBody.describe('Approve or reject (resolution applies to rejections); emittedBy is the token’s principal.'),
);

export const CompleteNodeBodySchema = named('CompleteNodeBody', CompleteNodeBody);

export const AbortBodySchema = named('AbortBody', AbortBody);

export const ScheduleNoteBodySchema = named('ScheduleNoteBody', ScheduleNoteBody);

export const SubscriptionBodySchema = named(
  'SubscriptionBody',
  SubscriptionBody.describe('Deliveries are POSTed as JSON with `X-Plans-Signature: sha256=<HMAC-SHA256 of the body with the secret>`.'),
);

export const DoctorBodySchema = named(
  'DoctorBody',
  DoctorBody.describe("Compare the organization's stored runs with what Temporal committed; `repair` rewrites those that differ."),
);

// ---- Parameters and queries

export const RunParamsSchema = z.object({ runId: IdSchema });
export const NodeParamsSchema = z.object({ runId: IdSchema, nodeId: z.string().min(1).max(64) });
export const ThreadParamsSchema = z.object({ threadId: IdSchema });
export const ScheduleParamsSchema = z.object({ scheduleId: z.string().min(1).max(200) });
export const SubscriptionParamsSchema = z.object({ subscriptionId: z.string().min(1).max(100) });
export const LinkParamsSchema = z.object({ token: z.string().min(1).max(4000) });

const Include = z.string().optional().describe('Comma-separated: events, checkpoints, approvals, artifacts, validation-issues');
export const IncludeQuerySchema = z.object({ include: Include });
/** A page of a list: how many, and where the previous one ended. */
const Page = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .optional()
    .describe(`At most this many (default ${DEFAULT_PAGE}, at most ${MAX_PAGE})`),
  cursor: z.string().min(1).max(200).optional().describe('Continue after the previous page: its X-Next-Cursor header'),
};
export const PageQuerySchema = z.object(Page);
export const ThreadListQuerySchema = z.object({ ...Page, include: Include });
export const ListQuerySchema = z.object({
  ...Organization,
  threadId: IdSchema.optional().describe('Only this thread'),
  sourceThreadId: IdSchema.optional().describe('Only runs drafted on behalf of this thread'),
  createdByAgentId: IdSchema.optional().describe('Only runs drafted by this agent'),
  status: z
    .string()
    .optional()
    .describe(`Comma-separated statuses: ${RUN_STATUSES.join(', ')}`),
  ...Page,
  include: Include,
});
export const EventsQuerySchema = z.object({
  threadId: IdSchema.optional().describe('Only this thread'),
  runId: IdSchema.optional().describe('Only this run'),
  after: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a feed position, a non-negative integer')
    .optional()
    .describe('Start after this feed position (as Last-Event-ID)'),
});

// ---- Answers

export const ErrorSchema = named(
  'Error',
  z.object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      issues: z.array(z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() })).optional(),
    }),
  }),
);

const Nullable = z.string().nullable();
const DetailSchema = z.record(z.string(), z.unknown());
const EventFields = {
  sequence: z.number().int(),
  eventType: z.string(),
  message: z.string(),
  fromStatus: z.enum(RUN_STATUSES).optional(),
  toStatus: z.enum(RUN_STATUSES).optional(),
  emittedBy: z.string(),
  nodeId: z.string().optional(),
  detail: DetailSchema,
  createdAt: z.string(),
};
export const EventSchema = named('Event', z.object(EventFields));
export const FeedEventSchema = named(
  'FeedEvent',
  z
    .object({ ...EventFields, runId: z.string(), organizationId: z.string(), threadId: z.string(), feedSeq: z.number().int() })
    .describe('An event as the live feed sends it: `id` is its feed position (feedSeq), `event` its type.'),
);
const CheckpointSchema = z.object({
  sequence: z.number().int(),
  runStatus: z.enum(RUN_STATUSES),
  readyNodeIds: z.array(z.string()),
  activeNodeIds: z.array(z.string()),
  lastCompletedNodeIds: z.array(z.string()),
  snapshot: z.looseObject({ reason: z.string() }),
  createdAt: z.string(),
});
const ArtifactSchema = z.object({
  artifactId: z.string(),
  nodeId: z.string(),
  attempt: z.number().int(),
  content: z.unknown(),
  createdBy: z.string(),
  createdAt: z.string(),
});

const ApprovalReasonsSchema = z.array(z.enum(APPROVAL_CONDITIONS)).nullable();

export const PlanSnapshotSchema = named(
  'PlanSnapshot',
  z.object({
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
    revision: Nullable.describe(
      'A stable hash of the compiled plan and schedule: send it as `expectedRevision` to decide exactly what you saw.',
    ),
    approval: z
      .object({
        required: z.number().int(),
        approvals: z.array(z.object({ by: z.string(), at: z.string(), reason: Nullable, credential: CredentialSchema.nullable() })),
        expiresAt: z.string(),
        onExpiry: z.enum(EXPIRY_OUTCOMES),
        policyVersion: z.number().int(),
        approvers: z.array(z.string()),
        narrowedTo: z.array(z.string()).nullable(),
        requesters: z.array(z.string()),
        reasons: ApprovalReasonsSchema.describe(
          'Why it needs approval: the conditions of the organization’s requireApprovalFor that held for it (empty: the requester asked for approval); null on runs created before reasons were recorded.',
        ),
      })
      .nullable()
      .describe('The approval gate for this run: its frozen rules and the approvals counted so far (null when it needs no approval).'),
    version: z.number().int().describe('How many state changes the run has made; the same version is the same state.'),
    events: z.array(EventSchema).optional(),
    checkpoints: z.array(CheckpointSchema).optional(),
    artifacts: z.array(ArtifactSchema).optional(),
    approvals: z
      .array(
        z.object({
          decision: z.enum(['approved', 'rejected', 'changes-requested']),
          emittedBy: z.string(),
          reason: Nullable,
          at: z.string(),
          credential: CredentialSchema.nullable(),
        }),
      )
      .optional(),
    validationIssues: z.array(z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() })).optional(),
  }),
);

const FieldChangeSchema = z.object({
  field: z.string().describe('A dotted path: `timeout`, `retry.maxAttempts`, `executor.headers.Authorization`'),
  before: z.unknown().describe('null when absent; credentials masked'),
  after: z.unknown().describe('null when absent; credentials masked'),
});
const StepRefSchema = z.object({ nodeId: z.string(), title: z.string() });
export const PlanDiffSchema = named(
  'PlanDiff',
  z
    .object({
      runId: z.string(),
      revision: Nullable,
      replacedRunId: Nullable.describe('The run this one replaced; null when it replaced none'),
      replacedRevision: Nullable,
      diff: z
        .object({
          plan: z.array(FieldChangeSchema).describe('Title, objective, parallelism, the draft’s approval rules'),
          schedule: z.array(FieldChangeSchema),
          added: z.array(StepRefSchema),
          removed: z.array(StepRefSchema),
          changed: z.array(StepRefSchema.extend({ changes: z.array(FieldChangeSchema) })),
        })
        .nullable()
        .describe('What changed from the replaced revision to this one; null when this run replaced none.'),
    })
    .describe('What a replacement changed.'),
);

const OutlookSchema = z.object({ may: z.boolean(), why: Nullable.describe('Why not, or what the viewer’s earlier approval counts for') });
const ExternalCallFields = {
  kind: z.enum(['webhook', 'http-agent']),
  method: z.literal('POST'),
  url: z.string().describe('Credentials masked'),
  internal: Nullable.describe(
    "Why the call reaches inside the organization's network (a loopback, private or link-local literal address, a local name); null otherwise",
  ),
};
export const PlanReviewSchema = named(
  'PlanReview',
  z
    .object({
      runId: z.string(),
      revision: Nullable,
      steps: z.array(
        z.object({
          nodeId: z.string(),
          title: z.string(),
          instructions: Nullable,
          executor: z.looseObject({ type: z.enum(['agent', 'human', 'system']) }).describe('Webhook credentials masked'),
          dependsOn: z.array(z.string()),
          optional: z.boolean(),
          retry: z.object({
            maxAttempts: z.number().int(),
            initialInterval: z.string(),
            backoffCoefficient: z.number(),
            maximumInterval: z.string(),
          }),
          timeout: z.string().describe('Longest one attempt may take'),
          deadline: z
            .object({ after: z.string(), warnAt: Nullable, cancel: z.boolean() })
            .nullable()
            .describe("Counted from the step's start"),
          external: z.object(ExternalCallFields).nullable().describe('Set when the step calls outside the system'),
        }),
      ),
      externalCalls: z.array(z.object({ nodeId: z.string(), title: z.string(), ...ExternalCallFields })),
      approvalReasons: ApprovalReasonsSchema.describe(
        'Why the run needs approval (its snapshot’s approval.reasons); null when it needs none, or was created before reasons were recorded.',
      ),
      you: OutlookSchema.describe('Whether the token’s principal may approve now'),
      rejecting: OutlookSchema.describe(
        'Whether the token’s principal may reject (or request changes) now: any approver of the organization may, whatever the draft narrowed',
      ),
      waiting: z.array(
        z.object({
          nodeId: z.string(),
          title: z.string(),
          instructions: Nullable,
          assignee: Nullable.describe('A principal id or role:NAME; null: any person'),
          you: OutlookSchema,
          inputs: z
            .array(z.object({ nodeId: z.string(), title: z.string(), artifacts: z.array(ArtifactSchema) }))
            .describe('Outputs of the steps it depends on'),
        }),
      ),
    })
    .describe('A run as the token’s principal reviews it: every step in full, the calls leaving the system, whether it may act.'),
);

export const PlanSummarySchema = named(
  'PlanSummary',
  z.object({
    runId: z.string(),
    title: z.string(),
    status: z.enum(RUN_STATUSES),
    threadId: z.string(),
    sourceThreadId: Nullable,
    nodeCount: z.number().int(),
    completedNodeCount: z.number().int(),
    readyNodeIds: z.array(z.string()),
    scheduleId: Nullable,
    updatedAt: z.string(),
  }),
);

const PlanScheduleSchema = z.looseObject({
  cron: z.string().optional(),
  every: z.string().optional(),
  timezone: z.string().optional(),
  overlap: z.enum(OVERLAP_POLICIES).optional(),
});

export const RunScheduleSchema = named(
  'RunSchedule',
  z
    .object({
      schedule: PlanScheduleSchema.nullable(),
      text: Nullable.describe('The schedule in words'),
      attached: z.boolean().describe('Whether the Temporal Schedule exists (only once approved)'),
      scheduleId: Nullable,
      paused: z.boolean(),
      nextFireTimes: z.array(z.string()),
    })
    .describe('A run’s schedule for people.'),
);

export const ScheduleSchema = named(
  'Schedule',
  z.object({
    scheduleId: z.string(),
    planSpecId: z.string(),
    runId: z.string(),
    organizationId: z.string(),
    threadId: z.string(),
    schedule: PlanScheduleSchema,
    state: z.enum(['active', 'paused', 'deleted']),
    nextFireAt: z.string().optional(),
    lastFiredRunId: z.string().optional(),
    pausedBy: z.string().optional().describe('Who paused it through execution-plans, while paused'),
    paused: z.boolean(),
    nextFireTimes: z.array(z.string()),
    recentRunIds: z.array(z.string()),
  }),
);

const SubscriptionFields = {
  subscriptionId: z.string(),
  organizationId: z.string(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
  principalId: z.string().nullable().describe("The person whose own destination it is; null for the organization's"),
};
export const SubscriptionSchema = named('Subscription', z.object(SubscriptionFields));
export const NewSubscriptionSchema = named(
  'NewSubscription',
  z.object({ ...SubscriptionFields, secret: z.string().describe('Signs every delivery; shown once, here.') }),
);

export const PrincipalViewSchema = named(
  'Principal',
  z
    .object({
      organizationId: z.string(),
      id: z.string(),
      kind: z.enum(PRINCIPAL_KINDS),
      roles: z.array(z.string()),
    })
    .describe('Who acts: a person, an agent or a service of one organization, with roles.'),
);
export const MeSchema = PrincipalViewSchema;

export const TokenBodySchema = named(
  'TokenBody',
  TokenRequestSchema.extend(Organization)
    .strict()
    .describe(
      'A token for a principal, made on the way (say its kind) or updated (roles replace its roles when given). The operator token must name the organization.',
    ),
);
export const NewTokenSchema = named(
  'NewToken',
  z.object({
    token: z.string().describe('The bearer token; shown once, here, and stored only as a hash.'),
    tokenId: z.string(),
    principal: PrincipalViewSchema,
  }),
);
export const TokenSchema = named(
  'Token',
  z.object({
    tokenId: z.string(),
    organizationId: z.string(),
    principalId: z.string(),
    kind: z.enum(PRINCIPAL_KINDS),
    roles: z.array(z.string()),
    createdAt: z.string(),
    createdBy: z.string(),
    revokedAt: z.string().nullable(),
    revokedBy: z.string().nullable(),
  }),
);
export const TokenParamsSchema = z.object({ tokenId: z.string().min(1).max(200) });
export const PrincipalParamsSchema = z.object({ principalId: z.string().min(1).max(200) });
export const PrincipalStateSchema = named(
  'PrincipalState',
  z
    .object({ organizationId: z.string(), principalId: z.string(), disabled: z.boolean() })
    .describe('Whether a principal is disabled: its tokens refused, its decisions and links refused'),
);
export const OrganizationQuerySchema = z.object(Organization).strict();

/**
 * The policy as sent (defaults fill what it leaves out), checked by `ApprovalPolicySchema` with
 * every problem named; documented from that schema's input side (its defaults make the output differ).
 */
const { $schema: _dialect, ...policyInput } = z.toJSONSchema(ApprovalPolicySchema, { io: 'input' });
export const PolicyBodySchema = named('PolicyBody', z.unknown().meta(policyInput));
export const PolicySchema = named(
  'ApprovalPolicy',
  z.object({
    organizationId: z.string(),
    version: z.number().int().describe('Every change makes a new version; 0 is the defaults, never set.'),
    policy: z.object({
      requireApprovalFor: z
        .array(z.enum(APPROVAL_CONDITIONS))
        .describe(
          'Which plans wait for approval (cross-thread always among them); a policy set before this field existed reads back with the default ["cross-thread", "external-calls"].',
        ),
      roles: z.array(z.string()),
      approvers: z.array(z.string()),
      required: z.number().int(),
      skipApproval: z.array(z.string()),
      expiresAfter: z.string(),
      onExpiry: z.enum(EXPIRY_OUTCOMES),
      egress: z
        .object({ allow: z.array(z.string()) })
        .optional()
        .describe(
          'Where calls out may go; absent: any public address, nothing private. With allow: only the hosts listed; a non-public address only when its host is listed exactly.',
        ),
    }),
    updatedBy: z.string().nullable(),
    updatedAt: z.string().nullable(),
  }),
);
export const PolicyChangeSchema = named(
  'ApprovalPolicyChange',
  z.object({
    organizationId: z.string(),
    version: z.number().int(),
    policy: PolicySchema.shape.policy,
    changedBy: z.string(),
    changedAt: z.string(),
  }),
);
export const SecretBodySchema = named(
  'SecretBody',
  SecretValueSchema.describe(
    "The secret's value (kept encrypted, never answered, put in place only by the step that sends it) and the hosts it may be sent to",
  ),
);
export const SecretParamsSchema = z.object({ name: SecretNameSchema });
export const SecretSchema = named(
  'Secret',
  z
    .object({
      name: SecretNameSchema,
      hosts: z
        .array(z.string())
        .describe('Where a webhook may send it in a header; empty: any host (a plan sending it waits for approval)'),
      updatedBy: z.string(),
      updatedAt: z.string(),
    })
    .describe('A secret by name: where it may be sent, who set it last and when, never its value'),
);
export const HealthSchema = named(
  'Health',
  z.object({
    status: z.enum(['ok', 'starting', 'unavailable']),
    down: z.array(z.object({ part: z.enum(STACK_PARTS), reason: z.string() })).describe('The parts not usable now, and why'),
  }),
);

export const DoctorReportSchema = named(
  'DoctorReport',
  z.object({
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
  }),
);

/**
 * Each answer schema describes the TypeScript type it serves: the same fields, and every value of
 * the type is one the schema encodes (value types, not only keys). This fails to compile otherwise.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Encodes<S extends z.ZodType, T> = Same<keyof z.input<S>, keyof T> & ([T] extends [z.input<S>] ? true : false);
const answersMatchTypes: Encodes<typeof PlanSnapshotSchema, PlanSnapshot> &
  Encodes<typeof PlanSummarySchema, PlanSummary> &
  Encodes<typeof RunScheduleSchema, RunScheduleView> &
  Encodes<typeof PlanDiffSchema, PlanDiffView> &
  Encodes<typeof PlanReviewSchema, PlanReview> &
  Encodes<typeof ScheduleSchema, ScheduleView> &
  Encodes<typeof NewSubscriptionSchema, Subscription> &
  Encodes<typeof FeedEventSchema, FeedEvent> &
  Encodes<typeof DoctorReportSchema, DoctorReport> &
  Encodes<typeof TokenSchema, TokenView> &
  Encodes<typeof PolicySchema, PolicyRecord> &
  Encodes<typeof SecretSchema, SecretView> = true;
void answersMatchTypes;
