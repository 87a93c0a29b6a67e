import { replacementRules } from '../../domain/approval-conditions.js';
import {
  type ApprovalRules,
  type Decider,
  completerRefusal,
  deciderRefusal,
  eligibleDeciders,
  matchesSelector,
  skipRefusal,
} from '../../domain/approval.js';
import { decideApproval, expireRun } from '../../domain/approval-steps.js';
import { type Decision, checkDecision } from '../../domain/decisions.js';
import { DEFAULT_APPROVAL_POLICY, freezeRules } from '../../domain/policy.js';
import { routeApproval } from '../../domain/policy-rules.js';
import { createRun } from '../../domain/transitions.js';
import { compileDraft } from '../../domain/validate.js';
import { revisionOf } from '../../client/revision.js';
import { linearDraft } from '../support/drafts.js';
import { runContext } from '../support/run-context.js';

const NOW = '2026-11-26T10:00:00.000Z';
const plan = compileDraft(linearDraft(2));
const person = (id: string, roles: string[] = ['approver']): Decider => ({ id, kind: 'person', roles });
const rules = (overrides: Partial<ApprovalRules> = {}): ApprovalRules => ({
  ...freezeRules({ policy: DEFAULT_APPROVAL_POLICY, version: 0 }, undefined, ['lead', 'drafter']),
  ...overrides,
});
const decision = (emittedBy: string, extra: Partial<Decision> = {}): Decision => ({
  organizationId: 'org-1',
  threadId: 't-9',
  emittedBy,
  ...extra,
});
const governed = (overrides: Partial<ApprovalRules> = {}) =>
  createRun(runContext({ rules: rules(overrides), revision: revisionOf(plan) }), plan, NOW).state;

describe('who may decide', () => {
  it('selectors name a role or a principal', () => {
    expect(matchesSelector(person('alice'), 'role:approver')).toBe(true);
    expect(matchesSelector(person('alice', []), 'role:approver')).toBe(false);
    expect(matchesSelector(person('alice', []), 'alice')).toBe(true);
  });

  it('in order: the requester, an unknown principal, agents and services, the approver lists', () => {
    const r = rules({ narrowedTo: ['alice', 'bob'] });
    expect(deciderRefusal(r, 'drafter', person('drafter'), 'approve')?.message).toBe('The requester of a plan cannot approve it.');
    expect(deciderRefusal(r, 'ghost', null, 'approve')?.message).toBe('ghost is not a principal of this organization.');
    expect(deciderRefusal(r, 'bot', { id: 'bot', kind: 'agent', roles: ['approver'] }, 'approve')?.message).toBe(
      'Agents cannot approve plans.',
    );
    expect(deciderRefusal(r, 'ci', { id: 'ci', kind: 'service', roles: ['approver'] }, 'reject')?.message).toBe(
      'Services cannot reject plans.',
    );
    expect(deciderRefusal(r, 'eve', person('eve', []), 'approve')?.message).toBe(
      "eve is not an approver under this organization's policy.",
    );
    expect(deciderRefusal(r, 'carol', person('carol'), 'approve')?.message).toBe("carol is not among this plan's approvers (alice, bob).");
    // A narrowing is for approvals: carol, an approver of the organization, may still reject.
    expect(deciderRefusal(r, 'carol', person('carol'), 'reject')).toBeUndefined();
    expect(deciderRefusal(r, 'alice', person('alice'), 'approve')).toBeUndefined();
    expect(
      eligibleDeciders(r, [person('alice'), person('carol'), person('drafter'), { id: 'bob', kind: 'agent', roles: ['approver'] }]).map(
        (who) => who.id,
      ),
    ).toEqual(['alice']);
  });

  it('steps for people: a person, and the assignee', () => {
    expect(completerRefusal('role:reviewer', 'sign', 'alice', person('alice'))?.message).toBe(
      'alice is not the assignee of node "sign" (role:reviewer).',
    );
    expect(completerRefusal('role:reviewer', 'sign', 'rita', person('rita', ['reviewer']))).toBeUndefined();
    expect(completerRefusal(undefined, 'sign', 'bot', { id: 'bot', kind: 'agent', roles: [] })?.message).toBe(
      'Agents cannot complete steps meant for people.',
    );
  });

  it('skipping approval: nobody by default', () => {
    expect(skipRefusal([], 'planner', { id: 'planner', kind: 'agent', roles: [] })?.code).toBe('not-eligible');
    expect(skipRefusal(['role:release-manager'], 'planner', { id: 'planner', kind: 'agent', roles: ['release-manager'] })).toBeUndefined();
    expect(skipRefusal(['planner'], 'planner', null)?.code).toBe('not-eligible');
  });
});

describe('freezing the policy into a run', () => {
  it('takes the organization policy, tightened by the draft, with the requesters once each', () => {
    const frozen = freezeRules(
      { policy: { ...DEFAULT_APPROVAL_POLICY, required: 2 }, version: 4 },
      { required: 3, expiresAfterMs: 3_600_000, approvers: ['alice'] },
      ['lead', 'lead'],
    );
    expect(frozen).toEqual({
      policyVersion: 4,
      approvers: ['role:approver'],
      narrowedTo: ['alice'],
      required: 3,
      expiresAfterMs: 3_600_000,
      onExpiry: 'reject',
      skipApproval: [],
      requesters: ['lead'],
      conditions: ['cross-thread', 'external-calls'],
    });
  });

  it('a replacement is held to the replaced run’s rules: every field the tighter of the two, the new narrowing, both requesters', () => {
    const replaced: ApprovalRules = {
      policyVersion: 3,
      approvers: ['role:approver'],
      narrowedTo: ['alice', 'bob'],
      required: 2,
      expiresAfterMs: 7 * 86_400_000,
      onExpiry: 'reject',
      skipApproval: ['role:release', 'ops'],
      requesters: ['lead'],
      conditions: ['cross-thread', 'recurring'],
    };
    const looser: ApprovalRules = {
      policyVersion: 1,
      approvers: ['role:approver', 'mallory'],
      narrowedTo: ['carol'],
      required: 1,
      expiresAfterMs: 30 * 86_400_000,
      onExpiry: 'approve',
      skipApproval: ['ops', 'planner'],
      requesters: ['other'],
      conditions: ['cross-thread', 'external-calls'],
    };
    expect(replacementRules(replaced, looser, ['planner', 'planner'])).toEqual({
      policyVersion: 3,
      approvers: ['role:approver'],
      narrowedTo: ['carol'],
      required: 2,
      expiresAfterMs: 7 * 86_400_000,
      onExpiry: 'reject',
      skipApproval: ['ops'],
      requesters: ['lead', 'other', 'planner'],
      conditions: ['cross-thread', 'external-calls', 'recurring'],
    });
    // Proposing nothing keeps the replaced run's rules; where expiry approves, the later expiry is the tighter.
    const approving = { ...replaced, onExpiry: 'approve' as const, conditions: undefined };
    expect(replacementRules(approving, undefined, ['planner'])).toMatchObject({
      ...approving,
      requesters: ['lead', 'planner'],
      conditions: ['cross-thread'],
    });
    expect(replacementRules(approving, { ...looser, onExpiry: 'approve' }, []).expiresAfterMs).toBe(30 * 86_400_000);
  });

  it('refuses a draft that loosens it, naming every problem', () => {
    expect(() =>
      freezeRules(
        { policy: { ...DEFAULT_APPROVAL_POLICY, required: 2 }, version: 1 },
        { required: 1, onExpiry: 'approve', expiresAfterMs: 30 * 86_400_000 },
        ['lead'],
      ),
    ).toThrow(
      "A draft may only tighten the organization's approval policy: approval.required 1 is below the organization's 2; approval.expiresAfter is longer than the organization's 7d; approval.onExpiry approve would loosen the organization's reject.",
    );
  });

  it('a revision is stable for the same plan and changes with it', () => {
    expect(revisionOf(compileDraft(linearDraft(2)))).toBe(revisionOf(plan));
    expect(revisionOf(compileDraft(linearDraft(3)))).not.toBe(revisionOf(plan));
    expect(revisionOf(compileDraft(linearDraft(2, { schedule: { every: '1h' } })))).not.toBe(revisionOf(plan));
  });
});

describe('a rule’s fresh sign-in (freshSignIn)', () => {
  const fresh = (minutesAgo: number) => ({
    kind: 'sign-in' as const,
    id: 'signin_1',
    authTime: new Date(Date.parse(NOW) - minutesAgo * 60_000).toISOString(),
  });
  it('an approval needs a sign-in through the identity provider within the window, checked at the time of the decision', () => {
    const state = governed({ freshSignInMs: 5 * 60_000 });
    const alice = person('alice');
    expect(checkDecision(state, decision('alice', { credential: fresh(4) }), 'approve', alice, NOW).refusal).toBeUndefined();
    expect(checkDecision(state, decision('alice', { credential: fresh(6) }), 'approve', alice, NOW).refusal?.message).toBe(
      `Approving this plan needs a sign-in through your organization's identity provider within the last 5m; you signed in at ${fresh(6).authTime}: sign in again, then approve.`,
    );
    for (const credential of [{ kind: 'token' as const, id: 'tok_1' }, undefined]) {
      const refusal = checkDecision(state, decision('alice', credential ? { credential } : {}), 'approve', alice, NOW).refusal;
      expect(refusal).toMatchObject({ code: 'unauthorized' });
      expect(refusal!.message).toMatch(/sign in to the inbox and approve there\.$/);
    }
    // A rejection needs no fresh sign-in; a plan without the rule takes any credential.
    expect(checkDecision(state, decision('alice'), 'reject', alice, NOW).refusal).toBeUndefined();
    expect(checkDecision(governed(), decision('alice'), 'approve', alice, NOW).refusal).toBeUndefined();
  });

  it('the rule makes a plan never approved standing, and a replacement keeps the fresher window', () => {
    const routed = freezeRules(
      {
        policy: { ...DEFAULT_APPROVAL_POLICY, rules: [{ name: 'fresh', when: {}, require: { required: 1 }, freshSignIn: '5m' }] },
        version: 1,
      },
      undefined,
      ['lead'],
      [],
      routeApproval(
        { rules: [{ name: 'fresh', when: {}, require: { required: 1 }, freshSignIn: '5m' }], approvers: ['role:approver'], required: 1 },
        { plan, requester: null, requesterId: 'lead' },
      ),
    );
    expect(routed).toMatchObject({ freshSignInMs: 300_000, standing: false });
    expect(replacementRules(rules({ freshSignInMs: 60_000 }), rules({ freshSignInMs: 600_000 }), ['lead']).freshSignInMs).toBe(60_000);
  });
});

describe('checking a decision under the gate', () => {
  it('a stale revision, then the requester, before any lookup; kind and eligibility once looked up', () => {
    const state = governed();
    expect(checkDecision(state, decision('alice', { expectedRevision: '00000000' }), 'approve').refusal?.code).toBe('stale-revision');
    expect(checkDecision(state, decision('lead'), 'approve').refusal?.message).toBe('The requester of a plan cannot approve it.');
    expect(checkDecision(state, decision('bot'), 'approve').refusal).toBeUndefined();
    expect(checkDecision(state, decision('bot'), 'approve', { id: 'bot', kind: 'agent', roles: ['approver'] }).refusal?.message).toBe(
      'Agents cannot approve plans.',
    );
    expect(checkDecision(state, decision('alice', { expectedRevision: state.revision! }), 'approve', person('alice')).value).toBeDefined();
  });

  it('a replaced run names its replacement', () => {
    const state = { ...governed(), status: 'aborted' as const, replacedByRunId: 'r2' };
    expect(checkDecision(state, decision('alice'), 'approve').refusal).toMatchObject({
      code: 'stale-revision',
      message: 'Plan run r1 was replaced by run r2; decide that one.',
    });
  });
});

describe('quorum and expiry', () => {
  it('counts each person once; the approval that completes the quorum approves in the same step', () => {
    const state = governed({ required: 2 });
    expect(state.approval).toEqual({ required: 2, approvals: [], expiresAt: '2026-12-03T10:00:00.000Z', policyVersion: 0 });
    const first = decideApproval(state, plan, decision('alice', { reason: 'ok' }), NOW)!;
    expect(first.state.status).toBe('pending-approval');
    expect(first.transition.events.map((event) => event.eventType)).toEqual(['plan-approval-recorded']);
    expect(decideApproval(first.state, plan, decision('alice'), NOW)).toBeUndefined();
    const second = decideApproval(first.state, plan, decision('bob'), NOW)!;
    expect(second.state.status).toBe('running');
    expect(second.transition.events.map((event) => event.eventType)).toEqual([
      'plan-approval-recorded',
      'plan-approved',
      'checkpoint-saved',
    ]);
    expect(second.state.approval!.approvals).toEqual([
      { by: 'alice', at: NOW, reason: 'ok', credential: { kind: 'temporal' } },
      { by: 'bob', at: NOW, credential: { kind: 'temporal' } },
    ]);
  });

  it('a pending run arms its expiry; at expiry it is rejected, or approved, by system', () => {
    const created = createRun(runContext({ rules: rules(), revision: 'abcdef0123456789' }), plan, NOW);
    expect(created.effects).toContainEqual({ kind: 'arm-expiry', at: '2026-12-03T10:00:00.000Z' });
    const rejected = expireRun(created.state, plan, '2026-12-03T10:00:00.000Z');
    expect(rejected.state.status).toBe('aborted');
    expect(rejected.transition.events.map((event) => [event.eventType, event.emittedBy])).toEqual([
      ['plan-expired', 'system'],
      ['plan-rejected', 'system'],
      ['checkpoint-saved', 'system'],
    ]);
    expect(rejected.transition.events[1]!.detail).toMatchObject({ expired: true, resolution: 'rejected' });
    const approving = createRun(runContext({ rules: rules({ onExpiry: 'approve' }) }), plan, NOW).state;
    expect(expireRun(approving, plan, NOW).state.status).toBe('running');
  });

  it('a run from before the gate approves with one decision and arms nothing', () => {
    const legacy = createRun(runContext(), plan, NOW);
    expect(legacy.state.approval).toBeUndefined();
    expect(legacy.effects.some((effect) => effect.kind === 'arm-expiry')).toBe(false);
    expect(decideApproval(legacy.state, plan, decision('anyone'), NOW)!.transition.events.map((event) => event.eventType)).toEqual([
      'plan-approved',
      'checkpoint-saved',
    ]);
  });
});
