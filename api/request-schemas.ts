import { z } from 'zod';

import {
  AbortBodySchema as AbortBody,
  CompleteNodeBodySchema as CompleteNodeBody,
  CreatePlanBodySchema as CreatePlanBody,
  DEFAULT_PAGE,
  DecisionBodySchema as DecisionBody,
  DelegationBodySchema as DelegationBody,
  DoctorBodySchema as DoctorBody,
  EditSchema,
  IdSchema,
  PolicyTrialBodySchema as PolicyTrialBody,
  MAX_PAGE,
  ReplacePlanBodySchema as ReplacePlanBody,
  ScheduleNoteBodySchema as ScheduleNoteBody,
  SubscriptionBodySchema as SubscriptionBody,
  TOKENS_ORGANIZATION,
} from '../domain/requests.js';
import { ApprovalPolicySchema } from '../domain/policy.js';
import { TokenRequestSchema } from '../domain/principals.js';
import { SecretNameSchema, SecretValueSchema } from '../domain/secrets.js';
import { RUN_STATUSES } from '../domain/status.js';

/**
 * What the HTTP API is sent: bodies, path parameters and queries. Bodies are the client's
 * requests (domain/requests.ts) less what the token decides (the organization, who acts).
 * Registered as components, in the document's order, by api/schemas.ts: import them from there.
 */

const Organization = { organizationId: TOKENS_ORGANIZATION };

/** Drafts are checked by `validateDraft`, which reports every problem with its code (S11); documented as PlanDraft. */
export const DraftInput = z.unknown().meta({
  $ref: '#/components/schemas/PlanDraft',
  description: 'The plan draft; every problem in it is reported at once as `code: message`, joined by ` | ` (400, with `issues`).',
});

export const CreatePlanBodySchema = CreatePlanBody.extend({ draft: DraftInput }).describe(
  'Create a plan run; a plan the organization’s policy gates (cross-thread, calls out, …) waits for approval.',
);

export const ReplacePlanBodySchema = ReplacePlanBody.extend({ draft: DraftInput }).describe(
  'Abort an active run and start its replacement.',
);

export const DecisionBodySchema = DecisionBody.describe(
  'Approve or reject (resolution applies to rejections); emittedBy is the token’s principal.',
);

export const CompleteNodeBodySchema = CompleteNodeBody;

export const AbortBodySchema = AbortBody;

export const ScheduleNoteBodySchema = ScheduleNoteBody;

export const SubscriptionBodySchema = SubscriptionBody.describe(
  'Deliveries are POSTed as JSON with `X-Plans-Signature: sha256=<HMAC-SHA256 of the body with the secret>`.',
);

export const DoctorBodySchema = DoctorBody.describe(
  "Compare the organization's stored runs with what Temporal committed; `repair` rewrites those that differ.",
);

// ---- Parameters and queries

export const RunParamsSchema = z.object({ runId: IdSchema });
/** An edited draft to compare with the plan as it stands (`POST /v1/plans/:runId/draft/diff`). */
export const EditPreviewBodySchema = z
  .object({
    draft: EditSchema('draft').describe('The whole edited draft, as GET /v1/plans/{runId}/draft answers it'),
  })
  .strict();

/** `?revisions=A..B`: two revisions of a run's plan, by number or by revision. */
export const DiffQuerySchema = z
  .object({
    revisions: z
      .string()
      .regex(/^[0-9a-f]{1,64}\.\.[0-9a-f]{1,64}$/, 'must be A..B, each a revision number (1, 2, …) or a revision as `plans get` shows it')
      .optional()
      .describe('Which revisions to compare, A..B (default: the last edit, else against the replaced run)'),
  })
  .strict();
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
export const TokenBodySchema = TokenRequestSchema.extend(Organization)

  // ---- Tokens, the approval policy, secrets

  .strict()
  .describe(
    'A token for a principal, made on the way (say its kind) or updated (roles replace its roles when given). The operator token must name the organization.',
  );
export const TokenParamsSchema = z.object({ tokenId: z.string().min(1).max(200) });
export const PrincipalParamsSchema = z.object({ principalId: z.string().min(1).max(200) });
export const OrganizationQuerySchema = z.object(Organization).strict();

/**
 * The policy as sent (defaults fill what it leaves out), checked by `ApprovalPolicySchema` with
 * every problem named; documented from that schema's input side (its defaults make the output differ).
 */
const { $schema: _dialect, ...policyInput } = z.toJSONSchema(ApprovalPolicySchema, { io: 'input' });
export const PolicyBodySchema = z.unknown().meta(policyInput);
export const StandingParamsSchema = z.object({ standingId: z.string().min(1).max(300) });
export const StandingListQuerySchema = z
  .object({ active: z.enum(['true', 'false']).optional().describe('true: only those that hold now') })
  .strict();
export const PolicyTrialBodySchema = PolicyTrialBody.describe(
  'A draft (or a run of the organization) to try against the policy in force or a proposed one; nothing is stored or started.',
);
export const SecretBodySchema = SecretValueSchema.describe(
  "The secret's value (kept encrypted, never answered, put in place only by the step that sends it) and the hosts it may be sent to",
);
export const SecretParamsSchema = z.object({ name: SecretNameSchema });

// ---- Delegations

export const DelegationBodySchema = DelegationBody.describe(
  'Delegate approvals until a date: `from` is the token’s person unless an admin names another; `to` a person of the organization.',
);
export const DelegationParamsSchema = z.object({ delegationId: z.string().min(1).max(100) });
export const DelegationListQuerySchema = z
  .object({
    active: z.enum(['true', 'false']).optional().describe('true: only those that hold now (not revoked, not ended)'),
  })
  .strict();
