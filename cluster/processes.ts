import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** Whether something accepts TCP connections on a loopback port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** A long-running process of the cluster, with its output in a log file; it can be killed and started again. */
export class ClusterProcess {
  private child: ChildProcess | undefined;
  /** How the last start ended, once it has: what a wait on it reports. */
  private ended: string | undefined;
  /** Whether it was told to stop (`kill`), so its end was meant. */
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
  ) {}

  start(): void {
    const log = createWriteStream(this.options.logFile, { flags: 'a' });
    const child = spawn(this.command, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.options.env },
      ...(this.options.cwd ? { cwd: this.options.cwd } : {}),
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.ended = undefined;
    this.stopped = false;
    child.once('exit', (code, signal) => {
      if (this.child === child) this.ended = signal ? `killed by ${signal}` : `exited with code ${code}`;
    });
    this.child = child;
  }

  /** How it ended, when it was started and is gone (`undefined` while it runs or before its first start). */
  get exit(): string | undefined {
    return this.ended;
  }

  /** Its log file's last lines: what a failure shows of a process that died. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Throws `GaveUp` naming it, how it ended and its log's tail, when it has ended and nobody
   * stopped it (`kill`): what was awaited of it will not happen.
   */
  checkAlive(): void {
    if (this.ended && !this.stopped) throw new GaveUp(`${this.name} ${this.ended}; the end of ${this.options.logFile}:\n${this.logTail()}`);
  }

  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops it with `signal` (SIGKILL: a crash) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.stopped = true;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

/** An error `waitFor` does not wait out: what it waits for can no longer happen. */
export class GaveUp extends Error {}

/**
 * Polls `check` until it returns true; fails naming `what` after `timeoutMs`, or at once when
 * `check` throws `GaveUp` or one of the processes in `watch` has ended (naming it, with its log's tail).
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 120_000,
  watch: readonly ClusterProcess[] = [],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      for (const process of watch) process.checkAlive();
      if (await check()) return;
    } catch (error) {
      if (error instanceof GaveUp) throw new Error(`${what} will not be ready: ${error.message}`, { cause: error });
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} was not ready within ${timeoutMs / 1000} s${last ? `: ${(last as Error).message}` : ''}`);
}
