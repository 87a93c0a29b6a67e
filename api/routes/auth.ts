import { randomBytes } from 'node:crypto';

import fastifySecureSession from '@fastify/secure-session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { OidcSignIn, PendingSignIn } from '../../auth/oidc.js';
import { constantTimeEqual } from '../../auth/tokens.js';
import type { PlansClient } from '../../client/plans-client.js';
import type { CheckedCredential } from '../../domain/decisions.js';
import { PlanError } from '../../domain/errors.js';
import type { Principal } from '../../domain/principals.js';
import type { Api, SignedInThrough } from '../types.js';
import { escapeHtml, page } from './html-page.js';

/** A person's session, in the encrypted, authenticated cookie (@fastify/secure-session). */
export interface SessionSignIn {
  /** This sign-in's id: what decisions made in the session record. */
  id: string;
  organizationId: string;
  principalId: string;
  /** When the person authenticated at the identity provider (ms). */
  authTime: number;
  /** When the session ends (ms): the person signs in again then, and gets their roles anew. */
  expiresAt: number;
  /** Every state-changing request of the session carries it (`X-CSRF-Token`). */
  csrf: string;
  idToken: string;
}

declare module '@fastify/secure-session' {
  interface SessionData {
    signIn: SessionSignIn;
    pending: PendingSignIn;
  }
}

/** A sign-in not finished within this is refused when the person comes back. */
const PENDING_MS = 10 * 60_000;
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_COOKIE = 'plans_session';

/** A path of this site to come back to after signing in: `/inbox…` only, never another site (`//host`, `https:`). */
function returnPath(value: unknown): string {
  return typeof value === 'string' && /^\/inbox(?:[/?#]|$)/.test(value) && !value.includes('\\') ? value : '/inbox';
}

/** A page of the sign-in flow, with its status. */
function answerPage(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page(title, body));
}

/**
 * The principal a request's session stands for, with its credential; undefined without a session.
 * Refused: a session that ended, a person disabled or gone since, and a state-changing request
 * without the session's CSRF token (a session is a cookie: another site's form would carry it).
 */
export async function sessionPrincipal(
  request: FastifyRequest,
  plans: PlansClient,
  issuer: string,
  organizationId: string,
): Promise<{ principal: Principal; credential: CheckedCredential; through: SignedInThrough } | undefined> {
  // Read here from the cookie (the session plugin's own hook may run after the server's).
  const cookie = request.server.parseCookie(request.headers.cookie ?? '')[SESSION_COOKIE];
  const signIn = cookie ? request.server.decodeSecureSession(cookie)?.get('signIn') : undefined;
  if (!signIn) return undefined;
  if (Date.now() >= signIn.expiresAt) throw new PlanError('unauthorized', 'Your session has ended: sign in again (/auth/login).');
  if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !constantTimeEqual(sent, signIn.csrf))
      throw new PlanError('forbidden', `A change from a signed-in session needs its CSRF token (${CSRF_HEADER}, from GET /auth/session).`);
  }
  const principal = await plans.principals.find(signIn.organizationId, signIn.principalId);
  // Only a person of the configured organization ever has a session: anything else is refused, whatever the cookie says.
  if (!principal || principal.kind !== 'person' || principal.organizationId !== organizationId)
    throw new PlanError('unauthorized', `${signIn.principalId} may not act any more (disabled or removed): sign in again.`);
  const through = throughOf(signIn, issuer);
  return { principal, credential: { kind: 'sign-in', id: signIn.id, authTime: through.authTime }, through };
}

/** How a session's person signed in, as answers say it. */
function throughOf(signIn: SessionSignIn, issuer: string): SignedInThrough {
  return { issuer, authTime: new Date(signIn.authTime).toISOString(), expiresAt: new Date(signIn.expiresAt).toISOString() };
}

/**
 * People sign in through the organization's identity provider (docs/signing-in.md): `/auth/login`
 * sends them there (authorization code with PKCE, state and nonce remembered in the session
 * cookie), `/auth/callback` verifies what comes back and makes or refreshes the person,
 * `/auth/session` tells the inbox who is signed in (and the CSRF token), `/auth/logout` ends it.
 */
export function authRoutes(api: Api, options: { plans: PlansClient; signIn: OidcSignIn; publicUrl: () => string }): void {
  const { signIn, plans } = options;
  const hidden = { schema: { hide: true } };

  api.get('/auth/login', hidden, async (request, reply) => {
    const query = request.query as { returnTo?: unknown; maxAge?: unknown };
    const maxAge = typeof query.maxAge === 'string' && /^\d{1,7}$/.test(query.maxAge) ? Number(query.maxAge) : undefined;
    const { pending, url } = await signIn.start(returnPath(query.returnTo), maxAge);
    request.session.set('pending', pending);
    return reply.redirect(url.href, 302);
  });

  api.get('/auth/callback', hidden, async (request, reply) => {
    const pending = request.session.get('pending');
    // Used once: a replayed callback (or one this browser never started) finds nothing to finish.
    request.session.set('pending', undefined);
    const failed = (message: string) =>
      answerPage(reply, 400, 'Sign-in failed', `<p>${escapeHtml(message)}</p><p><a href="/auth/login">Sign in again</a></p>`);
    if (!pending || Date.now() - pending.startedAt > PENDING_MS)
      return failed('This sign-in was not started here, was finished already, or took too long.');
    const current = new URL(request.url, options.publicUrl());
    let person;
    try {
      person = await signIn.finish(current, pending);
    } catch (error) {
      return failed((error as Error).message);
    }
    let principal: Principal;
    try {
      principal = await plans.principals.signInPerson(signIn.settings.organizationId, person.principalId, person.groups, person.subject);
    } catch (error) {
      if (error instanceof PlanError) return answerPage(reply, 403, 'You cannot sign in here', `<p>${escapeHtml(error.message)}</p>`);
      throw error;
    }
    const now = Date.now();
    request.session.set('signIn', {
      id: `signin_${randomBytes(12).toString('hex')}`,
      organizationId: principal.organizationId,
      principalId: principal.id,
      authTime: person.authTime.getTime(),
      expiresAt: now + signIn.sessionSeconds * 1000,
      csrf: randomBytes(24).toString('base64url'),
      idToken: person.idToken,
    });
    return reply.redirect(pending.returnTo, 302);
  });

  api.get('/auth/session', hidden, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const session = request.session.get('signIn');
    if (!session || Date.now() >= session.expiresAt) return { signedIn: false, loginUrl: '/auth/login' };
    return {
      signedIn: true,
      organizationId: session.organizationId,
      principalId: session.principalId,
      ...throughOf(session, signIn.settings.issuer),
      csrfToken: session.csrf,
    };
  });

  api.get('/auth/logout', hidden, async (request, reply) => {
    const session = request.session.get('signIn');
    request.session.delete();
    const after = `${options.publicUrl().replace(/\/$/, '')}/inbox`;
    const away = session ? signIn.endSessionUrl(session.idToken, after) : undefined;
    return reply.redirect(away?.href ?? '/inbox', 302);
  });
}

/**
 * The session cookie: encrypted and authenticated (@fastify/secure-session, a key derived from
 * the installation's link secret, the same in every API process), HttpOnly, SameSite=Lax,
 * Secure when people reach the API over https, ending with the session.
 */
export function registerSessions(app: FastifyInstance, options: { key: Buffer; secure: boolean; seconds: number }): void {
  app.register(fastifySecureSession, {
    key: options.key,
    cookieName: SESSION_COOKIE,
    expiry: options.seconds,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: options.seconds },
  });
}
