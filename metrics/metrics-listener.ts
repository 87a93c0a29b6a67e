import { type Server, createServer } from 'node:http';

import { type PlanMetrics, PROMETHEUS_CONTENT_TYPE } from './plan-metrics.js';

/**
 * `PLANS_METRICS_ADDRESS`: a plain HTTP listener serving every metric of this process at
 * `/metrics`, without a token — the operator binds it where only their Prometheus reaches (a
 * private interface), as with the Temporal frontend and SurrealDB. Nothing else is served there.
 */
export async function listenForMetrics(metrics: PlanMetrics, address: string): Promise<{ url: string; close(): Promise<void> }> {
  const separator = address.lastIndexOf(':');
  // The host is always named (config refuses `:9464`): this listener has no token, so every interface is asked for by name.
  const host = address.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(separator + 1));
  const server: Server = createServer((request, response) => {
    // Compared, never parsed: a request target `new URL` refuses (`//a:99999/x`) must not throw out of the handler.
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Only GET /metrics is served here.\n');
      return;
    }
    metrics.prometheusText().then(
      (text) => response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(text),
      // Not the error's words: this listener answers anyone who reaches it.
      () => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('The metrics could not be read.\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
