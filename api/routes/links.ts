import { z } from 'zod';

import type { LinkSigner } from '../../auth/links.js';
import type { PlansClient } from '../../client/plans-client.js';
import { PlanError } from '../../domain/errors.js';
import { errors } from '../openapi.js';
import { LinkParamsSchema, PlanSnapshotSchema } from '../schemas.js';
import type { Api } from '../server.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The small page a signed link shows: what it does, and a button to do it. */
function linkPage(title: string, detail: string, action?: string): string {
  const form = action ? `<form method="post"><button type="submit">${escapeHtml(action)}</button></form>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body style="font-family:system-ui;max-width:36rem;margin:2rem auto;padding:0 1rem"><h1 style="font-size:1.3rem">${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>${form}</body></html>`;
}

const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

/**
 * Signed approval links from notifications: the link itself is the authority, for one decision
 * on one run, once, until it expires. GET only shows what POST would do.
 */
export function linkRoutes(api: Api, options: { plans: PlansClient; links: LinkSigner }): void {
  api.get(
    '/links/:token',
    {
      schema: {
        operationId: 'showLink',
        summary: 'What a signed approval link would do (a page with a button)',
        tags: ['links'],
        security: [],
        params: LinkParamsSchema,
        response: { 200: html('The page'), ...errors(400, 403, 404) },
      },
    },
    async (request, reply) => {
      const claims = options.links.verify(request.params.token);
      const run = await options.plans.runs.get(claims.runId);
      if (run.organizationId !== claims.organizationId) throw new PlanError('not-found', `Plan run ${claims.runId} was not found.`);
      const verb = { approve: 'Approve', reject: 'Reject', 'changes-requested': 'Request changes for' }[claims.decision];
      const detail = `As ${claims.principalId}, on revision ${claims.revision}. Status: ${run.status}. ${run.objective}`;
      return reply.type('text/html; charset=utf-8').send(linkPage(`${verb} “${run.title}”?`, detail, `${verb} plan as ${claims.principalId}`));
    },
  );

  api.post(
    '/links/:token',
    {
      schema: {
        operationId: 'useLink',
        summary: 'Take the decision a signed approval link carries, once, as the person it was made for and on the revision it showed',
        tags: ['links'],
        security: [],
        params: LinkParamsSchema,
        response: {
          200: { description: 'Done: a page, or the run as JSON with `Accept: application/json`', content: { 'text/html': { schema: z.string() }, 'application/json': { schema: PlanSnapshotSchema } } },
          ...errors(400, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const claims = options.links.verify(request.params.token);
      const run = await options.plans.runs.decideByLink(claims);
      if (request.headers.accept?.includes('application/json')) return reply.type('application/json').send(JSON.stringify(run));
      return reply.type('text/html; charset=utf-8').send(linkPage(`Done: “${run.title}” is ${run.status}.`, 'You can close this page.'));
    },
  );
}
