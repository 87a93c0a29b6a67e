import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readOperatorToken } from '../../auth/operator.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { freePort } from '../../temporal/free-port.js';
import { launchChromium, openInbox } from '../support/browser.js';
import { tokenThroughApi } from '../support/principals.js';
import { GaveUp, eventually, tempDir, within } from '../support/stack.js';
import { askApi } from '../support/http.js';

/**
 * `plans start` watches the Temporal dev server it started: killed with -9, it is started again
 * on the same data file. Meanwhile `/healthz` says Temporal is down and a change is refused at
 * once (503 `unavailable`, CLI exit 6), never hung; afterwards everything works again, runs
 * from before included.
 */

const BIN = fileURLToPath(new URL('../../../bin/plans.js', import.meta.url));
const dataDir = tempDir('plans-supervised-');
let apiUrl: string;
let server: ChildProcess;
let output = '';

function withoutTemporalAddress(): NodeJS.ProcessEnv {
  const { TEMPORAL_ADDRESS: _address, ...env } = process.env;
  return env;
}

beforeAll(async () => {
  const ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
  apiUrl = `http://127.0.0.1:${ports.api}`;
  server = spawn(process.execPath, [BIN, 'start'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own dev server (not the test run's), which it supervises.
    env: {
      ...withoutTemporalAddress(),
      PLANS_DATA_DIR: dataDir,
      PLANS_API_PORT: String(ports.api),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
    },
  });
  server.stdout!.on('data', (chunk) => (output += chunk));
  server.stderr!.on('data', (chunk) => (output += chunk));
  await eventually(
    `plans start to answer ${apiUrl}/healthz with 200`,
    async () => {
      if (server.exitCode !== null) throw new GaveUp(`plans start exited:\n${output}`);
      return (await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(10_000) })).status === 200 ? true : undefined;
    },
    120_000,
  );
}, 150_000);

afterAll(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    // It forces its own exit after 30 s of shutting down.
    await within(`plans start (pid ${server.pid}) to exit after SIGTERM`, () => exited, 45_000).catch((error: unknown) => {
      server.kill('SIGKILL');
      throw error;
    });
  }
});

const call = <T>(token: string, method: string, path: string, body?: unknown) => askApi<T>(apiUrl, token, method, path, body);

const draft = {
  title: 'Survives',
  objective: 'Runs across a Temporal restart.',
  nodes: [{ id: 'one', title: 'One', executor: { type: 'system', action: 'noop' } }],
};
const draftFile = join(dataDir, 'draft.json');
writeFileSync(draftFile, JSON.stringify(draft));

const devServerPid = () => Number(readFileSync(join(dataDir, 'temporal.db.pid'), 'utf8'));
const health = async () => {
  // Bounded: it answers within its probes' 1.5 s even while Temporal is frozen.
  const response = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as { status: string; down: Array<{ part: string; reason: string }> } };
};

it('while Temporal does not answer, health says so and changes are refused at once; reads go on', async () => {
  const operator = readOperatorToken(dataDir)!;
  const planner = await tokenThroughApi(apiUrl, operator, 'acme', 'planner', { kind: 'agent', roles: [] });
  const alice = await tokenThroughApi(apiUrl, operator, 'acme', 'alice');
  const before = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    draft,
  });
  expect(before.body.status).toBe('pending-approval');

  // Frozen, not dead: the process lives (no restart), Temporal answers nothing.
  const pid = devServerPid();
  process.kill(pid, 'SIGSTOP');
  try {
    const down = await eventually(
      '/healthz to answer 503 while the Temporal dev server is frozen',
      async () => ((await health()).status === 503 ? (await health()).body : undefined),
      10_000,
    );
    expect(down).toMatchObject({ status: 'unavailable', down: [{ part: 'temporal', reason: expect.any(String) }] });
    const refused = await call<{ error: { code: string; message: string } }>(planner, 'POST', '/v1/plans', {
      threadId: 't-1',
      leadAgentId: 'planner',
      draft,
    });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('unavailable');
    expect(refused.body.error.message).toMatch(
      /^temporal \(.+\) is not available right now; POST \/v1\/plans was not done\. Try again shortly\.$/,
    );
    expect(refused.ms).toBeLessThan(3000);
    const decision = await call<{ error: { code: string } }>(alice, 'POST', `/v1/plans/${before.body.runId}/approve`, {});
    expect([decision.status, decision.body.error.code]).toEqual([503, 'unavailable']);
    // The CLI says the same, with exit code 6.
    const cli = spawnSync(process.execPath, [BIN, 'create', '--file', draftFile, '--thread', 't-1', '--lead-agent', 'planner'], {
      encoding: 'utf8',
      env: { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: planner },
      // Synchronous: unbounded, a hung CLI would block this process, the test's own timeout included.
      timeout: 30_000,
    });
    if ((cli.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT')
      throw new Error('plans create, while Temporal is frozen, to exit: not within 30 s');
    expect([cli.status, cli.stderr]).toEqual([6, expect.stringContaining('is not available right now')]);
    // Reads come from SurrealDB and go on.
    expect((await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${before.body.runId}`)).body.status).toBe('pending-approval');
    // A person in the inbox is told, not left guessing.
    const browser = await launchChromium();
    try {
      const page = await openInbox(browser, apiUrl, alice, `#/plan/${before.body.runId}`);
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('alert').filter({ hasText: 'is not available right now' }).waitFor();
      await page.locator('#live', { hasText: 'Reconnecting…' }).waitFor();
    } finally {
      await browser.close();
    }
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await eventually(
    '/healthz to answer 200 once the Temporal dev server is thawed',
    async () => ((await health()).status === 200 ? true : undefined),
    30_000,
  );
  // Nothing refused happened; the plan is decided now.
  expect((await call<PlanSnapshot[]>(alice, 'GET', '/v1/plans')).body.map((plan) => plan.runId)).toEqual([before.body.runId]);
  expect((await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${before.body.runId}/approve`, {})).body.status).not.toBe('pending-approval');
}, 120_000);

it('restarts a Temporal dev server killed with -9, on the same data file; runs from before go on', async () => {
  const operator = readOperatorToken(dataDir)!;
  const planner = await tokenThroughApi(apiUrl, operator, 'acme', 'planner', { kind: 'agent', roles: [] });
  const alice = await tokenThroughApi(apiUrl, operator, 'acme', 'alice');
  const before = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    draft,
  });
  const pid = devServerPid();
  process.kill(pid, 'SIGKILL');
  await eventually(
    `plans start to say the Temporal dev server killed with -9 (pid ${pid}) is back on`,
    async () => (output.includes('The Temporal dev server is back on') ? true : undefined),
    60_000,
  );
  expect(output).toMatch(/The Temporal dev server exited \(exit code none, signal SIGKILL\); starting it again in \d+ ms …/);
  expect(devServerPid()).not.toBe(pid);
  await eventually(
    '/healthz to answer 200 with the restarted Temporal dev server',
    async () => ((await health()).status === 200 ? true : undefined),
    30_000,
  );
  // The run from before the kill is still there, and decided now; a new one runs.
  const approved = await call<PlanSnapshot>(alice, 'POST', `/v1/plans/${before.body.runId}/approve`, {});
  expect(approved.status).toBe(200);
  await eventually(
    `run ${before.body.runId}, approved after the restart, to be completed`,
    async () => ((await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${before.body.runId}`)).body.status === 'completed' ? true : undefined),
    60_000,
  );
  const after = await call<PlanSnapshot>(planner, 'POST', '/v1/plans', { threadId: 't-1', leadAgentId: 'planner', draft });
  expect(after.status).toBe(201);
  await eventually(
    `run ${after.body.runId}, created after the restart, to be completed`,
    async () => ((await call<PlanSnapshot>(alice, 'GET', `/v1/plans/${after.body.runId}`)).body.status === 'completed' ? true : undefined),
    60_000,
  );
}, 180_000);
