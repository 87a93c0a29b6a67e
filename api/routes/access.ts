import { z } from 'zod';

import { errors, json } from '../openapi.js';
import {
  NewTokenSchema,
  OrganizationQuerySchema,
  PolicyBodySchema,
  PolicyChangeSchema,
  PolicySchema,
  PolicyTrialBodySchema,
  PolicyTrialSchema,
  PrincipalParamsSchema,
  PrincipalStateSchema,
  TokenBodySchema,
  TokenParamsSchema,
  TokenSchema,
} from '../schemas.js';
import type { Api } from '../types.js';

/**
 * Who may do what in the organization: its API tokens (and their principals) and its approval
 * policy. Changes are for its admins; the data dir's operator token may manage tokens of any
 * organization it names, so the first admin can be made while the stack runs.
 */
export function accessRoutes(api: Api): void {
  api.post(
    '/v1/tokens',
    {
      schema: {
        operationId: 'createToken',
        summary: 'Create an API token for a principal (admins; the operator token names the organization)',
        tags: ['access'],
        body: TokenBodySchema,
        response: { 201: json('The token, shown once, and its principal', NewTokenSchema), ...errors(400, 401, 403, 413) },
      },
    },
    async (request, reply) => reply.code(201).send(await request.acting(request.body.organizationId).tokens.create(request.body)),
  );

  api.get(
    '/v1/tokens',
    {
      schema: {
        operationId: 'listTokens',
        summary: 'The organization’s tokens, active and revoked (never the tokens themselves)',
        tags: ['access'],
        querystring: OrganizationQuerySchema,
        response: { 200: json('The tokens with their principals', z.array(TokenSchema)), ...errors(400, 401, 403) },
      },
    },
    async (request) => request.acting(request.query.organizationId).tokens.list(),
  );

  api.delete(
    '/v1/tokens/:tokenId',
    {
      schema: {
        operationId: 'revokeToken',
        summary: 'Revoke a token: it is refused from then on',
        tags: ['access'],
        params: TokenParamsSchema,
        querystring: OrganizationQuerySchema,
        response: { 200: json('The revoked token', TokenSchema), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => request.acting(request.query.organizationId).tokens.revoke(request.params.tokenId),
  );

  api.get(
    '/v1/policy',
    {
      schema: {
        operationId: 'getPolicy',
        summary: 'The organization’s approval policy in force, with its version',
        tags: ['access'],
        response: { 200: json('The policy (the defaults, version 0, until one is set)', PolicySchema), ...errors(401) },
      },
    },
    async (request) => request.plans.policy.get(),
  );

  api.put(
    '/v1/policy',
    {
      schema: {
        operationId: 'setPolicy',
        summary: 'Replace the organization’s approval policy (admins); runs already created keep the one they were created under',
        tags: ['access'],
        body: PolicyBodySchema,
        response: { 200: json('The new policy and its version', PolicySchema), ...errors(400, 401, 403, 413) },
      },
    },
    async (request) => request.plans.policy.set(request.body),
  );

  api.post(
    '/v1/policy/test',
    {
      schema: {
        operationId: 'testPolicy',
        summary:
          'A dry run of the approval policy: which rules match a draft (or a run’s plan), its stages and who may approve each, reminders, escalations, expiry',
        tags: ['access'],
        body: PolicyTrialBodySchema,
        response: {
          200: json('What the plan would be held to if created now; nothing is stored or started', PolicyTrialSchema),
          ...errors(400, 401, 403, 404, 413),
        },
      },
    },
    async (request) => request.plans.policy.test(request.body),
  );

  api.get(
    '/v1/policy/history',
    {
      schema: {
        operationId: 'policyHistory',
        summary: 'Every version of the organization’s approval policy, newest first: what, who, when',
        tags: ['access'],
        response: { 200: json('The versions', z.array(PolicyChangeSchema)), ...errors(401) },
      },
    },
    async (request) => request.plans.policy.history(),
  );

  for (const [action, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    api.post(
      `/v1/principals/:principalId/${action}`,
      {
        schema: {
          operationId: `${action}Principal`,
          summary: disabled
            ? 'Disable a principal: every token of it is refused, its decisions and approval links too, at once (admins)'
            : 'Enable a disabled principal again (admins)',
          tags: ['access'],
          params: PrincipalParamsSchema,
          response: { 200: json('The principal’s state', PrincipalStateSchema), ...errors(400, 401, 403, 404) },
        },
      },
      async (request) => request.plans.principals.setDisabled(request.params.principalId, disabled),
    );
  }
}
