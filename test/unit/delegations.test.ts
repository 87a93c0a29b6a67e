import { formatDelegation } from '../../cli/format.js';
import { type Delegation, DelegationSchema, MAX_DELEGATION_DAYS, isActive, untilInstant, untilProblem } from '../../domain/delegations.js';
import { LIMITS } from '../../domain/limits.js';
import { refusal } from '../../domain/permissions.js';
import type { Principal } from '../../domain/principals.js';
import { DelegationBodySchema, DelegationRequestSchema } from '../../domain/requests.js';

/** Delegations' contracts, when one holds, and who may make, list and revoke one (domain/permissions.ts). */

const request = { organizationId: 'acme', createdBy: 'alice', to: 'bob', until: '2026-12-24' };
const problems = (value: unknown) => {
  const parsed = DelegationRequestSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('the request that makes a delegation', () => {
  it('takes a person to delegate to, an ISO date or date and time with its offset, an optional reason and delegator', () => {
    expect(problems(request)).toEqual([]);
    expect(problems({ ...request, until: '2026-12-24T18:30:00Z', reason: 'holiday', from: 'carol' })).toEqual([]);
    expect(problems({ ...request, until: '2026-12-24T18:30:00.000+02:00' })).toEqual([]);
  });

  it('refuses an until that is no date, a day that does not exist, or a time without its offset', () => {
    for (const until of ['tomorrow', '2026-02-30', '2026-12-24T18:30', '24/12/2026', '', 1766534400000, null]) {
      expect(problems({ ...request, until })).toEqual([expect.stringMatching(/^until: must be an ISO date \(2026-12-24/)]);
    }
  });

  it('refuses what a request may not say: a role for a person, an empty or overlong reason, the record’s own fields, no delegate', () => {
    expect(problems({ ...request, to: 'role:approver' })).toEqual([expect.stringMatching(/^to: must not start with "role:"/)]);
    expect(problems({ ...request, from: 'role:admin' })).toHaveLength(1);
    expect(problems({ ...request, reason: '   ' })).toHaveLength(1);
    expect(problems({ ...request, reason: 'x'.repeat(LIMITS.maxObjective + 1) })).toHaveLength(1);
    expect(problems({ ...request, reason: 'x'.repeat(LIMITS.maxObjective) })).toEqual([]);
    for (const field of ['delegationId', 'revokedAt', 'revokedBy', 'createdAt'])
      expect(problems({ ...request, [field]: 'x' })).toEqual([expect.stringContaining('Unrecognized key')]);
    const { to: _to, ...noDelegate } = request;
    expect(problems(noDelegate)).toEqual(['to: Invalid input: expected string, received undefined']);
  });

  it('as an HTTP body: the organization and the maker are the token’s, so they may be left out', () => {
    expect(DelegationBodySchema.safeParse({ to: 'bob', until: '2026-12-24' }).success).toBe(true);
    expect(DelegationRequestSchema.safeParse({ to: 'bob', until: '2026-12-24' }).success).toBe(false);
  });
});

describe('until', () => {
  const now = '2026-10-01T12:00:00.000Z';

  it('a date alone is its midnight UTC; a date and time is the instant its offset says', () => {
    expect(untilInstant('2026-12-24')).toBe('2026-12-24T00:00:00.000Z');
    expect(untilInstant('2026-12-24T18:30:00+02:00')).toBe('2026-12-24T16:30:00.000Z');
  });

  it(`must be in the future and at most ${MAX_DELEGATION_DAYS} days ahead, which the refusal says`, () => {
    expect(untilProblem('2026-10-01T12:00:00.001Z', now)).toBeUndefined();
    expect(untilProblem(now, now)).toMatch(/^until must be in the future/);
    expect(untilProblem('2026-09-30T00:00:00.000Z', now)).toMatch(/^until must be in the future/);
    expect(untilProblem('2026-12-30T12:00:00.000Z', now)).toBeUndefined(); // 90 days to the millisecond
    expect(untilProblem('2026-12-30T12:00:00.001Z', now)).toMatch(/at most 90 days ahead \(by 2026-12-30T12:00:00.000Z\)/);
  });
});

describe('when a delegation holds', () => {
  const delegation = { until: '2026-12-24T00:00:00.000Z' };
  it('before until, unless revoked; not at until itself', () => {
    expect(isActive(delegation, '2026-12-23T23:59:59.999Z')).toBe(true);
    expect(isActive(delegation, '2026-12-24T00:00:00.000Z')).toBe(false);
    expect(isActive(delegation, '2027-01-01T00:00:00.000Z')).toBe(false);
    expect(isActive({ ...delegation, revokedAt: '2026-11-01T00:00:00.000Z' }, '2026-10-01T00:00:00.000Z')).toBe(false);
  });
});

describe('who may', () => {
  const as = (id: string, kind: Principal['kind'], roles: string[] = []): Principal => ({ organizationId: 'acme', id, kind, roles });
  const alice = as('alice', 'person', ['approver']);
  const admin = as('ops', 'person', ['admin']);

  it('make one: a person for themselves, an admin for anyone; never an agent or a service, even one given admin', () => {
    expect(refusal(alice, 'delegations.create', { delegator: 'alice' })).toBeUndefined();
    expect(refusal(alice, 'delegations.create', { delegator: 'carol' })).toMatch(
      /^Only a person, for themselves \(an admin, for any person\) may delegate this person's approvals; alice \(person, approver\) may not\.$/,
    );
    expect(refusal(admin, 'delegations.create', { delegator: 'carol' })).toBeUndefined();
    for (const other of [as('planner', 'agent', ['admin', 'approver']), as('svc', 'service', ['admin'])]) {
      expect(refusal(other, 'delegations.create', { delegator: other.id })).toBeDefined();
      expect(refusal(other, 'delegations.create', { delegator: 'alice' })).toBeDefined();
    }
  });

  it('list every one: an admin only (a person, an agent given admin: not)', () => {
    expect(refusal(admin, 'delegations.list-all')).toBeUndefined();
    expect(refusal(alice, 'delegations.list-all')).toBeDefined();
    expect(refusal(as('planner', 'agent', ['admin']), 'delegations.list-all')).toBeDefined();
  });

  it('revoke one: its delegator, its delegate or an admin', () => {
    const subject = { delegator: 'alice', delegate: 'bob' };
    expect(refusal(alice, 'delegations.revoke', subject)).toBeUndefined();
    expect(refusal(as('bob', 'person'), 'delegations.revoke', subject)).toBeUndefined();
    expect(refusal(admin, 'delegations.revoke', subject)).toBeUndefined();
    expect(refusal(as('carol', 'person', ['approver']), 'delegations.revoke', subject)).toBeDefined();
    // An agent that somehow shares a person's id is still no person.
    expect(refusal(as('bob', 'agent'), 'delegations.revoke', subject)).toBeDefined();
  });
});

describe('the record', () => {
  const delegation: Delegation = {
    delegationId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    organizationId: 'acme',
    from: 'alice',
    to: 'bob',
    until: '2026-12-24T00:00:00.000Z',
    reason: 'holiday',
    createdBy: 'alice',
    createdAt: '2026-12-01T09:00:00.000Z',
  };

  it('is what its schema says, revoked or not', () => {
    expect(DelegationSchema.parse(delegation)).toEqual(delegation);
    const revoked = { ...delegation, revokedAt: '2026-12-02T09:00:00.000Z', revokedBy: 'ops' };
    expect(DelegationSchema.parse(revoked)).toEqual(revoked);
  });

  it('reads in one line as the CLI prints it', () => {
    expect(formatDelegation(delegation)).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e  alice → bob  until 2026-12-24T00:00:00.000Z  (holiday)',
    );
    expect(formatDelegation({ ...delegation, reason: undefined, revokedAt: '2026-12-02T09:00:00.000Z', revokedBy: 'ops' })).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e  alice → bob  until 2026-12-24T00:00:00.000Z  revoked 2026-12-02T09:00:00.000Z by ops',
    );
  });
});
