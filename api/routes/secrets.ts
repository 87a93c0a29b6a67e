import { z } from 'zod';

import { errors, json } from '../openapi.js';
import { SecretBodySchema, SecretParamsSchema, SecretSchema } from '../schemas.js';
import type { Api } from '../types.js';

const tags = ['secrets'];

/** The organization's secrets: admins set, list and delete them by name; no answer carries a value. */
export function secretRoutes(api: Api): void {
  api.put(
    '/v1/secrets/:name',
    {
      schema: {
        operationId: 'setSecret',
        summary: 'Set (or replace) a secret; a webhook step sends it as {"$secret": "NAME"} (admins)',
        tags,
        params: SecretParamsSchema,
        body: SecretBodySchema,
        response: { 200: json('The secret by name, without its value', SecretSchema), ...errors(400, 401, 403, 413) },
      },
    },
    async (request) => request.plans.secrets.set(request.params.name, request.body),
  );

  api.get(
    '/v1/secrets',
    {
      schema: {
        operationId: 'listSecrets',
        summary: 'The organization’s secrets by name: who set each and when, never a value (admins)',
        tags,
        response: { 200: json('The secrets, without values', z.array(SecretSchema)), ...errors(401, 403) },
      },
    },
    async (request) => request.plans.secrets.list(),
  );

  api.delete(
    '/v1/secrets/:name',
    {
      schema: {
        operationId: 'deleteSecret',
        summary: 'Delete a secret; a step still sending it fails, naming it (admins)',
        tags,
        params: SecretParamsSchema,
        response: { 204: z.null().describe('Deleted: no content'), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await request.plans.secrets.delete(request.params.name);
      return reply.code(204).send(null);
    },
  );
}
