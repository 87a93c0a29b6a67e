import { z } from 'zod';

import { APPROVAL_CONDITIONS, type ApprovalReason, type ApprovalRules, EXPIRY_OUTCOMES } from './approval.js';
import { DEFAULT_APPROVAL_CONDITIONS, approvalConditionsOf } from './approval-conditions.js';
import { EgressAllowSchema } from './egress.js';
import { PlanError } from './errors.js';
import { parseInterval } from './duration.js';
import type { PlanApproval } from './plan.js';
import { BUILT_IN_ROLES, RoleSchema, SelectorSchema, rolesNamed } from './principals.js';
import { EscalationSchema, type RoutedApproval, RuleSchema, rulesSelectors } from './policy-rules.js';
import { SINGLE_STAGE } from './approval-stages.js';

/**
 * An organization's approval policy: which plans need approval, who may decide them, how many
 * must approve, who may skip approval, and when a pending plan expires with which outcome.
 * Validated here, stored versioned, and frozen into each run as `ApprovalRules` when it is created.
 */

export { ExpirySchema } from './expiry.js';
import { ExpirySchema } from './expiry.js';

const SelectorsSchema = z.array(SelectorSchema).max(100);

export {
  DEFAULT_APPROVAL_CONDITIONS,
  approvalConditionsOf,
  approvalReasonsOf,
  callsExternally,
  type ApprovalFacts,
} from './approval-conditions.js';

const RequireApprovalForSchema = z
  .array(z.enum(APPROVAL_CONDITIONS))
  .max(20)
  .default([...DEFAULT_APPROVAL_CONDITIONS])
  .transform((requireApprovalFor) => approvalConditionsOf({ requireApprovalFor }))
  .describe(
    'Which plans wait for approval: cross-thread (drafted for another thread), external-calls (has a webhook step), recurring (has a schedule), ' +
      'agent-plans (requested by an agent of the organization). cross-thread is always on: a list without it still has it.',
  );

export const ApprovalPolicySchema = z
  .object({
    requireApprovalFor: RequireApprovalForSchema,
    roles: z.array(RoleSchema).max(50).default([]).describe("The organization's own roles, besides approver and admin"),
    approvers: SelectorsSchema.min(1, 'must name at least one approver (a principal id or role:NAME)')
      .default(['role:approver'])
      .describe('Who may approve or reject: principal ids and role:NAME'),
    required: z.number().int().min(1).max(20).default(1).describe('How many distinct eligible persons must approve'),
    skipApproval: SelectorsSchema.default([]).describe(
      'Who may start a plan that needs approval without it, with requireApproval: false (default: nobody)',
    ),
    expiresAfter: ExpirySchema.default('7d').describe('How long a plan waits for its decision'),
    onExpiry: z.enum(EXPIRY_OUTCOMES).default('reject').describe('What happens then, decided by `system`'),
    validFor: ExpirySchema.optional().describe(
      'How long an approval holds before the plan first acts (e.g. "7d"): a step about to start later sends the plan back to pending-approval (approval-lapsed)',
    ),
    egress: z
      .object({
        allow: EgressAllowSchema.describe(
          'The only hosts webhook steps and subscriptions may call: "host", "host:port", "*.example.com", IP literals ("10.0.0.5", "[fd00::1]:8443"). ' +
            'A loopback, private or CGNAT address is reachable only when its host is listed exactly (not through *.), a link-local one only when the address itself is; ' +
            "a cloud metadata address never through a policy (only the operator's PLANS_EGRESS_ALLOW, by address).",
        ),
      })
      .strict()
      .optional()
      .describe('Where calls out may go; absent: any public address, nothing private'),
    reminders: z
      .array(ExpirySchema)
      .max(10)
      .optional()
      .describe('When the open stage’s people are reminded again, counted from its opening'),
    escalations: z
      .array(EscalationSchema)
      .max(10)
      .optional()
      .describe('How the open stage widens (addApprovers) or moves (replaceApprovers) after it has waited'),
    rules: z
      .array(RuleSchema)
      .max(50)
      .default([])
      .describe('Rules by what a plan does, in order: every matching one adds its requirements to the defaults above'),
  })
  .strict()
  .superRefine((policy, context) => {
    const known = new Set<string>([...BUILT_IN_ROLES, ...policy.roles]);
    const unknownRole = (role: string) =>
      `role "${role}" is not a role of this organization (${[...known].join(', ')}); declare it in roles`;
    for (const field of ['approvers', 'skipApproval'] as const) {
      for (const role of rolesNamed(policy[field])) {
        if (!known.has(role)) context.addIssue({ code: 'custom', path: [field], message: unknownRole(role) });
      }
    }
    for (const { path, selector } of rulesSelectors(policy)) {
      for (const role of rolesNamed([selector]))
        if (!known.has(role)) context.addIssue({ code: 'custom', path, message: unknownRole(role) });
    }
    const names = policy.rules.map((rule) => rule.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index)
        context.addIssue({ code: 'custom', path: ['rules', index, 'name'], message: `rule "${name}" is named twice` });
    });
    const expiryMs = parseInterval(policy.expiresAfter)!;
    const timers = [
      ...(policy.reminders ?? []).map((after, index) => ({ path: ['reminders', index], after, what: 'reminder' })),
      ...(policy.escalations ?? []).map((escalation, index) => ({
        path: ['escalations', index, 'after'],
        after: escalation.after,
        what: 'escalation',
      })),
    ];
    for (const { path, after, what } of timers) {
      if (parseInterval(after)! >= expiryMs)
        context.addIssue({
          code: 'custom',
          path,
          message: `${what} after ${after} would never come: a plan expires after ${policy.expiresAfter}`,
        });
    }
    policy.rules.forEach((rule, index) => {
      const { require } = rule;
      if (require.onExpiry === 'approve' && policy.onExpiry === 'reject')
        context.addIssue({
          code: 'custom',
          path: ['rules', index, 'require', 'onExpiry'],
          message: "approve would loosen the organization's reject",
        });
      (require.stages ?? []).forEach((stage, stageIndex) => {
        if (stage.name === SINGLE_STAGE)
          context.addIssue({
            code: 'custom',
            path: ['rules', index, 'require', 'stages', stageIndex, 'name'],
            message: `"${SINGLE_STAGE}" is the organization's own stage, which comes first; name this one otherwise`,
          });
        const elsewhere = policy.rules
          .slice(0, index)
          .flatMap((earlier) => earlier.require.stages ?? [])
          .find((earlier) => earlier.name === stage.name);
        if (elsewhere && [...elsewhere.approvers].sort().join() !== [...stage.approvers].sort().join())
          context.addIssue({
            code: 'custom',
            path: ['rules', index, 'require', 'stages', stageIndex, 'approvers'],
            message: `stage "${stage.name}" is named by an earlier rule with other approvers (${elsewhere.approvers.join(', ')}); one name, one set of approvers`,
          });
      });
      if (require.required !== undefined && require.required < policy.required)
        context.addIssue({
          code: 'custom',
          path: ['rules', index, 'require', 'required'],
          message: `${require.required} is below the organization's ${policy.required}`,
        });
    });
  });
export type ApprovalPolicy = z.output<typeof ApprovalPolicySchema>;

/** What an organization that never set a policy has. */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = ApprovalPolicySchema.parse({});

/** An organization's policy as stored: every change makes a new version (0: never set, the defaults). */
export interface PolicyRecord {
  organizationId: string;
  version: number;
  policy: ApprovalPolicy;
  updatedBy: string | null;
  updatedAt: string | null;
}

/** The roles an organization knows: the built-in ones and those its policy declares. */
export function knownRoles(policy: ApprovalPolicy): Set<string> {
  return new Set<string>([...BUILT_IN_ROLES, ...policy.roles]);
}

/**
 * The rules a new run is held to: the organization's policy (version `version`), tightened by
 * the draft's `approval`, with its requesters and, when given, why it needs approval. A draft
 * that would loosen the policy, or names a role the organization does not have, is refused with
 * every problem named.
 */
export function freezeRules(
  record: Pick<PolicyRecord, 'policy' | 'version'>,
  draft: PlanApproval | undefined,
  requesters: readonly string[],
  reasons?: readonly ApprovalReason[],
  routed?: RoutedApproval,
): ApprovalRules {
  const { policy } = record;
  const orgExpiryMs = parseInterval(policy.expiresAfter)!;
  const problems: string[] = [];
  if (draft) {
    const known = knownRoles(policy);
    for (const role of rolesNamed(draft.approvers ?? [])) {
      if (!known.has(role)) problems.push(`approval.approvers names role "${role}", which this organization does not have`);
    }
    if (draft.required !== undefined && draft.required < policy.required) {
      problems.push(`approval.required ${draft.required} is below the organization's ${policy.required}`);
    }
    if (draft.expiresAfterMs !== undefined && draft.expiresAfterMs > orgExpiryMs) {
      problems.push(`approval.expiresAfter is longer than the organization's ${policy.expiresAfter}`);
    }
    if (draft.onExpiry === 'approve' && policy.onExpiry === 'reject') {
      problems.push("approval.onExpiry approve would loosen the organization's reject");
    }
    // Where expiry approves, waiting less is approving sooner, with nobody deciding.
    if ((draft.onExpiry ?? policy.onExpiry) === 'approve' && draft.expiresAfterMs !== undefined && draft.expiresAfterMs < orgExpiryMs) {
      problems.push(
        `approval.expiresAfter is shorter than the organization's ${policy.expiresAfter}, and expiry approves: it would approve sooner with nobody deciding`,
      );
    }
  }
  if (problems.length > 0) {
    throw new PlanError('invalid-input', `A draft may only tighten the organization's approval policy: ${problems.join('; ')}.`);
  }
  // The organization's own stage comes first and stays the floor; the rules' stages follow it.
  const required = Math.max(draft?.required ?? policy.required, routed?.required ?? 0);
  const stages =
    routed && routed.stages.length > 0 ? [{ name: SINGLE_STAGE, approvers: [...policy.approvers], required }, ...routed.stages] : [];
  const expiresAfterMs = Math.min(draft?.expiresAfterMs ?? orgExpiryMs, routed?.expiresAfterMs ?? Infinity);
  const escalations = [...(policy.escalations ?? [])]
    .map(({ after, ...change }) => ({ afterMs: parseInterval(after)!, ...change }))
    .sort((a, b) => a.afterMs - b.afterMs);
  const reminderMs = (policy.reminders ?? []).map((after) => parseInterval(after)!).sort((a, b) => a - b);
  return {
    policyVersion: record.version,
    approvers: [...policy.approvers],
    ...(draft?.approvers ? { narrowedTo: [...draft.approvers] } : {}),
    required,
    expiresAfterMs,
    onExpiry: routed?.rejectsOnExpiry ? 'reject' : (draft?.onExpiry ?? policy.onExpiry),
    skipApproval: [...policy.skipApproval],
    requesters: [...new Set(requesters)],
    ...(reasons ? { reasons: [...reasons] } : {}),
    conditions: approvalConditionsOf(policy),
    ...(stages.length > 0 ? { stages } : {}),
    ...(reminderMs.length > 0 ? { reminderMs } : {}),
    ...(escalations.length > 0 ? { escalations } : {}),
    ...(routed ? { matched: routed.matched, standing: routed.standing } : {}),
    ...(policy.validFor ? { validForMs: parseInterval(policy.validFor)! } : {}),
    ...(routed?.freshSignInMs !== undefined ? { freshSignInMs: routed.freshSignInMs } : {}),
  };
}
