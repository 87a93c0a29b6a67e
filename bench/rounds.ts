import { randomUUID } from 'node:crypto';

import { type Client, WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import { type UpdateDefinition, WorkflowIdConflictPolicy, defaultPayloadConverter } from '@temporalio/common';

import type { Stack } from '../app/stack.js';
import type { PlanRunInput } from '../domain/run-input.js';
import { workflowIdOf } from '../temporal/names.js';
import { approvePlanUpdate, persistedPlanUpdate } from '../workflows/messages.js';
import { bareApproveUpdate, bareStartedUpdate } from './bare-workflow.js';
import { pool } from './stats.js';

/**
 * The four kinds of run `npm run bench` compares, each run K times at concurrency C and timed
 * alike: created (answered once it runs), approved by update (timed: the client's call until the
 * answer is where the kind keeps it), run to completion.
 */
export interface RoundTiming {
  approveMs: number[];
  approveToDoneMs: number[];
  runsPerSecond: number;
  workflowIds: string[];
}

export interface RoundShape {
  runs: number;
  nodes: number;
  concurrency: number;
}

/** Runs `one` K times at concurrency C; `one` answers its workflow id and when its approval was sent and answered. */
async function timed(
  shape: RoundShape,
  one: (index: number) => Promise<{ workflowId: string; approve: () => Promise<void>; done: () => Promise<void> }>,
): Promise<RoundTiming> {
  const result: RoundTiming = { approveMs: [], approveToDoneMs: [], runsPerSecond: 0, workflowIds: [] };
  const started = performance.now();
  await pool(shape.runs, shape.concurrency, async (index) => {
    const run = await one(index);
    const t0 = performance.now();
    await run.approve();
    result.approveMs.push(performance.now() - t0);
    if (shape.nodes > 0) {
      await run.done();
      result.approveToDoneMs.push(performance.now() - t0);
    }
    result.workflowIds.push(run.workflowId);
  });
  result.runsPerSecond = shape.runs / ((performance.now() - started) / 1000);
  return result;
}

/** Starts a workflow as PlansClient starts a plan: update-with-start of its creation's answer (a retried start finds it). */
async function startedBy(
  client: Client,
  update: UpdateDefinition<unknown, []>,
  workflowType: string,
  workflowId: string,
  taskQueue: string,
  args: unknown[],
): Promise<WorkflowHandle> {
  const startWorkflowOperation = new WithStartWorkflowOperation(workflowType, {
    workflowId,
    taskQueue,
    args,
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
  await client.workflow.executeUpdateWithStart(update, { startWorkflowOperation });
  return startWorkflowOperation.workflowHandle();
}

/** Plans as users run them: created and approved through PlansClient (each answer once SurrealDB shows it), every change stored. */
export function planRound(stack: Stack, shape: RoundShape, draft: unknown): Promise<RoundTiming> {
  const organizationId = `bench-${randomUUID()}`;
  return (async () => {
    // The decider is a person with the approver role, as the approval gate requires.
    await stack.store.principals.save({ organizationId, id: 'bench', kind: 'person', roles: ['approver'] });
    return timed(shape, async (index) => {
      const plan = await stack.plans.runs.create({
        organizationId,
        threadId: `t-${index}`,
        sourceThreadId: 'source',
        leadAgentId: 'lead',
        draft: draft as never,
      });
      const handle = stack.client.workflow.getHandle(plan.workflowId);
      return {
        workflowId: plan.workflowId,
        approve: async () => {
          await stack.plans.runs.approve({ runId: plan.runId, organizationId, threadId: 'source', emittedBy: 'bench' });
        },
        done: async () => {
          const done = await handle.result();
          if (done.status !== 'completed') throw new Error(`run ${plan.runId} ended ${done.status}`);
        },
      };
    });
  })();
}

/**
 * The plan workflow with storing switched off: the same input as a plan of the round before
 * (its gate, rules and revision), started and approved by the same updates straight through
 * Temporal, on a worker whose activities store nothing (`persistTransitions` and the nodes'
 * `executeNode` answer at once, the decider is looked up in memory as the bare workflow's is).
 * What is left is the workflow's own cost.
 */
export function unstoredRound(client: Client, taskQueue: string, shape: RoundShape, input: PlanRunInput): Promise<RoundTiming> {
  return timed(shape, async (index) => {
    const runId = randomUUID();
    const workflowId = workflowIdOf(runId);
    const handle = await startedBy(client, persistedPlanUpdate, 'planRun', workflowId, taskQueue, [
      { ...input, runId, planSpecId: runId, threadId: `t-${index}` },
    ]);
    return {
      workflowId,
      approve: async () => {
        await handle.executeUpdate(approvePlanUpdate, {
          args: [{ organizationId: input.organizationId, threadId: input.sourceThreadId ?? input.threadId, emittedBy: 'bench' }],
        });
      },
      done: async () => {
        const done = await handle.result();
        if (done.status !== 'completed') throw new Error(`unstored run ${runId} ended ${done.status}`);
      },
    };
  });
}

/** The activities of the worker that runs plans with storing off (unstoredRound). */
export const UNSTORED_ACTIVITIES = {
  persistTransitions: async () => ({ notify: [] }),
  executeNode: async () => ({ artifactIds: [] }),
  findPrincipal: async ({ principalId }: { principalId: string }) => ({ id: principalId, kind: 'person', roles: ['approver'] }),
};

/** The input a plan's workflow was started with (read from its history), for unstoredRound. */
export async function startInputOf(client: Client, workflowId: string): Promise<PlanRunInput> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`no start input in ${workflowId}'s history`);
  return defaultPayloadConverter.fromPayload<PlanRunInput>(payload as never);
}

/** The bare workflow (`bareApproval`), or the storage floor (`floorApproval`): the same gate, approved by the same calls. */
export function bareRound(
  client: Client,
  taskQueue: string,
  shape: RoundShape,
  workflowType: 'bareApproval' | 'floorApproval',
): Promise<RoundTiming> {
  const organizationId = `bench-${randomUUID()}`;
  return timed(shape, async () => {
    const runId = randomUUID();
    const workflowId = `bare:${runId}`;
    const handle = await startedBy(client, bareStartedUpdate, workflowType, workflowId, taskQueue, [
      shape.nodes,
      { runId, organizationId },
    ]);
    return {
      workflowId,
      approve: async () => {
        await handle.executeUpdate(bareApproveUpdate, { args: [{ emittedBy: 'bench' }] });
      },
      done: async () => {
        await handle.result();
      },
    };
  });
}
