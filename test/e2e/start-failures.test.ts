import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { freePort } from '../../temporal/free-port.js';
import { tempDir, temporalAddress, within } from '../support/stack.js';

/**
 * A process that cannot start retries what can pass by itself (an engine that does not answer
 * yet), one log line per retry, for PLANS_START_TIMEOUT seconds; then it exits non-zero naming
 * what it could not reach. What cannot pass (a namespace Temporal does not have) fails at once.
 */

const BIN = fileURLToPath(new URL('../../../bin/plans.js', import.meta.url));

/** Runs `plans <command>` with `env` until it exits (bounded): its exit code and everything it printed. */
async function runPlans(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const { TEMPORAL_ADDRESS: _address, ...inherited } = process.env;
  const child = spawn(process.execPath, [BIN, command], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...inherited, PLANS_DATA_DIR: tempDir('plans-start-'), PLANS_API_PORT: String(await freePort()), ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const code = await within(`plans ${command} (pid ${child.pid}) to give up and exit`, () => exited, 90_000);
    return { code, output };
  } finally {
    child.kill('SIGKILL');
  }
}

it('plans start with a Temporal frontend that never answers retries, then exits 1 naming it', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const { code, output } = await runPlans('start', { TEMPORAL_ADDRESS: address, PLANS_START_TIMEOUT: '4' });
  expect(code).toBe(1);
  expect(output).toMatch(
    new RegExp(`Temporal at ${address} \\(namespace default\\): .+; trying again in \\d+\\.\\d\\d s \\(attempt 2\\)\\.`),
  );
  expect(output).toMatch(
    new RegExp(
      `Error: could not start: Temporal at ${address} \\(namespace default\\): gave up after \\d+ attempts in \\d+\\.\\d s: Failed to connect before the deadline`,
    ),
  );
  expect(output).not.toMatch(/is running/);
}, 120_000);

it('plans worker with a SurrealDB server that never answers exits 1 naming it', async () => {
  const url = `ws://127.0.0.1:${await freePort()}`;
  const { code, output } = await runPlans('worker', {
    TEMPORAL_ADDRESS: temporalAddress(),
    SURREALDB_URL: url,
    PLANS_PUBLIC_URL: 'http://127.0.0.1:1',
    PLANS_START_TIMEOUT: '3',
  });
  expect(code).toBe(1);
  expect(output).toContain(`Error: could not start: SurrealDB at ${url}: `);
  expect(output).toContain(`the SurrealDB server at ${url} did not answer within 3 s`);
}, 120_000);

it('a namespace Temporal does not have fails at once, not after retrying, and says how to make it', async () => {
  const { code, output } = await runPlans('start', {
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: 'no-such-namespace',
    PLANS_START_TIMEOUT: '60',
  });
  expect(code).toBe(1);
  expect(output).toContain(
    `has no namespace "no-such-namespace": create it (temporal operator namespace create --namespace no-such-namespace)`,
  );
  expect(output).not.toMatch(/trying again/);
}, 120_000);

it('sign-in configured wrong: a missing variable, or an issuer that does not answer, is an error naming the variable; nothing runs', async () => {
  const oidc = { PLANS_OIDC_ISSUER: `http://127.0.0.1:${await freePort()}`, PLANS_OIDC_CLIENT_ID: 'plans', PLANS_OIDC_CLIENT_SECRET: 's' };
  const missing = await runPlans('start', { TEMPORAL_ADDRESS: temporalAddress(), ...oidc });
  expect(missing.code).toBe(1);
  expect(missing.output).toContain('PLANS_OIDC_ORGANIZATION is not set.');
  const unreachable = await runPlans('start', { TEMPORAL_ADDRESS: temporalAddress(), ...oidc, PLANS_OIDC_ORGANIZATION: 'acme' });
  expect(unreachable.code).toBe(1);
  expect(unreachable.output).toContain(
    `Error: could not start: PLANS_OIDC_ISSUER ${oidc.PLANS_OIDC_ISSUER}: its OpenID Connect discovery could not be read`,
  );
  expect(unreachable.output).not.toMatch(/is running/);
}, 120_000);
