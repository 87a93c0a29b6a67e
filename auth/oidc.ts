import * as oidc from 'openid-client';

import { PlanError } from '../domain/errors.js';
import { ID_PATTERN } from '../domain/ids.js';

/** The installation's OpenID Connect settings (`PLANS_OIDC_*`, app/config.ts). */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  organizationId: string;
  principalClaim: string;
  rolesClaim: string;
  sessionHours: number;
}

/** What a sign-in must remember between sending the person to the provider and their coming back. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where in the inbox the person was going (a path of this site). */
  returnTo: string;
  /** The freshness asked for (`max_age`, seconds), when a decision needs a recent sign-in. */
  maxAge?: number;
  startedAt: number;
}

/** Who signed in, as the ID token says it (verified: signature, issuer, audience, nonce, expiry). */
export interface SignedInPerson {
  principalId: string;
  /** The provider's own, stable id for the person: `<issuer> <sub>`. */
  subject: string;
  /** The names in the roles claim (groups), as the provider sent them. */
  groups: string[];
  /** When they authenticated at the provider (`auth_time`, else the token's `iat`). */
  authTime: Date;
  idToken: string;
}

/**
 * The inbox's OpenID Connect relying party: the authorization-code flow with PKCE, `state` and
 * `nonce`, the client authenticating with `client_secret_basic`, the ID token verified by
 * `openid-client` (discovery from the issuer). It decides nothing about principals: the sign-in
 * route maps the verified claims to a person (api/routes/auth.ts).
 */
export class OidcSignIn {
  private constructor(
    readonly settings: OidcSettings,
    private readonly configuration: oidc.Configuration,
    /** Where people reach the API (`PLANS_PUBLIC_URL`, else its own address once it listens). */
    private readonly publicUrl: () => string,
  ) {}

  /** How long a session lasts (`PLANS_OIDC_SESSION_HOURS`), in seconds: also the `max_age` every sign-in asks for. */
  get sessionSeconds(): number {
    return this.settings.sessionHours * 3600;
  }

  /** `<public URL>/auth/callback`: register it with the identity provider. */
  get redirectUri(): string {
    return `${this.publicUrl().replace(/\/$/, '')}/auth/callback`;
  }

  /** Discovers the issuer; an issuer that cannot be reached or read is an error naming PLANS_OIDC_ISSUER. */
  static async discover(settings: OidcSettings, publicUrl: () => string): Promise<OidcSignIn> {
    const issuer = new URL(settings.issuer);
    if (issuer.protocol !== 'https:' && !isLoopbackHttp(issuer))
      throw new Error(
        `PLANS_OIDC_ISSUER ${settings.issuer}: an identity provider is reached over https (http only on this machine, for development).`,
      );
    let configuration: oidc.Configuration;
    try {
      configuration = await oidc.discovery(
        issuer,
        settings.clientId,
        undefined,
        oidc.ClientSecretBasic(settings.clientSecret),
        isLoopbackHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
    } catch (error) {
      throw new Error(
        `PLANS_OIDC_ISSUER ${settings.issuer}: its OpenID Connect discovery could not be read (${(error as Error).message}); is the issuer right and reachable?`,
        { cause: error },
      );
    }
    return new OidcSignIn(settings, configuration, publicUrl);
  }

  /** A new sign-in: what to remember, and where to send the person. */
  async start(returnTo: string, maxAge?: number): Promise<{ pending: PendingSignIn; url: URL }> {
    const pending: PendingSignIn = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      returnTo,
      ...(maxAge !== undefined ? { maxAge } : {}),
      startedAt: Date.now(),
    };
    const url = oidc.buildAuthorizationUrl(this.configuration, {
      redirect_uri: this.redirectUri,
      scope: 'openid profile email',
      response_type: 'code',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      // Always a max_age (the session's length by default): the provider must then say when the person
      // authenticated (auth_time), which the ID token is checked against, and a fresh sign-in relies on.
      max_age: String(maxAge ?? this.sessionSeconds),
      ...(maxAge !== undefined ? { prompt: 'login' } : {}),
    });
    return { pending, url };
  }

  /**
   * The person back from the provider (`currentUrl`: the callback with its code and state): the
   * code exchanged, the ID token verified against what `pending` remembered. Any mismatch (a
   * replayed or forged state, another nonce, an error from the provider) is a PlanError.
   */
  async finish(currentUrl: URL, pending: PendingSignIn): Promise<SignedInPerson> {
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(this.configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
        maxAge: pending.maxAge ?? this.sessionSeconds,
      });
    } catch (error) {
      // The provider's own words when it gave them (a wrong client secret is `invalid_client`).
      const { error: code, error_description: description } = providerError(error) ?? {};
      const said = code ? `${code}${description ? `: ${description}` : ''}` : (error as Error).message;
      const hint = code === 'invalid_client' ? ' (check PLANS_OIDC_CLIENT_ID and PLANS_OIDC_CLIENT_SECRET)' : '';
      throw new PlanError('unauthorized', `The sign-in could not be completed: ${said}${hint}.`);
    }
    const claims = tokens.claims()!;
    const named = claims[this.settings.principalClaim];
    const principalId = typeof named === 'string' && named !== '' ? named : claims.sub;
    if (!ID_PATTERN.test(principalId) || principalId.startsWith('role:'))
      throw new PlanError('unauthorized', `The identity provider names this person "${principalId}", which is not a principal id here.`);
    const listed = claims[this.settings.rolesClaim];
    const groups = Array.isArray(listed) ? listed.filter((group): group is string => typeof group === 'string') : [];
    // Only auth_time says when the person authenticated (iat is when the token was made, maybe from an old session).
    if (typeof claims.auth_time !== 'number')
      throw new PlanError('unauthorized', 'The identity provider did not say when you authenticated (auth_time).');
    const authTime = new Date(claims.auth_time * 1000);
    return { principalId, subject: `${this.settings.issuer} ${claims.sub}`, groups, authTime, idToken: tokens.id_token! };
  }

  /** Where to send a person who signs out, when the provider offers RP-initiated logout. */
  endSessionUrl(idToken: string, after: string): URL | undefined {
    if (!this.configuration.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(this.configuration, { id_token_hint: idToken, post_logout_redirect_uri: after });
  }
}

/**
 * The provider's own error (`error`, `error_description`), wherever the client library put it:
 * on the error, in a WWW-Authenticate challenge (how a token endpoint refuses a client's
 * credentials), or on an error it caused.
 */
function providerError(error: unknown, depth = 0): { error?: string; error_description?: string } | undefined {
  if (depth > 3 || typeof error !== 'object' || error === null) return undefined;
  const found = error as { error?: unknown; error_description?: unknown; parameters?: unknown; cause?: unknown };
  if (typeof found.error === 'string')
    return { error: found.error, ...(typeof found.error_description === 'string' ? { error_description: found.error_description } : {}) };
  if (found.parameters) return providerError(found.parameters, depth + 1);
  if (Array.isArray(found.cause)) return providerError(found.cause[0], depth + 1);
  return providerError(found.cause, depth + 1);
}

/** An http issuer on this machine (a development provider): the only one reached without TLS. */
function isLoopbackHttp(issuer: URL): boolean {
  return issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
}
