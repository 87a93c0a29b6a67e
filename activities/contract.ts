import type { Client } from '@temporalio/client';

import type { AgentRegistry } from '../agents/types.js';
import type { LinkSigner } from '../auth/links.js';
import type { Decider } from '../domain/approval.js';
import type { StandingApproval } from '../domain/standing.js';
import type { Executor } from '../domain/draft.js';
import type { CompiledPlan } from '../domain/plan.js';
import type { EditAdmission, EditAdmissionInput } from '../domain/plan-edit.js';
import type { RunHeader } from '../domain/run-state.js';
import type { PlanSchedule } from '../domain/schedule.js';
import type { PlanMetrics } from '../metrics/plan-metrics.js';
import type { PersistTransitionsInput, PlanStore } from '../storage/plan-store.js';

/*
 * The activities' public contract: what the workflow may ask of the outside world, and what a
 * worker needs to answer it. Apart from their implementations (the families beside it, assembled
 * by index.ts), so the workflow and the families depend on this and not on each other.
 */

export interface AttachScheduleInput {
  run: RunHeader;
  plan: CompiledPlan;
  schedule: PlanSchedule;
}

export interface AttachedSchedule {
  scheduleId: string;
  scheduledAt?: string;
  description: string;
}

/** One attempt of one node, as the workflow hands it to a worker. */
export interface ExecuteNodeInput {
  runId: string;
  organizationId: string;
  threadId: string;
  nodeId: string;
  title: string;
  instructions?: string;
  executor: Executor;
  attempt: number;
  upstreamArtifactIds: string[];
  /** Run transitions to persist before the node runs (the workflow saves a flush this way). */
  persist?: PersistTransitionsInput;
}

/** What an attempt produced: its artifacts, by id (the content stays in SurrealDB). */
export interface ExecuteNodeResult {
  artifactIds: string[];
  /** Events among the carried transitions whose delivery failed: the workflow retries them. */
  notify?: number[];
}

/** What the workflow may ask of the outside world. Every activity is safe to retry. */
export interface PlanActivities {
  /**
   * Persists run transitions in one SurrealDB transaction (idempotent, never rolls back);
   * answers the sequence numbers of the events some webhook subscription wants.
   */
  persistTransitions(input: PersistTransitionsInput): Promise<{ notify: number[] }>;
  /** Delivers a run's events to the organization's subscriptions, each delivery at most once; throws (and is retried) while any fails. */
  notifyEvents(input: { runId: string; sequences: number[] }): Promise<{ delivered: number }>;
  /** Creates the spec's Temporal Schedule (if absent) and its `plan_schedule` mirror; returns the next fire time. */
  attachSchedule(input: AttachScheduleInput): Promise<AttachedSchedule>;
  /** Brings the `plan_schedule` mirror's next fire time up to date after a fire. */
  refreshSchedule(input: { scheduleId: string; firedRunId: string }): Promise<void>;
  /** Deletes a spec's schedule (a replaced spec must leave no live schedule); absent is fine. */
  deleteSchedule(input: { scheduleId: string }): Promise<void>;
  /** The approval gate: who a decision names, as the organization's directory has it now (null: no such principal). */
  findPrincipal(input: { organizationId: string; principalId: string }): Promise<Decider | null>;
  /** A standing approval of the organization as stored now (revoked ones too), or null. */
  findStanding(input: { organizationId: string; standingId: string }): Promise<StandingApproval | null>;
  /** An edit before approval, compiled and admitted like a draft of the run's requester (plan-edit.ts): the edited plan and its rules, or the refusal. */
  admitEdit(input: EditAdmissionInput): Promise<EditAdmission>;
  /** Persists the transitions it carries, then runs one attempt of an agent or system node and stores its output as an artifact. */
  executeNode(input: ExecuteNodeInput): Promise<ExecuteNodeResult>;
}

export interface ActivityDependencies {
  store: PlanStore;
  client: Client;
  taskQueue: string;
  /** The agents this worker runs, by `agentId`. */
  agents: AgentRegistry;
  /** Signs the approve / reject links of pending-approval notifications. */
  links: LinkSigner;
  /** The operator's `PLANS_EGRESS_ALLOW`: hosts every organization may call even at a non-public address. */
  egressAllow?: readonly string[];
  /** Where what the activities see is counted (stored transitions, step attempts, failed deliveries). */
  metrics?: PlanMetrics;
}
