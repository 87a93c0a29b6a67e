import { randomUUID } from 'node:crypto';

import type { Delegation } from '../../domain/delegations.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { crossThread } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith, tokenFor } from '../support/principals.js';

/**
 * Delegations through the HTTP API on a real SurrealDB, tried as someone who wants to approve as
 * another would try it: delegating someone else's approvals, to an agent, to themselves, for
 * ever; reading or revoking what is not theirs; reaching another organization's. Each refusal
 * names its problem and stores nothing. (That a delegate's approval counts for the delegator is
 * the workflow's, tried with the approval gate.)
 */

const { stack, call } = apiStackForFile();

type ErrorBody = { error: { code: string; message: string } };
const DAY = 24 * 60 * 60 * 1000;
/** `days` from now, as an ISO instant. */
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();

async function organization() {
  const org = await organizationWith(stack(), ['bob', 'carol', 'dave']);
  return { ...org, service: await tokenFor(stack(), org.organizationId, 'mailer', { kind: 'service', roles: [] }) };
}

const delegate = (token: string, body: Record<string, unknown>) => call<Delegation & ErrorBody>(token, 'POST', '/v1/delegations', body);
const list = async (token: string, query = '') => (await call<Delegation[]>(token, 'GET', `/v1/delegations${query}`)).body;
const revoke = (token: string, id: string) => call<Delegation & ErrorBody>(token, 'DELETE', `/v1/delegations/${id}`);

it('a person delegates their own approvals to another person, until a date, with a reason; the answer is the delegation', async () => {
  const org = await organization();
  const until = inDays(10).slice(0, 10); // a date alone: its midnight UTC
  const made = await delegate(org.alice, { to: 'bob', until, reason: 'holiday' });
  expect(made.status).toBe(201);
  expect(made.body).toEqual({
    delegationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    organizationId: org.organizationId,
    from: 'alice',
    to: 'bob',
    until: `${until}T00:00:00.000Z`,
    reason: 'holiday',
    createdBy: 'alice',
    createdAt: expect.any(String),
  });
  expect(await list(org.admin)).toEqual([made.body]);
  // The workflow's lookup: bob's active delegations, now.
  expect(await stack().store.delegations.activeTo(org.organizationId, 'bob', new Date().toISOString())).toEqual([made.body]);
});

it('refuses, naming the problem and storing nothing: an agent or a service delegating, a person delegating another’s approvals, a forged maker', async () => {
  const org = await organization();
  const until = inDays(7);
  for (const token of [org.planner, org.service]) {
    const refused = await delegate(token, { to: 'bob', until });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/^Only a person, for themselves \(an admin, for any person\) may delegate/);
  }
  // An agent cannot delegate a person's approvals either, even naming them.
  expect((await delegate(org.planner, { from: 'alice', to: 'bob', until })).status).toBe(403);
  const others = await delegate(org.carol, { from: 'alice', to: 'carol', until });
  expect(others).toMatchObject({
    status: 403,
    body: { error: { code: 'forbidden', message: expect.stringMatching(/carol \(person, approver\) may not\.$/) } },
  });
  expect((await delegate(org.carol, { to: 'bob', until, createdBy: 'alice' })).body.error).toMatchObject({
    code: 'forbidden',
    message: "createdBy is the token's principal (carol); it cannot be set to another.",
  });
  expect((await delegate(org.carol, { to: 'bob', until, organizationId: 'elsewhere' })).status).toBe(403);
  expect(await list(org.admin)).toEqual([]);
});

it('refuses a delegate who is no person, oneself, an unknown or disabled principal, and an until past or over 90 days ahead', async () => {
  const org = await organization();
  await stack().store.principals.save({ organizationId: org.organizationId, id: 'gone', kind: 'person', roles: ['approver'] });
  await stack().store.principals.setDisabled(org.organizationId, 'gone', true, 'ops');
  const until = inDays(7);
  const refusals: Array<[Record<string, unknown>, RegExp]> = [
    [{ to: 'planner', until }, /^A delegation to an agent is refused: planner is an agent/],
    [{ to: 'mailer', until }, /^A delegation to a service is refused: mailer is a service/],
    [{ to: 'alice', until }, /^A delegation to oneself is refused/],
    [{ from: 'alice', to: 'alice', until }, /^A delegation to oneself is refused/],
    [{ to: 'mallory', until }, /^mallory is not a principal of org-/],
    [{ to: 'gone', until }, /^gone is not a principal of org-/],
    [{ to: 'bob', until: new Date(Date.now() - 60_000).toISOString() }, /until must be in the future/],
    [{ to: 'bob', until: inDays(91) }, /until must be at most 90 days ahead/],
    [{ to: 'bob', until: 'next week' }, /until: must be an ISO date/],
    [{ to: 'bob', until, reason: 'x'.repeat(4001) }, /reason:/],
    [{ to: 'bob', until, revokedAt: inDays(1) }, /Unrecognized key/],
  ];
  for (const [body, message] of refusals) {
    const refused = await delegate(org.alice, body);
    expect({ body, status: refused.status, code: refused.body.error?.code }).toEqual({ body, status: 400, code: 'invalid-input' });
    expect(refused.body.error.message).toMatch(message);
  }
  // An admin delegates any person's approvals, but only a person's, and only to a person.
  expect((await delegate(org.admin, { from: 'planner', to: 'bob', until })).body.error.message).toMatch(
    /^Only a person's approvals can be delegated: planner is an agent/,
  );
  expect((await delegate(org.admin, { from: 'mallory', to: 'bob', until })).body.error.message).toMatch(/^mallory is not a principal/);
  expect((await delegate(org.admin, { from: 'alice', to: 'mailer', until })).status).toBe(400);
  expect(await list(org.admin)).toEqual([]);
  // An admin's delegation for a person records who made it.
  const made = await delegate(org.admin, { from: 'alice', to: 'bob', until });
  expect(made).toMatchObject({ status: 201, body: { from: 'alice', to: 'bob', createdBy: 'ops' } });
});

it('a person lists only the delegations from or to them; an admin every one; an agent none', async () => {
  const org = await organization();
  const until = inDays(7);
  const aliceToBob = (await delegate(org.alice, { to: 'bob', until })).body;
  const carolToDave = (await delegate(org.carol, { to: 'dave', until })).body;
  const bobToCarol = (await delegate(org.bob, { to: 'carol', until })).body;
  expect(await list(org.alice)).toEqual([aliceToBob]);
  expect(await list(org.bob)).toEqual([aliceToBob, bobToCarol]);
  expect(await list(org.dave)).toEqual([carolToDave]);
  expect(await list(org.planner)).toEqual([]);
  expect(await list(org.admin)).toEqual([aliceToBob, carolToDave, bobToCarol]);
  // ?active=true leaves out a revoked one.
  expect((await revoke(org.alice, aliceToBob.delegationId)).status).toBe(200);
  expect(await list(org.bob, '?active=true')).toEqual([bobToCarol]);
  expect((await list(org.bob)).map((delegation) => delegation.delegationId)).toEqual([aliceToBob.delegationId, bobToCarol.delegationId]);
  expect((await call(org.bob, 'GET', '/v1/delegations?active=yes')).status).toBe(400);
});

it('revoking: a third person, an agent cannot (not found, it still holds); the delegate and an admin can, once', async () => {
  const org = await organization();
  const until = inDays(7);
  const first = (await delegate(org.alice, { to: 'bob', until })).body;
  for (const token of [org.carol, org.planner, org.service]) {
    expect(await revoke(token, first.delegationId)).toMatchObject({ status: 404, body: { error: { code: 'not-found' } } });
  }
  expect(await stack().store.delegations.activeTo(org.organizationId, 'bob', new Date().toISOString())).toEqual([first]);
  // The delegate may give it up.
  const revoked = await revoke(org.bob, first.delegationId);
  expect(revoked).toMatchObject({ status: 200, body: { ...first, revokedAt: expect.any(String), revokedBy: 'bob' } });
  expect(await stack().store.delegations.activeTo(org.organizationId, 'bob', new Date().toISOString())).toEqual([]);
  // Revoking again is refused and keeps the first revocation.
  const again = await revoke(org.alice, first.delegationId);
  expect(again).toMatchObject({
    status: 409,
    body: { error: { code: 'not-active', message: expect.stringContaining('revoked already, by bob') } },
  });
  expect((await list(org.admin))[0]).toEqual(revoked.body);
  // An admin may revoke anyone's.
  const second = (await delegate(org.carol, { to: 'dave', until })).body;
  expect(await revoke(org.admin, second.delegationId)).toMatchObject({ status: 200, body: { revokedBy: 'ops' } });
  // Unknown, and not an id at all.
  expect((await revoke(org.admin, randomUUID())).status).toBe(404);
  expect((await revoke(org.admin, 'not-an-id')).status).toBe(400);
});

it("another organization's delegations are not found: not listed, not revoked, not looked up", async () => {
  const org = await organization();
  const other = await organization();
  const theirs = (await delegate(other.alice, { to: 'bob', until: inDays(7) })).body;
  expect(await list(org.admin)).toEqual([]);
  expect(await list(org.bob)).toEqual([]);
  expect(await revoke(org.admin, theirs.delegationId)).toMatchObject({ status: 404, body: { error: { code: 'not-found' } } });
  expect(await revoke(org.alice, theirs.delegationId)).toMatchObject({ status: 404 });
  expect(await stack().store.delegations.activeTo(org.organizationId, 'bob', new Date().toISOString())).toEqual([]);
  expect(await list(other.admin)).toEqual([theirs]);
});

it('the lookup the workflow makes: what holds at an instant, to that delegate only, ended and revoked ones left out', async () => {
  const org = await organization();
  const { delegations } = stack().store;
  const at = '2026-06-01T00:00:00.000Z';
  const record = (from: string, to: string, until: string, extra: Partial<Delegation> = {}): Delegation => ({
    delegationId: randomUUID(),
    organizationId: org.organizationId,
    from,
    to,
    until,
    createdBy: from,
    createdAt: '2026-05-01T00:00:00.000Z',
    ...extra,
  });
  const holding = await delegations.create(record('alice', 'bob', '2026-06-10T00:00:00.000Z'));
  const alsoHolding = await delegations.create(record('carol', 'bob', '2026-06-01T00:00:00.001Z', { reason: 'conference' }));
  await delegations.create(record('dave', 'bob', at)); // ends at that instant
  await delegations.create(record('ops', 'bob', '2026-07-01T00:00:00.000Z', { revokedAt: '2026-05-15T00:00:00.000Z', revokedBy: 'ops' }));
  await delegations.create(record('alice', 'carol', '2026-06-10T00:00:00.000Z'));
  expect(await delegations.activeTo(org.organizationId, 'bob', at)).toEqual(expect.arrayContaining([holding, alsoHolding]));
  expect(await delegations.activeTo(org.organizationId, 'bob', at)).toHaveLength(2);
  expect(await delegations.activeTo(org.organizationId, 'bob', '2026-06-05T00:00:00.000Z')).toEqual([holding]);
  expect(await delegations.activeTo(org.organizationId, 'dave', at)).toEqual([]);
  expect(await delegations.activeTo(`org-${randomUUID()}`, 'bob', at)).toEqual([]);
  expect(await delegations.list(org.organizationId, { involving: 'bob', activeAt: at })).toHaveLength(2);
  expect(await delegations.list(org.organizationId, { involving: 'carol' })).toHaveLength(2);
});

it('bob, no approver, approves for alice once she delegated to him: his review says he may, the run records bob for alice; revoked, he may not', async () => {
  const org = await organizationWith(stack(), []);
  const bob = await tokenFor(stack(), org.organizationId, 'bob', { roles: [] });
  const plan = async () => (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread())).body;
  const before = await plan();
  const refused = await call<ErrorBody>(bob, 'POST', `/v1/plans/${before.runId}/approve`, {});
  expect(refused).toMatchObject({ status: 403, body: { error: { message: "bob is not an approver under this organization's policy." } } });

  const made = await delegate(org.alice, { to: 'bob', until: inDays(3) });
  const run = await plan();
  expect((await call<{ you: { may: boolean } }>(bob, 'GET', `/v1/plans/${run.runId}/review`)).body.you.may).toBe(true);
  const approved = await call<PlanSnapshot>(bob, 'POST', `/v1/plans/${run.runId}/approve`, { reason: 'For alice, who is away.' });
  expect(approved.status).toBe(200);
  expect(approved.body.approval!.approvals).toMatchObject([{ by: 'bob', onBehalfOf: 'alice' }]);
  // alice cannot add her own approval to the one made for her.
  const events = (await call<PlanSnapshot>(org.alice, 'GET', `/v1/plans/${run.runId}?include=events`)).body.events!;
  expect(events.find((event) => event.eventType === 'plan-approved')).toMatchObject({ emittedBy: 'bob', detail: { onBehalfOf: 'alice' } });

  expect((await revoke(org.alice, made.body.delegationId)).status).toBe(200);
  const after = await plan();
  expect((await call<ErrorBody>(bob, 'POST', `/v1/plans/${after.runId}/approve`, {})).status).toBe(403);
});
