import { skipRefusal } from '../../domain/approval.js';
import { resolveRequireApproval } from '../../domain/context.js';
import {
  ApprovalPolicySchema,
  DEFAULT_APPROVAL_POLICY,
  approvalConditionsOf,
  approvalReasonsOf,
  freezeRules,
} from '../../domain/policy.js';
import { compileDraft } from '../../domain/validate.js';
import { planRunInput } from '../../domain/run-input.js';
import { linearDraft } from '../support/drafts.js';

/** Which of a policy's `requireApprovalFor` conditions hold for a plan (domain/policy.ts), and how a run's input follows them. */

const KNOWN_AGENTS = { knownAgents: new Set(['echo']) };
const noops = compileDraft(linearDraft(2), KNOWN_AGENTS);
const hook = compileDraft(
  {
    ...linearDraft(1),
    nodes: [
      ...linearDraft(1).nodes,
      { id: 'hook', title: 'Hook', executor: { type: 'system', action: 'webhook', url: 'https://example.com/hook' } },
    ],
  },
  KNOWN_AGENTS,
);
const recurring = compileDraft(linearDraft(1, { schedule: { every: '1h' } }), KNOWN_AGENTS);
const all = { requireApprovalFor: ['cross-thread', 'external-calls', 'recurring', 'agent-plans'] as const };
const same = { threadId: 't-1', sourceThreadId: 't-1', requesterKind: 'person' as const };

describe('approvalConditionsOf', () => {
  it('always has cross-thread, each condition once, in one order; a policy without the list has the defaults', () => {
    expect(approvalConditionsOf({ requireApprovalFor: [] })).toEqual(['cross-thread']);
    expect(approvalConditionsOf({ requireApprovalFor: ['agent-plans', 'recurring', 'agent-plans'] })).toEqual([
      'cross-thread',
      'recurring',
      'agent-plans',
    ]);
    expect(approvalConditionsOf({})).toEqual(['cross-thread', 'external-calls']);
    expect(DEFAULT_APPROVAL_POLICY.requireApprovalFor).toEqual(['cross-thread', 'external-calls']);
  });

  it('is normalised when a policy is parsed, and refuses what it does not know, naming the field', () => {
    expect(ApprovalPolicySchema.parse({ requireApprovalFor: ['recurring'] }).requireApprovalFor).toEqual(['cross-thread', 'recurring']);
    const refused = ApprovalPolicySchema.safeParse({ requireApprovalFor: ['sometimes'] });
    expect(refused.success).toBe(false);
    expect(refused.error!.issues[0]!.path).toEqual(['requireApprovalFor', 0]);
  });
});

describe('approvalReasonsOf', () => {
  it('names each condition that holds, and only those the policy lists', () => {
    expect(approvalReasonsOf(all, { ...same, plan: noops })).toEqual([]);
    expect(approvalReasonsOf(all, { ...same, sourceThreadId: 't-9', plan: noops })).toEqual(['cross-thread']);
    expect(approvalReasonsOf(all, { ...same, sourceThreadId: undefined, plan: hook })).toEqual(['external-calls']);
    expect(approvalReasonsOf(all, { ...same, sourceThreadId: null, plan: recurring })).toEqual(['recurring']);
    expect(approvalReasonsOf(all, { ...same, requesterKind: 'agent', plan: noops })).toEqual(['agent-plans']);
    expect(approvalReasonsOf(all, { ...same, requesterKind: 'service', plan: noops })).toEqual([]);
    expect(approvalReasonsOf(all, { ...same, requesterKind: null, plan: noops })).toEqual([]);
    expect(
      approvalReasonsOf(all, {
        threadId: 't-1',
        sourceThreadId: 't-9',
        requesterKind: 'agent',
        plan: { ...hook, schedule: recurring.schedule! },
      }),
    ).toEqual(['cross-thread', 'external-calls', 'recurring', 'agent-plans']);
    // Not listed: does not count, whatever the plan does — but cross-thread always does.
    expect(approvalReasonsOf({ requireApprovalFor: ['recurring'] }, { ...same, requesterKind: 'agent', plan: hook })).toEqual([]);
    expect(approvalReasonsOf({ requireApprovalFor: ['recurring'] }, { ...same, sourceThreadId: 't-9', plan: noops })).toEqual([
      'cross-thread',
    ]);
    // A policy stored before the list existed: the defaults.
    expect(approvalReasonsOf({}, { ...same, plan: hook })).toEqual(['external-calls']);
  });
});

describe('a run needing approval for its reasons', () => {
  const rules = (reasons?: Parameters<typeof freezeRules>[3]) =>
    freezeRules({ policy: DEFAULT_APPROVAL_POLICY, version: 0 }, undefined, ['lead'], reasons);

  it('freezes the reasons into its rules only when given (rules of earlier runs have none)', () => {
    expect(rules(['external-calls']).reasons).toEqual(['external-calls']);
    expect(rules()).not.toHaveProperty('reasons');
  });

  it('waits for approval in the same thread when its rules carry reasons; an explicit choice still wins', () => {
    const base = { planSpecId: 'r', organizationId: 'o', threadId: 't-1', leadAgentId: 'lead', plan: hook };
    expect(planRunInput({ ...base, rules: rules(['external-calls']) }).requireApproval).toBe(true);
    expect(planRunInput({ ...base, rules: rules([]) }).requireApproval).toBe(false);
    expect(planRunInput({ ...base, rules: rules() }).requireApproval).toBe(false);
    expect(planRunInput({ ...base, sourceThreadId: 't-9', rules: rules() }).requireApproval).toBe(true);
    expect(planRunInput({ ...base, requireApproval: false, rules: rules(['external-calls']) }).requireApproval).toBe(false);
    expect(resolveRequireApproval(undefined, undefined, 't-1', ['recurring'])).toBe(true);
    expect(resolveRequireApproval(undefined, 't-1', 't-1', [])).toBe(false);
  });

  it('refuses a skip naming why the plan needs approval (a cross-thread one as before)', () => {
    expect(skipRefusal([], 'planner', null)!.message).toBe(
      "planner may not start a cross-thread plan without approval: this organization's policy lets no one skip it.",
    );
    expect(skipRefusal(['role:rm'], 'planner', { id: 'planner', kind: 'agent', roles: [] }, ['external-calls'])!.message).toBe(
      "planner may not start a plan that calls external endpoints without approval: this organization's policy lets only role:rm skip it.",
    );
    expect(skipRefusal([], 'planner', null, ['recurring', 'agent-plans'])!.message).toContain(
      'a plan that needs approval (recurring, agent-plans)',
    );
    expect(skipRefusal(['role:rm'], 'planner', { id: 'planner', kind: 'agent', roles: ['rm'] }, ['agent-plans'])).toBeUndefined();
  });
});
