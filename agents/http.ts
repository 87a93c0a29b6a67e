import type { AgentHandler } from './types.js';

/**
 * An agent served over HTTP: each node is POSTed as JSON to `url`
 * (`{runId, organizationId, threadId, agentId, attempt, node, upstream}`) and the JSON answer
 * is the node's output. A non-2xx answer fails the attempt with the response's text.
 */
export function httpAgent(url: string, options: { headers?: Record<string, string> } = {}): AgentHandler {
  return async ({ signal, heartbeat: _heartbeat, ...context }) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(context),
      signal,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Agent endpoint ${url} answered ${response.status}: ${text.slice(0, 500)}`);
    try {
      return { output: text ? JSON.parse(text) : null };
    } catch {
      return { output: text };
    }
  };
}
