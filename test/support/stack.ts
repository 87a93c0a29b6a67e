import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import type { AgentRegistry } from '../../agents/types.js';
import { type StackConfig, loadConfig } from '../../app/config.js';
import { type Stack, startStack } from '../../app/stack.js';
import { bundlePlanWorkflows } from '../../worker/bundle.js';

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflows, bundled once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  bundle ??= bundlePlanWorkflows();
  return bundle;
}

export function temporalAddress(): string {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: the global setup did not start a Temporal server.');
  return address;
}

export function tempDir(prefix = 'plans-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The real stack against the shared Temporal dev server and an in-memory SurrealDB, on its own
 * task queue so test files running side by side never pick up each other's work.
 */
export async function startTestStack(overrides: Partial<StackConfig> = {}, agents?: AgentRegistry): Promise<Stack> {
  // Everything under its own data dir, the token file included: stacks of test files running side by side share nothing.
  const config = loadConfig({ dataDir: tempDir() }, {});
  return startStack(
    {
      ...config,
      apiPort: 0,
      temporalAddress: temporalAddress(),
      surrealUrl: 'mem://',
      taskQueue: `test-${randomUUID()}`,
      ...overrides,
    },
    { workflowBundle: await workflowBundle(), ...(agents ? { agents } : {}) },
  );
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs` (generous: CI runs test files side by side on 2 cores). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
