import { z } from 'zod';

import type { LinkClaims, LinkSigner } from '../../auth/links.js';
import { bearerToken } from '../../auth/tokens.js';
import type { PlansClient } from '../../client/plans-client.js';
import type { PlanReview } from '../../client/reviews-client.js';
import type { RunScheduleView } from '../../client/runs-client.js';
import type { StepView } from '../../domain/plan-review.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { PlanError } from '../../domain/errors.js';
import { errors } from '../openapi.js';
import { DecidedRunSchema, LinkParamsSchema } from '../schemas.js';
import type { AuditReceipt } from '../../storage/plan-store.js';
import type { Api } from '../types.js';
import { escapeHtml, page } from './html-page.js';
import { inboxUrlOf } from '../../mcp/resources.js';

/** One step in full, as the inbox shows it: what runs, with which inputs (secrets masked), after what. */
function stepHtml(step: StepView): string {
  const executor = escapeHtml(JSON.stringify(step.executor, null, 2));
  const after = step.dependsOn.length ? `after ${step.dependsOn.map(escapeHtml).join(', ')}` : 'first';
  const external = step.external ? `<p><strong>Calls out:</strong> ${escapeHtml(`${step.external.method} ${step.external.url}`)}</p>` : '';
  return `<li><h3 style="font-size:1rem;margin:.8rem 0 .2rem">${escapeHtml(step.title)} <small>(${escapeHtml(step.nodeId)}, ${after})</small></h3>${
    step.instructions ? `<p>${escapeHtml(step.instructions)}</p>` : ''
  }${external}<pre style="background:#f4f4f4;padding:.5rem;overflow:auto">${executor}</pre><p><small>Up to ${step.retry.maxAttempts} attempts, each at most ${escapeHtml(step.timeout)}${
    step.optional ? '; optional' : ''
  }.</small></p></li>`;
}

/**
 * The page a signed link shows: the same review as the inbox — every step in full, the calls it
 * makes outside (credentials masked), what Approve starts, and whether this person may decide —
 * before the button.
 */
function reviewPage(verb: string, claims: LinkClaims, run: PlanSnapshot, review: PlanReview, schedule: RunScheduleView): string {
  const calls = review.externalCalls.length
    ? `<h2 style="font-size:1.1rem">Calls outside the system</h2><ul>${review.externalCalls.map((call) => `<li>${escapeHtml(`${call.title}: ${call.method} ${call.url}`)}${call.internal ? ` <strong>Inside the organization’s network: ${escapeHtml(call.internal)}.</strong>` : ''}</li>`).join('')}</ul>`
    : '<p>It calls nothing outside the system.</p>';
  const starts =
    claims.decision === 'approve'
      ? `<p><strong>Approve starts it:</strong> ${review.steps.length} step${review.steps.length === 1 ? '' : 's'} run now${
          schedule.text ? `, and a schedule is attached: ${escapeHtml(schedule.text)}` : ''
        }.</p>`
      : '';
  const you = claims.decision === 'approve' ? review.you : review.rejecting;
  const outlook = you.may ? '' : `<p><strong>You cannot decide it now:</strong> ${escapeHtml(you.why ?? '')}</p>`;
  const form = you.may
    ? `<form method="post"><button type="submit">${escapeHtml(`${verb} plan as ${claims.principalId}`)}</button></form>`
    : '';
  // A link decides the plan as shown; changing it, or deciding it step by step, is done in the inbox.
  const editing =
    claims.decision === 'approve'
      ? `<p>To change the plan before approving it, or to hold or skip some of its steps, <a href="${inboxUrlOf('', run.runId)}">open it in the inbox</a>.</p>`
      : '';
  return page(
    `${verb} “${run.title}”?`,
    `<p>As ${escapeHtml(claims.principalId)}, on revision ${escapeHtml(claims.revision)}. Status: ${escapeHtml(run.status)}.</p><p>${escapeHtml(run.objective)}</p>${starts}${calls}<h2 style="font-size:1.1rem">Every step</h2><ol>${review.steps.map(stepHtml).join('')}</ol>${outlook}${form}${editing}`,
  );
}

const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

/**
 * Signed approval links from notifications: the link itself is the authority, for one decision
 * on one run, once, until it expires. GET only shows what POST would do.
 */
export function linkRoutes(api: Api, options: { plans: PlansClient; links: LinkSigner; toInbox?: boolean }): void {
  api.get(
    '/links/:token',
    {
      schema: {
        operationId: 'showLink',
        summary:
          'What a signed approval link would do: the review the inbox shows (every step, calls outside, what Approve starts), then a button',
        tags: ['links'],
        security: [],
        params: LinkParamsSchema,
        response: {
          200: html('The page'),
          302: html('Where people sign in through the identity provider: to the plan in the inbox, where they decide as themselves'),
          ...errors(400, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const claims = options.links.verify(request.params.token);
      const run = await options.plans.runs.get(claims.runId);
      if (run.organizationId !== claims.organizationId) throw new PlanError('not-found', `Plan run ${claims.runId} was not found.`);
      // With sign-in, a link opens the plan in the inbox: whoever opens it signs in, and decides as themselves.
      if (options.toInbox) return reply.redirect(inboxUrlOf('', run.runId), 302);
      const verb = { approve: 'Approve', reject: 'Reject', 'changes-requested': 'Request changes for' }[claims.decision];
      const person = (await options.plans.principals.find(claims.organizationId, claims.principalId)) ?? {
        id: claims.principalId,
        kind: 'person' as const,
        roles: [],
      };
      const [review, schedule] = await Promise.all([
        options.plans.reviews.review(run.runId, person),
        options.plans.runs.schedule(run.runId),
      ]);
      return reply.type('text/html; charset=utf-8').send(reviewPage(verb, claims, run, review, schedule));
    },
  );

  api.post(
    '/links/:token',
    {
      schema: {
        operationId: 'useLink',
        summary: 'Take the decision a signed approval link carries, once, as the person it was made for and on the revision it showed',
        tags: ['links'],
        security: [{}, { bearer: [] }],
        description:
          "Acts only for the person the link names: with their API token (`Authorization: Bearer …`), or without one when the link was delivered to that person's own (personal) subscription, while it exists. Otherwise 401, and nothing is decided.",
        params: LinkParamsSchema,
        response: {
          200: {
            description: 'Done: a page, or the run as JSON with `Accept: application/json`',
            content: {
              'text/html': { schema: z.string() },
              'application/json': { schema: DecidedRunSchema },
            },
          },
          ...errors(400, 401, 403, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const claims = options.links.verify(request.params.token);
      // The person the link names must be proven: signed in with their token, or the link came to their own destination.
      const token = bearerToken(request.headers.authorization);
      const presenter = token ? await options.plans.principals.signIn(token) : undefined;
      if (token && !presenter) throw new PlanError('unauthorized', 'The API token is not known (or was revoked).');
      // Where people sign in, a link decides nothing by itself: its person signs in (the inbox) or shows their token.
      if (options.toInbox && !presenter)
        throw new PlanError(
          'unauthorized',
          'People sign in to decide here: open the link in a browser (it opens the plan in the inbox), or send your API token.',
        );
      const run = await options.plans.audit.decided(
        claims.organizationId,
        await options.plans.runs.decideByLink(claims, presenter),
        claims.principalId,
      );
      if (request.headers.accept?.includes('application/json')) return reply.type('application/json').send(JSON.stringify(run));
      return reply
        .type('text/html; charset=utf-8')
        .send(page(`Done: “${run.title}” is ${run.status}.`, `<p>You can close this page.</p>${receiptHtml(run.receipt)}`));
    },
  );
}

/** The receipt on the done page: what the person can keep to prove later what they decided (docs/auditing.md). */
function receiptHtml(receipt: AuditReceipt | null): string {
  if (!receipt) return '';
  const head =
    'pending' in receipt.head
      ? escapeHtml(receipt.head.message)
      : `signed at position ${receipt.head.position} by key ${escapeHtml(receipt.head.keyId)}`;
  return `<h2>Your receipt</h2><p>Your decision is event ${receipt.event.sequence} of this run, at position ${receipt.position} of your organization’s audit record, hash <code>${escapeHtml(receipt.hash)}</code>; ${head}.</p><pre>${escapeHtml(JSON.stringify(receipt, null, 2))}</pre>`;
}
