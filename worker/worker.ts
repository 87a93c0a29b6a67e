import type { Client } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

import { createActivities } from '../activities/index.js';
import type { AgentRegistry } from '../agents/types.js';
import type { LinkSigner } from '../auth/links.js';
import type { PlanMetrics } from '../metrics/plan-metrics.js';
import type { PlanStore } from '../storage/plan-store.js';
import { DEFAULT_TASK_QUEUE } from '../temporal/names.js';
import type { Tracing } from '../tracing/sdk.js';
import { tracingActivityInterceptors, tracingWorkflowSinks } from '../tracing/temporal.js';
import { WORKFLOWS_PATH, workflowInterceptorModules } from './bundle.js';

export interface PlanWorkerOptions {
  connection: NativeConnection;
  /** Used by activities that manage Temporal Schedules. */
  client: Client;
  store: PlanStore;
  namespace?: string;
  taskQueue?: string;
  /** The agents this worker runs, by `agentId`: an agent platform's own handlers. */
  agents: AgentRegistry;
  /** Signs the approval links of notifications. */
  links: LinkSigner;
  /** The operator's `PLANS_EGRESS_ALLOW`: hosts every organization may call even at a non-public address. */
  egressAllow?: readonly string[];
  /** A prebuilt workflow bundle (in memory, or a file); the workflows are bundled at creation when omitted. */
  workflowBundle?: WorkflowBundleWithSourceMap | { codePath: string };
  /** How many workflows stay cached between tasks (the SDK's default when omitted). */
  maxCachedWorkflows?: number;
  /** Where the activities count what they see (none: not counted). */
  metrics?: PlanMetrics;
  /**
   * The process's tracing, when on: activities get their spans, the workflow spans an exporter.
   * A prebuilt `workflowBundle` must then hold the tracing interceptors (`bundlePlanWorkflows({ tracing: true })`).
   */
  tracing?: Tracing;
}

/** A worker for plan runs: the `planRun` workflow and the activities that persist it. */
export async function createPlanWorker(options: PlanWorkerOptions): Promise<Worker> {
  const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  const { tracing } = options;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    interceptors: {
      ...(options.workflowBundle ? {} : { workflowModules: workflowInterceptorModules({ tracing: tracing !== undefined }) }),
      ...(tracing ? { activity: tracingActivityInterceptors() } : {}),
    },
    ...(tracing ? { sinks: tracingWorkflowSinks(tracing) } : {}),
    activities: createActivities({
      store: options.store,
      client: options.client,
      taskQueue,
      agents: options.agents,
      links: options.links,
      ...(options.egressAllow ? { egressAllow: options.egressAllow } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    }),
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  });
}
