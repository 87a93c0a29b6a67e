import { createHash, randomUUID } from 'node:crypto';

import { type Client, WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';

import type { LinkClaims } from '../auth/links.js';
import type { SignedIn } from './principals-client.js';
import { type ApprovalRules, type Decider, eligibleDeciders, skipRefusal } from '../domain/approval.js';
import { decidingThreadOf } from '../domain/context.js';
import {
  type Credential,
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
import { destinationOf, egressIssues, hostPort } from '../domain/egress.js';
import { PlanError, type ValidationIssue, formatIssues, isPlanErrorCode } from '../domain/errors.js';
import type { CompiledPlan } from '../domain/plan.js';
import { approvalConditionsOf, approvalReasonsOf, freezeRules } from '../domain/policy.js';
import { type PlanRunInput, planRunInput } from '../domain/run-input.js';
import { secretNamesOf } from '../domain/secret-refs.js';
import { secretsOffHost, unboundSecretsOf } from '../domain/secrets.js';
import { isWebhook } from '../domain/webhook.js';
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
import { type ValidationContext, compileDraft } from '../domain/validate.js';
import type { ListPosition, PlanStore } from '../storage/plan-store.js';
import { searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import {
  abortPlanUpdate,
  approvePlanUpdate,
  completeNodeUpdate,
  persistedPlanUpdate,
  rejectPlanUpdate,
  replacePlanUpdate,
} from '../workflows/messages.js';
import type { planRun } from '../workflows/plan-run.js';
import { revisionOf } from './revision.js';

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

/** How a link's person proved it was them. */
type LinkProof = Extract<Credential, { kind: 'link' }>['provedBy'];

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
  private readonly egressAllow: readonly string[];

  constructor(deps: RunsClientDeps) {
    this.client = deps.client;
    this.store = deps.store;
    this.taskQueue = deps.taskQueue;
    this.validation = deps.validation;
    this.egressAllow = deps.egressAllow ?? [];
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
    const gate = await this.admit({ ...context, threads: { threadId: params.threadId, sourceThreadId: params.sourceThreadId } }, plan);
    return this.start(planRunInput({ ...context, ...gate, runId, planSpecId: runId, plan }));
  }

  /**
   * What the gate fixes for a new run: its revision; the organization's policy in force,
   * tightened by the draft and frozen with who asked and why the plan needs approval (the
   * conditions of the policy's `requireApprovalFor` that hold for it, on `threads`); and whether
   * it waits for approval. A plan that needs it waits, whatever the request says: asked to run
   * without approval, it is refused unless its requester may skip approval under that policy.
   * A plan that needs none runs at once unless the request asks for approval.
   */
  private async admit(
    request: {
      organizationId: string;
      leadAgentId: string;
      createdByAgentId?: string;
      requireApproval?: boolean;
      threads: { threadId: string; sourceThreadId?: string | null | undefined };
    },
    plan: CompiledPlan,
  ): Promise<{ revision: string; rules: ApprovalRules; requireApproval: boolean }> {
    const sendsUnboundSecret = await this.checkSecrets(request.organizationId, plan);
    const requester = request.createdByAgentId ?? request.leadAgentId;
    // The lead agent is a requester, and a requester may not decide: naming a person there would take their vote away.
    const lead = (await this.store.principals.find(request.organizationId, request.leadAgentId)) ?? null;
    if (lead && lead.kind !== 'agent') {
      throw new PlanError(
        'invalid-input',
        `leadAgentId names ${lead.id}, a ${lead.kind} of ${request.organizationId}: the lead agent is an agent.`,
      );
    }
    const record = await this.store.policies.get(request.organizationId);
    const egress = egressIssues(plan, { allow: record.policy.egress?.allow, operatorAllow: this.egressAllow });
    if (egress.length > 0) throw new PlanError('invalid-input', formatIssues(egress), egress);
    // The requester is usually the lead agent, already read.
    let looked: { who: Decider | null } | undefined = requester === request.leadAgentId ? { who: lead } : undefined;
    const who = async (): Promise<Decider | null> => {
      looked ??= { who: (await this.store.principals.find(request.organizationId, requester)) ?? null };
      return looked.who;
    };
    // The directory is read only when the policy needs the requester's kind, or a skip is asked.
    const requesterKind = approvalConditionsOf(record.policy).includes('agent-plans') ? ((await who())?.kind ?? null) : null;
    const reasons = approvalReasonsOf(record.policy, { ...request.threads, plan, requesterKind });
    // A secret bound to no host goes wherever the draft's URL says, the requester's own host too:
    // a person looks first, whatever the policy lists. The plan calls out, so it waits as one that does.
    if (reasons.length === 0 && sendsUnboundSecret) reasons.push('external-calls');
    const rules = freezeRules(record, plan.approval, [request.leadAgentId, requester], reasons);
    // A narrowing to fewer eligible persons than must approve would make a plan nobody can approve.
    if (rules.narrowedTo) {
      const eligible = eligibleDeciders(rules, await this.store.principals.list(request.organizationId));
      if (eligible.length < rules.required) {
        throw new PlanError(
          'invalid-input',
          `A draft may only tighten the organization's approval policy: approval.approvers leaves ${eligible.length} eligible ${eligible.length === 1 ? 'person' : 'persons'} (${eligible.map((person) => person.id).join(', ') || 'none'}) where ${rules.required} must approve.`,
        );
      }
    }
    if (reasons.length === 0) return { revision: revisionOf(plan), rules, requireApproval: request.requireApproval ?? false };
    if (request.requireApproval === false) {
      const refusal = skipRefusal(rules.skipApproval, requester, await who(), reasons);
      if (refusal) throw refusal;
      return { revision: revisionOf(plan), rules, requireApproval: false };
    }
    return { revision: revisionOf(plan), rules, requireApproval: true };
  }

  /**
   * Refuses a plan that sends a secret its organization does not have (it would fail at that
   * step, after approval), or sends one in a header to a URL the secret's hosts leave out (a
   * secret URL is known only at call time, and checked there). Answers whether it sends a secret
   * bound to no host in a header. Tells a principal that may create plans whether a name exists,
   * which listing secrets does not (admins only): a name is not a secret (docs/secrets-and-egress.md).
   */
  private async checkSecrets(organizationId: string, plan: CompiledPlan): Promise<boolean> {
    const named = plan.nodes.flatMap((node) => secretNamesOf(node.executor).map((name) => ({ nodeId: node.nodeId, name })));
    if (named.length === 0) return false;
    const hosts = new Map((await this.store.secrets.list(organizationId)).map((secret) => [secret.name, secret.hosts]));
    const issues: ValidationIssue[] = named
      .filter(({ name }) => !hosts.has(name))
      .map(({ nodeId, name }) => ({
        code: 'unknown-secret',
        nodeId,
        message: `Node "${nodeId}" sends secret "${name}", which organization ${organizationId} does not have; an admin sets it first (plans secret set ${name}).`,
      }));
    const webhooks = plan.nodes.flatMap((node) => (isWebhook(node.executor) ? [{ nodeId: node.nodeId, executor: node.executor }] : []));
    for (const { nodeId, executor } of webhooks) {
      if (typeof executor.url !== 'string') continue;
      const host = hostPort(destinationOf(executor.url));
      for (const name of secretsOffHost(executor, executor.url, (name) => hosts.get(name))) {
        issues.push({
          code: 'secret-host',
          nodeId,
          message: `Node "${nodeId}" sends secret "${name}" to ${host}, a host the secret is not bound to; only an admin binds it elsewhere (plans secret set ${name} --host HOST).`,
        });
      }
    }
    if (issues.length > 0) throw new PlanError('invalid-input', formatIssues(issues), issues);
    return webhooks.some(({ executor }) => unboundSecretsOf(executor, (name) => hosts.get(name)).length > 0);
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
    const { requireApproval, ...gate } = await this.admit({ ...params, threads }, plan);
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
    const provedBy = await this.proveLinkHolder(claims, presenter);
    const run = await this.get(claims.runId);
    if (run.organizationId !== claims.organizationId) throw new PlanError('not-found', `Plan run ${claims.runId} was not found.`);
    if (!(await this.store.links.useOnce(claims.nonce))) throw new PlanError('forbidden', 'This link was already used.');
    try {
      return await this.decideAs(claims, run, { kind: 'link', id: claims.nonce, provedBy });
    } catch (error) {
      await this.store.links.release(claims.nonce);
      throw error;
    }
  }

  /** How the link's person proved it was them: their token, or delivery to their own subscription. */
  private async proveLinkHolder(claims: LinkClaims, presenter: SignedIn | undefined): Promise<LinkProof> {
    const person = claims.principalId;
    if (presenter) {
      const { principal } = presenter;
      if (principal.organizationId !== claims.organizationId || principal.id !== person) {
        throw new PlanError('forbidden', `This link decides as ${person}; you are signed in as ${principal.id}.`);
      }
      return presenter.credential;
    }
    if (claims.subscriptionId) {
      const subscription = await this.store.subscriptions.get(claims.organizationId, claims.subscriptionId);
      // Their destination proves it is them only while they are in: every token revoked, their links are too.
      if (subscription?.principalId === person && (await this.store.principals.hasActiveToken(claims.organizationId, person))) {
        return { kind: 'subscription', id: claims.subscriptionId };
      }
      throw new PlanError(
        'unauthorized',
        `The destination this link was delivered to no longer stands for ${person} (deleted, or every token of theirs revoked): sign in as ${person} to decide (their API token, or the inbox).`,
      );
    }
    throw new PlanError(
      'unauthorized',
      `This link decides as ${person} only when ${person} signs in: send their API token (Authorization: Bearer …), or decide in the inbox.`,
    );
  }

  private async decideAs(claims: LinkClaims, run: PlanSnapshot, credential: Credential): Promise<PlanSnapshot> {
    const decision = {
      credential,
      runId: run.runId,
      organizationId: run.organizationId,
      threadId: decidingThreadOf(run),
      emittedBy: claims.principalId,
      expectedRevision: claims.revision,
    };
    return claims.decision === 'approve'
      ? this.approve(decision)
      : this.reject({ ...decision, resolution: claims.decision === 'reject' ? 'rejected' : 'changes-requested' });
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
    return this.send(
      runId,
      kind === 'approve' ? approvePlanUpdate : rejectPlanUpdate,
      payload,
      idempotencyKey && `${kind}:${idempotencyKey}`,
      (run) => checkDecision(run, payload, kind).refusal,
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
