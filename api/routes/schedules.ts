import { z } from 'zod';

import { IdSchema } from '../../domain/requests.js';
import { errors, json } from '../openapi.js';
import { ScheduleNoteBodySchema, ScheduleParamsSchema, ScheduleSchema } from '../schemas.js';
import type { Api } from '../types.js';

const tags = ['schedules'];
const OrganizationQuery = z.object({
  organizationId: IdSchema.optional().describe("Optional: the token's organization; another is refused (403)."),
});
const NO_CONTENT = z.null().describe('Deleted: no content');

/** The schedules of approved recurring plans: read, pause, resume, delete. */
export function scheduleRoutes(api: Api): void {
  api.get(
    '/v1/schedules/:scheduleId',
    {
      schema: {
        operationId: 'getSchedule',
        summary: 'A schedule and its next fire times',
        tags,
        params: ScheduleParamsSchema,
        querystring: OrganizationQuery,
        response: { 200: json('The schedule', ScheduleSchema), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => request.plans.schedules.get(request.params.scheduleId, request.query),
  );

  for (const action of ['pause', 'resume'] as const) {
    api.post(
      `/v1/schedules/:scheduleId/${action}`,
      {
        schema: {
          operationId: `${action}Schedule`,
          summary: action === 'pause' ? 'Stop a schedule from firing until resumed' : 'Let a paused schedule fire again',
          tags,
          params: ScheduleParamsSchema,
          body: ScheduleNoteBodySchema.nullish(),
          response: { 200: json('The schedule', ScheduleSchema), ...errors(400, 401, 403, 404, 413) },
        },
      },
      async (request) => request.plans.schedules[action](request.params.scheduleId, request.body ?? {}),
    );
  }

  api.delete(
    '/v1/schedules/:scheduleId',
    {
      schema: {
        operationId: 'deleteSchedule',
        summary: 'Delete a schedule for good (runs it started are kept)',
        tags,
        params: ScheduleParamsSchema,
        querystring: OrganizationQuery,
        response: { 204: NO_CONTENT, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await request.plans.schedules.delete(request.params.scheduleId, request.query);
      return reply.code(204).send(null);
    },
  );
}
