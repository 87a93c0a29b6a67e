import { proxyActivities, sleep } from '@temporalio/workflow';

import type { ExecuteNodeInput, ExecuteNodeResult, PlanActivities } from '../activities/contract.js';
import { parseInterval } from '../domain/duration.js';
import type { CompiledNode } from '../domain/plan.js';

/** A worker that stops heartbeating (killed, partitioned) loses its attempt after this long. */
const NODE_HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * Runs one attempt of an agent or system node and resolves to what it produced. A `wait` node
 * is a durable timer in the workflow itself; everything else is one activity attempt, whose
 * retries the workflow makes itself so that each one is recorded as a `node-retried` event.
 */
export async function runNodeAttempt(
  node: CompiledNode,
  input: Omit<ExecuteNodeInput, 'nodeId' | 'title' | 'instructions' | 'executor'>,
): Promise<ExecuteNodeResult> {
  const { executor } = node;
  if (executor.type === 'system' && executor.action === 'wait') {
    await sleep(parseInterval(executor.duration)!);
    return { artifactIds: [] };
  }
  const { executeNode } = proxyActivities<PlanActivities>({
    activityId: `${node.nodeId}.${input.attempt}`,
    summary: node.title,
    startToCloseTimeout: node.policy.timeoutMs,
    heartbeatTimeout: NODE_HEARTBEAT_TIMEOUT_MS,
    retry: { maximumAttempts: 1 },
  });
  return executeNode({
    ...input,
    nodeId: node.nodeId,
    title: node.title,
    ...(node.instructions !== undefined ? { instructions: node.instructions } : {}),
    executor,
  });
}
