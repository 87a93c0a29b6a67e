import { z } from 'zod';

import { errors, json } from '../openapi.js';
import { StandingApprovalSchema, StandingListQuerySchema, StandingParamsSchema } from '../schemas.js';
import type { Api } from '../types.js';

const tags = ['standing-approvals'];

/**
 * Standing approvals: given with an approval (`standing` in its body), listed and revoked here.
 * A person sees and revokes their own; an admin every one of the organization. Another's is not found.
 */
export function standingRoutes(api: Api): void {
  api.get(
    '/v1/standing-approvals',
    {
      schema: {
        operationId: 'listStandingApprovals',
        summary: 'Standing approvals the token’s person gave (an admin: every one of the organization), oldest first',
        tags,
        querystring: StandingListQuerySchema,
        response: {
          200: json('The standing approvals, revoked and ended ones included unless active=true', z.array(StandingApprovalSchema)),
          ...errors(400, 401),
        },
      },
    },
    async (request) => request.plans.standing.list({ active: request.query.active === 'true' }),
  );

  api.delete(
    '/v1/standing-approvals/:standingId',
    {
      schema: {
        operationId: 'revokeStandingApproval',
        summary:
          'Revoke a standing approval at once (the person who gave it or an admin): runs created from then on are not approved by it',
        tags,
        params: StandingParamsSchema,
        response: { 200: json('The revoked standing approval', StandingApprovalSchema), ...errors(400, 401, 404, 409) },
      },
    },
    async (request) => request.plans.standing.revoke(request.params.standingId),
  );
}
