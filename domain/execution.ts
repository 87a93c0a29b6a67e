import { type Credential, type NodeCompletion, credentialOf } from './decisions.js';
import type { Effect } from './effects.js';
import type { CompiledNode, CompiledPlan } from './plan.js';
import { retryDelayMs } from './plan.js';
import {
  type ArtifactRecord,
  type EventDraft,
  type NodeState,
  type RunPatch,
  type RunState,
  type StateChange,
  artifactIdOf,
} from './run-state.js';
import { evaluateGraph, makeChange, openNodes } from './state-change.js';
import { heldEvent, isHeld } from './step-verdicts.js';
import { FINISHED_NODE_STATUSES, type RunStatus } from './status.js';

/**
 * Node execution, as pure transitions over the run state: dispatch ready nodes, record each
 * attempt's outcome, retry, skip what a failed optional node leaves unreachable, and derive
 * the run's status from its nodes. The workflow performs the work; this decides what it means.
 */

export function nodeOf(plan: CompiledPlan, nodeId: string): CompiledNode {
  const node = plan.nodes.find((candidate) => candidate.nodeId === nodeId);
  if (!node) throw new Error(`Unknown node ${nodeId}`);
  return node;
}

/** The run's status and pointers, derived from its nodes (terminal statuses stay). */
function derive(state: RunState, nodes: NodeState[]): RunPatch & { status: RunStatus } {
  const running = nodes.filter((node) => node.status === 'running');
  // A step held for a decision waits for a person as a person's step does.
  const waiting = nodes.filter((node) => node.status === 'awaiting-human' || node.status === 'awaiting-approval');
  const ready = nodes.filter((node) => node.status === 'ready');
  let status: RunStatus;
  if (nodes.every((node) => node.status === 'completed' || node.status === 'skipped' || node.status === 'failed')) {
    status = 'completed';
  } else if (running.length > 0 || ready.length > 0) {
    status = 'running';
  } else if (waiting.length > 0) {
    status = 'awaiting-human';
  } else {
    status = 'blocked';
  }
  return {
    status,
    readyNodeIds: ready.map((node) => node.nodeId),
    currentNodeId: running[0]?.nodeId ?? null,
    waitingNodeId: waiting[0]?.nodeId ?? null,
    ...(status === 'completed' ? { completedAt: state.updatedAt } : {}),
  };
}

/** Applies node changes, evaluates the graph, derives the run and adds the run-level event if it finished. */
export function nodeStep(
  state: RunState,
  plan: CompiledPlan,
  now: string,
  changed: NodeState[],
  events: EventDraft[],
  reason: string,
  extra: { artifacts?: ArtifactRecord[]; effects?: Effect[] } = {},
): StateChange {
  const byId = new Map(changed.map((node) => [node.nodeId, node]));
  let nodes = state.nodes.map((node) => byId.get(node.nodeId) ?? node);
  const graph = evaluateGraph(plan, nodes);
  for (const node of graph.nodes) byId.set(node.nodeId, node);
  nodes = state.nodes.map((node) => byId.get(node.nodeId) ?? node);
  const derived = derive({ ...state, updatedAt: now }, nodes);
  // A run whose approval lapsed waits for it again: the steps still in flight finish, the run stays pending.
  const run = state.status === 'pending-approval' && derived.status !== 'completed' ? { ...derived, status: state.status } : derived;
  if (run.status === 'completed' && state.status !== 'completed') {
    const completed = nodes.filter((node) => node.status === 'completed').length;
    events.push({
      eventType: 'plan-completed',
      message: `Completed execution plan "${state.title}".`,
      fromStatus: state.status,
      toStatus: 'completed',
      emittedBy: 'system',
      detail: { completedNodes: completed, skippedOrFailedOptional: nodes.length - completed },
    });
  }
  return makeChange(state, now, {
    run,
    nodes: [...byId.values()],
    events,
    checkpoint: { reason },
    ...extra,
  });
}

/**
 * Some ready node may start now: a person's (people take no slot) or any while a slot is free.
 * Nodes backing off before a retry are still running: they keep their slot.
 */
export function canStartNodes(state: RunState, plan: CompiledPlan): boolean {
  if (state.status !== 'running') return false;
  const running = state.nodes.filter((node) => node.status === 'running').length;
  return state.nodes.some(
    (node) => node.status === 'ready' && (nodeOf(plan, node.nodeId).executor.type === 'human' || running < plan.parallelism),
  );
}

/**
 * Starts ready nodes, in plan order, up to the plan's parallelism (people waiting do not count
 * against it). Human nodes wait for a person; the others start their first attempt. Each one
 * started arms its deadline, if it has one. Undefined when nothing can start.
 */
export function dispatchReadyNodes(state: RunState, plan: CompiledPlan, now: string): StateChange | undefined {
  if (state.status !== 'running') return undefined;
  const running = state.nodes.filter((node) => node.status === 'running').length;
  let slots = plan.parallelism - running;
  const changed: NodeState[] = [];
  const events: EventDraft[] = [];
  for (const node of state.nodes) {
    if (node.status !== 'ready') continue;
    const spec = nodeOf(plan, node.nodeId);
    if (isHeld(node, spec)) {
      changed.push({ ...node, status: 'awaiting-approval' });
      events.push(heldEvent(node, spec));
    } else if (spec.executor.type === 'human') {
      changed.push({ ...node, status: 'awaiting-human', attempt: 1, startedAt: now });
      events.push({
        eventType: 'node-awaiting-human',
        message: `Node "${spec.title}" is waiting for ${spec.executor.assignee ?? 'a person'}.`,
        nodeId: node.nodeId,
        emittedBy: 'system',
        detail: { assignee: spec.executor.assignee ?? null },
      });
    } else if (slots > 0) {
      slots--;
      changed.push({ ...node, status: 'running', attempt: 1, startedAt: now });
      events.push({
        eventType: 'node-started',
        message: `Started node "${spec.title}".`,
        nodeId: node.nodeId,
        emittedBy: 'system',
        detail: { attempt: 1, executor: spec.executor.type },
      });
    }
  }
  if (changed.length === 0) return undefined;
  return nodeStep(state, plan, now, changed, events, 'nodes-started', {
    effects: [
      ...changed
        .filter((node) => nodeOf(plan, node.nodeId).policy.deadline)
        .map((node) => ({ kind: 'arm-deadline', nodeId: node.nodeId }) as const),
      ...changed.filter((node) => node.status === 'running').map((node) => ({ kind: 'start-attempt', nodeId: node.nodeId }) as const),
    ],
  });
}

/** A node finished: its artifacts are handed on and the nodes waiting for it may become ready. */
export function finishNode(
  state: RunState,
  plan: CompiledPlan,
  nodeId: string,
  outcome: { artifactIds: string[]; emittedBy: string; artifacts?: ArtifactRecord[]; credential?: Credential },
  now: string,
): StateChange {
  const node = state.nodes.find((candidate) => candidate.nodeId === nodeId)!;
  const spec = nodeOf(plan, nodeId);
  return nodeStep(
    state,
    plan,
    now,
    [{ ...node, status: 'completed', completedAt: now, artifactIds: outcome.artifactIds }],
    [
      {
        eventType: 'node-completed',
        message: `Completed node "${spec.title}".`,
        nodeId,
        emittedBy: outcome.emittedBy,
        detail: {
          attempt: node.attempt ?? 1,
          artifactIds: outcome.artifactIds,
          ...(outcome.credential ? { credential: outcome.credential } : {}),
        },
      },
    ],
    'node-completed',
    { ...(outcome.artifacts?.length ? { artifacts: outcome.artifacts } : {}), effects: [{ kind: 'cancel-deadline', nodeId }] },
  );
}

/** A person completes the node waiting for them; their output, if any, becomes its artifact. */
export function completeByPerson(state: RunState, plan: CompiledPlan, completion: NodeCompletion, now: string): StateChange {
  const attempt = state.nodes.find((node) => node.nodeId === completion.nodeId)!.attempt ?? 1;
  const artifacts =
    completion.output === undefined
      ? []
      : [
          {
            artifactId: artifactIdOf(state.runId, completion.nodeId, attempt),
            nodeId: completion.nodeId,
            attempt,
            content: completion.output,
            createdBy: completion.emittedBy,
            createdAt: now,
          },
        ];
  return finishNode(
    state,
    plan,
    completion.nodeId,
    // A person's completion records what made it, as a decision does.
    {
      artifactIds: artifacts.map((artifact) => artifact.artifactId),
      emittedBy: completion.emittedBy,
      artifacts,
      credential: credentialOf(completion),
    },
    now,
  );
}

/** Every node that (transitively) depends on `nodeId` and has not finished. */
function dependentsOf(plan: CompiledPlan, nodeId: string): Set<string> {
  const found = new Set<string>();
  const queue = [nodeId];
  while (queue.length > 0) {
    const current = queue.pop()!;
    for (const node of plan.nodes) {
      if (node.dependsOn.includes(current) && !found.has(node.nodeId)) {
        found.add(node.nodeId);
        queue.push(node.nodeId);
      }
    }
  }
  return found;
}

/**
 * An attempt failed. With attempts left the node is retried after its backoff (a
 * `retry-attempt` effect); otherwise it fails: an optional node's dependents are skipped and the
 * run goes on, any other failure fails the run and aborts what is still open. `final` forces the
 * last word (a missed deadline that cancels the node).
 */
export function failNodeAttempt(
  state: RunState,
  plan: CompiledPlan,
  nodeId: string,
  failure: { error: string; final?: boolean },
  now: string,
): StateChange {
  const node = state.nodes.find((candidate) => candidate.nodeId === nodeId)!;
  const spec = nodeOf(plan, nodeId);
  const attempt = node.attempt ?? 1;
  if (!failure.final && attempt < spec.policy.retry.maxAttempts) {
    const retryInMs = retryDelayMs(spec.policy, attempt);
    return makeChange(state, now, {
      nodes: [{ ...node, error: failure.error }],
      events: [
        {
          eventType: 'node-retried',
          message: `Node "${spec.title}" failed attempt ${attempt} of ${spec.policy.retry.maxAttempts}; retrying in ${retryInMs} ms: ${failure.error}`,
          nodeId,
          emittedBy: 'system',
          detail: { attempt, error: failure.error, retryInMs },
        },
      ],
      checkpoint: { reason: 'node-retried', nodeId },
      effects: [{ kind: 'retry-attempt', nodeId, attempt, inMs: retryInMs }],
    });
  }
  const done: Effect[] = [{ kind: 'cancel-deadline', nodeId }];

  const failedNode: NodeState = { ...node, status: 'failed', error: failure.error, completedAt: now };
  const events: EventDraft[] = [
    {
      eventType: 'node-failed',
      message: `Node "${spec.title}" failed after ${attempt} attempt(s): ${failure.error}`,
      nodeId,
      emittedBy: 'system',
      detail: { attempt, error: failure.error, optional: spec.policy.optional },
    },
  ];
  if (spec.policy.optional) {
    const skipped = [...dependentsOf(plan, nodeId)]
      .map((id) => state.nodes.find((candidate) => candidate.nodeId === id)!)
      .filter((candidate) => !FINISHED_NODE_STATUSES.has(candidate.status))
      .map((candidate): NodeState => ({ ...candidate, status: 'skipped', completedAt: now }));
    for (const skippedNode of skipped) {
      events.push({
        eventType: 'node-skipped',
        message: `Skipped node "${nodeOf(plan, skippedNode.nodeId).title}": it needs failed optional node "${spec.title}".`,
        nodeId: skippedNode.nodeId,
        emittedBy: 'system',
        detail: { because: nodeId },
      });
    }
    return nodeStep(state, plan, now, [failedNode, ...skipped], events, 'node-failed', { effects: done });
  }

  const others = openNodes(state)
    .filter((candidate) => candidate.nodeId !== nodeId)
    .map((candidate): NodeState => ({ ...candidate, status: 'aborted', completedAt: now }));
  events.push({
    eventType: 'plan-failed',
    message: `Execution plan "${state.title}" failed: node "${spec.title}" failed.`,
    fromStatus: state.status,
    toStatus: 'failed',
    emittedBy: 'system',
    detail: { nodeId, error: failure.error },
  });
  return makeChange(state, now, {
    run: {
      status: 'failed',
      failureCount: state.failureCount + 1,
      readyNodeIds: [],
      currentNodeId: null,
      waitingNodeId: null,
      completedAt: now,
    },
    nodes: [failedNode, ...others],
    events,
    checkpoint: { reason: 'plan-failed', nodeId },
    effects: done,
  });
}

/** The next attempt of a node whose previous attempt failed. */
export function restartNode(state: RunState, plan: CompiledPlan, nodeId: string, now: string): StateChange {
  const node = state.nodes.find((candidate) => candidate.nodeId === nodeId)!;
  const attempt = (node.attempt ?? 1) + 1;
  return makeChange(state, now, {
    nodes: [{ ...node, attempt }],
    events: [
      {
        eventType: 'node-started',
        message: `Started node "${nodeOf(plan, nodeId).title}", attempt ${attempt}.`,
        nodeId,
        emittedBy: 'system',
        detail: { attempt, executor: nodeOf(plan, nodeId).executor.type },
      },
    ],
    checkpoint: { reason: 'node-started', nodeId },
    effects: [{ kind: 'start-attempt', nodeId }],
  });
}

/**
 * A node's deadline warning or miss, recorded once each (the dedupe key is kept on the node),
 * without touching the node itself. Undefined when already recorded or the node is done.
 */
export function recordDeadline(
  state: RunState,
  plan: CompiledPlan,
  nodeId: string,
  kind: 'warning' | 'missed',
  now: string,
): StateChange | undefined {
  const node = state.nodes.find((candidate) => candidate.nodeId === nodeId)!;
  if (FINISHED_NODE_STATUSES.has(node.status) || node.deadlineEvents?.includes(kind)) return undefined;
  const spec = nodeOf(plan, nodeId);
  const deadline = spec.policy.deadline!;
  return makeChange(state, now, {
    nodes: [{ ...node, deadlineEvents: [...(node.deadlineEvents ?? []), kind] }],
    events: [
      {
        eventType: kind === 'warning' ? 'node-deadline-warning' : 'node-deadline-missed',
        message:
          kind === 'warning'
            ? `Node "${spec.title}" is close to its deadline.`
            : `Node "${spec.title}" missed its deadline${deadline.cancel ? ' and is cancelled' : ''}.`,
        nodeId,
        emittedBy: 'system',
        detail: { dedupeKey: `${nodeId}:deadline-${kind}`, deadlineMs: deadline.afterMs, cancel: deadline.cancel },
      },
    ],
  });
}

/**
 * A node's deadline timer fired: the warning or miss is recorded once; a miss of a deadline
 * that cancels stops the attempt in flight and fails the node for good.
 */
export function passDeadline(state: RunState, plan: CompiledPlan, nodeId: string, which: 'warning' | 'missed', now: string): StateChange[] {
  const recorded = recordDeadline(state, plan, nodeId, which, now);
  if (!recorded) return [];
  if (which === 'warning' || !nodeOf(plan, nodeId).policy.deadline!.cancel) return [recorded];
  return [
    { ...recorded, effects: [...recorded.effects, { kind: 'cancel-attempt', nodeId }] },
    failNodeAttempt(recorded.state, plan, nodeId, { error: 'Deadline missed.', final: true }, now),
  ];
}
