import { readFileSync } from 'node:fs';

import type { PlanMetrics } from '../../metrics/plan-metrics.js';
import type { HealthMonitor } from '../health.js';
import { documentNextCursor, errors, json, markOptionalBodies } from '../openapi.js';
import { PAGED_OPERATIONS } from './plans.js';
import { DoctorBodySchema, DoctorReportSchema, HealthSchema, MeSchema } from '../schemas.js';
import type { Api } from '../types.js';

const INBOX_PAGE = new URL('../../../inbox/index.html', import.meta.url);
/** The page's script, compiled from inbox/inbox.ts beside this file's own output (dist/inbox/inbox.js). */
const INBOX_SCRIPT = new URL('../../inbox/inbox.js', import.meta.url);

/** Health, identity, this API's own document, the inbox page, and `plans doctor`. */
export function serviceRoutes(
  api: Api,
  options: { health: HealthMonitor; optionalBodies: ReadonlySet<string>; metrics: PlanMetrics },
): void {
  api.get(
    '/healthz',
    {
      schema: {
        operationId: 'health',
        summary: 'Ready when a plan can be created and decided right now: Temporal, SurrealDB and the worker each answer',
        tags: ['service'],
        security: [],
        response: {
          200: json('Ready', HealthSchema),
          503: json('Starting, or a part of the stack is down (named in `down`)', HealthSchema),
        },
      },
    },
    async (_request, reply) => {
      const health = await options.health.check();
      return reply.code(health.status === 'ok' ? 200 : 503).send(health);
    },
  );

  // This document, generated from the routes' schemas; its server is where it was fetched from.
  api.get('/openapi.json', { schema: { hide: true } }, async (request) => {
    const host = request.headers['x-forwarded-host'] ?? request.headers.host;
    const document = documentNextCursor(
      markOptionalBodies(structuredClone(api.swagger()) as unknown as Record<string, unknown>, options.optionalBodies),
      PAGED_OPERATIONS,
    );
    return { ...document, servers: [{ url: `${request.protocol}://${String(host)}` }] };
  });

  // The approvals inbox: one static page and its script, which talk to this API with the person's token.
  const inbox = readFileSync(INBOX_PAGE, 'utf8');
  const inboxScript = readFileSync(INBOX_SCRIPT, 'utf8');
  api.get('/inbox', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(inbox));
  api.get('/inbox/inbox.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(inboxScript),
  );
  api.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/inbox'));

  api.get(
    '/v1/me',
    {
      schema: {
        operationId: 'me',
        summary: 'Who the token stands for',
        tags: ['service'],
        response: { 200: json('The principal the token stands for', MeSchema), ...errors(401) },
      },
    },
    async (request) => ({ ...request.principal, signedIn: request.signedInThrough }),
  );

  api.post(
    '/v1/doctor',
    {
      schema: {
        operationId: 'doctor',
        summary: 'Compare the organization’s stored runs with what Temporal committed, and repair them on request (`plans doctor`)',
        tags: ['service'],
        body: DoctorBodySchema.nullish(),
        response: { 200: json('What differs, and what was repaired', DoctorReportSchema), ...errors(400, 401, 403, 413) },
      },
    },
    async (request) => {
      const report = await request.plans.records.examine(request.body ?? {});
      // Runs found differing, whether or not they were repaired since.
      options.metrics.doctorFound(report.organizationId, report.diverged + report.repaired);
      return report;
    },
  );
}
