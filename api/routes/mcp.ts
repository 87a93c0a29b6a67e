import { randomUUID } from 'node:crypto';

import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';

import { bearerToken, hashToken } from '../../auth/tokens.js';
import type { PlansClient } from '../../client/plans-client.js';
import { PlanError } from '../../domain/errors.js';
import { inboxUrlOf } from '../../mcp/resources.js';
import { type CallSlots, planMcpServer } from '../../mcp/server.js';
import { feedWatchInProcess } from '../../mcp/watch.js';
import { type PlansApi, refusalFromAnswer } from '../../tools/plans-api.js';
import type { Api } from '../types.js';

/** The header that marks the MCP tools' own requests to the API (its value a secret of this process): they are not rate limited twice. */
export const INTERNAL_HEADER = 'x-plans-internal';
/** A session nobody used for this long is closed (its feed watch with it). */
const IDLE_MS = 30 * 60_000;
/** One token keeps at most this many sessions; opening one more closes its oldest. */
const SESSIONS_PER_TOKEN = 10;
/**
 * One token runs at most this many tool calls at once, over all its sessions: a batch of calls, or
 * many sessions each waiting, is bounded (the API's rate limit counts the `/mcp` requests only).
 */
const CALLS_PER_TOKEN = 4;

/** The API's own routes, called in process as one token: what the tools of an `/mcp` session go through. */
class InjectedApi implements PlansApi {
  constructor(
    private readonly app: FastifyInstance,
    private readonly authorization: string,
    private readonly internalSecret: string,
  ) {}

  async send<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ body: T; nextCursor: string | null }> {
    const response = await this.app.inject({
      method,
      url: path,
      headers: {
        authorization: this.authorization,
        [INTERNAL_HEADER]: this.internalSecret,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    const payload: unknown = response.body ? JSON.parse(response.body) : undefined;
    if (response.statusCode >= 400) throw refusalFromAnswer(response.statusCode, payload);
    const cursor = response.headers['x-next-cursor'];
    return { body: payload as T, nextCursor: typeof cursor === 'string' ? cursor : null };
  }
}

interface Session {
  transport: StreamableHTTPServerTransport;
  /** Its tool calls in flight, by JSON-RPC id: the request that carried one ending (the host went away) ends the call. */
  calls: Map<string | number, AbortController>;
  /** The token that opened it: only that token may use it (a session id alone is no credential). */
  tokenHash: string;
  lastSeen: number;
}

/**
 * MCP over Streamable HTTP at `/mcp` (mcp/ARCHITECTURE.md): a bearer token as on every `/v1`
 * route (the server's `onRequest` hook signs it in), a session per `initialize`, bound to that
 * token. Each session's tools call the API's routes in process as the token's principal.
 */
export function mcpRoutes(
  api: Api,
  options: { plans: PlansClient; publicUrl: () => string; internalSecret: string; bodyLimit: number },
): void {
  const sessions = new Map<string, Session>();
  const close = (id: string) => {
    const session = sessions.get(id);
    sessions.delete(id);
    void session?.transport.close().catch(() => undefined);
  };
  const sweeper = setInterval(() => {
    for (const [id, session] of sessions) if (Date.now() - session.lastSeen > IDLE_MS) close(id);
  }, 60_000);
  sweeper.unref();
  api.addHook('onClose', async () => {
    clearInterval(sweeper);
    for (const id of [...sessions.keys()]) close(id);
  });

  const callsByToken = new Map<string, number>();
  const slotsOf = (session: Session): CallSlots => ({
    start: (requestId) => {
      const running = callsByToken.get(session.tokenHash) ?? 0;
      if (running >= CALLS_PER_TOKEN)
        return new PlanError(
          'rate-limited',
          `At most ${CALLS_PER_TOKEN} tool calls run at once per token: call again when one has returned.`,
        );
      callsByToken.set(session.tokenHash, running + 1);
      const controller = new AbortController();
      session.calls.set(requestId, controller);
      return {
        signal: controller.signal,
        done: () => {
          session.calls.delete(requestId);
          const left = (callsByToken.get(session.tokenHash) ?? 1) - 1;
          if (left > 0) callsByToken.set(session.tokenHash, left);
          else callsByToken.delete(session.tokenHash);
        },
      };
    },
  });

  const open = async (token: string, authorization: string, feed: Parameters<typeof feedWatchInProcess>[0]) => {
    const tokenHash = hashToken(token);
    const own = [...sessions].filter(([, session]) => session.tokenHash === tokenHash);
    if (own.length >= SESSIONS_PER_TOKEN) close(own.sort(([, a], [, b]) => a.lastSeen - b.lastSeen)[0]![0]);
    const session: Session = {
      tokenHash,
      calls: new Map(),
      lastSeen: Date.now(),
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, session),
      }),
    };
    const server = planMcpServer({
      api: new InjectedApi(api as unknown as FastifyInstance, authorization, options.internalSecret),
      inboxUrl: (runId) => inboxUrlOf(options.publicUrl(), runId),
      watch: feedWatchInProcess(feed, async () => Boolean(await options.plans.principals.authenticate(token))),
      log: (message) => api.log.warn(message),
      slots: slotsOf(session),
    });
    session.transport.onclose = () => {
      if (session.transport.sessionId) sessions.delete(session.transport.sessionId);
    };
    await server.connect(session.transport);
    return session;
  };

  api.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/mcp',
    // Larger than an argument may be (tools/plan-tools.ts, MAX_ARGUMENT_BYTES): an oversized argument is refused by name, as a tool error.
    bodyLimit: options.bodyLimit,
    schema: { hide: true },
    handler: async (request, reply) => {
      // Signed in by the server's onRequest hook; checked again here, so no path to this handler skips it.
      const token = bearerToken(request.headers.authorization);
      if (!token || !request.principal) throw new PlanError('unauthorized', 'Send an API token: Authorization: Bearer <token>.');
      const header = request.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      let session = sessionId ? sessions.get(sessionId) : undefined;
      if (sessionId && (!session || session.tokenHash !== hashToken(token)))
        throw new PlanError(
          'not-found',
          `No MCP session ${sessionId} for this token (it ended, or was never opened): initialize a new one.`,
        );
      if (!session) {
        if (request.method !== 'POST' || !isInitializeRequest(request.body))
          throw new PlanError('invalid-input', 'Open an MCP session first: POST an initialize request without an Mcp-Session-Id header.');
        session = await open(token, request.headers.authorization!, request.plans.feed);
      }
      session.lastSeen = Date.now();
      const calls = (Array.isArray(request.body) ? request.body : [request.body]) as Array<{ id?: string | number } | undefined>;
      const ids = calls.flatMap((message) => (message?.id !== undefined ? [message.id] : []));
      const { calls: running } = session;
      reply.raw.once('close', () => ids.forEach((id) => running.get(id)?.abort()));
      reply.hijack();
      await session.transport.handleRequest(request.raw, reply.raw, request.body);
    },
  });
}
