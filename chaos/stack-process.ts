import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readOperatorToken } from '../auth/operator.js';

const BIN = fileURLToPath(new URL('../../bin/plans.js', import.meta.url));

export interface StackPorts {
  api: number;
  temporal: number;
  ui: number;
}

/**
 * `plans start` as a separate process on one data dir (its own supervised Temporal dev server,
 * the embedded RocksDB), as a user runs it: started, killed with -9, started again.
 */
export class StackProcess {
  private child: ChildProcess | undefined;
  private output = '';
  readonly apiUrl: string;

  constructor(
    readonly dataDir: string,
    private readonly ports: StackPorts,
  ) {
    this.apiUrl = `http://127.0.0.1:${ports.api}`;
  }

  /** Starts `plans start` (with `extraEnv`) and waits until `/healthz` answers 200. */
  async start(timeoutMs = 120_000, extraEnv: Record<string, string> = {}): Promise<void> {
    const { TEMPORAL_ADDRESS: _own, ...env } = process.env;
    const child = spawn(process.execPath, [BIN, 'start'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        ...extraEnv,
        PLANS_DATA_DIR: this.dataDir,
        PLANS_API_PORT: String(this.ports.api),
        TEMPORAL_PORT: String(this.ports.temporal),
        TEMPORAL_UI_PORT: String(this.ports.ui),
        PLANS_LOG_LEVEL: 'ERROR',
      },
    });
    this.child = child;
    child.stdout!.on('data', (chunk) => (this.output += chunk));
    child.stderr!.on('data', (chunk) => (this.output += chunk));
    await this.healthy(timeoutMs);
  }

  /** Waits until `/healthz` answers 200 (the stack, Temporal included, is usable). */
  async healthy(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new Error(`plans start exited:\n${this.output.slice(-2000)}`);
      const status = await fetch(`${this.apiUrl}/healthz`).then(
        (response) => response.status,
        () => 0,
      );
      if (status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`plans start was not healthy within ${timeoutMs} ms:\n${this.output.slice(-2000)}`);
  }

  /** The stack process's pid, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The pid of the Temporal dev server the stack runs (from its pid file). */
  temporalPid(): number {
    return Number(readFileSync(join(this.dataDir, 'temporal.db.pid'), 'utf8'));
  }

  /** An API token for a principal of an organization, made through the API with the data dir's operator token. */
  async tokenFor(organizationId: string, principalId: string, kind: 'person' | 'agent', roles: string[]): Promise<string> {
    const response = await fetch(`${this.apiUrl}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readOperatorToken(this.dataDir)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ organizationId, principalId, kind, roles }),
    });
    if (response.status !== 201) throw new Error(`token for ${principalId}: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { token: string }).token;
  }

  /** kill -9 of the whole stack process (its Temporal dev server lives on, orphaned, until the next start stops it). */
  killApp(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** kill -9 of the Temporal dev server only: `plans start` must bring it back by itself. */
  killTemporal(): void {
    process.kill(this.temporalPid(), 'SIGKILL');
  }

  /** Stops the stack cleanly. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** Signals the stack process, if it runs, and waits for it to exit. */
  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
