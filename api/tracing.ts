import { type Span, context, propagation, trace } from '@opentelemetry/api';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { SpanKind, SpanStatusCode, noteScope, tracer, withScope } from '../tracing/spans.js';

/**
 * A server span per request (docs/tracing.md), registered before every other hook so that the
 * authentication, the route's handler and everything they call — the Temporal client, SurrealDB —
 * run in its context. A caller's W3C `traceparent` (never its `tracestate`) makes it the span's parent;
 * one that does not parse is ignored (a new trace starts) and never refuses the request. Nothing
 * a caller sends becomes an attribute: the span is named by the route as registered (never the
 * path, which may carry a link's token), and carries the organization and principal the token
 * or session proved, and the route's run id.
 */
export function traceRequests(app: FastifyInstance): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    // Only the caller's traceparent: its tracestate would ride on every call out of the run, unseen by whoever approved it.
    const parent = propagation.extract(context.active(), { traceparent: request.headers.traceparent });
    const span = tracer().startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: request.method, ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}) },
      },
      parent,
    );
    spans.set(request, span);
    context.with(withScope(trace.setSpan(parent, span), {}), done);
  });
  // After authentication (onRequest) and validation: who acts, and on which run.
  app.addHook('preHandler', async (request) => {
    const principal = request.principal as { organizationId?: string; id?: string } | null;
    const runId = (request.params as { runId?: unknown } | undefined)?.runId;
    noteScope({
      ...(principal?.organizationId ? { organizationId: principal.organizationId } : {}),
      ...(principal?.id ? { principalId: principal.id } : {}),
      ...(typeof runId === 'string' ? { runId } : {}),
    });
  });
  const end = (request: FastifyRequest, status: number | undefined) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => end(request, undefined));
}
