import { z } from 'zod';

import type { DraftView, EditPreview, PlanDiffView, PlanReview } from '../client/reviews-client.js';
import type { StepRecords } from '../domain/step-records.js';
import { APPROVAL_REASONS, EXPIRY_OUTCOMES } from '../domain/approval.js';
import { PlanDraftSchema } from '../domain/draft.js';
import type { PlanSnapshot, PlanSummary } from '../domain/snapshot.js';
import { NODE_STATUSES, RUN_STATUSES } from '../domain/status.js';
import type { FeedEvent } from '../storage/plan-store.js';

/**
 * What the HTTP API answers about runs: a run (snapshot, summary), its events, what a
 * replacement changed, and a run as a person reviews it. Registered as components, in the
 * document's order, by api/schemas.ts: import them from there.
 */

/** What made a decision (domain/decisions.ts `Credential`): null on decisions recorded before credentials were. */
export const CredentialSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('token'), id: z.string().describe('The API token’s id, as `plans token list` shows it') }),
    z
      .object({
        kind: z.literal('sign-in'),
        id: z.string().describe('The sign-in’s id'),
        authTime: z.string().describe('When the person authenticated at the identity provider (`auth_time`)'),
      })
      .describe('A person signed in through the organization’s identity provider (OpenID Connect)'),
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
    z
      .object({ kind: z.literal('standing'), id: z.string().describe('The standing approval’s id, as `plans standing list` shows it') })
      .describe('A standing approval its person gave on an identical plan, applied when the run was created'),
  ])
  .describe('The credential that made a decision');

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
export const EventSchema = z.object(EventFields);
export const FeedEventSchema = z
  .object({ ...EventFields, runId: z.string(), organizationId: z.string(), threadId: z.string(), feedSeq: z.number().int() })
  .describe('An event as the live feed sends it: `id` is its feed position (feedSeq), `event` its type.');
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

const StageSchema = z.object({ name: z.string(), approvers: z.array(z.string()), required: z.number().int() });
const ApprovalReasonsSchema = z.array(z.enum(APPROVAL_REASONS)).nullable();

/** A person's word on a step, and one approval of a held step (the snapshot's nodes, a step's records). */
const StepVerdictSchema = z.object({
  decision: z.enum(['skip', 'hold', 'approved']),
  by: z.string(),
  at: z.string(),
  reason: z.string().optional(),
  onBehalfOf: z.string().optional(),
});
const StepApprovalSchema = z.object({
  by: z.string(),
  at: z.string(),
  stage: z.number().int().optional(),
  reason: z.string().optional(),
  onBehalfOf: z.string().optional(),
  credential: z.looseObject({ kind: z.string() }).optional(),
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
      approval: z.enum(['before-run']).nullable().describe('`before-run`: it waits for a decision when it would start'),
      verdict: StepVerdictSchema.nullable().describe(
        'A person’s word on this step: skipped, held for a later decision, or approved once held',
      ),
      approvals: z.array(StepApprovalSchema).describe('Approvals of this step while held, toward the run’s quorum'),
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
      approvals: z.array(
        z.object({
          by: z.string(),
          at: z.string(),
          reason: Nullable,
          credential: CredentialSchema.nullable(),
          stage: z.number().int().describe('The stage it approved (0: the first or only one)'),
          onBehalfOf: Nullable.describe('The delegator it counts as, when made by their delegate (`by` for `onBehalfOf`)'),
        }),
      ),
      expiresAt: z.string(),
      onExpiry: z.enum(EXPIRY_OUTCOMES),
      policyVersion: z.number().int(),
      approvers: z.array(z.string()),
      narrowedTo: z.array(z.string()).nullable(),
      requesters: z.array(z.string()),
      reasons: ApprovalReasonsSchema.describe(
        'Why it needs approval: the conditions of the organization’s requireApprovalFor that held for it (empty: the requester asked for approval); null on runs created before reasons were recorded.',
      ),
      stages: z.array(StageSchema).nullable().describe('The stages it goes through, in order; null: one stage (approvers, required)'),
      openStage: StageSchema.extend({ index: z.number().int(), of: z.number().int() }).describe(
        'The open stage: who may approve it now (escalations applied), how many must',
      ),
      stage: z.number().int().describe('The open stage’s index'),
      stageOpenedAt: z.string(),
      escalated: z.number().int().describe('Escalations of the open stage applied so far'),
      reminded: z.number().int().describe('Reminders of the open stage sent so far'),
      escalations: z
        .array(
          z.object({
            afterMs: z.number().int(),
            addApprovers: z.array(z.string()).optional(),
            replaceApprovers: z.array(z.string()).optional(),
          }),
        )
        .nullable()
        .describe('How the open stage widens or moves while it waits, counted from its opening'),
      reminderMs: z.array(z.number().int()).nullable().describe('When the open stage’s people are reminded, counted from its opening'),
      next: z
        .object({ kind: z.enum(['reminder', 'escalation']), at: z.string() })
        .nullable()
        .describe('The next reminder or escalation, while pending'),
      matched: z
        .array(z.object({ rule: z.string(), because: z.array(z.string()), requires: z.string() }))
        .nullable()
        .describe('The organization’s approval rules that matched the plan, why, and what each required'),
      standing: z.boolean().describe('Whether a standing approval may approve plans identical to this one'),
      freshSignInMs: z
        .number()
        .int()
        .nullable()
        .describe(
          'An approval needs a sign-in through the identity provider no older than this (ms, a rule’s freshSignIn); null: any credential',
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
});

const FieldChangeSchema = z.object({
  field: z.string().describe('A dotted path: `timeout`, `retry.maxAttempts`, `executor.headers.Authorization`'),
  before: z.unknown().describe('null when absent; credentials masked'),
  after: z.unknown().describe('null when absent; credentials masked'),
});
const StepRefSchema = z.object({ nodeId: z.string(), title: z.string() });
const RevisionSummarySchema = z
  .object({
    number: z.number().int().describe('From 1: the plan the run was created with'),
    revision: Nullable,
    editedBy: Nullable.describe('Who edited the plan into this revision before approving it; null for the first (the requester’s draft)'),
    onBehalfOf: Nullable.describe('The delegator the editor acted for, if any'),
    editedAt: Nullable,
  })
  .nullable();
export const PlanDiffSchema = z
  .object({
    runId: z.string(),
    revision: Nullable,
    replacedRunId: Nullable.describe('The run this one replaced; null when it replaced none'),
    replacedRevision: Nullable,
    revisions: z.array(RevisionSummarySchema.unwrap()).describe('Every revision of the run’s plan, 1..n (one for a run never edited)'),
    from: RevisionSummarySchema.describe(
      'The earlier revision compared (revisions=A..B, or by default the one before the last edit); null for a replacement’s diff',
    ),
    to: RevisionSummarySchema,
    diff: z
      .object({
        plan: z.array(FieldChangeSchema).describe('Title, objective, parallelism, the draft’s approval rules'),
        schedule: z.array(FieldChangeSchema),
        added: z.array(StepRefSchema),
        removed: z.array(StepRefSchema),
        changed: z.array(StepRefSchema.extend({ changes: z.array(FieldChangeSchema) })),
      })
      .nullable()
      .describe(
        'What changed from `from` to `to`, else from the replaced run to this one; null when the run was never edited and replaced none.',
      ),
  })
  .describe('What an edit before approval, or a replacement, changed.');

export const EditPreviewSchema = z
  .object({
    runId: z.string(),
    revision: Nullable.describe('The revision the run is at'),
    editedRevision: z.string().describe('The revision the edited plan would be'),
    diff: PlanDiffSchema.shape.diff.unwrap(),
  })
  .describe('What an edited draft would change against the plan as it stands; nothing is stored.');

const { $schema: _draftDialect, ...draftShape } = z.toJSONSchema(PlanDraftSchema, { io: 'input' });
export const PlanDraftViewSchema = z
  .object({
    runId: z.string(),
    revision: Nullable,
    draft: z.unknown().meta(draftShape).describe('The draft that compiles to the run’s plan; defaults left out'),
  })
  .describe('A run’s plan as a draft: what `plans get RUN --draft` prints and a person edits');

const OutlookSchema = z.object({ may: z.boolean(), why: Nullable.describe('Why not, or what the viewer’s earlier approval counts for') });
const ExternalCallFields = {
  kind: z.enum(['webhook', 'http-agent']),
  method: z.literal('POST'),
  url: z.string().describe('Credentials masked'),
  internal: Nullable.describe(
    "Why the call reaches inside the organization's network (a loopback, private or link-local literal address, a local name); null otherwise",
  ),
};
/** A step in full, as people review it (credentials masked). */
const StepViewSchema = z.object({
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
  deadline: z.object({ after: z.string(), warnAt: Nullable, cancel: z.boolean() }).nullable().describe("Counted from the step's start"),
  external: z.object(ExternalCallFields).nullable().describe('Set when the step calls outside the system'),
  approval: z.enum(['before-run']).nullable().describe('`before-run`: the step waits for a decision at the moment it would start'),
});

export const PlanReviewSchema = z
  .object({
    runId: z.string(),
    revision: Nullable,
    steps: z.array(StepViewSchema),
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
        waitsFor: z
          .enum(['person', 'approval'])
          .describe('`person`: a person’s step to complete; `approval`: a step held for a decision before it runs (approve or skip it)'),
        assignee: Nullable.describe('A principal id or role:NAME; null: any person'),
        you: OutlookSchema.describe('Whether the token’s principal may complete it (a person’s step) or decide it (a held step) now'),
        inputs: z
          .array(z.object({ nodeId: z.string(), title: z.string(), artifacts: z.array(ArtifactSchema) }))
          .describe('Outputs of the steps it depends on'),
      }),
    ),
  })
  .describe('A run as the token’s principal reviews it: every step in full, the calls leaving the system, whether it may act.');

export const StepRecordsSchema = z
  .object({
    runId: z.string(),
    nodeId: z.string(),
    proposed: StepViewSchema.nullable().describe('The step as its requester drafted it (revision 1); null for one an edit added'),
    approved: z
      .object({
        revision: Nullable,
        revisionNumber: z.number().int(),
        step: StepViewSchema,
        approvedBy: z.array(z.object({ by: z.string(), at: z.string(), onBehalfOf: Nullable })).describe('Who approved the plan'),
        verdict: StepVerdictSchema.nullable().describe('A person’s own word on this step, if any'),
        stepApprovals: z.array(StepApprovalSchema).describe('Approvals of this step while it was held'),
      })
      .nullable()
      .describe('The step as approved (after edits); null while the plan waits for approval, or for a step an edit removed'),
    effective: z
      .array(
        z.object({
          attempt: z.number().int(),
          at: z.string(),
          executor: z
            .looseObject({ type: z.enum(['agent', 'human', 'system']) })
            .describe('As called: credentials masked, secrets by name'),
          instructions: Nullable,
          upstreamArtifactIds: z.array(z.string()),
          body: z.unknown().optional().describe('A webhook’s body as sent (upstream outputs by artifact id)'),
        }),
      )
      .describe('What each attempt was called with; empty until it ran'),
  })
  .describe('A step’s three records, kept apart: proposed, approved, effective.');

export const PlanSummarySchema = z.object({
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
});

/**
 * Each answer schema describes the TypeScript type it serves: the same fields, and every value of
 * the type is one the schema encodes (value types, not only keys). This fails to compile otherwise.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type Encodes<S extends z.ZodType, T> = Same<keyof z.input<S>, keyof T> & ([T] extends [z.input<S>] ? true : false);
const answersMatchTypes: Encodes<typeof PlanSnapshotSchema, PlanSnapshot> &
  Encodes<typeof PlanSummarySchema, PlanSummary> &
  Encodes<typeof PlanDiffSchema, PlanDiffView> &
  Encodes<typeof PlanDraftViewSchema, DraftView> &
  Encodes<typeof PlanReviewSchema, PlanReview> &
  Encodes<typeof StepRecordsSchema, StepRecords> &
  Encodes<typeof EditPreviewSchema, EditPreview> &
  Encodes<typeof FeedEventSchema, FeedEvent> = true;
void answersMatchTypes;
