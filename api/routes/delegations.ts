import { z } from 'zod';

import { errors, json } from '../openapi.js';
import { DelegationBodySchema, DelegationListQuerySchema, DelegationParamsSchema, DelegationSchema } from '../schemas.js';
import type { Api } from '../types.js';

const tags = ['delegations'];

/**
 * Delegations: while one holds, a person's approvals can be made by another person. A person
 * delegates their own (an admin anyone's), lists and revokes those from or to them; an admin
 * sees and revokes every one. Another's is not found.
 */
export function delegationRoutes(api: Api): void {
  api.post(
    '/v1/delegations',
    {
      schema: {
        operationId: 'createDelegation',
        summary: 'Delegate a person’s approvals to another person until a date (persons; an admin for any person)',
        tags,
        body: DelegationBodySchema,
        response: { 201: json('The delegation', DelegationSchema), ...errors(400, 401, 403, 413) },
      },
    },
    async (request, reply) => reply.code(201).send(await request.plans.delegations.create(request.body)),
  );

  api.get(
    '/v1/delegations',
    {
      schema: {
        operationId: 'listDelegations',
        summary: 'Delegations from or to the token’s person (an admin: every one of the organization), oldest first',
        tags,
        querystring: DelegationListQuerySchema,
        response: {
          200: json('The delegations, revoked and ended ones included unless active=true', z.array(DelegationSchema)),
          ...errors(400, 401),
        },
      },
    },
    async (request) => request.plans.delegations.list({ active: request.query.active === 'true' }),
  );

  api.delete(
    '/v1/delegations/:delegationId',
    {
      schema: {
        operationId: 'revokeDelegation',
        summary: 'Revoke a delegation at once (its delegator, its delegate or an admin)',
        tags,
        params: DelegationParamsSchema,
        response: { 200: json('The revoked delegation', DelegationSchema), ...errors(400, 401, 404, 409) },
      },
    },
    async (request) => request.plans.delegations.revoke(request.params.delegationId),
  );
}
