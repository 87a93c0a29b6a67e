import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import type { LinkSigner } from '../../auth/links.js';
import { type DecisionOutcome, type PlanMetrics, PROMETHEUS_CONTENT_TYPE } from '../../metrics/plan-metrics.js';
import { errors } from '../openapi.js';
import type { Api } from '../types.js';

/** Prometheus's text exposition format. */

/**
 * `GET /metrics`: the token's organization's metrics as Prometheus text, for its admins (the
 * permission table's `metrics.read`). The installation's every metric, without a token, is
 * served at `PLANS_METRICS_ADDRESS` only (metrics/metrics-listener.ts).
 */
export function metricsRoutes(api: Api, options: { metrics: PlanMetrics; links: LinkSigner }): void {
  api.get(
    '/metrics',
    {
      schema: {
        operationId: 'metrics',
        summary:
          'The organization’s metrics, as Prometheus text: an admin’s token (every metric of the installation: PLANS_METRICS_ADDRESS)',
        tags: ['service'],
        response: {
          200: { description: 'Prometheus text (exposition format 0.0.4)', content: { 'text/plain': { schema: z.string() } } },
          ...errors(401, 403),
        },
      },
    },
    async (request, reply) => {
      const organization = request.plans.metricsOrganization();
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(await options.metrics.prometheusText(organization));
    },
  );
  observeReviews(api, options);
}

const LINK_OUTCOMES: Record<string, DecisionOutcome> = {
  approve: 'approved',
  reject: 'rejected',
  'changes-requested': 'changes-requested',
};

/**
 * The clock of `plans_page_open_to_decision_seconds`: a person's review of a run opened (the
 * inbox's `GET …/review`, a link's page), then their decision answered 200 (approve, reject, a
 * link's POST) — both through this process. Read off the answers, after they are sent.
 */
function observeReviews(api: Api, { metrics, links }: { metrics: PlanMetrics; links: LinkSigner }): void {
  api.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    if (reply.statusCode !== 200) return;
    try {
      observe(request);
    } catch {
      // A link that expired since it was answered: nothing to measure, and the answer is sent already.
    }
  });
  function observe(request: FastifyRequest): void {
    const route = request.routeOptions.url;
    const params = request.params as { runId?: string; token?: string };
    if (route === '/links/:token') {
      const claims = links.verify(params.token ?? '');
      if (request.method === 'GET') metrics.reviewOpened(claims.runId, claims.principalId);
      else metrics.decidedAfterReview(claims.organizationId, claims.runId, claims.principalId, LINK_OUTCOMES[claims.decision]!, 'link');
      return;
    }
    if (!route?.startsWith('/v1/plans/:runId/') || !request.principal || !params.runId) return;
    const { principal } = request;
    if (route === '/v1/plans/:runId/review') metrics.reviewOpened(params.runId, principal.id);
    else if (route === '/v1/plans/:runId/approve' || route === '/v1/plans/:runId/reject') {
      const resolution = (request.body as { resolution?: DecisionOutcome } | undefined)?.resolution;
      const outcome = route.endsWith('/approve') ? 'approved' : (resolution ?? 'rejected');
      const channel = request.signedInThrough ? 'sign-in' : 'token';
      metrics.decidedAfterReview(principal.organizationId, params.runId, principal.id, outcome, channel);
    }
  }
}
