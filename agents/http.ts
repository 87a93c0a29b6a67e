import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVER_ADDRESS } from '@opentelemetry/semantic-conventions';

import { SpanKind, inSpan, withTraceHeaders } from '../tracing/spans.js';
import type { AgentHandler } from './types.js';

/**
 * An agent served over HTTP: each node is POSTed as JSON to `url`
 * (`{runId, organizationId, threadId, agentId, attempt, node, upstream}`) and the JSON answer
 * is the node's output. A non-2xx answer fails the attempt with the response's text.
 */
export function httpAgent(url: string, options: { headers?: Record<string, string> } = {}): AgentHandler {
  const attributes = { [ATTR_HTTP_REQUEST_METHOD]: 'POST', [ATTR_SERVER_ADDRESS]: new URL(url).hostname };
  return async ({ signal, heartbeat: _heartbeat, ...context }) => {
    // A client span, its traceparent sent along: the agent's own spans can join the run's trace.
    const { response, text } = await inSpan(
      'POST agent',
      { kind: SpanKind.CLIENT, attributes: { ...attributes, 'plans.agent_id': context.agentId } },
      async (span) => {
        const response = await fetch(url, {
          method: 'POST',
          headers: withTraceHeaders({ 'content-type': 'application/json', ...options.headers }),
          body: JSON.stringify(context),
          signal,
        });
        span?.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
        return { response, text: await response.text() };
      },
    );
    if (!response.ok) throw new Error(`Agent endpoint ${url} answered ${response.status}: ${text.slice(0, 500)}`);
    try {
      return { output: text ? JSON.parse(text) : null };
    } catch {
      return { output: text };
    }
  };
}
