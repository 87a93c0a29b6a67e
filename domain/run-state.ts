import type { ApprovalEntry, ApprovalRules, ApprovalState } from './approval.js';
import type { Credential } from './credentials.js';
import type { ApprovalTimer } from './approval-stages.js';
import type { CompiledPlan } from './plan.js';
import type { PlanEditRecord } from './plan-revisions.js';
import type { NodeStatus, RunStatus } from './status.js';

/**
 * What a run is made of: its state (which the workflow owns), and the transitions that change it
 * (the deltas the activities persist), with their events and checkpoints. The transitions
 * themselves are listed in `transitions.ts`.
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
  /** The whole SHA-256 of the compiled plan, of which `revision` is the start: what standing approvals are bound to. */
  planHash?: string;
  /** The approval rules frozen at creation (absent on runs before the approval gate, which keep S4's checks only). */
  rules?: ApprovalRules;
  /**
   * A run a schedule fired (from format 3): the approvals of the run that attached the schedule,
   * checked again before it acts (approval-lapse.ts).
   */
  approvedBy?: ApprovalEntry[];
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
  /** A person's word on this step (step-decisions.ts): skipped, held for later, or approved when it was held. */
  verdict?: StepVerdict;
  /** Approvals of a held step so far, toward the run's quorum. */
  approvals?: StepApproval[];
}

/** What a person decided about one step, and who (issue 22: step by step). */
export interface StepVerdict {
  decision: 'skip' | 'hold' | 'approved';
  by: string;
  at: string;
  reason?: string;
  onBehalfOf?: string;
}

/** One approval of a held step. */
export interface StepApproval {
  by: string;
  at: string;
  /** The run's stage it counts toward (absent: the first). */
  stage?: number;
  reason?: string;
  onBehalfOf?: string;
  credential?: Credential;
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
  /** Which revision of its plan the run is at, from 1 (absent: 1); an edit before approval makes the next (plan-edit.ts). */
  revisionNumber?: number;
  /* Fixed at creation (RunContext), changed only by an edit before approval: the plan's spec, revision, hash, rules and title. */
  planSpecId?: string;
  revision?: string;
  planHash?: string;
  rules?: ApprovalRules;
  title?: string;
  objective?: string;
}

export interface RunState extends RunContext, RunFields {
  planSpecId: string;
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
  /** An edit before approval: the run's new plan revision, the one it replaced, and the steps it removed. */
  edit?: PlanEditRecord;
}

/**
 * A state change: the run's next state, the transition to store, and what it asks of the world.
 * (Not a plan's step: those are its nodes.)
 */
export interface StateChange {
  state: RunState;
  transition: Transition;
  /** In the order the workflow carries them out (a change that ends the run starts with `cancel-all`). */
  effects: Effect[];
}

export type EventDraft = Omit<PlanEventRecord, 'sequence' | 'createdAt'>;

/** What starts a run: its context (the workflow id is its own) and its compiled plan. */
export type PlanRunInput = Omit<RunContext, 'runId' | 'workflowId'> & {
  /** How its workflow behaves (`RUN_FORMAT` for runs started now); absent for runs started before formats. */
  format?: number;
  /** Defaults to the id carried by the workflow id (`plan-run:<runId>`): a schedule's fires have no other. */
  runId?: string;
  plan: CompiledPlan;
  /** Set when the run continues as new: its state so far (nothing is persisted again). */
  resume?: { state: RunState };
  /** Continue as new past this many history events (default 10,000, or when Temporal suggests it). */
  historyLimit?: number;
  /** A standing approval the client found for this plan and requester: the run looks it up and applies it if it holds. */
  standingApprovalId?: string;
};

/**
 * What a transition asks of the world besides being stored, in the order the workflow carries
 * it out. The domain decides them, so the rules that produce them (S5, S7, S8, retries,
 * deadlines) are unit tests; the workflow only performs them.
 */
export type Effect =
  /** The run has ended: everything still in flight (attempts, backoffs, deadline timers) stops. */
  | { kind: 'cancel-all' }
  /** S3, S5, S7: create the spec's Temporal Schedule, once the transition asking for it is stored. */
  | { kind: 'attach-schedule' }
  /** A run a schedule fired brings the schedule's mirror (next fire time) up to date. */
  | { kind: 'refresh-schedule'; scheduleId: string }
  /** S8: a replaced spec leaves no live schedule. */
  | { kind: 'delete-schedule'; scheduleId: string }
  /** S8: start the run that replaces this one. */
  | { kind: 'start-replacement'; input: PlanRunInput & { runId: string } }
  /** Run this attempt of an agent or system node (once its start is stored). */
  | { kind: 'start-attempt'; nodeId: string }
  /** Wait out a retry's backoff, then report that the attempt may restart. */
  | { kind: 'retry-attempt'; nodeId: string; attempt: number; inMs: number }
  /** Stop the attempt (or backoff) in flight for this node. */
  | { kind: 'cancel-attempt'; nodeId: string }
  /** Time the node's deadline (warning, then miss) from its start. */
  | { kind: 'arm-deadline'; nodeId: string }
  /** The node finished: its deadline no longer matters. */
  | { kind: 'cancel-deadline'; nodeId: string }
  /** The gate: at `at`, a run still pending is decided by `system` per its rules' `onExpiry`. */
  | { kind: 'arm-expiry'; at: string }
  /** The gate: at `at`, the open stage (if still open) is reminded or escalated (approval-stages.ts). */
  | { kind: 'arm-approval-timer'; timer: ApprovalTimer };
