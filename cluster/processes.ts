import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A long-running process of the cluster, with its output in a log file; it can be killed and started again. */
export class ClusterProcess {
  private child: ChildProcess | undefined;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
  ) {}

  start(): void {
    const log = createWriteStream(this.options.logFile, { flags: 'a' });
    const child = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.options.env }, ...(this.options.cwd ? { cwd: this.options.cwd } : {}) });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.child = child;
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

/** Polls `check` until it returns true; fails naming `what` after `timeoutMs`, or at once when `check` throws `GaveUp`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      if (error instanceof GaveUp) throw new Error(`${what} will not be ready: ${error.message}`);
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} was not ready within ${timeoutMs / 1000} s${last ? `: ${(last as Error).message}` : ''}`);
}
