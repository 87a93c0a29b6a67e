import type { ApprovalReason, DecidingRules } from './approval.js';
import {
  type ApprovalStage,
  type Escalation,
  type MatchedRule,
  type StagePosition,
  type StagedRules,
  openStage,
  pendingTimers,
} from './approval-stages.js';
import type { Credential } from './decisions.js';
import type { Executor } from './draft.js';
import { maskExecutor } from './masking.js';
import type { ValidationIssue } from './errors.js';
import type { CompiledPlan } from './plan.js';
import type {
  ArtifactRecord,
  CheckpointRecord,
  NodeState,
  PlanEventRecord,
  RunContext,
  RunFields,
  RunState,
  StepApproval,
  StepVerdict,
} from './run-state.js';
import type { NodeStatus, RunStatus } from './status.js';

export interface NodeSnapshot {
  nodeId: string;
  title: string;
  status: NodeStatus;
  executor: Executor;
  dependsOn: string[];
  attempt: number | null;
  startedAt: string | null;
  completedAt: string | null;
  error: string | null;
  artifactIds: string[];
  /** `before-run`: it waits for a decision when it would start. */
  approval: 'before-run' | null;
  /** A person's word on it: skipped, held, or approved once held (who, when, why). */
  verdict: StepVerdict | null;
  /** Approvals of it while held, toward the run's quorum. */
  approvals: StepApproval[];
}

/** Where a governed run stands at the gate, for people: its rules and the approvals counted so far. */
export interface ApprovalView {
  required: number;
  /** `credential`: what made each approval (null: counted before credentials were recorded). */
  approvals: Array<{
    by: string;
    at: string;
    reason: string | null;
    credential: Credential | null;
    stage: number;
    onBehalfOf: string | null;
  }>;
  expiresAt: string;
  onExpiry: 'reject' | 'approve';
  policyVersion: number;
  /** Who may decide (the organization's list) and, when the draft narrowed it, its own list too. */
  approvers: string[];
  narrowedTo: string[] | null;
  /** Never deciders of this run. */
  requesters: string[];
  /** Why it needs approval: the conditions of the organization's policy that held for it (empty: it was asked for); null on runs from before they were recorded. */
  reasons: ApprovalReason[] | null;
  /** The stages it goes through, in order (null: one, `approvers` and `required`). */
  stages: ApprovalStage[] | null;
  /** The open stage (for a run not pending any more, the last one that was): who may approve it now, escalations applied. */
  openStage: ApprovalStage & { index: number; of: number };
  /** The open stage's index, when it opened, and how many of its escalations and reminders happened. */
  stage: number;
  stageOpenedAt: string;
  escalated: number;
  reminded: number;
  /** How the open stage widens or moves while it waits (from its opening), and when its people are reminded. */
  escalations: Escalation[] | null;
  reminderMs: number[] | null;
  /** The next reminder or escalation of the open stage, if any is still to come. */
  next: { kind: 'reminder' | 'escalation'; at: string } | null;
  /** The organization's rules that matched the plan, and why (null on runs from before rules). */
  matched: MatchedRule[] | null;
  /** Whether a standing approval may approve a plan identical to this one. */
  standing: boolean;
  /** An approval needs a sign-in through the identity provider no older than this (ms); null: any credential. */
  freshSignInMs: number | null;
}

/** A decision taken on a run, derived from its events. */
export interface ApprovalRecord {
  decision: 'approved' | 'rejected' | 'changes-requested';
  emittedBy: string;
  reason: string | null;
  at: string;
  /** What made it: a token, a link (and how its person proved it), `temporal`, or `expiry`; null on decisions recorded before credentials were. */
  credential: Credential | null;
}

/**
 * What every reader sees of a run: the workflow's `plan` query, the client, the API and the
 * CLI's `--json`. Absent values are `null` so scripts can rely on every key being there.
 */
export interface PlanSnapshot {
  runId: string;
  workflowId: string;
  planSpecId: string;
  organizationId: string;
  threadId: string;
  sourceThreadId: string | null;
  leadAgentId: string;
  createdByAgentId: string | null;
  requireApproval: boolean;
  status: RunStatus;
  title: string;
  objective: string;
  readyNodeIds: string[];
  currentNodeId: string | null;
  waitingNodeId: string | null;
  nodes: NodeSnapshot[];
  scheduleId: string | null;
  scheduledAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  replacedRunId: string | null;
  replacedByRunId: string | null;
  /** The schedule whose fire started this run, for runs of a recurring plan. */
  firedByScheduleId: string | null;
  failureCount: number;
  createdAt: string;
  updatedAt: string;
  /** A stable hash of the compiled plan and schedule; decisions may name it (`expectedRevision`). Null on runs from before the gate. */
  revision: string | null;
  /** The approval gate as it stands for this run; null when it needs no approval or predates the gate. */
  approval: ApprovalView | null;
  /**
   * How many state changes (transitions) the run has made. A stored snapshot of the same
   * version is the same state: a caller handed a workflow's answer waits for it in SurrealDB.
   */
  version: number;
  events?: PlanEventRecord[];
  checkpoints?: CheckpointRecord[];
  artifacts?: ArtifactRecord[];
  approvals?: ApprovalRecord[];
  validationIssues?: ValidationIssue[];
}

/** Which related records to include with a snapshot. */
export interface IncludeOptions {
  includeEvents?: boolean;
  includeArtifacts?: boolean;
  includeApprovals?: boolean;
  includeCheckpoints?: boolean;
  includeValidationIssues?: boolean;
}

/** A one-line view of an active run, for listings. */
export interface PlanSummary {
  runId: string;
  title: string;
  status: RunStatus;
  threadId: string;
  sourceThreadId: string | null;
  nodeCount: number;
  completedNodeCount: number;
  readyNodeIds: string[];
  scheduleId: string | null;
  updatedAt: string;
}

/** What a snapshot is made of: a run's facts and fields, whether from workflow state or a stored row. */
export type RunRecord = RunContext & RunFields & { title: string; objective: string; createdAt: string };

/** The one mapping of a run to its snapshot, shared by the workflow's query and the store. */
export function snapshotFrom(run: RunRecord, nodes: NodeSnapshot[], version: number): PlanSnapshot {
  return {
    runId: run.runId,
    workflowId: run.workflowId,
    planSpecId: run.planSpecId,
    organizationId: run.organizationId,
    threadId: run.threadId,
    sourceThreadId: run.sourceThreadId ?? null,
    leadAgentId: run.leadAgentId,
    createdByAgentId: run.createdByAgentId ?? null,
    requireApproval: run.requireApproval,
    status: run.status,
    title: run.title,
    objective: run.objective,
    readyNodeIds: [...(run.readyNodeIds ?? [])],
    currentNodeId: run.currentNodeId ?? null,
    waitingNodeId: run.waitingNodeId ?? null,
    nodes,
    scheduleId: run.scheduleId ?? null,
    scheduledAt: run.scheduledAt ?? null,
    startedAt: run.startedAt ?? null,
    completedAt: run.completedAt ?? null,
    replacedRunId: run.replacedRunId ?? null,
    replacedByRunId: run.replacedByRunId ?? null,
    firedByScheduleId: run.firedByScheduleId ?? null,
    failureCount: run.failureCount ?? 0,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    revision: run.revision ?? null,
    approval: approvalViewOf(run),
    version,
  };
}

function approvalViewOf(run: RunRecord): ApprovalView | null {
  const { approval, rules } = run;
  if (!approval || !rules) return null;
  return {
    required: approval.required,
    approvals: approval.approvals.map((entry) => ({
      by: entry.by,
      at: entry.at,
      reason: entry.reason ?? null,
      credential: entry.credential ?? null,
      stage: entry.stage ?? 0,
      onBehalfOf: entry.onBehalfOf ?? null,
    })),
    expiresAt: approval.expiresAt,
    onExpiry: rules.onExpiry,
    policyVersion: approval.policyVersion,
    approvers: [...rules.approvers],
    narrowedTo: rules.narrowedTo ? [...rules.narrowedTo] : null,
    requesters: [...rules.requesters],
    reasons: rules.reasons ? [...rules.reasons] : null,
    stages: rules.stages ? rules.stages.map((stage) => ({ ...stage, approvers: [...stage.approvers] })) : null,
    openStage: openStage(rules, approval),
    stage: approval.stage ?? 0,
    stageOpenedAt: approval.stageOpenedAt ?? run.createdAt,
    escalated: approval.escalated ?? 0,
    reminded: approval.reminded ?? 0,
    escalations: rules.escalations ? rules.escalations.map((escalation) => ({ ...escalation })) : null,
    reminderMs: rules.reminderMs ? [...rules.reminderMs] : null,
    next: run.status === 'pending-approval' ? nextTimer(rules, approval, run.createdAt) : null,
    matched: rules.matched ? rules.matched.map((rule) => ({ ...rule, because: [...rule.because] })) : null,
    standing: rules.standing ?? false,
    freshSignInMs: rules.freshSignInMs ?? null,
  };
}

/** The rules a run's decisions are checked against, as its snapshot carries them (for the client, the page, the links). */
export function decidingRulesOf(view: ApprovalView): DecidingRules {
  return {
    requesters: view.requesters,
    approvers: view.approvers,
    required: view.required,
    ...(view.narrowedTo ? { narrowedTo: view.narrowedTo } : {}),
    ...(view.stages ? { stages: view.stages } : {}),
    ...(view.escalations ? { escalations: view.escalations } : {}),
    standing: view.standing,
    ...(view.freshSignInMs !== null ? { freshSignInMs: view.freshSignInMs } : {}),
  };
}

/** The soonest reminder or escalation of the open stage still to come, if any. */
function nextTimer(rules: StagedRules, position: StagePosition, createdAt: string): ApprovalView['next'] {
  const [first] = pendingTimers(rules, position, createdAt);
  return first ? { kind: first.kind, at: first.at } : null;
}

/** A plan's nodes with their runs (`pending` when none is recorded). */
export function nodesOf(plan: Pick<CompiledPlan, 'nodes'>, runs: readonly NodeState[]): NodeSnapshot[] {
  const runOf = new Map(runs.map((run) => [run.nodeId, run]));
  return plan.nodes.map((node) => {
    const run = runOf.get(node.nodeId);
    return {
      nodeId: node.nodeId,
      title: node.title,
      status: run?.status ?? 'pending',
      // Every reader gets its snapshot from here (the API, the CLI, the page, the workflow's answers): credentials an older draft wrote in stay out.
      executor: maskExecutor(node.executor),
      dependsOn: [...node.dependsOn],
      attempt: run?.attempt ?? null,
      startedAt: run?.startedAt ?? null,
      completedAt: run?.completedAt ?? null,
      error: run?.error ?? null,
      artifactIds: run?.artifactIds ?? [],
      approval: node.approval ?? null,
      verdict: run?.verdict ?? null,
      approvals: run?.approvals ?? [],
    };
  });
}

/** The snapshot of a run held in workflow state. */
export function snapshotOf(state: RunState, plan: CompiledPlan): PlanSnapshot {
  return snapshotFrom(state, nodesOf(plan, state.nodes), state.sequences.transition);
}

/** The events that record a decision on a run, and which. */
export const DECISION_EVENTS: Readonly<Record<string, ApprovalRecord['decision']>> = {
  'plan-approved': 'approved',
  'plan-rejected': 'rejected',
  'plan-changes-requested': 'changes-requested',
};

/** The decisions recorded in a run's events, oldest first. */
export function approvalsOf(events: readonly PlanEventRecord[]): ApprovalRecord[] {
  return events.flatMap((event) => {
    const decision = DECISION_EVENTS[event.eventType];
    if (!decision) return [];
    const reason = typeof event.detail.reason === 'string' ? event.detail.reason : null;
    return [
      {
        decision,
        emittedBy: event.emittedBy,
        reason,
        at: event.createdAt,
        credential: (event.detail.credential as Credential | undefined) ?? null,
      },
    ];
  });
}

export function summaryOf(plan: PlanSnapshot): PlanSummary {
  return {
    runId: plan.runId,
    title: plan.title,
    status: plan.status,
    threadId: plan.threadId,
    sourceThreadId: plan.sourceThreadId,
    nodeCount: plan.nodes.length,
    completedNodeCount: plan.nodes.filter((node) => node.status === 'completed').length,
    readyNodeIds: plan.readyNodeIds,
    scheduleId: plan.scheduleId,
    updatedAt: plan.updatedAt,
  };
}
