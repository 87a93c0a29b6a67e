import type { Server } from 'node:http';

import type Provider from 'oidc-provider';

import type { Stack } from '../../app/stack.js';
import { freePort } from '../../temporal/free-port.js';
import { startTestStack } from './stack.js';

/**
 * A real OpenID provider for the sign-in tests: `oidc-provider` (the certified Node
 * implementation), its development login and consent pages, accounts whose `groups` a test sets
 * and changes. The client authenticates with client_secret_basic and must use PKCE.
 */
export interface IdentityProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Each account's groups, as the next sign-in will claim them. */
  groups: Map<string, string[]>;
  /** An account's preferred_username when it is not the account's own name (a renamed person, a recycled name). */
  names: Map<string, string>;
  stop(): Promise<void>;
}

/** `work` with the console's warnings and notices left out. */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const { warn, info } = console;
  console.warn = console.info = () => undefined;
  try {
    return await work();
  } finally {
    Object.assign(console, { warn, info });
  }
}

export async function startIdentityProvider(redirectUri: string, postLogoutUri: string): Promise<IdentityProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const groups = new Map<string, string[]>();
  const names = new Map<string, string>();
  const clientId = 'execution-plans';
  const clientSecret = 'a-client-secret-of-the-tests';
  // Its start-up advice (development keys, in-memory store, Node 22 recommended) is for people running one, not for these tests.
  const { default: OidcProvider } = await quietly(() => import('oidc-provider'));
  const provider = await quietly(
    async () =>
      new OidcProvider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            post_logout_redirect_uris: [postLogoutUri],
            token_endpoint_auth_method: 'client_secret_basic',
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        pkce: { required: () => true },
        claims: { openid: ['sub', 'auth_time'], profile: ['preferred_username', 'groups'] },
        conformIdTokenClaims: false,
        features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
        cookies: { keys: ['identity-provider-of-the-tests'] },
        ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
        findAccount: (_context: unknown, id: string) => ({
          accountId: id,
          claims: () => ({ sub: `sub-${id}`, preferred_username: names.get(id) ?? id, groups: groups.get(id) ?? [] }),
        }),
      } as ConstructorParameters<typeof Provider>[1]),
  );
  const server: Server = provider.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    issuer,
    clientId,
    clientSecret,
    groups,
    names,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A browser's cookies and redirects, without the browser: enough to walk the sign-in's pages. */
export class CookieJar {
  private readonly cookies = new Map<string, Map<string, string>>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const { host } = new URL(url);
    const jar = this.cookies.get(host) ?? new Map<string, string>();
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, at).trim(), pair!.slice(at + 1).trim()];
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0\b/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    this.cookies.set(host, jar);
    return response;
  }

  get(host: string, name: string): string | undefined {
    return this.cookies.get(host)?.get(name);
  }

  set(host: string, name: string, value: string): void {
    const jar = this.cookies.get(host) ?? new Map<string, string>();
    jar.set(name, value);
    this.cookies.set(host, jar);
  }
}

/**
 * Walks a sign-in as a person would: from `start` through the provider's login (as `login`) and
 * consent pages, following redirects, until it lands back on `home` (answered: where) or on a
 * page that is not the provider's (answered: that page's status and text).
 */
export async function walkSignIn(
  jar: CookieJar,
  start: string,
  login: string,
  home: string,
  onCallback?: (url: string) => void,
): Promise<{ landed?: string; status?: number; text?: string }> {
  let url = start;
  let init: RequestInit = {};
  for (let step = 0; step < 30; step++) {
    if (url.includes('/auth/callback')) onCallback?.(url);
    const response = await jar.fetch(url, init);
    init = {};
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location')!, url).href;
      if (url.startsWith(home)) return { landed: url };
      continue;
    }
    const text = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(text)?.[1];
    const prompt = /name="prompt" value="(login|consent)"/.exec(text)?.[1];
    if (!action || !prompt) return { status: response.status, text };
    url = new URL(action, url).href;
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }).toString(),
    };
  }
  throw new Error(`The sign-in from ${start} did not end within 30 pages.`);
}

/** A test stack whose people sign in through a fresh identity provider, for `organizationId`. */
export async function stackWithSignIn(organizationId: string): Promise<{ stack: Stack; idp: IdentityProvider; apiUrl: string }> {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const idp = await startIdentityProvider(`${apiUrl}/auth/callback`, `${apiUrl}/inbox`);
  const stack = await startTestStack({
    apiPort: port,
    oidc: {
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      organizationId,
      principalClaim: 'preferred_username',
      rolesClaim: 'groups',
      sessionHours: 8,
    },
  });
  return { stack, idp, apiUrl };
}
