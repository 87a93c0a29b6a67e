import { z } from 'zod';

import { STACK_PARTS } from './health.js';
import { type Encodes, PlanSnapshotSchema } from './run-answer-schemas.js';
import { CHAIN_PROBLEMS } from '../audit/chain.js';
import type { DoctorReport } from '../client/doctor.js';
import type { RunScheduleView } from '../client/runs-client.js';
import type { ScheduleView } from '../client/schedules-client.js';
import { APPROVAL_CONDITIONS, APPROVAL_REASONS, EXPIRY_OUTCOMES } from '../domain/approval.js';
import { type Delegation as DelegationRecord, DelegationSchema as Delegation } from '../domain/delegations.js';
import type { PolicyRecord } from '../domain/policy.js';
import type { PolicyTrial } from '../domain/policy-trial.js';
import type { StandingApproval } from '../domain/standing.js';
import { EscalationSchema, RuleSchema } from '../domain/policy-rules.js';
import { PRINCIPAL_KINDS, type TokenView } from '../domain/principals.js';
import { OVERLAP_POLICIES } from '../domain/schedule.js';
import { SecretNameSchema } from '../domain/secrets.js';
import type { SecretView, Subscription } from '../storage/plan-store.js';

/**
 * What the HTTP API answers besides runs: errors, schedules, subscriptions, principals and
 * tokens, the approval policy, secrets, health and `plans doctor`. Registered as components, in
 * the document's order, by api/schemas.ts: import them from there.
 */

const Nullable = z.string().nullable();

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ code: z.string(), message: z.string(), nodeId: z.string().optional() })).optional(),
  }),
});

const PlanScheduleSchema = z.looseObject({
  cron: z.string().optional(),
  every: z.string().optional(),
  timezone: z.string().optional(),
  overlap: z.enum(OVERLAP_POLICIES).optional(),
});

export const RunScheduleSchema = z
  .object({
    schedule: PlanScheduleSchema.nullable(),
    text: Nullable.describe('The schedule in words'),
    attached: z.boolean().describe('Whether the Temporal Schedule exists (only once approved)'),
    scheduleId: Nullable,
    paused: z.boolean(),
    nextFireTimes: z.array(z.string()),
  })
  .describe('A run’s schedule for people.');

export const ScheduleSchema = z.object({
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
});

const SubscriptionFields = {
  subscriptionId: z.string(),
  organizationId: z.string(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
  principalId: z.string().nullable().describe("The person whose own destination it is; null for the organization's"),
};
export const SubscriptionSchema = z.object(SubscriptionFields);
export const NewSubscriptionSchema = z.object({
  ...SubscriptionFields,
  secret: z.string().describe('Signs every delivery; shown once, here.'),
});

export const PrincipalViewSchema = z
  .object({
    organizationId: z.string(),
    id: z.string(),
    kind: z.enum(PRINCIPAL_KINDS),
    roles: z.array(z.string()),
  })
  .describe('Who acts: a person, an agent or a service of one organization, with roles.');
export const MeSchema = PrincipalViewSchema.extend({
  signedIn: z
    .object({
      issuer: z.string().describe('The identity provider the person signed in through'),
      authTime: z.string().describe('When they authenticated there'),
      expiresAt: z.string().describe('When the session ends'),
    })
    .nullable()
    .describe('How the principal signed in (a session of the inbox); null for an API token'),
});

export const NewTokenSchema = z.object({
  token: z.string().describe('The bearer token; shown once, here, and stored only as a hash.'),
  tokenId: z.string(),
  principal: PrincipalViewSchema,
});
export const TokenSchema = z.object({
  tokenId: z.string(),
  organizationId: z.string(),
  principalId: z.string(),
  kind: z.enum(PRINCIPAL_KINDS),
  roles: z.array(z.string()),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
});
export const PrincipalStateSchema = z
  .object({ organizationId: z.string(), principalId: z.string(), disabled: z.boolean() })
  .describe('Whether a principal is disabled: its tokens refused, its decisions and links refused');
export const PolicySchema = z.object({
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
    reminders: z.array(z.string()).optional().describe('When the open stage’s people are reminded again, counted from its opening'),
    escalations: z.array(EscalationSchema).optional().describe('How the open stage widens or moves after it has waited'),
    rules: z.array(RuleSchema).describe('Rules by what a plan does, in order; every matching one adds its requirements'),
  }),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
export const PolicyChangeSchema = z.object({
  organizationId: z.string(),
  version: z.number().int(),
  policy: PolicySchema.shape.policy,
  changedBy: z.string(),
  changedAt: z.string(),
});
export const SecretSchema = z
  .object({
    name: SecretNameSchema,
    hosts: z.array(z.string()).describe('Where a webhook may send it in a header; empty: any host (a plan sending it waits for approval)'),
    updatedBy: z.string(),
    updatedAt: z.string(),
  })
  .describe('A secret by name: where it may be sent, who set it last and when, never its value');
export const DelegationSchema = Delegation.describe(
  'While it holds (not revoked, before `until`), `from`’s approvals can be made by `to`, recorded as `to for from`',
);
export const StandingApprovalSchema = z
  .object({
    standingId: z.string().describe('`<runId>:<approver>`: the approval it was given with'),
    organizationId: z.string(),
    requester: z.string().describe('Whose plans it approves'),
    revision: z.string().describe('Which plan: its revision (any change to the plan makes another)'),
    planHash: z.string().describe('The whole SHA-256 of that plan, of which the revision is the start: what it is matched by'),
    approvedBy: z.string(),
    sourceRunId: z.string(),
    createdAt: z.string(),
    until: z.string(),
    revokedAt: z.string().optional(),
    revokedBy: z.string().optional(),
  })
  .describe('A person’s approval of future plans identical to one, from the same requester, until a date');
export const PolicyTrialSchema = z
  .object({
    organizationId: z.string(),
    policyVersion: z.number().int().describe('The version tried: the policy in force, or the one a proposal would become'),
    proposed: z.boolean().describe('Whether a proposed policy was tried, not the one in force'),
    runId: z.string().nullable().describe('The run whose plan was tried, when one was'),
    requester: z.string(),
    needsApproval: z.boolean(),
    reasons: z.array(z.enum(APPROVAL_REASONS)).describe('Why it needs approval (policy-rule: a rule matched what it does)'),
    matched: z.array(z.object({ rule: z.string(), because: z.array(z.string()), requires: z.string() })),
    stages: z
      .array(
        z.object({
          name: z.string(),
          approvers: z.array(z.string()),
          required: z.number().int(),
          eligible: z.array(z.string()).nullable(),
        }),
      )
      .describe('In order; `eligible`: who of the organization may approve each now (null unless an admin asks)'),
    expiresAfter: z.string(),
    onExpiry: z.enum(EXPIRY_OUTCOMES),
    reminders: z.array(z.string()),
    escalations: z.array(
      z.object({ after: z.string(), addApprovers: z.array(z.string()).optional(), replaceApprovers: z.array(z.string()).optional() }),
    ),
    standing: z.boolean().describe('Whether a standing approval could approve it'),
    problems: z.array(z.string()).describe('What a create would be refused for (empty: accepted)'),
  })
  .describe('What a plan would be held to if created now: the terraform plan of approvals. Nothing is stored or started.');
export const HealthSchema = z.object({
  status: z.enum(['ok', 'starting', 'unavailable']),
  down: z.array(z.object({ part: z.enum(STACK_PARTS), reason: z.string() })).describe('The parts not usable now, and why'),
});

/** Where an audit chain breaks (audit/chain.ts `ChainBreak`). */
const ChainBreakSchema = z.object({
  position: z.number().int(),
  problem: z.enum(CHAIN_PROBLEMS),
  message: z.string(),
});

export const AuditVerifySchema = z.object({
  ok: z.boolean(),
  organizationId: z.string().nullable(),
  runId: z.string().nullable(),
  from: z.number().int().nullable(),
  to: z.number().int().nullable(),
  position: z.number().int().describe('The feed counter: the last position stored'),
  events: z.number().int(),
  links: z.number().int(),
  unchained: z.number().int().describe('Events stored before the chain (not covered)'),
  heads: z.number().int(),
  keyIds: z.array(z.string()),
  signedThrough: z.number().int().nullable(),
  break: ChainBreakSchema.nullable().describe('The first break, located'),
});

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
  audit: AuditVerifySchema.pick({ ok: true, position: true, signedThrough: true, break: true }).describe(
    'The organization’s audit chain, walked (as `plans audit verify --live`)',
  ),
});

/** Each answer schema describes the TypeScript type it serves (`Encodes`, api/run-answer-schemas.ts). */
const answersMatchTypes: Encodes<typeof RunScheduleSchema, RunScheduleView> &
  Encodes<typeof ScheduleSchema, ScheduleView> &
  Encodes<typeof NewSubscriptionSchema, Subscription> &
  Encodes<typeof DoctorReportSchema, DoctorReport> &
  Encodes<typeof TokenSchema, TokenView> &
  Encodes<typeof PolicySchema, PolicyRecord> &
  Encodes<typeof SecretSchema, SecretView> &
  Encodes<typeof DelegationSchema, DelegationRecord> &
  Encodes<typeof PolicyTrialSchema, PolicyTrial> &
  Encodes<typeof StandingApprovalSchema, StandingApproval> = true;
void answersMatchTypes;

/** A signed chain head (audit/chain.ts `SignedHead`). */
export const SignedHeadSchema = z
  .object({
    organizationId: z.string(),
    position: z.number().int(),
    hash: z.string(),
    previous: z
      .object({ position: z.number().int(), hash: z.string() })
      .nullable()
      .describe('The head signed before this one (null for the first): heads chain, so one removed is seen'),
    chainedFrom: z.number().int().describe('Where the organization’s chain starts'),
    signedAt: z.string(),
    keyId: z.string().describe('The signing key’s id (`GET /v1/audit/keys`)'),
    signature: z
      .string()
      .describe(
        'Ed25519, base64, over the canonical JSON of {statement, organizationId, position, hash, previous, chainedFrom, signedAt, keyId}',
      ),
  })
  .describe('The organization’s audit chain at a position, signed with its key');

/** What a decider keeps (storage/audit-store.ts `AuditReceipt`). */
export const ReceiptSchema = z
  .object({
    position: z.number().int().describe('The event’s position in the organization’s audit chain'),
    hash: z.string().describe('The chain’s hash at that position'),
    event: z.object({ runId: z.string(), sequence: z.number().int(), eventType: z.string() }),
    head: z.union([SignedHeadSchema, z.object({ pending: z.literal(true), message: z.string() })]),
  })
  .describe('Proof of a decision: its event’s place in the audit chain and a signed head that covers it (docs/auditing.md)');

/** A decision's answer: the run as stored once it took effect, with the decider's receipt (client/audit-client.ts `DecidedRun`). */
export const DecidedRunSchema = PlanSnapshotSchema.extend({
  receipt: ReceiptSchema.nullable().describe('Null when the run has no event of the decider in the audit chain'),
});

export const AuditKeySchema = z.object({
  keyId: z.string(),
  algorithm: z.literal('Ed25519'),
  publicKey: z.string().describe('SPKI DER, base64'),
  createdAt: z.string(),
  retiredAt: z.string().nullable(),
});
