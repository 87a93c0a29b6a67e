import { loadConfig } from '../../app/config.js';
import { type DevServer, startDevServer } from '../../temporal/dev-server.js';
import { freePort } from '../../temporal/free-port.js';

/**
 * One real Temporal dev server for the whole run. There is no skipping: without the
 * `temporal` binary this throws and the run fails.
 */
export default async function globalSetup(): Promise<void> {
  // The stacks tests start (in process or as `plans start`) poll hard with one token: unlimited,
  // unless a test sets a limit (test/security/rate-limit.test.ts).
  process.env.PLANS_RATE_LIMIT ??= '0';
  if (process.env.TEMPORAL_ADDRESS) return;
  const server = await startDevServer({ binary: loadConfig().temporalBin, port: await freePort(), uiPort: await freePort() });
  (globalThis as { __temporalDevServer?: DevServer }).__temporalDevServer = server;
  process.env.TEMPORAL_ADDRESS = server.address;
}
