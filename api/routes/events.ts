import { bearerToken } from '../../auth/tokens.js';
import type { PlansClient } from '../../client/plans-client.js';
import { PlanError } from '../../domain/errors.js';
import { errors } from '../openapi.js';
import { EventsQuerySchema, FeedEventSchema } from '../schemas.js';
import type { Api } from '../types.js';

const FEED_BATCH = 500;
const FEED_KEEPALIVE_MS = 15_000;
/** How often an open feed checks that its token still stands: a revoked token's feed ends within this. */
const FEED_REAUTH_MS = 2_000;

/** The live feed: the organization's events as server-sent events, in the order they were stored. */
export function eventRoutes(api: Api, options: { pollMs: number; plans: PlansClient }): void {
  api.get(
    '/v1/events',
    {
      schema: {
        operationId: 'streamEvents',
        summary: 'Server-sent events of the organization, in stored order; Last-Event-ID (or ?after=) resumes right after it',
        tags: ['events'],
        querystring: EventsQuerySchema,
        response: {
          200: {
            description: 'text/event-stream: `id` = feed position, `event` = event type, `data` = the event (FeedEvent)',
            content: { 'text/event-stream': { schema: FeedEventSchema } },
          },
          ...errors(400, 401),
        },
      },
    },
    async (request, reply) => {
      const { threadId, runId, after } = request.query;
      const lastEventId = request.headers['last-event-id'];
      const resumeFrom = (Array.isArray(lastEventId) ? lastEventId[0] : lastEventId) ?? after;
      if (resumeFrom !== undefined && !/^\d{1,15}$/.test(resumeFrom)) {
        throw new PlanError('invalid-input', 'Last-Event-ID (or ?after=) must be a feed position, a non-negative integer.');
      }
      const scope = { ...(threadId ? { threadId } : {}), ...(runId ? { runId } : {}) };
      const end = await request.plans.feed.position();
      // A position past the end was never handed out: waiting for it would wait for events the reader will never see.
      if (resumeFrom !== undefined && Number(resumeFrom) > end) {
        throw new PlanError('invalid-input', `Last-Event-ID ${resumeFrom} is beyond the end of this feed (${end}).`);
      }
      let cursor = resumeFrom !== undefined ? Number(resumeFrom) : end;
      await request.plans.feed.read({ ...scope, after: cursor, limit: 1 });
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      stream.write(`retry: 1000\n: feed of ${request.principal.organizationId} after ${cursor}\n\n`);
      let open = true;
      request.raw.on('close', () => (open = false));
      let lastWrite = Date.now();
      // The token was checked when the feed opened; it is checked again while the feed stays open,
      // so revoking it (or every token of its principal) ends the feed within seconds.
      const token = bearerToken(request.headers.authorization);
      let checkedAt = Date.now();
      while (open) {
        if (Date.now() - checkedAt > FEED_REAUTH_MS) {
          checkedAt = Date.now();
          if (!token || !(await options.plans.principals.authenticate(token))) {
            stream.write(`event: revoked\ndata: ${JSON.stringify({ message: 'The API token of this feed was revoked.' })}\n\n`);
            break;
          }
        }
        const { events, through, more } = await request.plans.feed.read({ ...scope, after: cursor, limit: FEED_BATCH });
        for (const event of events) {
          stream.write(`id: ${event.feedSeq}\nevent: ${event.eventType}\ndata: ${JSON.stringify(event)}\n\n`);
          lastWrite = Date.now();
        }
        cursor = through;
        if (more) continue;
        if (Date.now() - lastWrite > FEED_KEEPALIVE_MS) {
          stream.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, options.pollMs));
      }
      stream.end();
    },
  );
}
