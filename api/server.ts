import { readFileSync } from 'node:fs';

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

import type { LinkSigner } from '../auth/links.js';
import type { Principal, TokenStore } from '../auth/tokens.js';
import type { OrganizationPlans } from '../client/organization-plans.js';
import type { PlansClient } from '../client/plans-client.js';
import { openApiDocument } from './openapi.js';
import { PlanError } from '../domain/errors.js';
import type { IncludeOptions } from '../domain/snapshot.js';
import { RUN_STATUSES, type RunStatus } from '../domain/status.js';

export interface ApiOptions {
  plans: PlansClient;
  /** Who may call the API. */
  tokens: TokenStore;
  /** Checks the approval links of notifications. */
  links: LinkSigner;
  /** Whether every part of the stack is up; `/healthz` answers 503 until it is. */
  isReady?: () => boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimit?: number;
  /** How often a live feed looks for new events. */
  feedPollMs?: number;
}

const INBOX_PAGE = new URL('../../inbox/index.html', import.meta.url);
const FEED_BATCH = 500;
const FEED_POLL_MS = 200;
const FEED_KEEPALIVE_MS = 15_000;

const INCLUDE_NAMES: Record<string, keyof IncludeOptions> = {
  events: 'includeEvents',
  checkpoints: 'includeCheckpoints',
  approvals: 'includeApprovals',
  artifacts: 'includeArtifacts',
  'validation-issues': 'includeValidationIssues',
};

/** `include=events,checkpoints` → include options; unknown names are refused. */
export function parseInclude(value: unknown): IncludeOptions {
  if (value === undefined || value === '') return {};
  const include: IncludeOptions = {};
  for (const name of String(value).split(',')) {
    const option = INCLUDE_NAMES[name.trim()];
    if (!option) {
      throw new PlanError('invalid-input', `Unknown include "${name}"; use ${Object.keys(INCLUDE_NAMES).join(', ')}.`);
    }
    include[option] = true;
  }
  return include;
}

function parseStatuses(value: unknown): RunStatus[] | undefined {
  if (value === undefined || value === '') return undefined;
  return String(value)
    .split(',')
    .map((status) => {
      if (!(RUN_STATUSES as readonly string[]).includes(status)) {
        throw new PlanError('invalid-input', `Unknown status "${status}"; use ${RUN_STATUSES.join(', ')}.`);
      }
      return status as RunStatus;
    });
}

function sendError(reply: FastifyReply, error: PlanError): FastifyReply {
  return reply.code(error.httpStatus).send({
    error: { code: error.code, message: error.message, ...(error.issues ? { issues: error.issues } : {}) },
  });
}

type Query = Record<string, string | undefined>;
type Params = { runId: string; threadId: string };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The small page a signed link shows: what it does, and a button to do it. */
function linkPage(title: string, detail: string, action?: string): string {
  const form = action ? `<form method="post"><button type="submit">${escapeHtml(action)}</button></form>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body style="font-family:system-ui;max-width:36rem;margin:2rem auto;padding:0 1rem"><h1 style="font-size:1.3rem">${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>${form}</body></html>`;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the bearer token stands for (every `/v1` route). */
    principal: Principal;
    /** Its organization's view of plans: every `/v1` route acts through it, so none can forget isolation. */
    plans: OrganizationPlans;
  }
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * The JSON HTTP API over a PlansClient. Every `/v1` route needs a bearer token, which decides the
 * organization and the acting actor. Every refusal is `{error: {code, message}}` with the status
 * its code maps to (400 bad input, 401 no or unknown token, 403 wrong organization or thread,
 * 404, 409 not pending).
 */
export function buildApi(options: ApiOptions): FastifyInstance {
  const { plans, tokens } = options;
  // Live feeds stay open: closing the API must end them rather than wait for them.
  const app = Fastify({ bodyLimit: options.bodyLimit ?? 1_048_576, forceCloseConnections: true, routerOptions: { maxParamLength: 1000 } });
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('plans', null as unknown as OrganizationPlans);

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') && request.url !== '/v1') return;
    const token = bearer(request.headers.authorization);
    if (!token) throw new PlanError('unauthorized', 'Send an API token: Authorization: Bearer <token> (see `plans token create`).');
    const principal = tokens.authenticate(token);
    if (!principal) throw new PlanError('unauthorized', 'The API token is not known.');
    request.principal = principal;
    request.plans = plans.forOrganization(principal);
  });
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof PlanError) return sendError(reply, error);
    const fastifyError = error as { statusCode?: number; message: string; code?: string };
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      const code = fastifyError.statusCode === 413 ? 'too-large' : 'invalid-input';
      return reply.code(fastifyError.statusCode).send({ error: { code, message: fastifyError.message } });
    }
    request.log.error(error);
    return reply.code(500).send({ error: { code: 'internal', message: fastifyError.message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not-found', message: `No route ${request.method} ${request.url}.` } }),
  );

  const document = openApiDocument();
  app.get('/openapi.json', async () => document);
  // The approvals inbox: one static page that talks to this API with the person's token.
  const inbox = readFileSync(INBOX_PAGE, 'utf8');
  app.get('/inbox', async (_request, reply) => reply.type('text/html; charset=utf-8').send(inbox));
  app.get('/v1/me', async (request) => request.principal);

  app.post('/v1/subscriptions', async (request, reply) => reply.code(201).send(await request.plans.subscriptions.create(request.body)));
  app.get('/v1/subscriptions', async (request) => request.plans.subscriptions.list());
  app.delete<{ Params: { subscriptionId: string } }>('/v1/subscriptions/:subscriptionId', async (request, reply) => {
    await request.plans.subscriptions.delete(request.params.subscriptionId);
    return reply.code(204).send();
  });

  // Signed approval links from notifications: the link itself is the authority, for one
  // decision on one run, once, until it expires. GET only shows what POST would do.
  app.get<{ Params: { token: string } }>('/links/:token', async (request, reply) => {
    const claims = options.links.verify(request.params.token);
    const run = await plans.forOrganization({ organizationId: claims.organizationId, actor: 'signed-link' }).runs.get(claims.runId);
    const verb = { approve: 'Approve', reject: 'Reject', 'changes-requested': 'Request changes for' }[claims.decision];
    return reply.type('text/html; charset=utf-8').send(linkPage(`${verb} “${run.title}”?`, `Status: ${run.status}. ${run.objective}`, `${verb} plan`));
  });
  app.post<{ Params: { token: string } }>('/links/:token', async (request, reply) => {
    const claims = options.links.verify(request.params.token);
    const run = await plans.runs.decideByLink(claims);
    if (request.headers.accept?.includes('application/json')) return run;
    return reply.type('text/html; charset=utf-8').send(linkPage(`Done: “${run.title}” is ${run.status}.`, 'You can close this page.'));
  });

  app.get('/healthz', async (_request, reply) => {
    const ready = options.isReady?.() ?? true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'starting' });
  });

  app.post('/v1/plans', async (request, reply) => {
    return reply.code(201).send(await request.plans.runs.create(request.body));
  });

  app.get<{ Querystring: Query }>('/v1/plans', async (request) => {
    const { organizationId, threadId, sourceThreadId, createdByAgentId, status, include, limit } = request.query;
    const statuses = parseStatuses(status);
    return request.plans.runs.list({
      ...(organizationId !== undefined ? { organizationId } : {}),
      ...(threadId ? { threadId } : {}),
      ...(sourceThreadId ? { sourceThreadId } : {}),
      ...(createdByAgentId ? { createdByAgentId } : {}),
      ...(statuses ? { statuses } : {}),
      ...(limit ? { limit: Number(limit) } : {}),
      ...parseInclude(include),
    });
  });

  app.get<{ Params: Params; Querystring: Query }>('/v1/plans/:runId', async (request) =>
    request.plans.runs.get(request.params.runId, parseInclude(request.query.include)),
  );

  app.get<{ Params: Params }>('/v1/plans/:runId/schedule', async (request) =>
    request.plans.runs.schedule(request.params.runId),
  );

  app.post<{ Params: Params }>('/v1/plans/:runId/approve', async (request) =>
    request.plans.runs.approve(request.params.runId, request.body),
  );

  app.post<{ Params: Params }>('/v1/plans/:runId/reject', async (request) =>
    request.plans.runs.reject(request.params.runId, request.body),
  );

  app.post<{ Params: Params }>('/v1/plans/:runId/replace', async (request, reply) => {
    return reply.code(201).send(await request.plans.runs.replace(request.params.runId, request.body));
  });

  app.post<{ Params: Params & { nodeId: string } }>('/v1/plans/:runId/nodes/:nodeId/complete', async (request) =>
    request.plans.runs.completeNode(request.params.runId, request.params.nodeId, request.body),
  );

  app.post<{ Params: Params }>('/v1/plans/:runId/abort', async (request) =>
    request.plans.runs.abort(request.params.runId, request.body),
  );

  app.get<{ Params: { scheduleId: string }; Querystring: Query }>('/v1/schedules/:scheduleId', async (request) =>
    request.plans.schedules.get(request.params.scheduleId),
  );

  app.post<{ Params: { scheduleId: string; action: string } }>('/v1/schedules/:scheduleId/:action', async (request) => {
    if (request.params.action === 'pause') return request.plans.schedules.pause(request.params.scheduleId, request.body ?? {});
    if (request.params.action === 'resume') return request.plans.schedules.resume(request.params.scheduleId, request.body ?? {});
    throw new PlanError('not-found', `No schedule action "${request.params.action}"; use pause or resume.`);
  });

  app.delete<{ Params: { scheduleId: string }; Querystring: Query }>('/v1/schedules/:scheduleId', async (request, reply) => {
    await request.plans.schedules.delete(request.params.scheduleId);
    return reply.code(204).send();
  });

  app.get<{ Querystring: Query }>('/v1/events', async (request, reply) => {
    const { organizationId } = request.principal;
    const { threadId, runId, after } = request.query;
    const resumeFrom = (request.headers['last-event-id'] as string | undefined) ?? after;
    if (resumeFrom !== undefined && !/^\d{1,15}$/.test(resumeFrom)) {
      throw new PlanError('invalid-input', 'Last-Event-ID (or ?after=) must be a feed position, a non-negative integer.');
    }
    const scope = { ...(threadId ? { threadId } : {}), ...(runId ? { runId } : {}) };
    let cursor = resumeFrom !== undefined ? Number(resumeFrom) : await request.plans.feed.position();
    await request.plans.feed.read({ ...scope, after: cursor, limit: 1 }); // refuses a malformed thread or run id before streaming
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    stream.write(`retry: 1000\n: feed of ${organizationId} after ${cursor}\n\n`);
    let open = true;
    request.raw.on('close', () => (open = false));
    let lastWrite = Date.now();
    while (open) {
      const events = await request.plans.feed.read({ ...scope, after: cursor, limit: FEED_BATCH });
      for (const event of events) {
        stream.write(`id: ${event.feedSeq}\nevent: ${event.eventType}\ndata: ${JSON.stringify(event)}\n\n`);
        cursor = event.feedSeq;
        lastWrite = Date.now();
      }
      if (events.length === FEED_BATCH) continue;
      if (Date.now() - lastWrite > FEED_KEEPALIVE_MS) {
        stream.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, options.feedPollMs ?? FEED_POLL_MS));
    }
    stream.end();
  });

  app.post('/v1/doctor', async (request) => request.plans.records.examine(request.body ?? {}));

  app.get<{ Params: Params; Querystring: Query }>('/v1/threads/:threadId/plans', async (request) =>
    request.plans.runs.active(request.params.threadId, parseInclude(request.query.include)),
  );

  app.get<{ Params: Params }>('/v1/threads/:threadId/summaries', async (request) =>
    request.plans.runs.summaries(request.params.threadId),
  );

  return app;
}
