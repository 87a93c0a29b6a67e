import { randomBytes } from 'node:crypto';

import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  type ZodTypeProvider,
  hasZodFastifySchemaValidationErrors,
  serializerCompiler as zodSerializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { ZodOptional, ZodType } from 'zod';

import type { LinkSigner } from '../auth/links.js';
import type { OidcSignIn } from '../auth/oidc.js';
import { isOperatorToken } from '../auth/operator.js';
import { bearerToken, constantTimeEqual, hashToken } from '../auth/tokens.js';
import type { OrganizationPlans } from '../client/organization-plans.js';
import type { PlansClient } from '../client/plans-client.js';
import { PlanError } from '../domain/errors.js';
import { MAX_DEPTH, tooDeepAt } from '../domain/limits.js';
import type { Principal } from '../domain/principals.js';
import { PlanMetrics } from '../metrics/plan-metrics.js';
import { type HealthMonitor, STACK_PARTS } from './health.js';
import { SWAGGER_OPTIONS, errors } from './openapi.js';
import { traceRequests } from './tracing.js';
import type { Api } from './types.js';
import { accessRoutes } from './routes/access.js';
import { delegationRoutes } from './routes/delegations.js';
import { standingRoutes } from './routes/standing.js';
import { eventRoutes } from './routes/events.js';
import { linkRoutes } from './routes/links.js';
import { auditRoutes } from './routes/audit.js';
import { metricsRoutes } from './routes/metrics.js';
import { authRoutes, registerSessions, sessionPrincipal } from './routes/auth.js';
import { INTERNAL_HEADER, mcpRoutes } from './routes/mcp.js';
import { planRoutes } from './routes/plans.js';
import { scheduleRoutes } from './routes/schedules.js';
import { serviceRoutes } from './routes/service.js';
import { secretRoutes } from './routes/secrets.js';
import { subscriptionRoutes } from './routes/subscriptions.js';

export interface ApiOptions {
  plans: PlansClient;
  /** The data dir's operator token, which may manage any organization's tokens (and nothing else). */
  operatorToken?: string;
  /** Checks the approval links of notifications. */
  links: LinkSigner;
  /** The stack's parts' health: `/healthz` tells it, and writes needing a part that is down are refused at once. */
  health: HealthMonitor;
  /** Largest accepted request body, in bytes. */
  bodyLimit?: number;
  /** How often a live feed looks for new events. */
  feedPollMs?: number;
  /** Requests one token (or, without one, one address) may make in a minute; 0: no limit. */
  rateLimitPerMinute?: number;
  /** People sign in through the organization's identity provider (`PLANS_OIDC_*`): the session cookie's key and whether it is Secure. */
  signIn?: { oidc: OidcSignIn; sessionKey: Buffer; secureCookie: boolean };
  /** What `GET /metrics` reads (its own when absent: nothing but the API's own observations). */
  metrics?: PlanMetrics;
  /** A span per request, in whose context the request is served (tracing on: docs/tracing.md). */
  traceRequests?: boolean;
}

/** gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4) from Temporal, however deep in an error's causes. */
function isTemporalUnreachable(error: unknown): boolean {
  for (
    let cause = error as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    cause && depth < 5;
    cause = cause.cause as typeof cause, depth++
  ) {
    if (typeof cause === 'object' && (cause.code === 14 || cause.code === 4)) return true;
  }
  return false;
}

/** Routes whose changes go through a run's workflow (plans, schedules, the doctor, signed links). */
const CHANGES_THROUGH_WORKFLOWS = /^\/(v1\/(plans|schedules|doctor)|links)\b/;

function sendError(reply: FastifyReply, error: PlanError): FastifyReply {
  return reply.code(error.httpStatus).send(error.toBody());
}

/** Answers are encoded by their zod schema (an answer that drifts from it fails loudly); HTML and streams are sent as they are. */
const serializerCompiler: typeof zodSerializerCompiler = (route) => {
  const schema = route.schema as unknown;
  if (schema instanceof ZodType) return zodSerializerCompiler(route);
  const json = (schema as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema;
  if (json instanceof ZodType) return zodSerializerCompiler({ ...route, schema: json });
  return (data) => (typeof data === 'string' ? data : JSON.stringify(data));
};

/**
 * The JSON HTTP API over a PlansClient. Every `/v1` route needs a bearer token, which decides the
 * organization and the acting actor, and acts through that organization's view. Each route is
 * registered with its zod schemas; the OpenAPI document (`/openapi.json`) is generated from
 * them. Every refusal is `{error: {code, message}}` with the status its code maps to.
 */
export function buildApi(options: ApiOptions): FastifyInstance {
  const { plans } = options;
  const metrics = options.metrics ?? new PlanMetrics();
  // The MCP tools' calls to the API's routes carry this (mcp.ts): the `/mcp` request that made them was counted already.
  const internalSecret = randomBytes(24).toString('hex');
  const isInternal = (header: string | string[] | undefined) => typeof header === 'string' && constantTimeEqual(header, internalSecret);
  // Live feeds stay open: closing the API must end them rather than wait for them.
  const bodyLimit = options.bodyLimit ?? 1_048_576;
  const app = Fastify({ bodyLimit, forceCloseConnections: true, routerOptions: { maxParamLength: 1000 } });
  // First of all hooks: everything after it runs in the request's span.
  if (options.traceRequests) traceRequests(app);
  // An empty body is no body, whatever content type a client announces (pause, resume and doctor take none).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body: string, done) => {
    if (body.trim() === '') return done(null, undefined);
    if (!/^application\/([\w.+-]*\+)?json\b/i.test(request.headers['content-type'] ?? '')) {
      return done(
        Object.assign(new Error(`Send JSON (Content-Type: application/json), not ${request.headers['content-type']}.`), {
          statusCode: 415,
        }),
        undefined,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      return done(
        Object.assign(new Error(`The request body is not valid JSON: ${(error as Error).message}`), { statusCode: 400 }),
        undefined,
      );
    }
    // Deeper documents could not be stored or handed to Temporal: refused here, before anything reads them.
    const deep = tooDeepAt(parsed, MAX_DEPTH);
    if (deep)
      return done(
        Object.assign(new Error(`The request body nests deeper than ${MAX_DEPTH} levels, at ${deep}.`), { statusCode: 400 }),
        undefined,
      );
    done(null, parsed);
  });
  // Per token (its hash: the token itself never becomes a key), else per address. Refusals are the
  // API's own `{error}` with Retry-After; the health probe is not limited.
  const rateLimit = options.rateLimitPerMinute ?? 0;
  if (rateLimit > 0) {
    app.register(fastifyRateLimit, {
      max: rateLimit,
      timeWindow: 60_000,
      allowList: (request) => request.url === '/healthz' || isInternal(request.headers[INTERNAL_HEADER]),
      keyGenerator: (request) => {
        const token = bearerToken(request.headers.authorization);
        return token ? `token:${hashToken(token)}` : `address:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) =>
        Object.assign(
          new PlanError(
            'rate-limited',
            `Too many requests: at most ${context.max} a minute from this token; try again in ${Math.ceil(context.ttl / 1000)} s.`,
          ),
          {
            statusCode: 429,
          },
        ),
    });
  }
  if (options.signIn)
    registerSessions(app, {
      key: options.signIn.sessionKey,
      secure: options.signIn.secureCookie,
      seconds: options.signIn.oidc.sessionSeconds,
    });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('plans', null as unknown as OrganizationPlans);
  app.decorateRequest('signedInThrough', null);
  app.decorateRequest('acting', null as unknown as (organizationId: string | undefined) => OrganizationPlans);

  app.addHook('onRequest', async (request) => {
    // A change goes through a run's workflow: with Temporal, SurrealDB or the worker down it would
    // hang, then fail; it is refused at once instead, with what is down, and nothing is done.
    // Decided on the route the router matched, whatever the request target's form: an absolute
    // `http://host/v1/…` target or a percent-encoded path (`/%6dcp`, `/%761/…`) must not skip
    // authentication. A request no route matches is answered 404 by the not-found handler.
    const route = request.routeOptions.url ?? '';
    const path = new URL(request.url, 'http://localhost').pathname;
    if (request.method !== 'GET' && CHANGES_THROUGH_WORKFLOWS.test(route))
      await options.health.require(STACK_PARTS, `${request.method} ${path}`);
    if (!route.startsWith('/v1/') && route !== '/mcp' && route !== '/metrics') return;
    const token = bearerToken(request.headers.authorization);
    // A person signed in through the identity provider: their session cookie (and CSRF token for a change) instead of a token.
    const signedIn = token
      ? await plans.principals.signIn(token)
      : options.signIn && route.startsWith('/v1/')
        ? await sessionPrincipal(request, plans, options.signIn.oidc.settings.issuer, options.signIn.oidc.settings.organizationId)
        : undefined;
    if (!token && !signedIn)
      throw new PlanError(
        'unauthorized',
        `Send an API token: Authorization: Bearer <token> (see \`plans token create\`)${options.signIn ? ', or sign in at /auth/login' : ''}.`,
      );
    if (signedIn) {
      const { principal } = signedIn;
      const view = plans.forOrganization(principal, signedIn.credential);
      request.principal = principal;
      request.signedInThrough = 'through' in signedIn ? signedIn.through : null;
      request.plans = view;
      request.acting = (organizationId) => {
        if (organizationId !== undefined && organizationId !== principal.organizationId) {
          throw new PlanError('forbidden', `This token acts for organization ${principal.organizationId}, not ${organizationId}.`);
        }
        return view;
      };
      return;
    }
    if (!token || !isOperatorToken(token, options.operatorToken))
      throw new PlanError('unauthorized', 'The API token is not known (or was revoked).');
    if (!route.startsWith('/v1/tokens') && route !== '/v1/audit/export') {
      throw new PlanError(
        'forbidden',
        "The operator token only manages tokens (plans token create|list|revoke) and exports the audit chain; act with a principal's token.",
      );
    }
    request.acting = (organizationId) => {
      if (organizationId === undefined)
        throw new PlanError('invalid-input', 'Name the organization (organizationId, --org): the operator token acts for none by itself.');
      return plans.asOperatorOf(organizationId);
    };
  });
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof PlanError) return sendError(reply, error);
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const problems = error.validation.map(
        (issue) => `${issue.instancePath.replace(/^\//, '').replaceAll('/', '.') || where}: ${issue.message}`,
      );
      return sendError(reply, new PlanError('invalid-input', `Invalid ${where}: ${problems.join('; ')}.`));
    }
    const fastifyError = error as { statusCode?: number; message: string };
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      const code = fastifyError.statusCode === 413 ? 'too-large' : 'invalid-input';
      return reply.code(fastifyError.statusCode).send({ error: { code, message: fastifyError.message } });
    }
    // Temporal went away between the health check and the call: the same answer as the check's.
    if (isTemporalUnreachable(error)) {
      return sendError(
        reply,
        new PlanError(
          'unavailable',
          `temporal is not available right now (${fastifyError.message.split('\n')[0]}); the request may not have been done. Try again shortly.`,
        ),
      );
    }
    request.log.error(error);
    return reply.code(500).send({ error: { code: 'internal', message: fastifyError.message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not-found', message: `No route ${request.method} ${request.url}.` } }),
  );

  // Which operations may leave their body out: read from the routes as they are registered.
  const optionalBodies = new Set<string>();
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { body?: unknown; operationId?: string; response?: Record<number, unknown> } | undefined;
    if (schema?.body instanceof ZodOptional && schema.operationId) optionalBodies.add(schema.operationId);
    // Every route but the health probe counts against the rate limit, and says so in the document.
    if (rateLimit > 0 && schema?.response && route.url !== '/healthz') Object.assign(schema.response, errors(429));
  });
  app.register(fastifySwagger, SWAGGER_OPTIONS);
  app.register(async (instance) => {
    const api: Api = instance.withTypeProvider<ZodTypeProvider>();
    serviceRoutes(api, { health: options.health, optionalBodies, metrics });
    metricsRoutes(api, { metrics, links: options.links });
    accessRoutes(api);
    planRoutes(api);
    scheduleRoutes(api);
    subscriptionRoutes(api);
    secretRoutes(api);
    delegationRoutes(api);
    standingRoutes(api);
    auditRoutes(api);
    eventRoutes(api, { pollMs: options.feedPollMs ?? 200, plans });
    linkRoutes(api, { plans, links: options.links, toInbox: options.signIn !== undefined });
    mcpRoutes(api, { plans, publicUrl: options.links.baseUrl, internalSecret, bodyLimit: 4 * bodyLimit });
    if (options.signIn) authRoutes(api, { plans, signIn: options.signIn.oidc, publicUrl: options.links.baseUrl });
  });
  return app;
}
