import { createHash, randomUUID } from 'node:crypto';

import { type Client, WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';

import type { LinkClaims } from '../auth/links.js';
import { noteScope } from '../tracing/spans.js';
import { Admission } from './admission.js';
import { linkDecision, proveLinkHolder } from './link-decisions.js';
import type { SignedIn } from './principals-client.js';
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
import { eligibleDeciders } from '../domain/approval.js';
import { PlanError, formatIssues, isPlanErrorCode } from '../domain/errors.js';
import type { CompiledPlan } from '../domain/plan.js';
import { type PlanRunInput, planRunInput } from '../domain/run-input.js';
import { type PlanSchedule, nextFireTimes, scheduleInWords } from '../domain/schedule.js';
import {
  type AbortPlanRequest,
  type CreatePlanRequest,
  CreatePlanRequestSchema,
  type CreatedInContextQuery,
  CreatedInContextQuerySchema,
  DEFAULT_PAGE,
  type DecisionRequest,
  IdSchema,
  IncludeSchema,
  type NodeCompletionRequest,
  type ReplacePlanRequest,
  ReplacePlanRequestSchema,
  parseRequest,
  parseRunRequest,
} from '../domain/requests.js';
import { type IncludeOptions, type PlanSnapshot, type PlanSummary, summaryOf } from '../domain/snapshot.js';
import { ACTIVE_RUN_STATUSES } from '../domain/status.js';
import { type ValidationContext, compileDraft, validateDraft } from '../domain/validate.js';
import type { ListPosition, PlanStore } from '../storage/plan-store.js';
import { searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import {
  abortPlanUpdate,
  approvePlanUpdate,
  approversChangedSignal,
  completeNodeUpdate,
  persistedPlanUpdate,
  rejectPlanUpdate,
  replacePlanUpdate,
} from '../workflows/messages.js';
import type { planRun } from '../workflows/plan-run.js';

/** What the runs client works with. */
export interface RunsClientDeps {
  client: Client;
  store: PlanStore;
  taskQueue: string;
  validation: ValidationContext;
  /** The operator's `PLANS_EGRESS_ALLOW`, read with the organization's policy when a plan is created or replaced. */
  egressAllow?: readonly string[];
}

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

/** A page's end as an opaque cursor (base64url of its list position). */
function cursorOf(position: ListPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The position a cursor stands for; `invalid-input` for anything this client did not hand out. */
function positionFrom(cursor: string): ListPosition {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(position) &&
      position.length === 2 &&
      Number.isSafeInteger(position[0]) &&
      typeof position[1] === 'string' &&
      IdSchema.safeParse(position[1]).success
    ) {
      return [position[0], position[1]];
    }
  } catch {
    // not JSON: refused below
  }
  throw new PlanError('invalid-input', 'cursor is not one a list answered with; start again without it.');
}

/** Turns a workflow's refusal back into the PlanError it was; other errors pass through. */
function asPlanError(error: unknown): unknown {
  const cause = error instanceof WorkflowUpdateFailedError ? error.cause : error;
  if (cause instanceof ApplicationFailure && isPlanErrorCode(cause.type)) return new PlanError(cause.type, cause.message);
  return error;
}

/**
 * Plan runs: create, replace, decide, complete, abort — through each run's workflow, which
 * stores what it did — and read them as stored. Every method validates its input first and
 * refuses bad input before anything is stored or started.
 */
export class RunsClient {
  private readonly client: Client;
  private readonly store: PlanStore;
  private readonly taskQueue: string;
  private readonly validation: ValidationContext;
  /** The approval gate every new run passes (create, replace). */
  private readonly admission: Admission;

  constructor(deps: RunsClientDeps) {
    this.client = deps.client;
    this.store = deps.store;
    this.taskQueue = deps.taskQueue;
    this.validation = deps.validation;
    this.admission = new Admission(deps.store, deps.egressAllow ?? []);
  }

  /**
   * Validates the draft (S11), then starts its run and returns the persisted snapshot: a plan
   * the organization's policy requires approval for (cross-thread, or any condition of its
   * `requireApprovalFor`) waits in `pending-approval` (S1, S2), any other starts `running` (S3).
   * With an `idempotencyKey` a retried call returns the same run instead of making another.
   */
  async create(request: CreatePlanRequest): Promise<PlanSnapshot> {
    const params = parseRequest(CreatePlanRequestSchema, request, 'create request');
    const plan = compileDraft(params.draft, this.validation);
    const runId = runIdFor(params.organizationId, params.idempotencyKey, 'create');
    const { idempotencyKey: _key, draft: _draft, ...context } = params;
    const gate = await this.admission.admit(
      { ...context, threads: { threadId: params.threadId, sourceThreadId: params.sourceThreadId } },
      plan,
    );
    // A standing approval of this very plan from this requester, if one holds: the run checks it again and applies it.
    const requester = params.createdByAgentId ?? params.leadAgentId;
    const matching =
      gate.requireApproval && gate.rules.standing
        ? await this.store.standing.matching(params.organizationId, requester, gate.planHash, new Date().toISOString())
        : [];
    // The oldest whose person may approve it now (the run checks again, as the directory then is).
    const eligible =
      matching.length > 0
        ? new Set(eligibleDeciders(gate.rules, await this.store.principals.list(params.organizationId)).map(({ id }) => id))
        : null;
    const standing = matching.find((candidate) => eligible?.has(candidate.approvedBy));
    return this.start(
      planRunInput({
        ...context,
        ...gate,
        runId,
        planSpecId: runId,
        plan,
        ...(standing ? { standingApprovalId: standing.standingId } : {}),
      }),
    );
  }

  /**
   * S8: aborts the active run and starts a new one linked to it, carrying its source thread.
   * The new run needs approval per S1 against that source thread unless told otherwise.
   */
  async replace(request: ReplacePlanRequest): Promise<PlanSnapshot> {
    const params = parseRequest(ReplacePlanRequestSchema, request, 'replace request');
    const plan = compileDraft(params.draft, this.validation);
    const newRunId = runIdFor(params.organizationId, params.idempotencyKey ?? randomUUID(), `replace:${params.runId}`);
    // The replacement keeps the run's threads (S8): whether it is cross-thread is the run's to say.
    const current = await this.store.runs.getSnapshot(params.runId);
    const threads =
      current !== undefined && current.organizationId === params.organizationId
        ? { threadId: current.threadId, sourceThreadId: current.sourceThreadId }
        : { threadId: params.threadId };
    const { requireApproval, ...gate } = await this.admission.admit({ ...params, threads }, plan);
    const replacement: ReplaceRequest = {
      organizationId: params.organizationId,
      threadId: params.threadId,
      leadAgentId: params.leadAgentId,
      ...(params.createdByAgentId ? { createdByAgentId: params.createdByAgentId } : {}),
      ...(params.credential ? { credential: params.credential } : {}),
      reason: params.reason,
      // Whether it waits is the workflow's to resolve against the run's own threads and the rules' reasons, unless decided here.
      ...(requireApproval || params.requireApproval !== undefined ? { requireApproval } : {}),
      newRunId,
      plan,
      ...gate,
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
  approve(request: DecisionRequest): Promise<PlanSnapshot> {
    return this.decide('approve', request);
  }

  /** S6: rejects a pending run, or requests changes (`resolution: 'changes-requested'`). */
  reject(request: DecisionRequest): Promise<PlanSnapshot> {
    return this.decide('reject', request);
  }

  /** A person completes the node waiting for them (org, thread context, node waiting), handing in its output. */
  async completeNode(request: NodeCompletionRequest): Promise<PlanSnapshot> {
    const { runId, idempotencyKey, payload } = parseRunRequest(request, 'complete-node', parseNodeCompletion);
    return this.send(
      runId,
      completeNodeUpdate,
      payload,
      idempotencyKey && `complete:${idempotencyKey}`,
      (run) => checkNodeCompletion(run, payload).refusal,
    );
  }

  /** Aborts an active run: in-flight work is cancelled and the run ends `aborted` with the reason. */
  async abort(request: AbortPlanRequest): Promise<PlanSnapshot> {
    const { runId, idempotencyKey, payload } = parseRunRequest(request, 'abort', parseAbort);
    return this.send(
      runId,
      abortPlanUpdate,
      payload,
      idempotencyKey && `abort:${idempotencyKey}`,
      (run) => checkAbort(run, payload).refusal,
    );
  }

  /**
   * A run's schedule for people: in words, whether it is attached yet (only after approval),
   * and its next fire times (Temporal's once attached, computed the same way before).
   */
  async schedule(runId: string): Promise<RunScheduleView> {
    const run = await this.get(runId);
    const schedule = (await this.store.runs.getPlan(run.planSpecId))?.schedule;
    if (!schedule) return { schedule: null, text: null, attached: false, scheduleId: null, paused: false, nextFireTimes: [] };
    const base = { schedule, text: scheduleInWords(schedule) };
    if (!run.scheduleId)
      return { ...base, attached: false, scheduleId: null, paused: false, nextFireTimes: nextFireTimes(schedule, new Date(), 3) };
    const description = await this.client.schedule.getHandle(run.scheduleId).describe();
    return {
      ...base,
      attached: true,
      scheduleId: run.scheduleId,
      paused: description.state.paused,
      nextFireTimes: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
    };
  }

  /**
   * Takes the decision a signed link carries, as the person it names and on the revision it
   * showed — only when that person is proven: `presenter` (who signed the request in) is that
   * person, or the link was delivered to that person's own subscription, which still exists. A
   * link read from anywhere else decides nothing. Used once: the use is claimed before the
   * decision (two at once, one wins) and given back when the decision is not taken; the workflow
   * applies the same rules as to any decision (decided or replaced meanwhile, a changed revision,
   * no longer eligible).
   */
  async decideByLink(claims: LinkClaims, presenter: SignedIn | undefined): Promise<PlanSnapshot> {
    const provedBy = await proveLinkHolder(this.store, claims, presenter);
    const run = await this.get(claims.runId);
    if (run.organizationId !== claims.organizationId) throw new PlanError('not-found', `Plan run ${claims.runId} was not found.`);
    if (!(await this.store.links.useOnce(claims.nonce))) throw new PlanError('forbidden', 'This link was already used.');
    try {
      const decision = linkDecision(claims, run, { kind: 'link', id: claims.nonce, provedBy });
      return await (claims.decision === 'approve' ? this.approve(decision) : this.reject(decision));
    } catch (error) {
      await this.store.links.release(claims.nonce);
      throw error;
    }
  }

  /**
   * The directory changed for `principalIds` (roles, disabled, a delegation revoked): every run
   * still acting on an approval of theirs is told, so it looks its approvers up again before its
   * next step acts (workflows/action-check.ts). Answers how many were told; a run that ended
   * meanwhile is skipped.
   */
  async approversChanged(organizationId: string, principalIds: readonly string[]): Promise<number> {
    const runIds = await this.store.runs.activeRunsApprovedBy(organizationId, principalIds);
    const told = await Promise.all(
      runIds.map((runId) =>
        this.client.workflow
          .getHandle(workflowIdOf(runId))
          .signal(approversChangedSignal, { principalIds: [...principalIds] })
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    return told.filter(Boolean).length;
  }

  /** One run as persisted. Throws `not-found` for an unknown run. */
  async get(runId: string, include: IncludeOptions = {}): Promise<PlanSnapshot> {
    const id = parseRequest(IdSchema, runId, 'run id');
    const snapshot = await this.store.runs.getSnapshot(id, parseRequest(IncludeSchema, include, 'include options'));
    if (!snapshot) throw new PlanError('not-found', `Plan run ${id} was not found.`);
    return snapshot;
  }

  /** S9: a thread's active runs, newest first (of one organization when given). */
  async active(query: { threadId: string; organizationId?: string }, include: IncludeOptions = {}): Promise<PlanSnapshot[]> {
    const thread = parseRequest(IdSchema, query.threadId, 'thread id');
    return this.store.runs.listSnapshots(
      { threadId: thread, statuses: ACTIVE_RUN_STATUSES, ...(query.organizationId ? { organizationId: query.organizationId } : {}) },
      parseRequest(IncludeSchema, include, 'include options'),
    );
  }

  /** S9: one line per active run of a thread. */
  async summaries(query: { threadId: string; organizationId?: string }): Promise<PlanSummary[]> {
    return (await this.active(query)).map(summaryOf);
  }

  /** S9: runs by creation context: organization, and optionally source thread, creator, statuses (the first page). */
  async list(query: CreatedInContextQuery): Promise<PlanSnapshot[]> {
    return (await this.listPage(query)).plans;
  }

  /**
   * S9, a page at a time: up to `limit` runs (50 unless asked, at most 200), newest first, after
   * `cursor`; `nextCursor` continues it (null at the end). A page costs the same whatever the
   * number of runs stored.
   */
  async listPage(query: CreatedInContextQuery): Promise<{ plans: PlanSnapshot[]; nextCursor: string | null }> {
    const { organizationId, threadId, sourceThreadId, createdByAgentId, statuses, limit, cursor, ...include } = parseRequest(
      CreatedInContextQuerySchema,
      query,
      'query',
    );
    const { runs, next } = await this.store.runs.listPage(
      {
        organizationId,
        ...(threadId ? { threadId } : {}),
        ...(sourceThreadId ? { sourceThreadId } : {}),
        ...(createdByAgentId ? { createdByAgentId } : {}),
        ...(statuses ? { statuses } : {}),
        limit: limit ?? DEFAULT_PAGE,
        ...(cursor ? { after: positionFrom(cursor) } : {}),
      },
      include,
    );
    return { plans: runs, nextCursor: next ? cursorOf(next) : null };
  }

  private async start(input: PlanRunInput): Promise<PlanSnapshot> {
    const runId = input.runId!;
    noteScope({ runId, organizationId: input.organizationId });
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
    // An edited draft is refused here with every issue named, before the run is asked; the run admits it again (egress, secrets, rules).
    if (payload.draft !== undefined) {
      const checked = validateDraft(payload.draft, this.validation);
      if (!checked.ok) throw new PlanError('invalid-input', formatIssues(checked.issues), checked.issues);
    }
    return this.send(
      runId,
      kind === 'approve' ? approvePlanUpdate : rejectPlanUpdate,
      payload,
      idempotencyKey && `${kind}:${idempotencyKey}`,
      (run) => checkDecision(run, payload, kind, undefined, new Date().toISOString()).refusal,
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
    noteScope({ runId });
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

  /**
   * A refused update keeps the workflow's reason. When the workflow cannot answer (the run is
   * over, or unknown) the same checks run against the persisted run, so the caller still gets
   * S4's message, or `not-found`.
   */
  private async explainRefusal(runId: string, error: unknown, check: (run: PlanSnapshot) => PlanError | undefined): Promise<unknown> {
    const known = asPlanError(error);
    if (known instanceof PlanError) return known;
    const run = await this.store.runs.getSnapshot(runId);
    if (!run) return new PlanError('not-found', `Plan run ${runId} was not found.`);
    return check(run) ?? error;
  }
}
