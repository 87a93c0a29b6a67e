import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { WorkflowUpdateFailedError } from '@temporalio/client';

import type { Stack } from '../../app/stack.js';
import { LinkSigner } from '../../auth/links.js';
import { OidcSignIn } from '../../auth/oidc.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { freePort } from '../../temporal/free-port.js';
import { approvePlanUpdate } from '../../workflows/messages.js';
import { crossThread } from '../support/drafts.js';
import { askApi } from '../support/http.js';
import { CookieJar, type IdentityProvider, stackWithSignIn, walkSignIn } from '../support/identity-provider.js';
import { tokenFor } from '../support/principals.js';

/**
 * People sign in through the organization's identity provider (issue 24, items 1–2), against a
 * real OpenID provider (oidc-provider): the authorization-code flow with PKCE, a person made or
 * refreshed from the claims, a session cookie that acts as them with its CSRF token; and each
 * way around it tried: no CSRF token, a tampered cookie, a replayed state, a group removed, an
 * agent signing in, a disabled person, a session signed out.
 */

const ORGANIZATION = 'acme-sso';
let stack: Stack;
let idp: IdentityProvider;
let apiUrl: string;
let host: string;

beforeAll(async () => {
  ({ stack, idp, apiUrl } = await stackWithSignIn(ORGANIZATION));
  host = new URL(apiUrl).host;
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await idp?.stop();
});

/** Signs `login` in with a fresh browser; answers the browser and where it landed. */
async function signedIn(login: string, groups: string[], returnTo = '/inbox#/plan/r-1') {
  idp.groups.set(login, groups);
  const jar = new CookieJar();
  const walk = await walkSignIn(jar, `${apiUrl}/auth/login?returnTo=${encodeURIComponent(returnTo)}`, login, `${apiUrl}/inbox`);
  return { jar, ...walk };
}

/** A request to the API from a browser's session (cookie; the CSRF token when `csrf`). */
async function asSession(jar: CookieJar, method: string, path: string, body?: unknown, csrf?: string) {
  const response = await jar.fetch(`${apiUrl}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(csrf ? { 'x-csrf-token': csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } },
  };
}

async function sessionOf(jar: CookieJar): Promise<{ signedIn: boolean; csrfToken?: string; principalId?: string }> {
  return (await jar.fetch(`${apiUrl}/auth/session`)).json() as Promise<{ signedIn: boolean; csrfToken?: string }>;
}

/** A signed link approving `run` as alice, as a notification would carry it. */
function approvalLinkFor(run: PlanSnapshot): string {
  const secret = readFileSync(join(stack.config.dataDir, 'link-secret'), 'utf8').trim();
  return new LinkSigner(secret, () => apiUrl).link({
    runId: run.runId,
    organizationId: ORGANIZATION,
    decision: 'approve',
    principalId: 'alice',
    revision: run.revision!,
  });
}

async function pendingPlan(): Promise<PlanSnapshot> {
  const planner = await tokenFor(stack, ORGANIZATION, 'planner', { kind: 'agent', roles: [] });
  return (await askApi<PlanSnapshot>(apiUrl, planner, 'POST', '/v1/plans', crossThread())).body;
}

it('alice signs in and comes back where she was going; her session acts as her, and a change needs its CSRF token', async () => {
  const { jar, landed } = await signedIn('alice', ['approver', 'not-a-role']);
  expect(landed).toBe(`${apiUrl}/inbox#/plan/r-1`);
  const cookie = jar.get(host, 'plans_session')!;
  expect(cookie).toBeDefined();

  const me = await asSession(jar, 'GET', '/v1/me');
  expect(me.body).toMatchObject({ organizationId: ORGANIZATION, id: 'alice', kind: 'person', roles: ['approver'] });
  expect(me.body.signedIn).toMatchObject({ issuer: idp.issuer });

  const run = await pendingPlan();
  const refused = await asSession(jar, 'POST', `/v1/plans/${run.runId}/approve`, { reason: 'Fine.' });
  expect(refused.status).toBe(403);
  expect(refused.body.error!.message).toMatch(/needs its CSRF token \(x-csrf-token/);
  const forged = await asSession(jar, 'POST', `/v1/plans/${run.runId}/approve`, { reason: 'Fine.' }, 'not-the-token');
  expect(forged.status).toBe(403);
  const { csrfToken } = await sessionOf(jar);
  const approved = await asSession(jar, 'POST', `/v1/plans/${run.runId}/approve`, { reason: 'Fine.' }, csrfToken);
  expect(approved.status).toBe(200);
  const stored = await asSession(jar, 'GET', `/v1/plans/${run.runId}?include=approvals`);
  const [decision] = stored.body.approvals as Array<{ emittedBy: string; credential: { kind: string; authTime: string } }>;
  expect(decision).toMatchObject({ emittedBy: 'alice', credential: { kind: 'sign-in' } });
  expect(Date.parse(decision!.credential.authTime)).toBeGreaterThan(Date.now() - 120_000);
});

it('a tampered session cookie is no session; a cookie never issued neither', async () => {
  const { jar } = await signedIn('carol', ['approver']);
  const cookie = jar.get(host, 'plans_session')!;
  const flipped = cookie.slice(0, 10) + (cookie[10] === 'A' ? 'B' : 'A') + cookie.slice(11);
  jar.set(host, 'plans_session', flipped);
  expect((await asSession(jar, 'GET', '/v1/me')).status).toBe(401);
  jar.set(host, 'plans_session', 'made-up');
  expect((await asSession(jar, 'GET', '/v1/me')).status).toBe(401);
});

it('a replayed callback (its code and state used already), or one this browser never started, signs nobody in', async () => {
  let callback = '';
  idp.groups.set('dave', ['approver']);
  const jar = new CookieJar();
  await walkSignIn(jar, `${apiUrl}/auth/login`, 'dave', `${apiUrl}/inbox`, (url) => (callback = url));
  expect(callback).toMatch(/\/auth\/callback\?code=/);
  const again = await jar.fetch(callback);
  expect(again.status).toBe(400);
  expect(await again.text()).toMatch(/was not started here, was finished already/);
  const stranger = new CookieJar();
  expect((await stranger.fetch(callback)).status).toBe(400);
  expect((await asSession(stranger, 'GET', '/v1/me')).status).toBe(401);
});

it('a person removed from a group loses the role at the next sign-in; roles come only from the groups that name one', async () => {
  const first = await signedIn('erin', ['approver', 'admin']);
  expect((await asSession(first.jar, 'GET', '/v1/me')).body.roles).toEqual(['admin', 'approver']);
  const second = await signedIn('erin', []);
  expect((await asSession(second.jar, 'GET', '/v1/me')).body.roles).toEqual([]);
  const run = await pendingPlan();
  const { csrfToken } = await sessionOf(second.jar);
  const refused = await asSession(second.jar, 'POST', `/v1/plans/${run.runId}/approve`, {}, csrfToken);
  expect(refused.status).toBe(403);
  expect(refused.body.error!.code).toBe('not-eligible');
});

it('an agent never becomes a person by signing in as its id; a disabled person stays disabled', async () => {
  const agentToken = await tokenFor(stack, ORGANIZATION, 'scout', { kind: 'agent', roles: [] });
  const agent = await signedIn('scout', ['approver', 'admin']);
  expect(agent.status).toBe(403);
  expect(agent.text).toMatch(/scout is an agent of acme-sso: only persons sign in/);
  expect((await asSession(agent.jar, 'GET', '/v1/me')).status).toBe(401);
  expect((await askApi<{ kind: string; roles: string[] }>(apiUrl, agentToken, 'GET', '/v1/me')).body).toMatchObject({
    kind: 'agent',
    roles: [],
  });

  const frank = await signedIn('frank', ['approver']);
  const admin = await tokenFor(stack, ORGANIZATION, 'ops', { roles: ['admin'] });
  expect((await askApi(apiUrl, admin, 'POST', '/v1/principals/frank/disable')).status).toBe(200);
  expect((await asSession(frank.jar, 'GET', '/v1/me')).status).toBe(401);
  const again = await signedIn('frank', ['approver']);
  expect(again.status).toBe(403);
  expect(again.text).toMatch(/frank is disabled in acme-sso/);
});

it('signing out ends the session here and at the provider; API tokens keep working beside sessions', async () => {
  const { jar } = await signedIn('gina', ['approver']);
  const out = await jar.fetch(`${apiUrl}/auth/logout`);
  expect(out.status).toBe(302);
  expect(out.headers.get('location')).toMatch(new RegExp(`^${idp.issuer}/session/end\\?.*id_token_hint=`));
  expect((await asSession(jar, 'GET', '/v1/me')).status).toBe(401);
  expect(await sessionOf(jar)).toEqual({ signedIn: false, loginUrl: '/auth/login' });
  const token = await tokenFor(stack, ORGANIZATION, 'gina');
  expect((await askApi<{ signedIn: unknown }>(apiUrl, token, 'GET', '/v1/me')).body.signedIn).toBeNull();
});

it('a principal is bound to the provider’s own id for its person: a name that changes hands, or a renamed person, takes over nobody', async () => {
  expect((await signedIn('jack', ['approver'])).landed).toBeDefined();
  // mallory's account now carries the name jack (a recycled username): refused, jack stays jack's.
  idp.names.set('mallory', 'jack');
  const taken = await signedIn('mallory', ['approver', 'admin']);
  expect(taken.status).toBe(403);
  expect(taken.text).toMatch(/jack of acme-sso signs in as another identity of the provider/);
  // kim, renamed kimberly at the provider, is not a second person here.
  expect((await signedIn('kim', ['approver'])).landed).toBeDefined();
  idp.names.set('kim', 'kimberly');
  const renamed = await signedIn('kim', ['approver']);
  expect(renamed.status).toBe(403);
  expect(renamed.text).toMatch(/This identity of the provider signs in as kim, not kimberly/);
  const admin = await tokenFor(stack, ORGANIZATION, 'ops', { roles: ['admin'] });
  expect((await askApi(apiUrl, admin, 'GET', '/v1/tokens')).status).toBe(200);
});

it('a session stands only for a person of the organization it was made for, whatever the cookie says', async () => {
  const forge = (principalId: string, organizationId = ORGANIZATION) => {
    const session = stack.api!.createSecureSession({
      signIn: {
        id: 'signin_forged',
        organizationId,
        principalId,
        authTime: Date.now(),
        expiresAt: Date.now() + 60_000,
        csrf: 'x',
        idToken: 'x',
      },
    });
    const jar = new CookieJar();
    jar.set(host, 'plans_session', encodeURIComponent(stack.api!.encodeSecureSession(session)));
    return jar;
  };
  await tokenFor(stack, ORGANIZATION, 'planner', { kind: 'agent', roles: [] });
  await tokenFor(stack, 'elsewhere', 'liz');
  expect((await asSession(forge('planner'), 'GET', '/v1/me')).status).toBe(401);
  expect((await asSession(forge('liz', 'elsewhere'), 'GET', '/v1/me')).status).toBe(401);
  expect((await asSession(forge('alice'), 'GET', '/v1/me')).status).toBe(200);
});

it('where people sign in, a link decides nothing by itself: without its person’s token it is refused', async () => {
  const run = await pendingPlan();
  const link = approvalLinkFor(run);
  const used = await fetch(link, { method: 'POST' });
  expect(used.status).toBe(401);
  expect(((await used.json()) as { error: { message: string } }).error.message).toMatch(/^People sign in to decide here/);
  const admin = await tokenFor(stack, ORGANIZATION, 'ops', { roles: ['admin'] });
  expect((await askApi<PlanSnapshot>(apiUrl, admin, 'GET', `/v1/plans/${run.runId}`)).body.status).toBe('pending-approval');
});

it('a freshSignIn rule makes the plan wait, reject on expiry, and never start without approval', async () => {
  const admin = await tokenFor(stack, ORGANIZATION, 'ops', { roles: ['admin'] });
  const rule = { name: 'present', when: {}, require: { expiresAfter: '1d' }, freshSignIn: '5m' };
  expect((await askApi(apiUrl, admin, 'PUT', '/v1/policy', { rules: [rule], skipApproval: ['planner'], onExpiry: 'approve' })).status).toBe(
    200,
  );
  try {
    const planner = await tokenFor(stack, ORGANIZATION, 'planner', { kind: 'agent', roles: [] });
    const own = await askApi<PlanSnapshot>(apiUrl, planner, 'POST', '/v1/plans', {
      ...crossThread(),
      sourceThreadId: undefined,
      threadId: 't-1',
    });
    expect(own.body).toMatchObject({ status: 'pending-approval', approval: { onExpiry: 'reject', freshSignInMs: 300_000 } });
    const skipped = await askApi<{ error: { code: string; message: string } }>(apiUrl, planner, 'POST', '/v1/plans', {
      ...crossThread(),
      requireApproval: false,
    });
    expect([skipped.status, skipped.body.error.message]).toEqual([
      403,
      'A rule of this organization asks for a fresh sign-in to approve this plan: it cannot start without an approval.',
    ]);
  } finally {
    await askApi(apiUrl, admin, 'PUT', '/v1/policy', {});
  }
});

it('a return address off this site is never followed: the inbox instead', async () => {
  for (const returnTo of ['https://evil.example/', '//evil.example/inbox', '/inbox\\@evil.example', '/v1/me']) {
    const { landed } = await signedIn('hal', ['approver'], returnTo);
    expect([returnTo, landed]).toEqual([returnTo, `${apiUrl}/inbox`]);
  }
});

it('a rule’s freshSignIn: an approval needs a recent sign-in — not a token, not a message to Temporal; the workflow holds it', async () => {
  const admin = await tokenFor(stack, ORGANIZATION, 'ops', { roles: ['admin'] });
  const rule = { name: 'present', when: {}, require: { required: 1 }, freshSignIn: '5m' };
  expect((await askApi(apiUrl, admin, 'PUT', '/v1/policy', { rules: [rule] })).status).toBe(200);
  try {
    const run = await pendingPlan();
    expect(run.approval).toMatchObject({ freshSignInMs: 300_000, standing: false });
    const bob = await tokenFor(stack, ORGANIZATION, 'bob');
    const byToken = await askApi<{ error: { code: string; message: string } }>(apiUrl, bob, 'POST', `/v1/plans/${run.runId}/approve`, {});
    expect(byToken.status).toBe(401);
    expect(byToken.body.error.message).toBe(
      "Approving this plan needs a sign-in through your organization's identity provider within the last 5m: sign in to the inbox and approve there.",
    );
    // Straight to the workflow, with no credential the API checked: refused where the decision is applied.
    const direct = stack.client.workflow
      .getHandle(run.workflowId)
      .executeUpdate(approvePlanUpdate, { args: [{ organizationId: ORGANIZATION, threadId: 't-9', emittedBy: 'bob' }] });
    await expect(direct).rejects.toThrow(WorkflowUpdateFailedError);
    await expect(direct.catch((error: Error) => Promise.reject(error.cause))).rejects.toThrow(/needs a sign-in through your organization/);

    const { jar } = await signedIn('alice', ['approver']);
    const { csrfToken } = await sessionOf(jar);
    const approved = await asSession(jar, 'POST', `/v1/plans/${run.runId}/approve`, {}, csrfToken);
    expect(approved.status).toBe(200);
    expect((approved.body.approval as { approvals: Array<{ by: string; credential: { kind: string } }> }).approvals).toEqual([
      expect.objectContaining({ by: 'alice', credential: expect.objectContaining({ kind: 'sign-in' }) }),
    ]);
  } finally {
    expect((await askApi(apiUrl, admin, 'PUT', '/v1/policy', {})).status).toBe(200);
  }
});

it('a decision link opens the plan in the inbox: whoever opens it signs in there and decides as themselves', async () => {
  const run = await pendingPlan();
  const link = approvalLinkFor(run);
  const opened = await fetch(link, { redirect: 'manual' });
  expect([opened.status, opened.headers.get('location')]).toEqual([302, `/inbox#/plan/${run.runId}`]);
  // Opened by bob: he signs in and is back at the plan, as bob.
  const { jar, landed } = await signedIn('bob', ['approver'], `/inbox#/plan/${run.runId}`);
  expect(landed).toBe(`${apiUrl}/inbox#/plan/${run.runId}`);
  const review = await asSession(jar, 'GET', `/v1/plans/${run.runId}/review`);
  expect(review.body.you).toEqual({ may: true, why: null });
  expect((await fetch(`${apiUrl}/links/not-a-link`, { redirect: 'manual' })).status).toBe(403);
});

it('a wrong client secret fails the sign-in with a page that says so, naming the variables', async () => {
  const wrong = await OidcSignIn.discover({ ...stack.config.oidc!, clientSecret: 'not-the-secret' }, () => apiUrl);
  const { pending, url } = await wrong.start('/inbox');
  idp.groups.set('ivy', ['approver']);
  const { landed } = await walkSignIn(new CookieJar(), url.href, 'ivy', `${apiUrl}/auth/callback`);
  await expect(wrong.finish(new URL(landed!), pending)).rejects.toThrow(
    /^The sign-in could not be completed: invalid_client.* \(check PLANS_OIDC_CLIENT_ID and PLANS_OIDC_CLIENT_SECRET\)\.$/,
  );
});

it('an issuer that cannot be reached is a start-up error naming PLANS_OIDC_ISSUER', async () => {
  const settings = { ...stack.config.oidc!, issuer: `http://127.0.0.1:${await freePort()}` };
  await expect(OidcSignIn.discover(settings, () => apiUrl)).rejects.toThrow(
    /^PLANS_OIDC_ISSUER http:\/\/127\.0\.0\.1:\d+: its OpenID Connect discovery could not be read/,
  );
});
