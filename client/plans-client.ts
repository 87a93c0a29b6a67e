import { createHash, randomBytes, randomUUID } from 'node:crypto';

import {
  type Client,
  ScheduleNotFoundError,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';

import {
  type DecisionKind,
  type ReplaceRequest,
  checkAbort,
  checkDecision,
  checkNodeCompletion,
  checkReplace,
  parseAbort,
  parseDecision,
  parseNodeCompletion,
} from '../domain/decisions.js';
import { PlanError, isPlanErrorCode } from '../domain/errors.js';
import type { CompiledPlan } from '../domain/plan.js';
import { planRunInput } from '../domain/run-input.js';
import { type PlanSchedule, nextFireTimes, scheduleInWords } from '../domain/schedule.js';
import {
  type CreatePlanRequest,
  CreatePlanRequestSchema,
  type CreatedInContextQuery,
  CreatedInContextQuerySchema,
  type DoctorRequest,
  DoctorRequestSchema,
  type AbortPlanRequest,
  type DecisionRequest,
  FeedQuerySchema,
  IdSchema,
  type NodeCompletionRequest,
  type ScheduleRequest,
  ScheduleRequestSchema,
  type SubscriptionRequest,
  SubscriptionRequestSchema,
  IncludeSchema,
  type ReplacePlanRequest,
  ReplacePlanRequestSchema,
  parseRunRequest,
  parseRequest,
} from '../domain/requests.js';
import { type IncludeOptions, type PlanSnapshot, type PlanSummary, summaryOf } from '../domain/snapshot.js';
import { ACTIVE_RUN_STATUSES } from '../domain/status.js';
import { type ValidationContext, compileDraft } from '../domain/validate.js';
import { z } from 'zod';

import type { LinkClaims } from '../auth/links.js';
import type { FeedEvent, PlanStore, ScheduleRecord, Subscription } from '../storage/plan-store.js';
import { DEFAULT_TASK_QUEUE, runIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import {
  type PlanRunInput,
  abortPlanUpdate,
  approvePlanUpdate,
  completeNodeUpdate,
  persistedPlanUpdate,
  rejectPlanUpdate,
  replacePlanUpdate,
} from '../workflows/messages.js';
import type { planRun } from '../workflows/plan-run.js';
import { type DoctorReport, RecordDoctor } from './doctor.js';

export interface PlansClientOptions {
  /** A connected Temporal client. */
  client: Client;
  /** Where runs are read from (the persisted view). */
  store: PlanStore;
  taskQueue?: string;
  /** The agent ids the workers run; a draft naming another is refused. Unchecked when omitted. */
  knownAgents?: Iterable<string>;
}

/** A schedule as its mirror records it, with what Temporal says of it now. */
export type ScheduleView = ScheduleRecord & { paused: boolean; nextFireTimes: string[]; recentRunIds: string[] };

/** A run's schedule as people read it. */
export interface RunScheduleView {
  schedule: PlanSchedule | null;
  text: string | null;
  attached: boolean;
  scheduleId: string | null;
  paused: boolean;
  nextFireTimes: string[];
}

/** A run id derived from an idempotency key: the same key in the same organization, the same run. */
function runIdFor(organizationId: string, key: string | undefined, purpose: string): string {
  if (key === undefined) return randomUUID();
  const hex = createHash('sha256').update(`${organizationId}\u0000${purpose}\u0000${key}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The Web UI's static details of a run: its objective and its nodes. */
function detailsOf(plan: CompiledPlan): string {
  const nodes = plan.nodes.map((node) => {
    const deps = node.dependsOn.length > 0 ? ` (after ${node.dependsOn.join(', ')})` : '';
    return `- **${node.nodeId}** ${node.title} — ${node.executor.type}${deps}`;
  });
  return [`**Objective:** ${plan.objective}`, '', ...nodes].join('\n');
}

/** Turns a workflow's refusal back into the PlanError it was; other errors pass through. */
function asPlanError(error: unknown): unknown {
  const cause = error instanceof WorkflowUpdateFailedError ? error.cause : error;
  if (cause instanceof ApplicationFailure && isPlanErrorCode(cause.type)) return new PlanError(cause.type, cause.message);
  return error;
}

/**
 * The TypeScript API of execution plans: what agents, the HTTP API and the CLI call.
 * Writes go through the run's workflow (which persists them); reads come from SurrealDB.
 * Every method validates its input first and refuses bad input before anything is stored.
 */
export class PlansClient {
  private readonly client: Client;
  private readonly store: PlanStore;
  readonly taskQueue: string;
  private readonly validation: ValidationContext;
  private readonly doctor: RecordDoctor;

  constructor(options: PlansClientOptions) {
    this.client = options.client;
    this.store = options.store;
    this.taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    this.validation = options.knownAgents ? { knownAgents: new Set(options.knownAgents) } : {};
    this.doctor = new RecordDoctor(this.client, this.store);
  }

  /**
   * Validates the draft (S11), then starts its run and returns the persisted snapshot: a
   * cross-thread plan waits in `pending-approval` (S1, S2), any other starts `running` (S3).
   * With an `idempotencyKey` a retried call returns the same run instead of making another.
   */
  async createPlan(request: CreatePlanRequest): Promise<PlanSnapshot> {
    const params = parseRequest(CreatePlanRequestSchema, request, 'create request');
    const plan = compileDraft(params.draft, this.validation);
    const runId = runIdFor(params.organizationId, params.idempotencyKey, 'create');
    const { idempotencyKey: _key, draft: _draft, ...context } = params;
    return this.start(planRunInput({ ...context, runId, planSpecId: runId, plan }));
  }

  /**
   * S8: aborts the active run and starts a new one linked to it, carrying its source thread.
   * The new run needs approval per S1 against that source thread unless told otherwise.
   */
  async replacePlan(request: ReplacePlanRequest): Promise<PlanSnapshot> {
    const params = parseRequest(ReplacePlanRequestSchema, request, 'replace request');
    const plan = compileDraft(params.draft, this.validation);
    const newRunId = runIdFor(params.organizationId, params.idempotencyKey ?? randomUUID(), `replace:${params.runId}`);
    const replacement: ReplaceRequest = {
      organizationId: params.organizationId,
      threadId: params.threadId,
      leadAgentId: params.leadAgentId,
      ...(params.createdByAgentId ? { createdByAgentId: params.createdByAgentId } : {}),
      reason: params.reason,
      ...(params.requireApproval !== undefined ? { requireApproval: params.requireApproval } : {}),
      newRunId,
      plan,
    };
    try {
      await this.client.workflow
        .getHandle(workflowIdOf(params.runId))
        .executeUpdate(replacePlanUpdate, { args: [replacement], updateId: `replace:${newRunId}` });
    } catch (error) {
      throw await this.explainRefusal(params.runId, error, (run) => checkReplace(run, replacement));
    }
    try {
      return await this.stored(await this.client.workflow.getHandle(workflowIdOf(newRunId)).executeUpdate(persistedPlanUpdate));
    } catch (error) {
      // A replacement that needs no approval may finish before the update reaches it.
      const finished = await this.store.runs.getSnapshot(newRunId);
      if (finished) return finished;
      throw error;
    }
  }

  /** S5: approves a pending run; returns the persisted `running` snapshot, schedule attached. */
  approvePlan(request: DecisionRequest): Promise<PlanSnapshot> {
    return this.decide('approve', request);
  }

  /** S6: rejects a pending run, or requests changes (`resolution: 'changes-requested'`). */
  rejectPlan(request: DecisionRequest): Promise<PlanSnapshot> {
    return this.decide('reject', request);
  }

  /** A person completes the node waiting for them (org, thread context, node waiting), handing in its output. */
  async completeNode(request: NodeCompletionRequest): Promise<PlanSnapshot> {
    const { runId, idempotencyKey, payload } = parseRunRequest(request, 'complete-node', parseNodeCompletion);
    return this.send(runId, completeNodeUpdate, payload, idempotencyKey && `complete:${idempotencyKey}`, (run) =>
      checkNodeCompletion(run, payload).refusal,
    );
  }

  /** Aborts an active run: in-flight work is cancelled and the run ends `aborted` with the reason. */
  async abortPlan(request: AbortPlanRequest): Promise<PlanSnapshot> {
    const { runId, idempotencyKey, payload } = parseRunRequest(request, 'abort', parseAbort);
    return this.send(runId, abortPlanUpdate, payload, idempotencyKey && `abort:${idempotencyKey}`, (run) => checkAbort(run, payload).refusal);
  }

  /**
   * A run's schedule for people: in words, whether it is attached yet (only after approval),
   * and its next fire times (Temporal's once attached, computed the same way before).
   */
  async getRunSchedule(runId: string, scope: { organizationId?: string } = {}): Promise<RunScheduleView> {
    const run = await this.getPlan(runId, {}, scope);
    const schedule = (await this.store.runs.getPlan(run.planSpecId))?.schedule;
    if (!schedule) return { schedule: null, text: null, attached: false, scheduleId: null, paused: false, nextFireTimes: [] };
    const base = { schedule, text: scheduleInWords(schedule) };
    if (!run.scheduleId) return { ...base, attached: false, scheduleId: null, paused: false, nextFireTimes: nextFireTimes(schedule, new Date(), 3) };
    const description = await this.client.schedule.getHandle(run.scheduleId).describe();
    return {
      ...base,
      attached: true,
      scheduleId: run.scheduleId,
      paused: description.state.paused,
      nextFireTimes: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
    };
  }

  /** Subscribes a webhook to an organization's events; the answer carries the signing secret, shown once. */
  async createSubscription(request: SubscriptionRequest): Promise<Subscription> {
    const params = parseRequest(SubscriptionRequestSchema, request, 'subscription');
    const subscription: Subscription = {
      subscriptionId: randomUUID(),
      organizationId: params.organizationId,
      url: params.url,
      eventTypes: [...new Set(params.eventTypes)],
      secret: randomBytes(32).toString('hex'),
      createdBy: params.createdBy,
      createdAt: new Date().toISOString(),
    };
    await this.store.subscriptions.create(subscription);
    return subscription;
  }

  /** An organization's subscriptions, without their secrets. */
  async listSubscriptions(organizationId: string): Promise<Array<Omit<Subscription, 'secret'>>> {
    const subscriptions = await this.store.subscriptions.list(parseRequest(IdSchema, organizationId, 'organization id'));
    return subscriptions.map(({ secret: _secret, ...subscription }) => subscription);
  }

  async deleteSubscription(organizationId: string, subscriptionId: string): Promise<void> {
    const id = parseRequest(z.uuid(), subscriptionId, 'subscription id');
    if (!(await this.store.subscriptions.delete(organizationId, id))) throw new PlanError('not-found', `Subscription ${id} was not found.`);
  }

  /**
   * Takes the decision a signed link carries, once: refused when the link was used, or (S4)
   * when the plan was decided or replaced meanwhile. The actor recorded is `signed-link`.
   */
  async decideByLink(claims: LinkClaims): Promise<PlanSnapshot> {
    if (await this.store.links.isUsed(claims.nonce)) throw new PlanError('forbidden', 'This link was already used.');
    const run = await this.getPlan(claims.runId, {}, { organizationId: claims.organizationId });
    const decision = { runId: run.runId, organizationId: run.organizationId, threadId: run.sourceThreadId ?? run.threadId, emittedBy: 'signed-link' };
    const result =
      claims.decision === 'approve'
        ? await this.approvePlan(decision)
        : await this.rejectPlan({ ...decision, resolution: claims.decision === 'reject' ? 'rejected' : 'changes-requested' });
    await this.store.links.useOnce(claims.nonce);
    return result;
  }

  /** A schedule with its next fire times, as Temporal sees it. */
  async getSchedule(request: ScheduleRequest): Promise<ScheduleView> {
    const record = await this.scheduleFor(request);
    const description = await this.client.schedule.getHandle(record.scheduleId).describe();
    return {
      ...record,
      paused: description.state.paused,
      nextFireTimes: description.info.nextActionTimes.map((time) => time.toISOString()),
      recentRunIds: description.info.recentActions.map((action) => runIdOf(action.action.workflow.workflowId)),
    };
  }

  /** Stops a schedule from firing until resumed. */
  async pauseSchedule(request: ScheduleRequest): Promise<ScheduleView> {
    const record = await this.scheduleFor(request);
    await this.client.schedule.getHandle(record.scheduleId).pause(request.note ?? 'Paused through execution-plans.');
    await this.store.schedules.patch(record.scheduleId, { state: 'paused' });
    return this.getSchedule(request);
  }

  async resumeSchedule(request: ScheduleRequest): Promise<ScheduleView> {
    const record = await this.scheduleFor(request);
    const handle = this.client.schedule.getHandle(record.scheduleId);
    await handle.unpause(request.note ?? 'Resumed through execution-plans.');
    const next = (await handle.describe()).info.nextActionTimes[0];
    await this.store.schedules.patch(record.scheduleId, { state: 'active', nextFireAt: next ? next.toISOString() : null });
    return this.getSchedule(request);
  }

  /** Deletes a schedule for good; runs it started are not touched. */
  async deleteSchedule(request: ScheduleRequest): Promise<void> {
    const record = await this.scheduleFor(request);
    try {
      await this.client.schedule.getHandle(record.scheduleId).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
    await this.store.schedules.patch(record.scheduleId, { state: 'deleted', nextFireAt: null });
  }

  /**
   * An organization's events after feed position `after`, in the order they were persisted,
   * optionally of one thread or run: what the live feed serves.
   */
  async readEvents(query: { organizationId: string; after: number; threadId?: string; runId?: string; limit?: number }): Promise<FeedEvent[]> {
    const parsed = parseRequest(FeedQuerySchema, query, 'events query');
    return this.store.feed.read(parsed);
  }

  /** The feed position of an organization's latest event: a live feed starts after it. */
  eventsPosition(organizationId: string): Promise<number> {
    return this.store.feed.position(parseRequest(IdSchema, organizationId, 'organization id'));
  }

  /**
   * `plans doctor`: compares an organization's stored runs with what their workflows committed
   * and, with `repair`, rewrites those that differ. Another organization's runs are not seen.
   */
  async examineRecords(request: DoctorRequest, onProgress?: (done: number, total: number) => void): Promise<DoctorReport> {
    const { organizationId, runIds, repair, limit } = parseRequest(DoctorRequestSchema, request, 'doctor request');
    return this.doctor.examine({
      organizationId,
      ...(runIds ? { runIds } : {}),
      ...(repair !== undefined ? { repair } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
  }

  /** One run as persisted. Throws `not-found` for an unknown run. */
  async getPlan(runId: string, include: IncludeOptions = {}, scope: { organizationId?: string } = {}): Promise<PlanSnapshot> {
    const id = parseRequest(IdSchema, runId, 'run id');
    const snapshot = await this.store.runs.getSnapshot(id, parseRequest(IncludeSchema, include, 'include options'));
    // Another organization's run is as absent as one that never existed (I7).
    if (!snapshot || (scope.organizationId !== undefined && snapshot.organizationId !== scope.organizationId)) {
      throw new PlanError('not-found', `Plan run ${id} was not found.`);
    }
    return snapshot;
  }

  /** S9: a thread's active runs, newest first. */
  async getActivePlans(threadId: string, include: IncludeOptions = {}, scope: { organizationId?: string } = {}): Promise<PlanSnapshot[]> {
    const thread = parseRequest(IdSchema, threadId, 'thread id');
    return this.store.runs.listSnapshots(
      { threadId: thread, statuses: ACTIVE_RUN_STATUSES, ...(scope.organizationId ? { organizationId: scope.organizationId } : {}) },
      parseRequest(IncludeSchema, include, 'include options'),
    );
  }

  /** S9: one line per active run of a thread. */
  async listActivePlanSummaries(threadId: string, scope: { organizationId?: string } = {}): Promise<PlanSummary[]> {
    return (await this.getActivePlans(threadId, {}, scope)).map(summaryOf);
  }

  /** S9: runs by creation context: organization, and optionally source thread, creator, statuses. */
  async getPlansCreatedInContext(query: CreatedInContextQuery): Promise<PlanSnapshot[]> {
    const { organizationId, threadId, sourceThreadId, createdByAgentId, statuses, limit, ...include } = parseRequest(
      CreatedInContextQuerySchema,
      query,
      'query',
    );
    return this.store.runs.listSnapshots(
      {
        organizationId,
        ...(threadId ? { threadId } : {}),
        ...(sourceThreadId ? { sourceThreadId } : {}),
        ...(createdByAgentId ? { createdByAgentId } : {}),
        ...(statuses ? { statuses } : {}),
        ...(limit ? { limit } : {}),
      },
      include,
    );
  }

  private async start(input: PlanRunInput): Promise<PlanSnapshot> {
    const runId = input.runId!;
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof planRun>('planRun', {
      workflowId: workflowIdOf(runId),
      taskQueue: this.taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // A finished run keeps its id: a retried create must find it, not start it again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: searchAttributesOf({ ...input, status: input.requireApproval ? 'pending-approval' : 'running' }),
      staticSummary: input.plan.title,
      staticDetails: detailsOf(input.plan),
    });
    try {
      return await this.stored(await this.client.workflow.executeUpdateWithStart(persistedPlanUpdate, { startWorkflowOperation }));
    } catch (error) {
      const existing = await this.store.runs.getSnapshot(runId);
      if (existing) return existing;
      throw error;
    }
  }

  private async decide(kind: DecisionKind, request: DecisionRequest): Promise<PlanSnapshot> {
    const { runId, idempotencyKey, payload } = parseRunRequest(request, kind, parseDecision);
    return this.send(runId, kind === 'approve' ? approvePlanUpdate : rejectPlanUpdate, payload, idempotencyKey && `${kind}:${idempotencyKey}`, (run) =>
      checkDecision(run, payload, kind).refusal,
    );
  }

  /** Sends an update to a run; a refusal comes back as the PlanError the workflow (or the persisted run) gives. */
  private async send<P>(
    runId: string,
    update: UpdateDefinition<PlanSnapshot, [P]>,
    payload: P,
    updateId: string | undefined,
    check: (run: PlanSnapshot) => PlanError | undefined,
  ): Promise<PlanSnapshot> {
    let answer: PlanSnapshot;
    try {
      answer = await this.client.workflow.getHandle(workflowIdOf(runId)).executeUpdate(update, {
        args: [payload],
        ...(updateId ? { updateId } : {}),
      });
    } catch (error) {
      throw await this.explainRefusal(runId, error, check);
    }
    return this.stored(answer);
  }

  /**
   * The stored snapshot once SurrealDB holds the workflow's answer (its version), so a caller
   * reads what it was told. Should storing take unusually long, the workflow's answer itself,
   * which is what Temporal committed; the run's activities store it as soon as they can.
   */
  private async stored(answer: PlanSnapshot): Promise<PlanSnapshot> {
    return (await this.store.runs.waitForVersion(answer.runId, answer.version)) ?? answer;
  }

  /** Looks up a schedule's mirror for its organization; `not-found` for another organization's. */
  private async scheduleFor(request: ScheduleRequest): Promise<ScheduleRecord> {
    const { scheduleId, organizationId } = parseRequest(ScheduleRequestSchema, request, 'schedule request');
    const record = await this.store.schedules.get(scheduleId);
    if (!record || record.organizationId !== organizationId || record.state === 'deleted') {
      throw new PlanError('not-found', `Schedule ${scheduleId} was not found.`);
    }
    return record;
  }

  /**
   * A refused update keeps the workflow's reason. When the workflow cannot answer (the run is
   * over, or unknown) the same checks run against the persisted run, so the caller still gets
   * S4's message, or `not-found`.
   */
  private async explainRefusal(
    runId: string,
    error: unknown,
    check: (run: PlanSnapshot) => PlanError | undefined,
  ): Promise<unknown> {
    const known = asPlanError(error);
    if (known instanceof PlanError) return known;
    const run = await this.store.runs.getSnapshot(runId);
    if (!run) return new PlanError('not-found', `Plan run ${runId} was not found.`);
    return check(run) ?? error;
  }
}
