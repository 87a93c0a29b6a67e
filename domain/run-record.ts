import type { ArtifactRecord, CheckpointRecord, NodeState, PlanEventRecord, RunCreation, Transition } from './run-state.js';
import { applyPatch } from './state-change.js';
import { type PlanSnapshot, type RunRecord, nodesOf, snapshotFrom } from './snapshot.js';

/**
 * A run's record two ways: as its workflow committed it (every transition, in order) and as
 * SurrealDB stores it. I1 says they are equal once the run is quiet; `compareRecords` lists
 * where they are not, so `plans doctor` can report and repair it and tests can assert it.
 */

/** Asks the `record` query for the transitions from `from` on, at most `limit` of them. */
export interface RecordPageRequest {
  from?: number;
  limit?: number;
}

/** One page of what a workflow execution committed: the `record` query's answer. */
export interface RecordPage {
  /** The run's creation, when this execution created it (not when it continued an earlier one). */
  creation?: RunCreation;
  /** The first transition of this execution; the executions it continued made the ones before. */
  firstSequence: number;
  /** The last transition accepted so far. */
  lastSequence: number;
  /** Everything accepted is persisted: the stored record must equal this one now. */
  persisted: boolean;
  snapshot: PlanSnapshot;
  nodes: NodeState[];
  transitions: Transition[];
}

/** Everything a run committed, gathered across the executions it continued as new. */
export interface CommittedRecord {
  creation: RunCreation;
  /** False while something accepted is still on its way to SurrealDB. */
  persisted: boolean;
  snapshot: PlanSnapshot;
  nodes: NodeState[];
  /** Transitions 1..n. */
  transitions: Transition[];
}

/** A run's records as SurrealDB holds them. */
export interface StoredRecord {
  snapshot: PlanSnapshot;
  nodes: NodeState[];
  lastTransition: number;
  events: PlanEventRecord[];
  checkpoints: CheckpointRecord[];
  artifacts: ArtifactRecord[];
}

/** One place where the stored record differs from the committed one; `undefined` means absent. */
export interface Divergence {
  path: string;
  stored: unknown;
  committed: unknown;
}

const EVENT_FIELDS = ['sequence', 'eventType', 'message', 'fromStatus', 'toStatus', 'emittedBy', 'nodeId', 'detail', 'createdAt'] as const;
const CHECKPOINT_FIELDS = [
  'sequence',
  'runStatus',
  'readyNodeIds',
  'activeNodeIds',
  'lastCompletedNodeIds',
  'snapshot',
  'createdAt',
] as const;
const NODE_SPEC_FIELDS = ['title', 'executor', 'dependsOn'] as const;
const NODE_FIELDS = ['status', 'attempt', 'startedAt', 'completedAt', 'error', 'artifactIds', 'deadlineEvents'] as const;
const ARTIFACT_FIELDS = ['nodeId', 'attempt', 'content', 'createdBy', 'createdAt'] as const;

/** JSON with object keys sorted: SurrealDB hands objects back with their keys in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, entry: unknown) =>
    entry && typeof entry === 'object' && !Array.isArray(entry)
      ? Object.fromEntries(Object.entries(entry as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : entry,
  );
}

/** Stored rows carry more (ids, feed positions); only the record's own fields are compared. Null and absent are alike. */
function fieldsOf(value: object | undefined, fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value) return out;
  for (const field of fields) {
    const entry = (value as Record<string, unknown>)[field];
    if (entry !== undefined && entry !== null) out[field] = canonical(entry);
  }
  return out;
}

function compareFields(
  path: string,
  stored: object | undefined,
  committed: object | undefined,
  fields: readonly string[],
  into: Divergence[],
): void {
  if (!stored || !committed) {
    if (stored !== committed) into.push({ path, stored: stored ? 'present' : undefined, committed: committed ? 'present' : undefined });
    return;
  }
  const [left, right] = [fieldsOf(stored, fields), fieldsOf(committed, fields)];
  for (const field of fields) {
    if (left[field] === right[field]) continue;
    const parse = (text: string | undefined) => (text === undefined ? undefined : JSON.parse(text));
    into.push({ path: `${path}.${field}`, stored: parse(left[field]), committed: parse(right[field]) });
  }
}

function compareKeyed<T extends object>(
  label: string,
  stored: readonly T[],
  committed: readonly T[],
  keyOf: (item: T) => string | number,
  fields: readonly string[],
  into: Divergence[],
): void {
  const storedByKey = new Map(stored.map((item) => [keyOf(item), item]));
  const committedByKey = new Map(committed.map((item) => [keyOf(item), item]));
  const keys = [...new Set([...committedByKey.keys(), ...storedByKey.keys()])];
  for (const key of keys) compareFields(`${label} ${key}`, storedByKey.get(key), committedByKey.get(key), fields, into);
}

const SNAPSHOT_FIELDS = (snapshot: PlanSnapshot) => Object.keys(snapshot).filter((key) => key !== 'nodes');

/**
 * Where the stored record differs from what the workflow committed: the run's fields, each
 * node run, each event and checkpoint by sequence (missing, extra or different), the outputs
 * people handed in, and every artifact a node refers to. Empty when they are equal (I1).
 */
export function compareRecords(committed: CommittedRecord, stored: StoredRecord | undefined): Divergence[] {
  if (!stored) return [{ path: 'run', stored: undefined, committed: committed.snapshot.status }];
  const into: Divergence[] = [];
  const lastCommitted = committed.transitions.at(-1)?.sequence ?? 0;
  if (stored.lastTransition !== lastCommitted)
    into.push({ path: 'run.lastTransition', stored: stored.lastTransition, committed: lastCommitted });
  compareFields('run', stored.snapshot, committed.snapshot, SNAPSHOT_FIELDS(committed.snapshot), into);
  compareKeyed('node spec', stored.snapshot.nodes, committed.snapshot.nodes, (node) => node.nodeId, NODE_SPEC_FIELDS, into);
  compareKeyed('node', stored.nodes, committed.nodes, (node) => node.nodeId, NODE_FIELDS, into);
  const events = committed.transitions.flatMap((transition) => transition.events);
  compareKeyed('event', stored.events, events, (event) => event.sequence, EVENT_FIELDS, into);
  const checkpoints = committed.transitions.flatMap((transition) => (transition.checkpoint ? [transition.checkpoint] : []));
  compareKeyed('checkpoint', stored.checkpoints, checkpoints, (checkpoint) => checkpoint.sequence, CHECKPOINT_FIELDS, into);
  // Outputs people handed in travel through the workflow; agents' outputs are stored by their attempt.
  const handedIn = committed.transitions.flatMap((transition) => transition.artifacts ?? []);
  const storedArtifacts = new Map(stored.artifacts.map((artifact) => [artifact.artifactId, artifact]));
  for (const artifact of handedIn) {
    compareFields(`artifact ${artifact.artifactId}`, storedArtifacts.get(artifact.artifactId), artifact, ARTIFACT_FIELDS, into);
  }
  const handedInIds = new Set(handedIn.map((artifact) => artifact.artifactId));
  for (const node of committed.nodes) {
    for (const artifactId of node.artifactIds ?? []) {
      if (!handedInIds.has(artifactId) && !storedArtifacts.has(artifactId)) {
        into.push({ path: `artifact ${artifactId}`, stored: undefined, committed: `output of ${node.nodeId}` });
      }
    }
  }
  return into;
}

/**
 * The run and its node runs as `transitions` 1..n make them from `creation`: the state a store
 * that applied exactly these transitions holds (the same fold the store performs, as data).
 */
export function stateOfTransitions(
  creation: RunCreation,
  transitions: readonly Transition[],
): { snapshot: PlanSnapshot; nodes: NodeState[] } {
  let run = { ...creation.header } as unknown as RunRecord;
  let plan = creation.plan;
  const nodes = new Map<string, NodeState>();
  for (const transition of transitions) {
    run = applyPatch(run, transition.run);
    // An edit before approval: the run's plan is the edited one, without the steps it removed.
    if (transition.edit) {
      plan = transition.edit.current.plan;
      for (const nodeId of transition.edit.removedNodeIds) nodes.delete(nodeId);
    }
    for (const node of transition.nodes) nodes.set(node.nodeId, node);
  }
  const states = [...nodes.values()];
  return { snapshot: snapshotFrom(run, nodesOf(plan, states), transitions.at(-1)?.sequence ?? 0), nodes: states };
}

/** Transitions of one run handed to storage (an activity's input): what the workflow committed, in order. */
export interface PersistTransitionsInput {
  runId: string;
  /** Whose run: its events join that organization's feed. */
  organizationId: string;
  threadId: string;
  /** In sequence order; applied in one transaction, each at most once. */
  transitions: Transition[];
  /** Present with a run's first transition. */
  creation?: RunCreation;
}
