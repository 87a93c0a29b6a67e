import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import type { OrganizationPlans } from '../client/organization-plans.js';
import type { Principal } from '../domain/principals.js';

/*
 * What routes see of the API: its type, and what every request carries once authenticated. Its
 * own module, so a route depends on these types and not on the server that registers it.
 */

/** The API as routes see it: requests and answers typed by their zod schemas. */
export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** How a request's person signed in (`GET /v1/me`): through which identity provider, when, until when. */
export interface SignedInThrough {
  issuer: string;
  authTime: string;
  expiresAt: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token stands for (every `/v1` route). */
    principal: Principal;
    /** How the principal signed in through the identity provider (a session), or null (a token). */
    signedInThrough: SignedInThrough | null;
    /** Its organization's view of plans: every `/v1` route acts through it, so none can forget isolation. */
    plans: OrganizationPlans;
    /**
     * The view a token route acts through: the principal's organization (naming another is
     * refused), or for the operator token the organization it names.
     */
    acting(organizationId: string | undefined): OrganizationPlans;
  }
}
