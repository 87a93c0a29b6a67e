import { ApprovalPolicySchema, freezeRules } from '../../domain/policy.js';
import { checkParameters, routeApproval } from '../../domain/policy-rules.js';
import { compileDraft } from '../../domain/validate.js';
import { linearDraft } from '../support/drafts.js';
import { refundPolicy } from '../support/policies.js';

/** Rules by what a plan does (issue 21): matching, what they add up to, and policies refused naming the field. */

/** The worked policy of docs/approval-policies.md (examples/refund-policy.json). */
const WORKED = refundPolicy();

const policy = ApprovalPolicySchema.parse(WORKED);
const requester = { id: 'planner', kind: 'agent' as const, roles: [] };

function plan(extra: Record<string, unknown> = {}, nodes: unknown[] = linearDraft(2).nodes) {
  return compileDraft({ ...linearDraft(2), nodes, ...extra });
}

const webhookStep = {
  id: 'notify',
  title: 'Notify',
  executor: { type: 'system', action: 'webhook', url: 'https://hooks.example.com/x' },
};

describe('which rules match, and why', () => {
  it('a large refund goes to the team lead, then finance, explained by its amount', () => {
    const routed = routeApproval(policy, { plan: plan({ parameters: { amountEur: 1200 } }), requester, requesterId: 'planner' });
    expect(routed.matched).toEqual([
      { rule: 'large-refunds', because: ['amountEur 1,200 > 1,000'], requires: 'stages team lead → finance' },
    ]);
    expect(routed.stages.map((stage) => stage.name)).toEqual(['team lead', 'finance']);
  });

  it('a small refund, or none declared, matches nothing', () => {
    expect(routeApproval(policy, { plan: plan({ parameters: { amountEur: 1000 } }), requester, requesterId: 'planner' }).matched).toEqual(
      [],
    );
    expect(routeApproval(policy, { plan: plan(), requester, requesterId: 'planner' }).matched).toEqual([]);
  });

  it('every matching rule applies: a large refund that calls out needs both, in rule order', () => {
    const routed = routeApproval(policy, {
      plan: plan({ parameters: { amountEur: 5000 } }, [...linearDraft(1).nodes, webhookStep]),
      requester,
      requesterId: 'planner',
    });
    expect(routed.matched.map((rule) => rule.rule)).toEqual(['large-refunds', 'outside-calls']);
    // outside-calls' `required` alone raises the organization's own stage; large-refunds adds its stages after it.
    expect(routed.stages).toEqual([
      { name: 'team lead', approvers: ['role:lead'], required: 1 },
      { name: 'finance', approvers: ['role:finance'], required: 1 },
    ]);
    expect(routed).toMatchObject({ required: 2, gates: true });
    expect(routed.matched[1]!.because).toEqual(['step "notify" runs webhook']);
    expect(routed.standing).toBe(false);
  });

  it('each condition, and the words it is explained with', () => {
    const rules = ApprovalPolicySchema.parse({
      roles: ['ops'],
      rules: [
        { name: 'hosts', when: { hosts: ['*.example.com'] }, require: { required: 1 } },
        { name: 'recurring', when: { recurring: true }, require: { required: 1 } },
        { name: 'big', when: { minSteps: 3 }, require: { required: 1 } },
        { name: 'tagged', when: { tags: ['refund'] }, require: { required: 1 } },
        { name: 'agents', when: { requester: ['kind:agent'] }, require: { required: 1 } },
        { name: 'agent-step', when: { executors: ['agent:echo'] }, require: { required: 1 } },
        { name: 'humans', when: { executors: ['human'] }, require: { required: 1 } },
      ],
    });
    const drafted = plan({ tags: ['refund'], schedule: { every: '1h' } }, [
      { id: 'a', title: 'A', executor: { type: 'agent', agentId: 'echo' } },
      { ...webhookStep, dependsOn: ['a'] },
      { id: 'c', title: 'C', executor: { type: 'system', action: 'noop' }, dependsOn: ['notify'] },
    ]);
    const routed = routeApproval(rules, { plan: drafted, requester, requesterId: 'planner' });
    expect(Object.fromEntries(routed.matched.map((rule) => [rule.rule, rule.because]))).toEqual({
      hosts: ['step "notify" calls hooks.example.com'],
      recurring: ['it runs on a schedule'],
      big: ['it has 3 steps (at least 3)'],
      tagged: ['it is tagged refund'],
      agents: ['planner asked for it (kind:agent)'],
      'agent-step': ['step "a" runs agent:echo'],
    });
  });

  it('a URL kept as a secret matches any hosts rule: it may go to any of its hosts', () => {
    const rules = ApprovalPolicySchema.parse({ rules: [{ name: 'crm', when: { hosts: ['api.crm.com'] }, require: { required: 1 } }] });
    const secretUrl = { ...webhookStep, executor: { type: 'system', action: 'webhook', url: { $secret: 'hook' } } };
    const routed = routeApproval(rules, { plan: plan({}, [secretUrl]), requester, requesterId: 'planner' });
    expect(routed.matched[0]!.because).toEqual(['step "notify" calls a URL kept as secret "hook" (any host)']);
  });

  it('a number written as text cannot dodge a rule that compares it: the plan is refused naming it', () => {
    expect(() => checkParameters(policy.rules, plan({ parameters: { amountEur: '1200' } }))).toThrow(
      "parameters.amountEur must be a number: the organization's rule large-refunds compares it (> 1,000).",
    );
  });
});

describe('what the matching rules add up to, frozen into the run', () => {
  it('stages and their first quorum; the strictest expiry; expiry rejects if any rule says so', () => {
    const strict = ApprovalPolicySchema.parse({
      ...WORKED,
      onExpiry: 'approve',
      rules: [{ ...WORKED.rules[0]!, require: { ...WORKED.rules[0]!.require, expiresAfter: '1d', onExpiry: 'reject' } }],
    });
    const drafted = plan({ parameters: { amountEur: 2000 } });
    const rules = freezeRules(
      { policy: strict, version: 3 },
      drafted.approval,
      ['planner'],
      ['policy-rule'],
      routeApproval(strict, { plan: drafted, requester, requesterId: 'planner' }),
    );
    expect(rules).toMatchObject({
      stages: [{ name: 'approval', approvers: ['role:approver'], required: 1 }, { name: 'team lead' }, { name: 'finance' }],
      required: 1,
      expiresAfterMs: 86_400_000,
      onExpiry: 'reject',
      reminderMs: [4 * 3_600_000],
      escalations: [{ afterMs: 24 * 3_600_000, addApprovers: ['role:admin'] }],
      standing: true,
    });
  });

  it("the organization's own stage stays first and takes a draft's required; no rule takes it away", () => {
    const drafted = plan({ parameters: { amountEur: 2000 }, approval: { required: 2 } });
    const rules = freezeRules(
      { policy, version: 1 },
      drafted.approval,
      ['planner'],
      [],
      routeApproval(policy, { plan: drafted, requester, requesterId: 'planner' }),
    );
    expect(rules.stages!.map((stage) => [stage.name, stage.required])).toEqual([
      ['approval', 2],
      ['team lead', 1],
      ['finance', 1],
    ]);
    expect(rules.required).toBe(2);
  });

  it('a plan that calls out is approved standing only where a matching rule says so', () => {
    const open = ApprovalPolicySchema.parse({
      rules: [{ name: 'hooks', when: { executors: ['webhook'] }, require: { required: 1 }, standing: true }],
    });
    const calling = plan({}, [webhookStep]);
    expect(routeApproval(open, { plan: calling, requester, requesterId: 'planner' }).standing).toBe(true);
    expect(routeApproval(ApprovalPolicySchema.parse({}), { plan: calling, requester, requesterId: 'planner' }).standing).toBe(false);
    expect(routeApproval(ApprovalPolicySchema.parse({}), { plan: plan(), requester, requesterId: 'planner' }).standing).toBe(true);
  });
});

describe('a bad policy is refused naming the field', () => {
  const problems = (value: unknown) => {
    const parsed = ApprovalPolicySchema.safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it.each([
    [
      'an unknown executor',
      { rules: [{ name: 'x', when: { executors: ['robot'] }, require: { required: 1 } }] },
      'rules.0.when.executors.0: is not an executor: use agent, human, system, webhook, wait, noop or agent:ID',
    ],
    [
      'a stage naming a role the organization does not have',
      { rules: [{ name: 'x', when: {}, require: { stages: [{ name: 's', approvers: ['role:finance'] }] } }] },
      'rules.0.require.stages.0.approvers: role "finance" is not a role of this organization (approver, admin); declare it in roles',
    ],
    [
      'above on a non-number',
      { rules: [{ name: 'x', when: { parameter: { name: 'amountEur', above: 'lots' } }, require: { required: 1 } }] },
      'rules.0.when.parameter.above: must be a number',
    ],
    [
      'a comparison that can never hold',
      { rules: [{ name: 'x', when: { parameter: { name: 'n', above: 10, below: 5 } }, require: { required: 1 } }] },
      'rules.0.when.parameter: can never hold: no number is > 10 and < 5',
    ],
    [
      'a stage named as the organization’s own',
      { rules: [{ name: 'x', when: {}, require: { stages: [{ name: 'approval', approvers: ['role:approver'] }] } }] },
      `rules.0.require.stages.0.name: "approval" is the organization's own stage, which comes first; name this one otherwise`,
    ],
    [
      'one stage name with two sets of approvers',
      {
        roles: ['finance', 'cfo'],
        rules: [
          { name: 'a', when: {}, require: { stages: [{ name: 'money', approvers: ['role:finance'] }] } },
          { name: 'b', when: { tags: ['x'] }, require: { stages: [{ name: 'money', approvers: ['role:cfo'] }] } },
        ],
      },
      'rules.1.require.stages.0.approvers: stage "money" is named by an earlier rule with other approvers (role:finance); one name, one set of approvers',
    ],
    [
      'a rule loosening expiry to approve',
      { rules: [{ name: 'x', when: {}, require: { onExpiry: 'approve' } }] },
      "rules.0.require.onExpiry: approve would loosen the organization's reject",
    ],
    [
      'a reminder after the plan expires',
      { expiresAfter: '1d', reminders: ['2d'] },
      'reminders.0: reminder after 2d would never come: a plan expires after 1d',
    ],
    [
      'an escalation both adding and replacing',
      { escalations: [{ after: '1h', addApprovers: ['bob'], replaceApprovers: ['carol'] }] },
      'escalations.0: needs exactly one of addApprovers and replaceApprovers',
    ],
    [
      'two rules of one name',
      {
        rules: [
          { name: 'x', when: {}, require: { required: 1 } },
          { name: 'x', when: {}, require: { required: 1 } },
        ],
      },
      'rules.1.name: rule "x" is named twice',
    ],
    [
      'a rule that requires nothing',
      { rules: [{ name: 'x', when: {}, require: {} }] },
      'rules.0.require: must require something: approvers, required, stages, expiresAfter or onExpiry',
    ],
  ])('%s', (_, value, problem) => {
    expect(problems(value)).toContain(problem);
  });

  it('the worked policy of the docs is accepted as written', () => {
    expect(problems(WORKED)).toEqual([]);
  });
});
