import { z } from 'zod';

import { MAX_DELEGATION_DAYS } from './delegation-terms.js';
import { MAX_STANDING_DAYS, standingProblem } from './standing.js';
import { PlanError } from './errors.js';
import { ID_RULE } from './ids.js';
import {
  type AbortRequest,
  CREDENTIAL_ID,
  ISO_INSTANT,
  type Decision,
  MAX_EDIT_BYTES,
  MAX_OUTPUT_BYTES,
  type MessageKind,
  type NodeCompletion,
  RESOLUTIONS,
  REVISION_PATTERN,
  STEP_DECISIONS,
  invalidDecision,
} from './decisions.js';
import { LIMITS, MAX_DEPTH, tooDeepAt } from './limits.js';
import { PrincipalIdSchema } from './principals.js';
import { RUN_STATUSES } from './status.js';

/**
 * The requests the client accepts, shared by the HTTP API and the CLI. The draft itself is
 * checked by `validateDraft`, which reports every issue with its own code (S11).
 */

export { IdSchema } from './id-schema.js';
import { IdSchema } from './id-schema.js';
/** Why: a person's words with a decision, an abort or a replacement. */
export const ReasonSchema = z.string().trim().min(1).max(LIMITS.maxObjective);
export const IdempotencyKeySchema = z.string().min(1).max(200).describe('Same key, same outcome: a retried call returns the first one.');
/** A plan revision, as the snapshot's `revision` shows it. */
export const RevisionSchema = z
  .string()
  .regex(REVISION_PATTERN, 'must be a plan revision (8-64 lower-case hex digits, as `plans get` shows)')
  .describe('The revision the decider saw (the snapshot’s `revision`); refused with 409 `stale-revision` when the run’s is another.');

/*
 * What a principal's scoped view takes — the HTTP bodies: a request less what the token decides.
 * The organization and who acts are the token's, so optional there; naming another is refused.
 */
export const TOKENS_ORGANIZATION = IdSchema.optional().describe("Optional: the token's organization; another is refused (403).");
const TOKENS_PRINCIPAL = IdSchema.optional().describe("Optional: the token's principal; another is refused (403).");
/** A body's organization and maker, both the token's: what a request made by someone (`createdBy`) leaves to the token. */
const MADE_BY_TOKEN = { organizationId: TOKENS_ORGANIZATION, createdBy: TOKENS_PRINCIPAL };
const DECIDING_THREAD = IdSchema.optional().describe(
  "The acting thread; when omitted, the run's source thread, else its thread (where a person decides from).",
);

export const CreatePlanRequestSchema = z
  .object({
    organizationId: IdSchema,
    threadId: IdSchema,
    sourceThreadId: IdSchema.optional(),
    leadAgentId: IdSchema,
    createdByAgentId: IdSchema.optional(),
    requireApproval: z.boolean().optional(),
    /** Same key, same run: a retried create never makes a second run. */
    idempotencyKey: IdempotencyKeySchema.optional(),
    draft: z.unknown(),
  })
  .strict();
export type CreatePlanRequest = z.infer<typeof CreatePlanRequestSchema>;

/** A credential the API checked (decisions.ts `Credential`: a token or a link), as messages carry it. */
const CredentialIdSchema = z.string().regex(CREDENTIAL_ID);
export const CheckedCredentialSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('token'), id: CredentialIdSchema }).strict(),
  z.object({ kind: z.literal('sign-in'), id: CredentialIdSchema, authTime: z.string().regex(ISO_INSTANT) }).strict(),
  z.object({
    kind: z.literal('link'),
    id: CredentialIdSchema,
    provedBy: z.object({ kind: z.enum(['token', 'subscription']), id: CredentialIdSchema }).strict(),
  }),
]);

export const CreatePlanBodySchema = CreatePlanRequestSchema.extend({
  organizationId: TOKENS_ORGANIZATION,
  createdByAgentId: TOKENS_PRINCIPAL,
});
export type CreatePlanBody = z.input<typeof CreatePlanBodySchema>;

export const ReplacePlanRequestSchema = z
  .object({
    runId: IdSchema,
    organizationId: IdSchema,
    threadId: IdSchema,
    leadAgentId: IdSchema,
    createdByAgentId: IdSchema.optional(),
    reason: ReasonSchema,
    requireApproval: z.boolean().optional(),
    idempotencyKey: IdempotencyKeySchema.optional(),
    draft: z.unknown(),
    /** What the sender signed in with, set by the API (never by the request's own body): the replaced run's abort records it. */
    credential: CheckedCredentialSchema.optional(),
  })
  .strict();
export type ReplacePlanRequest = z.infer<typeof ReplacePlanRequestSchema>;
export const ReplacePlanBodySchema = ReplacePlanRequestSchema.omit({ runId: true, credential: true }).extend({
  organizationId: TOKENS_ORGANIZATION,
  createdByAgentId: TOKENS_PRINCIPAL,
});
export type ReplacePlanBody = z.input<typeof ReplacePlanBodySchema>;

/*
 * The messages people send a run. The workflow checks them by hand (decisions.ts: zod stays out
 * of its sandbox); these are the same contracts for everyone else, and test/unit/contracts.test.ts
 * holds the two to the same answer, field by field.
 */
const MessageActor = { organizationId: IdSchema, threadId: IdSchema, emittedBy: IdSchema, credential: CheckedCredentialSchema.optional() };
const BodyActor = {
  organizationId: TOKENS_ORGANIZATION,
  emittedBy: TOKENS_PRINCIPAL,
  threadId: DECIDING_THREAD,
  idempotencyKey: IdempotencyKeySchema.optional(),
};

/** An approval's edit: an object of bounded depth and size (the draft in it is checked by `validateDraft`, issue by issue). */
export const EditSchema = (field: 'draft' | 'patch') =>
  z
    .record(z.string(), z.unknown())
    .refine((edit) => tooDeepAt(edit, MAX_DEPTH, field) === undefined, `${field} nests deeper than ${MAX_DEPTH} levels`)
    .refine((edit) => JSON.stringify(edit).length <= MAX_EDIT_BYTES, `${field} must be at most ${MAX_EDIT_BYTES} bytes of JSON`);

export const DecisionSchema = z
  .object({
    ...MessageActor,
    reason: ReasonSchema.optional(),
    resolution: z.enum(RESOLUTIONS).optional(),
    expectedRevision: RevisionSchema.optional(),
    standing: z
      .string()
      .refine((value) => standingProblem(value) === undefined, `must be a duration from 1m to ${MAX_STANDING_DAYS}d, such as "30d"`)
      .optional()
      .describe(
        'With an approval: also approve plans identical to this one from the same requester for this long (where the rules allow it)',
      ),
    draft: EditSchema('draft')
      .optional()
      .describe(
        'With an approval: approve the plan with these changes — the whole edited draft, as GET /v1/plans/{runId}/draft answers it. Validated like a new draft; it becomes the run’s next revision, and approvals given to the earlier one no longer count.',
      ),
    steps: z
      .record(z.string().min(1).max(64), z.enum(STEP_DECISIONS))
      .optional()
      .describe(
        'Step by step: with the plan’s approval, `skip` (an optional step) or `hold` (it waits for a later decision, the rest runs); on a held step later, `approve` or `skip`. Steps not named are approved with the plan.',
      ),
    patch: EditSchema('patch')
      .optional()
      .describe(
        'With an approval, instead of draft: a JSON merge patch of the draft (RFC 7386; `nodes` may be an object keyed by step id: null removes a step, a new id adds one).',
      ),
  })
  .strict();
export const DecisionBodySchema = DecisionSchema.omit({ credential: true }).extend(BodyActor);
export type DecisionBody = z.input<typeof DecisionBodySchema>;

/** A person's output with their step: JSON of bounded depth and size. */
const OutputSchema = z
  .unknown()
  .refine((output) => tooDeepAt(output, MAX_DEPTH, 'output') === undefined, `output nests deeper than ${MAX_DEPTH} levels`)
  .refine(
    (output) => output === undefined || JSON.stringify(output).length <= MAX_OUTPUT_BYTES,
    `output must be at most ${MAX_OUTPUT_BYTES} bytes of JSON`,
  );
export const NodeCompletionSchema = z
  .object({ ...MessageActor, nodeId: z.string().min(1).max(64), output: OutputSchema.optional() })
  .strict();
export const CompleteNodeBodySchema = NodeCompletionSchema.omit({ credential: true, nodeId: true }).extend(BodyActor);
export type CompleteNodeBody = z.input<typeof CompleteNodeBodySchema>;

export const AbortSchema = z.object({ ...MessageActor, reason: ReasonSchema }).strict();
export const AbortBodySchema = AbortSchema.omit({ credential: true }).extend(BodyActor);
export type AbortBody = z.input<typeof AbortBodySchema>;

/** A message to one run: its payload (checked by the same parser the workflow uses) plus which run. */
export type RunRequest<P> = P & {
  runId: string;
  /** Same key, same outcome: a retried call returns the first one. */
  idempotencyKey?: string;
};
export type DecisionRequest = RunRequest<Decision>;
export type NodeCompletionRequest = RunRequest<NodeCompletion>;
export type AbortPlanRequest = RunRequest<AbortRequest>;

type PayloadParser<P> = (payload: unknown) => { value?: P; problems?: string[] };

/** Splits a run request into its run, its key and the payload, refusing every problem at once. */
export function parseRunRequest<P>(
  request: unknown,
  kind: MessageKind,
  parse: PayloadParser<P>,
): { runId: string; idempotencyKey?: string; payload: P } {
  const { runId, idempotencyKey, ...rest } = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
  const problems: string[] = [];
  const run = IdSchema.safeParse(runId);
  if (!run.success) problems.push(`runId ${ID_RULE}`);
  const key = IdempotencyKeySchema.optional().safeParse(idempotencyKey);
  if (!key.success) problems.push('idempotencyKey must be a text of 1-200 characters');
  const { value: payload, problems: payloadProblems } = parse(rest);
  if (payloadProblems) problems.push(...payloadProblems);
  if (problems.length > 0 || payload === undefined) throw invalidDecision(kind, problems);
  return { runId: run.data!, ...(key.data !== undefined ? { idempotencyKey: key.data } : {}), payload };
}

/** Which schedule, for whom: schedules belong to an organization like their plans. */
export const ScheduleRequestSchema = z
  .object({
    scheduleId: z.string().regex(/^plan-schedule:[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/, 'must be a plan schedule id'),
    organizationId: IdSchema,
    /** Why it is paused or resumed, shown in the Temporal Web UI. */
    note: z.string().trim().min(1).max(500).optional(),
    /** Who pauses or resumes it: who paused it may resume it (domain/permissions.ts). */
    emittedBy: IdSchema.optional(),
  })
  .strict();
export type ScheduleRequest = z.infer<typeof ScheduleRequestSchema>;
export const ScheduleNoteBodySchema = ScheduleRequestSchema.pick({ note: true }).extend({ organizationId: TOKENS_ORGANIZATION });
export type ScheduleNoteBody = z.input<typeof ScheduleNoteBodySchema>;

export const IncludeSchema = z
  .object({
    includeEvents: z.boolean().optional(),
    includeArtifacts: z.boolean().optional(),
    includeApprovals: z.boolean().optional(),
    includeCheckpoints: z.boolean().optional(),
    includeValidationIssues: z.boolean().optional(),
  })
  .strict();

/** Lists answer pages: `DEFAULT_PAGE` runs unless asked for up to `MAX_PAGE`, then a cursor to the next. */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

export const CreatedInContextQuerySchema = IncludeSchema.extend({
  organizationId: IdSchema,
  threadId: IdSchema.optional(),
  sourceThreadId: IdSchema.optional(),
  createdByAgentId: IdSchema.optional(),
  statuses: z.array(z.enum(RUN_STATUSES)).optional(),
  limit: z.number().int().min(1).max(MAX_PAGE).optional(),
  /** Where the previous page ended (its `nextCursor`). */
  cursor: z.string().min(1).max(200).optional(),
}).strict();
export type CreatedInContextQuery = z.infer<typeof CreatedInContextQuerySchema>;
/** The same as a principal's view takes it: for the token's organization. */
export type ListQuery = Omit<CreatedInContextQuery, 'organizationId'> & { organizationId?: string | undefined };

/** Parses a request or throws `invalid-input` naming every problem. */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
  );
  throw new PlanError('invalid-input', `Invalid ${what}: ${problems.join('; ')}.`);
}

/** Where a reader of the live feed is: after which position, optionally one thread or run. */
export const FeedQuerySchema = z
  .object({
    organizationId: IdSchema,
    after: z.number().int().min(0),
    threadId: IdSchema.optional(),
    runId: IdSchema.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** The events a webhook may subscribe to: every run-level change a person or a platform acts on. */
export const SUBSCRIBABLE_EVENTS = [
  'plan-pending-approval',
  'plan-edited',
  'approval-lapsed',
  'node-held',
  'plan-approval-recorded',
  'plan-approval-withdrawn',
  'plan-stage-opened',
  'plan-reminded',
  'plan-escalated',
  'plan-expired',
  'plan-approved',
  'plan-rejected',
  'plan-changes-requested',
  'plan-completed',
  'plan-failed',
  'plan-aborted',
] as const;

export const SubscriptionRequestSchema = z
  .object({
    organizationId: IdSchema,
    createdBy: IdSchema,
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    eventTypes: z.array(z.enum(SUBSCRIBABLE_EVENTS)).min(1),
    /**
     * The requester's own destination (a person's): it receives their approval links, which then
     * act without signing in. Otherwise the organization's (admins only), which carries no links.
     */
    personal: z.boolean().optional(),
  })
  .strict();
export type SubscriptionRequest = z.infer<typeof SubscriptionRequestSchema>;
export const SubscriptionBodySchema = SubscriptionRequestSchema.extend(MADE_BY_TOKEN);
export type SubscriptionBody = z.input<typeof SubscriptionBodySchema>;

/**
 * When a delegation ends, as sent: an ISO date (its midnight UTC) or a date and time with its
 * offset; `untilInstant` (delegation-terms.ts) says which instant. Whether it is in the future,
 * and not too far, depends on the clock: the client checks that (`untilProblem`).
 */
export const UntilSchema = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], {
    error: 'must be an ISO date (2026-12-24, its midnight UTC) or date and time with an offset (2026-12-24T18:00:00Z)',
  })
  .describe(`When it ends: in the future, at most ${MAX_DELEGATION_DAYS} days ahead; a date alone is its midnight UTC.`);

/**
 * `plans delegate` / `POST /v1/delegations`: while it holds, `from`'s approvals can be made by
 * `to`. Both must be persons of the organization; a person delegates only their own approvals,
 * an admin anyone's (domain/permissions.ts).
 */
export const DelegationRequestSchema = z
  .object({
    organizationId: IdSchema,
    createdBy: IdSchema,
    from: PrincipalIdSchema.optional().describe('The delegator, a person; left out, whoever makes it (another person: admins only).'),
    to: PrincipalIdSchema.describe('The delegate: a person of the organization (not an agent or a service), not the delegator.'),
    until: UntilSchema,
    reason: ReasonSchema.optional(),
  })
  .strict();
export type DelegationRequest = z.infer<typeof DelegationRequestSchema>;
export const DelegationBodySchema = DelegationRequestSchema.extend(MADE_BY_TOKEN);
export type DelegationBody = z.input<typeof DelegationBodySchema>;

/**
 * `plans policy test` / `POST /v1/policy/test`: what a plan (a draft, or a stored run's plan)
 * would be held to if it were created now, under the policy in force or a proposed one.
 * Nothing is stored or started.
 */
const PolicyTrialFields = z
  .object({
    organizationId: IdSchema,
    draft: z.unknown().optional().describe('The plan draft to try (or runId)'),
    runId: z.string().min(1).max(200).optional().describe('A run of the organization whose plan, requester and threads to try (or draft)'),
    requester: PrincipalIdSchema.optional().describe('Who asks for it (default: the caller; with runId: its requester)'),
    threadId: IdSchema.optional().describe('The thread it is created in (default: the run’s, else a thread of its own)'),
    sourceThreadId: IdSchema.optional().describe('The thread it is drafted on behalf of (cross-thread when it differs)'),
    policy: z.unknown().optional().describe('A proposed policy to try instead of the one in force (as PUT /v1/policy takes it)'),
  })
  .strict();
const draftOrRun = (request: { draft?: unknown; runId?: string | undefined }) =>
  (request.draft === undefined) !== (request.runId === undefined);
const DRAFT_OR_RUN = { message: 'give exactly one of draft and runId', path: ['draft'] };
export const PolicyTrialRequestSchema = PolicyTrialFields.refine(draftOrRun, DRAFT_OR_RUN);
export type PolicyTrialRequest = z.infer<typeof PolicyTrialRequestSchema>;
export const PolicyTrialBodySchema = PolicyTrialFields.extend({ organizationId: TOKENS_ORGANIZATION }).refine(draftOrRun, DRAFT_OR_RUN);
export type PolicyTrialBody = z.input<typeof PolicyTrialBodySchema>;

/** `plans doctor`: compare an organization's stored runs with what Temporal committed, and optionally repair them. */
export const DoctorRequestSchema = z
  .object({
    organizationId: IdSchema,
    /** These runs only; every run of the organization when omitted. */
    runIds: z.array(IdSchema).min(1).max(1000).optional(),
    /** Rewrite every diverged record from what Temporal committed. */
    repair: z.boolean().optional(),
    /** At most this many runs, newest first, when no run ids are given. */
    limit: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();
export type DoctorRequest = z.infer<typeof DoctorRequestSchema>;
export const DoctorBodySchema = DoctorRequestSchema.extend({ organizationId: TOKENS_ORGANIZATION });
export type DoctorBody = z.input<typeof DoctorBodySchema>;
