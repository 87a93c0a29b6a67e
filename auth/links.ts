import { createHmac, randomBytes } from 'node:crypto';

import { PlanError } from '../domain/errors.js';
import { constantTimeEqual } from './tokens.js';

/** What a signed approval link lets its holder do, once, before it expires: decide as one person, on one revision. */
export interface LinkClaims {
  runId: string;
  organizationId: string;
  decision: 'approve' | 'reject' | 'changes-requested';
  /** The eligible person the link was made for: the decision is theirs, under the run's rules. */
  principalId: string;
  /** The revision the notification showed; a replaced or changed plan refuses the link. */
  revision: string;
  /** Expiry, in milliseconds since the epoch. */
  exp: number;
  nonce: string;
  /**
   * The personal subscription of `principalId` the link was delivered to, when it was: only that
   * person registered the destination, so holding the link there proves it is them (while the
   * subscription exists). A link without it acts only for its person signed in (`api/routes/links.ts`).
   */
  subscriptionId?: string;
}

const DECISIONS = new Set(['approve', 'reject', 'changes-requested']);

/**
 * Signs and checks approval links: `<base>/links/<claims>.<hmac>`, HMAC-SHA256 with a server
 * secret. A link names one run and one decision and expires.
 */
export class LinkSigner {
  constructor(
    private readonly secret: string,
    /** Where people reach the API (`PLANS_PUBLIC_URL`, else the API's own address): links and inbox addresses start with it. */
    readonly baseUrl: () => string,
    private readonly ttlMs = 7 * 24 * 3_600_000,
  ) {}

  /** A link for `decision` on `runId`, valid for the signer's lifetime (7 days by default). */
  link(
    claims: Pick<LinkClaims, 'runId' | 'organizationId' | 'decision' | 'principalId' | 'revision' | 'subscriptionId'>,
    now = Date.now(),
  ): string {
    const body = Buffer.from(JSON.stringify({ ...claims, exp: now + this.ttlMs, nonce: randomBytes(12).toString('base64url') })).toString(
      'base64url',
    );
    return `${this.baseUrl()}/links/${body}.${this.mac(body)}`;
  }

  /** The claims of a link token, or a PlanError saying why it is refused. */
  verify(token: string, now = Date.now()): LinkClaims {
    const [body, mac] = token.split('.');
    const expected = body ? this.mac(body) : '';
    if (!body || !mac || !constantTimeEqual(mac, expected)) {
      throw new PlanError('forbidden', 'This link is not valid.');
    }
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LinkClaims;
    const strings = [claims.runId, claims.nonce, claims.principalId, claims.revision];
    if (
      !DECISIONS.has(claims.decision) ||
      strings.some((value) => typeof value !== 'string') ||
      !['string', 'undefined'].includes(typeof claims.subscriptionId)
    ) {
      throw new PlanError('forbidden', 'This link is not valid.');
    }
    if (claims.exp < now) throw new PlanError('forbidden', 'This link has expired.');
    return claims;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

/** The signature header of a webhook delivery: `sha256=<hex HMAC of the body>`. */
export function signDelivery(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
