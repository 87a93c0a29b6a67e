import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import type { Workflow, WorkflowResultType } from '@temporalio/common';
import { DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import type { AgentRegistry } from '../../agents/types.js';
import { type StackConfig, loadConfig } from '../../app/config.js';
import { type Stack, startStack } from '../../app/stack.js';
import { GaveUp } from '../../cluster/processes.js';
import { temporalRuntimeTelemetry } from '../../metrics/temporal-metrics.js';
import { type RunRequest, planRunInput } from '../../domain/run-input.js';
import { runQuery } from '../../storage/database.js';
import { workflowIdOf } from '../../temporal/names.js';
import { bundlePlanWorkflows } from '../../worker/bundle.js';

let runtimeInstalled = false;
const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/** The workflows, bundled once per test file (with the tracing interceptors for a stack that traces: `tracing`). */
export function workflowBundle(options: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN'), ...temporalRuntimeTelemetry() });
    runtimeInstalled = true;
  }
  const tracing = options.tracing ?? false;
  if (!bundles.has(tracing)) bundles.set(tracing, bundlePlanWorkflows({ tracing }));
  return bundles.get(tracing)!;
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
  const stack = await startStack(
    {
      ...config,
      apiPort: 0,
      temporalAddress: temporalAddress(),
      surrealUrl: 'mem://',
      taskQueue: `test-${randomUUID()}`,
      rateLimitPerMinute: 0, // tests poll hard; the limit has its own test
      ...overrides,
    },
    { workflowBundle: await workflowBundle({ tracing: overrides.tracing !== undefined }), ...(agents ? { agents } : {}) },
  );
  // Every file's stack ends by walking the audit chains it wrote: what each test stored must verify (docs/auditing.md).
  const stop = stack.stop;
  stack.stop = async () => {
    const broken = chainsBrokenOnPurpose ? [] : await brokenChains(stack);
    await stop();
    if (broken.length > 0) throw new Error(`Audit chains that do not hold after this file's tests:\n${broken.join('\n')}`);
  };
  return stack;
}

let chainsBrokenOnPurpose = false;

/** This test file tampers with stored events on purpose: its stack's chains are not walked when it stops. */
export function tampersWithStoredEvents(): void {
  chainsBrokenOnPurpose = true;
}

async function brokenChains(stack: Stack): Promise<string[]> {
  const [organizations] = await runQuery<[string[]]>(stack.db, 'SELECT VALUE record::id(id) FROM plan_feed;');
  const reports = await Promise.all(
    organizations.map(async (organizationId) => ({ organizationId, report: await stack.store.audit.verify(organizationId) })),
  );
  return reports
    .filter(({ report }) => !report.ok)
    .map(({ organizationId, report }) => `${organizationId}: ${JSON.stringify(report.break)}`);
}

/** What a check of `eventually` throws when what it waits for can no longer happen (the process it waits on exited): the wait fails at once. */
export { GaveUp };

/**
 * Polls until `check` returns a value (not undefined), or fails after `timeoutMs` (generous: CI runs test files side by side on 2 cores).
 * `what` is what it waits for, as the failure message names it, e.g. 'run X to complete': the error reads
 * "<what>: not within N s", followed by the last error `check` threw, if any.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GaveUp) throw new Error(`${what}: it will not happen: ${error.message}`, { cause: error });
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${lastError !== undefined ? `; last error: ${String(lastError)}` : ''}`);
}

/**
 * What `work` answers, or a failure after `timeoutMs` naming `what` it waited for ("<what>: not within N s"), for a
 * wait that is not a poll: a workflow's result, a process's exit, a stream. `work` is handed a signal that aborts
 * when the time is up, so whatever it waits on can stop too.
 */
export async function within<T>(what: string, work: (signal: AbortSignal) => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: not within ${timeoutMs / 1000} s`));
      controller.abort();
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** The workflow's result, or a failure naming it after `timeoutMs`: `handle.result()` alone waits as long as the workflow runs. */
export function resultOf<W extends Workflow>(handle: WorkflowHandle<W>, timeoutMs = 30_000): Promise<WorkflowResultType<W>> {
  return within(
    `workflow ${handle.workflowId} to close`,
    (signal) => handle.client.withAbortSignal(signal, () => handle.result()),
    timeoutMs,
  );
}

/**
 * Starts a run straight through Temporal, as a caller that reaches it without the client would
 * (the `temporal` CLI, an SDK client, a client from an older version): `request` as given, made
 * into the run's input by the one builder of inputs.
 */
export async function startThroughTemporal(stack: Stack, request: Omit<RunRequest, 'planSpecId'> & { runId: string }): Promise<void> {
  await stack.client.workflow.start('planRun', {
    workflowId: workflowIdOf(request.runId),
    taskQueue: stack.config.taskQueue,
    args: [planRunInput({ ...request, planSpecId: request.runId })],
  });
}
