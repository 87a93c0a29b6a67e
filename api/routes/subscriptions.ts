import { z } from 'zod';

import { errors, json } from '../openapi.js';
import { NewSubscriptionSchema, SubscriptionBodySchema, SubscriptionParamsSchema, SubscriptionSchema } from '../schemas.js';
import type { Api } from '../types.js';

const tags = ['subscriptions'];

/** Webhook subscriptions to the organization's events. */
export function subscriptionRoutes(api: Api): void {
  api.post(
    '/v1/subscriptions',
    {
      schema: {
        operationId: 'createSubscription',
        summary: 'Subscribe a webhook to event types; the answer carries the signing secret, shown once',
        tags,
        body: SubscriptionBodySchema,
        response: {
          201: json('The subscription with its signing secret, shown only here', NewSubscriptionSchema),
          ...errors(400, 401, 403, 413),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await request.plans.subscriptions.create(request.body)),
  );

  api.get(
    '/v1/subscriptions',
    {
      schema: {
        operationId: 'listSubscriptions',
        summary: 'The organization’s subscriptions (without their secrets)',
        tags,
        response: { 200: json('The subscriptions, without their secrets', z.array(SubscriptionSchema)), ...errors(401) },
      },
    },
    async (request) => request.plans.subscriptions.list(),
  );

  api.delete(
    '/v1/subscriptions/:subscriptionId',
    {
      schema: {
        operationId: 'deleteSubscription',
        summary: 'Delete a subscription',
        tags,
        params: SubscriptionParamsSchema,
        response: { 204: z.null().describe('Deleted: no content'), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await request.plans.subscriptions.delete(request.params.subscriptionId);
      return reply.code(204).send(null);
    },
  );
}
