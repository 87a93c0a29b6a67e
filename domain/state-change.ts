import type { Effect } from './effects.js';
import type { CompiledPlan } from './plan.js';
import type {
  ArtifactRecord,
  CheckpointRecord,
  EventDraft,
  NodeState,
  PlanEventRecord,
  RunPatch,
  RunState,
  StateChange,
} from './run-state.js';
import { FINISHED_NODE_STATUSES, TERMINAL_RUN_STATUSES } from './status.js';

/* How every transition is built (`makeChange`), and what several of them read of the run (its graph, its open nodes). */

/** A run with `patch` applied: fields set, `null` ones removed. */
export function applyPatch<T extends object>(state: T, patch: RunPatch): T {
  const next: T = { ...state };
  const target = next as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else target[key] = value;
  }
  return next;
}

/**
 * Builds a transition: applies the run and node changes, numbers the events, and when a
 * checkpoint reason is given saves a checkpoint followed by its `checkpoint-saved` event.
 */
export function makeChange(
  state: RunState,
  now: string,
  change: {
    run?: RunPatch;
    nodes?: NodeState[];
    events: EventDraft[];
    checkpoint?: Record<string, unknown> & { reason: string };
    artifacts?: ArtifactRecord[];
    effects?: Effect[];
  },
): StateChange {
  const runPatch: RunPatch = { ...change.run, updatedAt: now };
  const changedNodes = change.nodes ?? [];
  const byId = new Map(changedNodes.map((node) => [node.nodeId, node]));
  let next = applyPatch(state, runPatch);
  if (changedNodes.length > 0) next.nodes = state.nodes.map((node) => byId.get(node.nodeId) ?? node);

  const sequences = { ...state.sequences, transition: state.sequences.transition + 1 };
  const events: PlanEventRecord[] = change.events.map((event) => ({
    ...event,
    sequence: ++sequences.event,
    createdAt: now,
  }));
  let checkpoint: CheckpointRecord | undefined;
  if (change.checkpoint) {
    checkpoint = {
      sequence: ++sequences.checkpoint,
      runStatus: next.status,
      readyNodeIds: [...next.readyNodeIds],
      activeNodeIds: next.nodes.filter((node) => node.status === 'running' || node.status === 'awaiting-human').map((node) => node.nodeId),
      lastCompletedNodeIds: next.nodes.filter((node) => node.status === 'completed').map((node) => node.nodeId),
      snapshot: {
        ...change.checkpoint,
        currentNodeId: next.currentNodeId ?? null,
        waitingNodeId: next.waitingNodeId ?? null,
        readyNodeIds: [...next.readyNodeIds],
      },
      createdAt: now,
    };
    const { reason, ...rest } = change.checkpoint;
    events.push({
      sequence: ++sequences.event,
      eventType: 'checkpoint-saved',
      message: `Saved checkpoint ${checkpoint.sequence}.`,
      emittedBy: 'system',
      detail: { checkpointSequence: checkpoint.sequence, reason, ...rest },
      createdAt: now,
    });
  }
  next = { ...next, sequences };
  return {
    state: next,
    transition: {
      sequence: sequences.transition,
      run: runPatch,
      nodes: changedNodes,
      events,
      ...(checkpoint ? { checkpoint } : {}),
      ...(change.artifacts?.length ? { artifacts: change.artifacts } : {}),
    },
    effects: [...(TERMINAL_RUN_STATUSES.has(next.status) ? [{ kind: 'cancel-all' } as const] : []), ...(change.effects ?? [])],
  };
}

/**
 * Nodes that may start now: pending, with every dependency completed or skipped (a step a person
 * skipped leaves the steps that also depend on others to run without it; an optional step's
 * failure skips all its dependents, so none is left pending after one).
 */
export function evaluateGraph(plan: CompiledPlan, nodes: NodeState[]): { nodes: NodeState[]; readyNodeIds: string[] } {
  const byId = new Map(nodes.map((node) => [node.nodeId, node]));
  const status = (id: string) => byId.get(id)?.status;
  const changed: NodeState[] = [];
  const done = (dep: string) => status(dep) === 'completed' || status(dep) === 'skipped';
  for (const node of plan.nodes) {
    if (status(node.nodeId) !== 'pending') continue;
    if (node.dependsOn.every(done)) {
      // A pending node carries nothing but a person's word on it (a hold), which it keeps.
      changed.push({ ...byId.get(node.nodeId)!, status: 'ready' });
    }
  }
  const readyNodeIds = [
    ...nodes.filter((node) => node.status === 'ready').map((node) => node.nodeId),
    ...changed.map((node) => node.nodeId),
  ];
  return { nodes: changed, readyNodeIds };
}

/** Nodes not yet finished; what an abort or a failed run cancels. */
export function openNodes(state: RunState): NodeState[] {
  return state.nodes.filter((node) => !FINISHED_NODE_STATUSES.has(node.status));
}
