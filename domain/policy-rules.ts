import { z } from 'zod';

import { type Decider, matchesSelector } from './approval.js';
import type { ApprovalStage, MatchedRule } from './approval-stages.js';
import { parseInterval } from './duration.js';
import { EgressAllowSchema, destinationOf, listsDestination } from './egress.js';
import { ExpirySchema } from './expiry.js';
import { EXPIRY_OUTCOMES } from './approval.js';
import { ParameterNameSchema, TagSchema } from './draft.js';
import { PlanError, type ValidationIssue } from './errors.js';
import type { CompiledNode, CompiledPlan, PlanParameter } from './plan.js';
import { PRINCIPAL_KINDS, SelectorSchema } from './principals.js';
import { isWebhook } from './webhook.js';

/*
 * An approval policy's rules by what a plan does (docs/approval-policies.md, "Rules by what a plan
 * does"): each rule has a `name`, a `when` matched on the plan as drafted and a `require` that
 * adds to the organization's defaults. Matched when a run is created, frozen into its rules with
 * why each matched (`MatchedRule`), never re-read while the run is in flight.
 */

/** What a step's executor is called in `when.executors`: `agent`, `agent:ID`, `human`, `system`, and each system action (`webhook`, `wait`, `noop`). */
export const EXECUTOR_KINDS = ['agent', 'human', 'system', 'webhook', 'wait', 'noop'] as const;

const ExecutorMatchSchema = z
  .string()
  .refine(
    (value) => (EXECUTOR_KINDS as readonly string[]).includes(value) || /^agent:[A-Za-z0-9_.:-]{1,128}$/.test(value),
    `is not an executor: use ${EXECUTOR_KINDS.join(', ')} or agent:ID`,
  );

/** `kind:agent` (or person, service), `role:NAME`, or a principal id. */
const RequesterMatchSchema = z
  .string()
  .refine(
    (value) =>
      value.startsWith('kind:') ? (PRINCIPAL_KINDS as readonly string[]).includes(value.slice(5)) : SelectorSchema.safeParse(value).success,
    `must be a principal id, role:NAME or kind:${PRINCIPAL_KINDS.join('|')}`,
  );

/** A comparison of one of the plan's declared `parameters`. */
export const ParameterMatchSchema = z
  .object({
    name: ParameterNameSchema,
    above: z.number({ error: 'must be a number' }).finite().optional(),
    below: z.number({ error: 'must be a number' }).finite().optional(),
    atLeast: z.number({ error: 'must be a number' }).finite().optional(),
    atMost: z.number({ error: 'must be a number' }).finite().optional(),
    equals: z.union([z.number().finite(), z.string().max(200), z.boolean()]).optional(),
    oneOf: z
      .array(z.union([z.number().finite(), z.string().max(200)]))
      .min(1)
      .max(50)
      .optional(),
  })
  .strict()
  .superRefine((match, context) => {
    const comparators = (['above', 'below', 'atLeast', 'atMost', 'equals', 'oneOf'] as const).filter((key) => match[key] !== undefined);
    if (comparators.length === 0)
      context.addIssue({ code: 'custom', message: 'needs a comparison: above, below, atLeast, atMost, equals or oneOf' });
    const low = Math.max(match.above ?? -Infinity, match.atLeast ?? -Infinity);
    const high = Math.min(match.below ?? Infinity, match.atMost ?? Infinity);
    if (low > high || (low === high && (match.above !== undefined || match.below !== undefined)))
      context.addIssue({ code: 'custom', message: `can never hold: no number is ${describeComparison(match)}` });
    if ((match.equals !== undefined || match.oneOf !== undefined) && comparators.length > 1)
      context.addIssue({ code: 'custom', message: 'equals and oneOf stand alone (not with each other or a range)' });
  });
export type ParameterMatch = z.infer<typeof ParameterMatchSchema>;

/** What a rule matches; every condition given must hold (none: every plan). */
export const RuleWhenSchema = z
  .object({
    executors: z.array(ExecutorMatchSchema).min(1).max(20).optional().describe('A step runs one of these executors'),
    hosts: EgressAllowSchema.optional().describe('A webhook step calls one of these hosts (host, host:port, *.suffix)'),
    recurring: z.boolean().optional().describe('The plan has a schedule (true) or not (false)'),
    minSteps: z.number().int().min(1).max(1000).optional().describe('The plan has at least this many steps'),
    tags: z.array(TagSchema).min(1).max(20).optional().describe('The plan carries one of these tags'),
    requester: z.array(RequesterMatchSchema).min(1).max(50).optional().describe('Who asked: a principal id, role:NAME, kind:agent'),
    parameter: ParameterMatchSchema.optional().describe(
      'A comparison of one of the plan’s declared parameters, e.g. {"name": "amountEur", "above": 1000}',
    ),
    parameters: z.array(ParameterMatchSchema).min(1).max(20).optional().describe('Several comparisons, all of which must hold'),
  })
  .strict();
export type RuleWhen = z.infer<typeof RuleWhenSchema>;

const SelectorsSchema = z.array(SelectorSchema).min(1, 'must name at least one approver (a principal id or role:NAME)').max(100);

export const StageSchema = z
  .object({
    name: z.string().trim().min(1).max(64),
    approvers: SelectorsSchema,
    required: z.number().int().min(1).max(20).default(1),
  })
  .strict();

export const RuleRequireSchema = z
  .object({
    approvers: SelectorsSchema.optional().describe('Who approves plans this rule matches (default: the organization’s approvers)'),
    required: z.number().int().min(1).max(20).optional().describe('How many distinct persons'),
    stages: z.array(StageSchema).min(1).max(10).optional().describe('Sequential stages, each opening when the one before is approved'),
    expiresAfter: ExpirySchema.optional().describe('A shorter wait than the organization’s (the strictest applies)'),
    onExpiry: z.enum(EXPIRY_OUTCOMES).optional(),
  })
  .strict()
  .superRefine((require, context) => {
    if (Object.keys(require).length === 0)
      context.addIssue({ code: 'custom', message: 'must require something: approvers, required, stages, expiresAfter or onExpiry' });
    if (require.stages && (require.approvers || require.required !== undefined))
      context.addIssue({ code: 'custom', message: 'gives stages and approvers/required: put them in a stage' });
    const names = (require.stages ?? []).map((stage) => stage.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated) context.addIssue({ code: 'custom', path: ['stages'], message: `names stage "${repeated}" twice` });
  });

export const RuleSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 lower-case letters, digits or "-"'),
    when: RuleWhenSchema,
    require: RuleRequireSchema,
    standing: z
      .boolean()
      .optional()
      .describe('Whether a standing approval may approve plans this rule matches (default: yes, except rules matching webhook)'),
    freshSignIn: ExpirySchema.optional().describe(
      'Approving a plan this rule matches needs a sign-in through the identity provider no older than this (e.g. "5m"); no standing approval then',
    ),
  })
  .strict();
export type ApprovalRule = z.infer<typeof RuleSchema>;

export const EscalationSchema = z
  .object({
    after: ExpirySchema.describe('How long the open stage has waited'),
    addApprovers: SelectorsSchema.optional().describe('Who may approve it too, from then on'),
    replaceApprovers: SelectorsSchema.optional().describe('Who approves it instead, from then on'),
  })
  .strict()
  .refine((escalation) => (escalation.addApprovers === undefined) !== (escalation.replaceApprovers === undefined), {
    message: 'needs exactly one of addApprovers and replaceApprovers',
  });

/** Every selector a policy's rules, stages and escalations name, each with where. */
export function rulesSelectors(policy: {
  rules: readonly ApprovalRule[];
  escalations?: ReadonlyArray<z.infer<typeof EscalationSchema>> | undefined;
}): Array<{ path: Array<string | number>; selector: string }> {
  const at = (path: Array<string | number>, selectors: readonly string[] | undefined) =>
    (selectors ?? []).map((selector) => ({ path, selector }));
  return [
    ...policy.rules.flatMap((rule, index) => [
      ...at(['rules', index, 'require', 'approvers'], rule.require.approvers),
      ...(rule.require.stages ?? []).flatMap((stage, stageIndex) =>
        at(['rules', index, 'require', 'stages', stageIndex, 'approvers'], stage.approvers),
      ),
      ...at(
        ['rules', index, 'when', 'requester'],
        rule.when.requester?.filter((selector) => !selector.startsWith('kind:')),
      ),
    ]),
    ...(policy.escalations ?? []).flatMap((escalation, index) => [
      ...at(['escalations', index, 'addApprovers'], escalation.addApprovers),
      ...at(['escalations', index, 'replaceApprovers'], escalation.replaceApprovers),
    ]),
  ];
}

// ---------------------------------------------------------------------------------------------
// Matching

/** What a rule is matched against: the plan as drafted and who asked for it. */
export interface RuleFacts {
  plan: Pick<CompiledPlan, 'nodes' | 'schedule' | 'tags' | 'parameters'>;
  /** The requester as the directory has it (null: not there; then only its id is known). */
  requester: Decider | null;
  requesterId: string;
}

/** The names a step's executor answers to in `when.executors`. */
function executorNames(node: CompiledNode): string[] {
  const { executor } = node;
  if (executor.type === 'agent') return ['agent', `agent:${executor.agentId}`];
  if (executor.type === 'human') return ['human'];
  return ['system', executor.action];
}

const NUMBER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 6 });
const shown = (value: PlanParameter) => (typeof value === 'number' ? NUMBER.format(value) : JSON.stringify(value));

function describeComparison(match: Omit<ParameterMatch, 'name'>): string {
  const parts = [
    match.above !== undefined ? `> ${shown(match.above)}` : '',
    match.atLeast !== undefined ? `≥ ${shown(match.atLeast)}` : '',
    match.below !== undefined ? `< ${shown(match.below)}` : '',
    match.atMost !== undefined ? `≤ ${shown(match.atMost)}` : '',
    match.equals !== undefined ? `= ${shown(match.equals)}` : '',
    match.oneOf !== undefined ? `one of ${match.oneOf.map(shown).join(', ')}` : '',
  ];
  return parts.filter(Boolean).join(' and ');
}

const isNumeric = (match: ParameterMatch) =>
  match.above !== undefined || match.below !== undefined || match.atLeast !== undefined || match.atMost !== undefined;

function compare(match: ParameterMatch, value: PlanParameter): boolean {
  if (isNumeric(match)) {
    if (typeof value !== 'number') return false;
    return (
      (match.above === undefined || value > match.above) &&
      (match.atLeast === undefined || value >= match.atLeast) &&
      (match.below === undefined || value < match.below) &&
      (match.atMost === undefined || value <= match.atMost)
    );
  }
  if (match.equals !== undefined) return value === match.equals;
  return (match.oneOf ?? []).some((candidate) => candidate === value);
}

const parameterMatches = (when: RuleWhen): ParameterMatch[] => [...(when.parameter ? [when.parameter] : []), ...(when.parameters ?? [])];

/** The reasons a rule's `when` holds for a plan, one per condition; undefined when one does not hold. */
export function whyMatches(when: RuleWhen, facts: RuleFacts): string[] | undefined {
  const because: string[] = [];
  const { plan } = facts;
  if (when.executors) {
    const step = plan.nodes.find((node) => executorNames(node).some((name) => when.executors!.includes(name)));
    if (!step) return undefined;
    const name = executorNames(step).find((candidate) => when.executors!.includes(candidate))!;
    because.push(`step "${step.nodeId}" runs ${name}`);
  }
  if (when.hosts) {
    const calls = plan.nodes.flatMap((node) => (isWebhook(node.executor) ? [{ nodeId: node.nodeId, url: node.executor.url }] : []));
    // A URL kept as a secret may be any of its hosts: it is taken to match.
    const call = calls.find(({ url }) => typeof url !== 'string' || listsDestination(when.hosts!, destinationOf(url)));
    if (!call) return undefined;
    because.push(
      typeof call.url === 'string'
        ? `step "${call.nodeId}" calls ${destinationOf(call.url).host}`
        : `step "${call.nodeId}" calls a URL kept as secret "${call.url.$secret}" (any host)`,
    );
  }
  if (when.recurring !== undefined) {
    if ((plan.schedule !== undefined) !== when.recurring) return undefined;
    because.push(when.recurring ? 'it runs on a schedule' : 'it runs once');
  }
  if (when.minSteps !== undefined) {
    if (plan.nodes.length < when.minSteps) return undefined;
    because.push(`it has ${plan.nodes.length} steps (at least ${when.minSteps})`);
  }
  if (when.tags) {
    const tag = (plan.tags ?? []).find((candidate) => when.tags!.includes(candidate));
    if (!tag) return undefined;
    because.push(`it is tagged ${tag}`);
  }
  if (when.requester) {
    const { requester, requesterId } = facts;
    const selector = when.requester.find((candidate) =>
      candidate.startsWith('kind:')
        ? requester?.kind === candidate.slice(5)
        : requester
          ? matchesSelector(requester, candidate)
          : candidate === requesterId,
    );
    if (!selector) return undefined;
    because.push(`${requesterId} asked for it (${selector})`);
  }
  for (const match of parameterMatches(when)) {
    const value = plan.parameters?.[match.name];
    if (value === undefined || !compare(match, value)) return undefined;
    const { name, ...comparison } = match;
    because.push(`${name} ${shown(value)} ${describeComparison(comparison)}`);
  }
  if (because.length === 0) because.push('it applies to every plan');
  return because;
}

/**
 * A plan's parameters that a rule compares as numbers but the plan declares as something else:
 * refused, so that writing `"1200"` for `1200` cannot dodge a rule.
 */
export function parameterIssues(rules: readonly ApprovalRule[], plan: Pick<CompiledPlan, 'parameters'>): ValidationIssue[] {
  return rules.flatMap((rule) =>
    parameterMatches(rule.when).flatMap((match) => {
      const value = plan.parameters?.[match.name];
      return value !== undefined && isNumeric(match) && typeof value !== 'number'
        ? [
            {
              code: 'invalid-parameter',
              message: `parameters.${match.name} must be a number: the organization's rule ${rule.name} compares it (${describeComparison(match)}).`,
            },
          ]
        : [];
    }),
  );
}

/** Whether a rule allows standing approvals: as it says, else yes unless it matches webhook steps. */
export function ruleAllowsStanding(rule: ApprovalRule): boolean {
  return rule.standing ?? !(rule.when.executors ?? []).includes('webhook');
}

/** What a rule requires, in words. */
export function describeRequire(require: ApprovalRule['require'], freshSignIn?: string): string {
  const parts = [
    require.stages ? `stages ${require.stages.map((stage) => stage.name).join(' → ')}` : '',
    require.required !== undefined ? `${require.required} approval${require.required === 1 ? '' : 's'}` : '',
    require.approvers ? `by ${require.approvers.join(', ')}` : '',
    require.expiresAfter ? `expiry after ${require.expiresAfter}` : '',
    require.onExpiry ? `${require.onExpiry === 'reject' ? 'rejected' : 'approved'} on expiry` : '',
    freshSignIn ? `a sign-in within ${freshSignIn} to approve` : '',
  ];
  return parts.filter(Boolean).join(', ');
}

/** What the matching rules add to the organization's defaults. */
export interface RoutedApproval {
  matched: MatchedRule[];
  /** The stages the rules make, in rule order (none: the organization's one stage). */
  stages: ApprovalStage[];
  /** The shortest expiry any matching rule sets (ms), if any. */
  expiresAfterMs?: number;
  /** Whether any matching rule makes expiry reject. */
  rejectsOnExpiry: boolean;
  standing: boolean;
  /** The organization's own stage's quorum: its `required`, raised by matching rules' `required` alone. */
  required: number;
  /** Whether a matching rule requires approvals (approvers, required or stages): it makes the plan wait. */
  gates: boolean;
  /** The shortest `freshSignIn` of the matching rules (ms): an approval needs a sign-in this recent. */
  freshSignInMs?: number;
}

/**
 * The rules that match a plan, and what they add to the organization's own stage (its approvers
 * and `required`), which stays the floor: every matching rule applies. A rule's `required` alone
 * raises that stage's quorum; its `approvers` add a stage named after it, its `stages` add theirs,
 * in rule order (a stage named twice keeps the larger `required`); the shortest expiry wins;
 * expiry rejects if any rule says so; standing approvals only if every matching rule allows them
 * (and, for a plan that calls out, one says so). No rule can take a requirement away, so a plan
 * that declares a tag or a parameter to match a rule gains nothing by it.
 */
export function routeApproval(
  policy: { rules: readonly ApprovalRule[]; approvers: readonly string[]; required: number },
  facts: RuleFacts,
): RoutedApproval {
  const matched: MatchedRule[] = [];
  const stages: ApprovalStage[] = [];
  let expiresAfterMs: number | undefined;
  let rejectsOnExpiry = false;
  let standing = true;
  let standingSaidYes = false;
  let required = policy.required;
  let gates = false;
  let freshSignInMs: number | undefined;
  for (const rule of policy.rules) {
    const because = whyMatches(rule.when, facts);
    if (!because) continue;
    matched.push({ rule: rule.name, because, requires: describeRequire(rule.require, rule.freshSignIn) });
    const { require } = rule;
    if (require.stages || require.approvers || require.required !== undefined) gates = true;
    if (!require.stages && !require.approvers && require.required !== undefined) required = Math.max(required, require.required);
    const made =
      require.stages ??
      (require.approvers ? [{ name: rule.name, approvers: [...require.approvers], required: require.required ?? 1 }] : []);
    for (const stage of made) {
      const same = stages.find((candidate) => candidate.name === stage.name);
      if (same) same.required = Math.max(same.required, stage.required);
      else stages.push({ name: stage.name, approvers: [...stage.approvers], required: stage.required });
    }
    if (require.expiresAfter) expiresAfterMs = Math.min(expiresAfterMs ?? Infinity, parseInterval(require.expiresAfter)!);
    if (require.onExpiry === 'reject') rejectsOnExpiry = true;
    if (!ruleAllowsStanding(rule)) standing = false;
    if (rule.standing === true) standingSaidYes = true;
    // A fresh sign-in is a person present now: an approval given earlier for another plan is none.
    // It is about approving: the plan waits for an approval, and never passes by expiring.
    if (rule.freshSignIn) {
      freshSignInMs = Math.min(freshSignInMs ?? Infinity, parseInterval(rule.freshSignIn)!);
      standing = false;
      gates = true;
      rejectsOnExpiry = true;
    }
  }
  // A plan that calls out is approved standing only where a matching rule says so.
  if (facts.plan.nodes.some((node) => isWebhook(node.executor)) && !standingSaidYes) standing = false;
  return {
    matched,
    stages,
    ...(expiresAfterMs !== undefined ? { expiresAfterMs } : {}),
    rejectsOnExpiry,
    standing,
    required,
    gates,
    ...(freshSignInMs !== undefined ? { freshSignInMs } : {}),
  };
}

/** Refuses a plan whose parameters a rule cannot compare, naming each. */
export function checkParameters(rules: readonly ApprovalRule[], plan: Pick<CompiledPlan, 'parameters'>): void {
  const issues = parameterIssues(rules, plan);
  if (issues.length > 0) throw new PlanError('invalid-input', issues.map((issue) => issue.message).join(' '), issues);
}
