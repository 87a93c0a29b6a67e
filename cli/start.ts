import { DefaultLogger, Runtime } from '@temporalio/worker';

import { loadConfig } from '../app/config.js';
import { type StackRole, startStack } from '../app/stack.js';
import { temporalRuntimeTelemetry } from '../metrics/temporal-metrics.js';

/** Whether this process now serves (start, worker, api): then the CLI must not exit when its command returns. */
export const serving = { now: false };

/**
 * `plans start` (the whole stack), `plans worker` or `plans api` (one part, beside others on a
 * shared Temporal and SurrealDB server): runs until SIGINT or SIGTERM, then shuts down cleanly.
 * The process exits explicitly: the embedded SurrealDB engine can keep it alive otherwise.
 */
export async function runStart(
  flags: { dataDir?: string; apiPort?: number; temporalPort?: number; uiPort?: number },
  role: StackRole = 'all',
): Promise<void> {
  let config;
  try {
    config = loadConfig(flags);
  } catch (error) {
    process.stderr.write(`Error: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // Before any worker connects: the SDK's own metrics are buffered for /metrics and OTLP (metrics/temporal-metrics.ts).
  Runtime.install({ logger: new DefaultLogger(config.logLevel), ...temporalRuntimeTelemetry() });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`Data dir: ${config.dataDir}`);
  let stack;
  try {
    stack = await startStack(config, { log, role });
  } catch (error) {
    log(`Error: could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  const lines = [
    role === 'all' ? 'execution-plans is running.' : `execution-plans ${role} is running.`,
    ...(stack.api ? [`  HTTP API:        ${stack.apiUrl}  (GET /healthz, /openapi.json)`, `  Approvals inbox: ${stack.apiUrl}/inbox`] : []),
    ...(stack.metricsUrl ? [`  Metrics:         ${stack.metricsUrl}`] : []),
    `  Temporal:        ${stack.temporalAddress}  (namespace ${config.namespace}, task queue ${config.taskQueue})`,
    ...(stack.uiUrl ? [`  Temporal Web UI: ${stack.uiUrl}`] : []),
    `  SurrealDB:       ${stack.surrealUrl}`,
    ...(stack.api && (await stack.store.principals.activeTokenCount()) === 0
      ? [
          `No API tokens yet: make an admin with \`npx plans token create --org <org> --principal <you> --kind person --role admin --role approver\`.`,
        ]
      : []),
    'Press Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  serving.now = true;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`Received ${signal}, shutting down …`);
    const force = setTimeout(() => {
      log('Shutdown took too long; exiting.');
      process.exit(1);
    }, 30_000);
    await stack.stop();
    clearTimeout(force);
    log('Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
