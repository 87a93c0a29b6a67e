import { type ApprovalRules, type ApprovalState, approvalStateOf } from './approval.js';
import { type Credential, type Decision, type MessageKind, type ReplaceRequest, credentialIn, credentialOf } from './decisions.js';
import type { Effect } from './effects.js';
import type { PlanError } from './errors.js';
import type { CompiledPlan } from './plan.js';
import { planRunInput } from './run-input.js';
import { FINISHED_NODE_STATUSES, type NodeStatus, type RunStatus, TERMINAL_RUN_STATUSES } from './status.js';

/**
 * The run state machine. Pure and deterministic, so the workflow (which owns the state), the
 * activities (which persist the deltas) and the tests share one definition of every transition.
 * Each transition returns the new state plus a `Transition`: the delta to persist, with its
 * events and checkpoint numbered by the run itself, so retried writes cannot duplicate them.
 */

/** Who and what a run is; fixed when the run is created. */
export interface RunContext {
  runId: string;
  workflowId: string;
  planSpecId: string;
  organizationId: string;
  threadId: string;
  sourceThreadId?: string;
  leadAgentId: string;
  createdByAgentId?: string;
  requireApproval: boolean;
  replacedRunId?: string;
  /** Set on runs started by a fire of their spec's schedule. */
  firedByScheduleId?: string;
  /** A stable hash of the compiled plan and schedule: what a decision is bound to (absent on runs before the approval gate). */
  revision?: string;
  /** The approval rules frozen at creation (absent on runs before the approval gate, which keep S4's checks only). */
  rules?: ApprovalRules;
}

/** The fixed facts of a run, written once when it is created. */
export type RunHeader = RunContext & { title: string; objective: string; createdAt: string };

/** What a run's first write carries besides its first transition: the spec, its nodes and the run record are created. */
export interface RunCreation {
  header: RunHeader;
  plan: CompiledPlan;
}

/** A node run: what `plan_node_run` holds. */
export interface NodeState {
  nodeId: string;
  status: NodeStatus;
  /** The attempt running or last run, from 1. */
  attempt?: number;
  startedAt?: string;
  completedAt?: string;
  /** The last failure's message. */
  error?: string;
  /** Artifacts the node produced, handed to the nodes that depend on it. */
  artifactIds?: string[];
  /** Deadline events already recorded, so each is recorded once. */
  deadlineEvents?: Array<'warning' | 'missed'>;
}

/** A node's output, stored once under a deterministic id and handed on by id. */
export interface ArtifactRecord {
  artifactId: string;
  nodeId: string;
  attempt: number;
  content: unknown;
  createdBy: string;
  createdAt: string;
}

/** The artifact id of a node attempt's output. */
export function artifactIdOf(runId: string, nodeId: string, attempt: number): string {
  return `${runId}:${nodeId}:${attempt}`;
}

/** The mutable part of a run, as persisted on the `plan_run` record. */
export interface RunFields {
  status: RunStatus;
  readyNodeIds: string[];
  currentNodeId?: string;
  waitingNodeId?: string;
  scheduleId?: string;
  scheduledAt?: string;
  startedAt?: string;
  completedAt?: string;
  replacedByRunId?: string;
  failureCount: number;
  updatedAt: string;
  /** A governed run's way through the gate: approvals so far, how many are required, when it expires. */
  approval?: ApprovalState;
}

export interface RunState extends RunContext, RunFields {
  title: string;
  objective: string;
  createdAt: string;
  nodes: NodeState[];
  /** Last numbers handed out; persisted records are numbered 1..n with no gaps (I2, I3). */
  sequences: { event: number; checkpoint: number; transition: number };
}

export interface PlanEventRecord {
  sequence: number;
  eventType: string;
  message: string;
  fromStatus?: RunStatus;
  toStatus?: RunStatus;
  emittedBy: string;
  nodeId?: string;
  detail: Record<string, unknown>;
  createdAt: string;
}

export interface CheckpointRecord {
  sequence: number;
  runStatus: RunStatus;
  readyNodeIds: string[];
  activeNodeIds: string[];
  lastCompletedNodeIds: string[];
  snapshot: Record<string, unknown> & { reason: string };
  createdAt: string;
}

/** Run fields to set; `null` clears a field (JSON payloads cannot carry `undefined`). */
export type RunPatch = { [K in keyof RunFields]?: RunFields[K] | null };

/** One persisted state change: applied all-or-nothing, in `sequence` order, at most once. */
export interface Transition {
  sequence: number;
  run: RunPatch;
  nodes: NodeState[];
  events: PlanEventRecord[];
  checkpoint?: CheckpointRecord;
  /** Outputs that arrived through the workflow (a person's); agents store their own. */
  artifacts?: ArtifactRecord[];
}

/** A transition taken: the run's next state, the delta to store, and what it asks of the world. */
export interface Step {
  state: RunState;
  transition: Transition;
  /** In the order the workflow carries them out (a step that ends the run starts with `cancel-all`). */
  effects: Effect[];
}

export type EventDraft = Omit<PlanEventRecord, 'sequence' | 'createdAt'>;

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
export function makeStep(
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
): Step {
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

/** Nodes that may start now: pending, with every dependency completed. */
export function evaluateGraph(plan: CompiledPlan, nodes: NodeState[]): { nodes: NodeState[]; readyNodeIds: string[] } {
  const status = new Map(nodes.map((node) => [node.nodeId, node.status]));
  const changed: NodeState[] = [];
  for (const node of plan.nodes) {
    if (status.get(node.nodeId) !== 'pending') continue;
    if (node.dependsOn.every((dep) => status.get(dep) === 'completed')) {
      changed.push({ nodeId: node.nodeId, status: 'ready' });
    }
  }
  const readyNodeIds = [
    ...nodes.filter((node) => node.status === 'ready').map((node) => node.nodeId),
    ...changed.map((node) => node.nodeId),
  ];
  return { nodes: changed, readyNodeIds };
}

/**
 * S2/S3: a new run. With approval required it waits in `pending-approval` with no `startedAt`
 * and no ready nodes; otherwise it is `running` at once with its graph evaluated.
 */
export function createRun(context: RunContext, plan: CompiledPlan, now: string): Step {
  const base: RunState = {
    ...context,
    title: plan.title,
    objective: plan.objective,
    status: context.requireApproval ? 'pending-approval' : 'running',
    readyNodeIds: [],
    failureCount: 0,
    createdAt: now,
    updatedAt: now,
    nodes: plan.nodes.map((node) => ({ nodeId: node.nodeId, status: 'pending' })),
    sequences: { event: 0, checkpoint: 0, transition: 0 },
  };
  const replaced = context.replacedRunId !== undefined;
  const createdDetail = {
    title: plan.title,
    objective: plan.objective,
    nodeCount: plan.nodes.length,
    requireApproval: context.requireApproval,
    ...(context.sourceThreadId ? { sourceThreadId: context.sourceThreadId } : {}),
    ...(context.createdByAgentId ? { createdByAgentId: context.createdByAgentId } : {}),
    ...(replaced ? { replacedRunId: context.replacedRunId } : {}),
  };
  const events: EventDraft[] = [
    {
      eventType: replaced ? 'plan-replaced' : 'plan-created',
      message: replaced ? `Replaced execution plan with "${plan.title}".` : `Created execution plan "${plan.title}".`,
      toStatus: base.status,
      emittedBy: context.createdByAgentId ?? context.leadAgentId,
      detail: createdDetail,
    },
  ];
  let run: RunPatch = { status: base.status, readyNodeIds: [], failureCount: 0 };
  let nodes: NodeState[] = [];
  const approval = context.requireApproval && context.rules ? approvalStateOf(context.rules, now) : undefined;
  if (context.requireApproval) {
    events.push({
      eventType: 'plan-pending-approval',
      message: `Execution plan "${plan.title}" is pending approval.`,
      toStatus: 'pending-approval',
      emittedBy: context.createdByAgentId ?? context.leadAgentId,
      detail: approval
        ? { ...createdDetail, required: approval.required, expiresAt: approval.expiresAt, policyVersion: approval.policyVersion, revision: context.revision }
        : createdDetail,
    });
    if (approval) run = { ...run, approval };
  } else {
    const graph = evaluateGraph(plan, base.nodes);
    nodes = graph.nodes;
    run = { ...run, startedAt: now, readyNodeIds: graph.readyNodeIds };
  }
  const step = makeStep(base, now, {
    run,
    nodes,
    events,
    checkpoint: { reason: replaced ? 'plan-replaced' : 'plan-created' },
    effects: [
      // The gate: a pending run is decided by `system` at its expiry, per its rules.
      ...(approval ? [{ kind: 'arm-expiry', at: approval.expiresAt } as const] : []),
      // S3: a run that needs no approval gets its schedule right away.
      ...(!context.requireApproval && plan.schedule ? [{ kind: 'attach-schedule' } as const] : []),
      ...(context.firedByScheduleId ? [{ kind: 'refresh-schedule', scheduleId: context.firedByScheduleId } as const] : []),
    ],
  });
  // The creation transition carries every node, not just the changed ones: it creates them.
  return { ...step, transition: { ...step.transition, nodes: step.state.nodes } };
}

/** What the gate adds to a decision's step: the events before it, run fields, and detail for its event. */
export interface DecisionExtras {
  preceding?: EventDraft[];
  run?: RunPatch;
  detail?: Record<string, unknown>;
}

/** S5: `pending-approval` → `running`, graph evaluated, checkpoint `plan-approved`. */
export function approveRun(state: RunState, plan: CompiledPlan, decision: Decision, now: string, extras: DecisionExtras = {}): Step {
  const graph = evaluateGraph(plan, state.nodes);
  return makeStep(state, now, {
    run: { ...extras.run, status: 'running', startedAt: state.startedAt ?? now, readyNodeIds: graph.readyNodeIds },
    nodes: graph.nodes,
    events: [
      ...(extras.preceding ?? []),
      {
        eventType: 'plan-approved',
        message: `Approved execution plan "${state.title}".`,
        fromStatus: state.status,
        toStatus: 'running',
        emittedBy: decision.emittedBy,
        detail: {
          title: state.title,
          objective: state.objective,
          ...(decision.reason ? { reason: decision.reason } : {}),
          credential: credentialOf(decision),
          ...extras.detail,
        },
      },
    ],
    checkpoint: { reason: 'plan-approved' },
    // S5: the schedule is attached once the approval is stored, before the caller hears back.
    effects: plan.schedule ? [{ kind: 'attach-schedule' }] : [],
  });
}

/** S6: `pending-approval` → `aborted`, as `rejected` (default) or `changes-requested`. */
export function rejectRun(state: RunState, decision: Decision, now: string, extras: DecisionExtras = {}): Step {
  const resolution = decision.resolution ?? 'rejected';
  const eventType = resolution === 'changes-requested' ? 'plan-changes-requested' : 'plan-rejected';
  return makeStep(state, now, {
    run: { ...extras.run, status: 'aborted', currentNodeId: null, waitingNodeId: null, readyNodeIds: [], completedAt: now },
    events: [
      ...(extras.preceding ?? []),
      {
        eventType,
        message:
          resolution === 'changes-requested'
            ? `Requested changes for execution plan "${state.title}".`
            : `Rejected execution plan "${state.title}".`,
        fromStatus: state.status,
        toStatus: 'aborted',
        emittedBy: decision.emittedBy,
        detail: { resolution, ...(decision.reason ? { reason: decision.reason } : {}), credential: credentialOf(decision), ...extras.detail },
      },
    ],
    checkpoint: { reason: eventType, resolution },
  });
}

/** Nodes not yet finished; what an abort or a failed run cancels. */
export function openNodes(state: RunState): NodeState[] {
  return state.nodes.filter((node) => !FINISHED_NODE_STATUSES.has(node.status));
}

/** The run ends `aborted` with its reason; unfinished nodes are aborted (S8, abortPlan). */
export function abortRun(
  state: RunState,
  abort: { reason: string; emittedBy: string; replacedByRunId?: string; credential?: Credential },
  now: string,
): Step {
  const replacing = abort.replacedByRunId !== undefined;
  return makeStep(state, now, {
    run: {
      status: 'aborted',
      currentNodeId: null,
      waitingNodeId: null,
      readyNodeIds: [],
      completedAt: now,
      ...(replacing ? { replacedByRunId: abort.replacedByRunId } : {}),
    },
    nodes: openNodes(state).map((node) => ({ ...node, status: 'aborted', completedAt: now })),
    events: [
      {
        eventType: 'plan-aborted',
        message: replacing
          ? `Aborted execution plan "${state.title}": replaced by run ${abort.replacedByRunId}.`
          : `Aborted execution plan "${state.title}": ${abort.reason}`,
        fromStatus: state.status,
        toStatus: 'aborted',
        emittedBy: abort.emittedBy,
        detail: { reason: abort.reason, ...(replacing ? { replacedByRunId: abort.replacedByRunId } : {}), credential: credentialOf(abort) },
      },
    ],
    checkpoint: { reason: 'plan-aborted', ...(replacing ? { replacedByRunId: abort.replacedByRunId } : {}) },
  });
}

/**
 * S8: the run is aborted, replaced by the run `request` describes, which keeps this run's
 * source thread and needs approval per S1 against it; a replaced spec leaves no live schedule.
 */
export function replaceRun(state: RunState, request: ReplaceRequest, now: string): Step {
  const step = abortRun(
    state,
    // Recorded as who sent it (through the API, the token's principal), not as the lead agent it names.
    { replacedByRunId: request.newRunId, reason: request.reason, emittedBy: request.createdByAgentId ?? request.leadAgentId, ...(request.credential ? { credential: request.credential } : {}) },
    now,
  );
  const scheduleId = state.scheduleId ?? state.firedByScheduleId;
  const input = planRunInput({
    runId: request.newRunId,
    planSpecId: request.newRunId,
    organizationId: state.organizationId,
    threadId: state.threadId,
    ...(state.sourceThreadId ? { sourceThreadId: state.sourceThreadId } : {}),
    leadAgentId: request.leadAgentId,
    createdByAgentId: request.createdByAgentId ?? request.leadAgentId,
    ...(request.requireApproval !== undefined ? { requireApproval: request.requireApproval } : {}),
    replacedRunId: state.runId,
    ...(request.revision ? { revision: request.revision } : {}),
    ...(request.rules ? { rules: request.rules } : {}),
    plan: request.plan,
  });
  return {
    ...step,
    effects: [
      ...step.effects,
      ...(scheduleId ? [{ kind: 'delete-schedule', scheduleId } as const] : []),
      { kind: 'start-replacement', input: { ...input, runId: request.newRunId } },
    ],
  };
}

/** A signalled decision that failed S4: nothing changes but the audit trail. */
export function refuseDecision(
  state: RunState,
  kind: MessageKind,
  payload: unknown,
  refusal: PlanError,
  now: string,
): Step {
  const emittedBy =
    typeof payload === 'object' && payload !== null && typeof (payload as { emittedBy?: unknown }).emittedBy === 'string'
      ? String((payload as { emittedBy: string }).emittedBy).slice(0, 128)
      : 'unknown';
  return makeStep(state, now, {
    events: [
      {
        eventType: 'decision-refused',
        message: `Refused ${kind} signal: ${refusal.message}`,
        emittedBy,
        detail: { decision: kind, code: refusal.code, reason: refusal.message, credential: credentialIn(payload) },
      },
    ],
  });
}

/** S7: the schedule to attach — none when the spec has none or the run already has it. */
export function scheduleToAttach(state: RunState, plan: CompiledPlan): CompiledPlan['schedule'] {
  return state.scheduleId ? undefined : plan.schedule;
}

/** S7: the run records its schedule and next fire time. */
export function recordSchedule(
  state: RunState,
  schedule: { scheduleId: string; scheduledAt?: string; description: string },
  now: string,
): Step {
  return makeStep(state, now, {
    run: { scheduleId: schedule.scheduleId, scheduledAt: schedule.scheduledAt ?? null },
    events: [
      {
        eventType: 'plan-schedule-attached',
        message: `Attached schedule ${schedule.description} to execution plan "${state.title}".`,
        emittedBy: 'system',
        detail: { scheduleId: schedule.scheduleId, ...(schedule.scheduledAt ? { nextFireAt: schedule.scheduledAt } : {}) },
      },
    ],
  });
}
