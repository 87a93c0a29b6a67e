import {
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';

import type { PlanActivities } from '../activities/contract.js';
import { type ApprovalReason, type Decider, narrowingRefusal, skipRefusal } from '../domain/approval.js';
import { approvalReasonsOf, replacementRules } from '../domain/approval-conditions.js';
import { isCrossThread } from '../domain/context.js';
import {
  type Recheck,
  approvalsToRecheck,
  approveByStanding,
  decideApproval,
  expireRun,
  fireApprovalTimer,
  recheckRefusal,
  timerEffects,
} from '../domain/approval-steps.js';
import type { ApprovalTimer } from '../domain/approval-stages.js';
import { type Checked, type Decision, type ReplaceRequest, checkDecision, invalidDecision } from '../domain/decisions.js';
import { PlanError } from '../domain/errors.js';
import { type EditAdmission, editPlan } from '../domain/plan-edit.js';
import { decideSteps, stepRefusal } from '../domain/step-decisions.js';
import { ActionCheck } from './action-check.js';
import { now } from './clock.js';
import { type Effect, type EffectHandlers, type OutboxEffect, type RunEffect, dispatchEffect, isOutboxEffect } from '../domain/effects.js';
import { finishNode, failNodeAttempt, passDeadline, restartNode } from '../domain/execution.js';
import type { CompiledNode, CompiledPlan } from '../domain/plan.js';
import type { RecordPage } from '../domain/run-record.js';
import { type PlanRunInput, behaviourOf } from '../domain/run-input.js';
import type { RunHeader, RunState, StateChange } from '../domain/run-state.js';
import { abortRun, createRun, recordSchedule, scheduleToAttach } from '../domain/transitions.js';
import { type PlanSnapshot, snapshotOf } from '../domain/snapshot.js';
import { type RunStatus, TERMINAL_RUN_STATUSES } from '../domain/status.js';
import { SEARCH_ATTRIBUTES, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import { NodeRunner, type Outcome } from './node-runner.js';
import { Outbox } from './outbox.js';
import { type RefusedMessage, describeWaiting } from './web-ui.js';

// A schedule's create, refresh or delete must land: retried until it does.
const { attachSchedule, refreshSchedule, deleteSchedule } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Any approver of the organization may reject; before this, a draft's narrowing applied to rejections too. */
export const REJECT_BY_ANY_APPROVER = 'reject-by-any-approver';

/** An approval completing the quorum first re-checks the approvals counted earlier; before this, it did not. */
export const RECHECK_AT_QUORUM = 'recheck-approvals-at-quorum';

/*
 * Who a decision names is read from the organization's directory as it is now, by an activity:
 * its result is in history, so a replay decides the same. (A local activity would save two
 * events, but local activities inside update handlers raced with concurrent updates into
 * nondeterminism errors under load, see ARCHITECTURE.md.)
 */
const { findPrincipal, findStanding } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

/** An edit before approval is compiled and admitted by an activity (its answer in history, so a replay decides the same). */
const { admitEdit } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

/** A run started without the approval its rules require checks its requester may skip it; before this, only the client did. */
export const SKIP_CHECKED_AT_START = 'skip-approval-checked-at-start';

/** A replacement's rules are derived in the workflow from the replaced run's; before this, the client's were taken as sent. */
export const REPLACEMENT_RULES_FROM_RUN = 'replacement-rules-from-run';

/** What an approval completing the quorum found on looking everyone up again: the completing approver as now, and whose earlier approval no longer stands. */
export interface Rechecked {
  decider: Decider | null;
  recheck: Recheck;
}

/** What an approval with an edit found before it is taken: the edit as admitted (or refused), on which revision, and its editor as now. */
export interface PreparedEdit {
  decider: Decider | null;
  admission: EditAdmission;
  /** The revision the edit was admitted against: another edit taken meanwhile makes it stale. */
  basedOn: string | undefined;
}

/** What an approval prepares: a plain one completing the quorum, the rechecks; one with an edit, the edit's admission. */
export type PreparedApproval = Rechecked | PreparedEdit;

const isEdit = (prepared: PreparedApproval | undefined): prepared is PreparedEdit => prepared !== undefined && 'admission' in prepared;

/** A replacement request as the replaced run admits it, or why not. */
export type Admitted = { request: ReplaceRequest; refusal?: undefined } | { request?: undefined; refusal: PlanError };

/**
 * Whom to check, and for what, when a run starts without approval its rules say it needs: not a
 * schedule's fire (its spec was approved), a replacement, nor a run from before the gate (no rules).
 */
function skipToCheck(input: PlanRunInput): { requester: string; reasons: ApprovalReason[] } | undefined {
  const { rules } = input;
  // A replacement's skip was checked by the run it replaces (`admitReplacement`), which started it.
  if (!rules || input.requireApproval !== false || input.firedByScheduleId || input.replacedRunId || input.resume) return undefined;
  const reasons = rules.reasons ?? (isCrossThread(input.sourceThreadId, input.threadId) ? (['cross-thread'] as ApprovalReason[]) : []);
  return reasons.length > 0 ? { requester: input.createdByAgentId ?? input.leadAgentId, reasons } : undefined;
}

/** Transitions per `record` query answer, so an answer stays far below Temporal's payload limits. */
const RECORD_PAGE_LIMIT = 500;

export { now } from './clock.js';

/**
 * One run as the workflow holds it: its state, which only `take` changes, the outbox that
 * stores and carries out what it accepted, and the node work in flight. The domain decides
 * every step and its effects; this class performs them.
 */
export class WorkflowRun {
  /** The run's state: read by everyone, changed only by `take` (and set once, at creation or resumption). */
  private current: RunState;
  readonly outbox: Outbox;
  readonly nodes: NodeRunner;
  /** The plan's steps by id; an edit before approval replaces them in place (node work reads this map). */
  private readonly specs: Map<string, CompiledNode>;
  /** The plan that runs: the input's, until an edit before approval makes another revision (plan-edit.ts). */
  private currentPlan: CompiledPlan;
  /** The re-check of its approval immediately before a step acts (from format 3). */
  readonly actionCheck: ActionCheck;
  /** The last signal refused, shown in the Web UI's current details (not kept across continue-as-new). */
  private lastRefused: RefusedMessage | undefined;

  constructor(
    readonly input: PlanRunInput,
    readonly header: RunHeader,
  ) {
    const { plan, resume } = input;
    this.currentPlan = plan;
    this.actionCheck = new ActionCheck(
      {
        state: () => this.state,
        specOf: (nodeId) => this.specs.get(nodeId)!,
        lookup: (principalId) => this.lookup(principalId),
        take: (step) => this.take(step),
      },
      behaviourOf(input.format).rechecksAtAction,
      Boolean(input.resume || input.firedByScheduleId),
    );
    this.outbox = new Outbox({ run: header, format: input.format, creation: { header, plan }, perform: (effect) => this.perform(effect) });
    this.specs = new Map(plan.nodes.map((node) => [node.nodeId, node]));
    this.nodes = new NodeRunner(this.specs, () => this.state);
    if (resume) {
      this.current = resume.state;
      const { approval, rules } = this.state;
      if (this.state.status === 'pending-approval' && approval) {
        this.armExpiry(approval.expiresAt);
        // The open stage's timers still to come, armed again from its state (none on runs without reminders or escalations).
        if (rules) this.effects(timerEffects(rules, approval, this.state.createdAt));
      }
    } else {
      const created = createRun(header, plan, header.createdAt);
      this.current = created.state;
      this.outbox.push({ kind: 'persist', transition: created.transition, creation: true });
      const skipping = skipToCheck(input);
      if (skipping && patched(SKIP_CHECKED_AT_START)) {
        // Nothing runs (no node, no schedule) until the skip is admitted; a refused one ends the run.
        this.admitting = this.lookup(skipping.requester).then((who) => this.admitSkip(skipping, who, created.effects));
      } else this.effects(created.effects);
      if (input.standingApprovalId && this.state.status === 'pending-approval') this.applyStanding(input.standingApprovalId);
    }
    this.describe();
  }

  /**
   * A standing approval the client found for this plan: looked up again, with its person, and
   * applied if it still holds (approval-steps.ts `approveByStanding`). The hazard: the lookups
   * yield, and people may decide meanwhile; it is checked against the run as it then is.
   */
  private applyStanding(standingId: string): void {
    const { organizationId } = this.state;
    void findStanding({ organizationId, standingId })
      .then(async (found) => ({ found, who: found ? await this.lookup(found.approvedBy) : null }))
      .then(({ found, who }) => this.takeIfAny(approveByStanding(this.state, this.plan, found, who, now())))
      // Only a cancelled lookup fails (they retry until they answer): the run ended meanwhile.
      .catch(() => undefined);
  }

  /** Set while a run started without the approval its rules require waits for its requester to be looked up. */
  private admitting: Promise<void> | undefined;

  /** Whether the run may start work: not while its skip of approval is being checked. */
  get admitted(): boolean {
    return this.admitting === undefined;
  }

  /** Settles once the run is admitted (at once when it needs no check: no await then, as before the check existed). */
  whenAdmitted(): Promise<void> | undefined {
    return this.admitting;
  }

  /**
   * `skipApproval`, checked where the run starts and not only in the client: a requester its
   * rules do not let skip ends the run (aborted by `system`, naming the rule) before anything
   * ran; one they do gets the creation's effects (its schedule) and its nodes.
   */
  private admitSkip(skipping: { requester: string; reasons: ApprovalReason[] }, who: Decider | null, held: readonly Effect[]): void {
    this.admitting = undefined;
    if (TERMINAL_RUN_STATUSES.has(this.state.status)) return;
    const refusal = skipRefusal(this.state.rules!.skipApproval, skipping.requester, who, skipping.reasons);
    if (refusal) this.take(abortRun(this.state, { reason: refusal.message, emittedBy: 'system' }, now()));
    else this.effects(held);
  }

  /**
   * A replacement as this run admits it (S8 under the gate): its rules derived from this run's
   * frozen ones (`replacementRules`: never looser, tightened by the request's), why it needs
   * approval decided on its own plan against the conditions those rules carry, and a request to
   * run it without approval refused unless those rules let its requester skip. Runs from before
   * the gate, and runs that replaced before this rule (no `REPLACEMENT_RULES_FROM_RUN` marker),
   * take the request as the client made it. Looks the requester up only when a rule needs its kind.
   */
  admitReplacement(request: ReplaceRequest): Admitted | Promise<Admitted> {
    const replaced = this.state.rules;
    if (!replaced || !patched(REPLACEMENT_RULES_FROM_RUN)) return { request };
    const requester = request.createdByAgentId ?? request.leadAgentId;
    const rules = replacementRules(replaced, request.rules, [request.leadAgentId, requester]);
    const decide = (who: Decider | null | undefined): Admitted => {
      const facts = {
        threadId: this.state.threadId,
        sourceThreadId: this.state.sourceThreadId,
        plan: request.plan,
        requesterKind: who?.kind ?? null,
      };
      const reasons: ApprovalReason[] = approvalReasonsOf({ requireApprovalFor: rules.conditions }, facts);
      // Stages come from rules that matched what one of the plans does: the replacement waits for them.
      if (rules.stages) reasons.push('policy-rule');
      const refusal =
        request.requireApproval === false && reasons.length > 0
          ? skipRefusal(rules.skipApproval, requester, who ?? null, reasons)
          : undefined;
      return refusal ? { refusal } : { request: { ...request, rules: { ...rules, reasons } } };
    };
    const needsKind = rules.conditions!.includes('agent-plans') || request.requireApproval === false;
    return needsKind ? this.lookup(requester).then(decide) : decide(undefined);
  }

  get state(): RunState {
    return this.current;
  }

  get plan(): CompiledPlan {
    return this.currentPlan;
  }

  /**
   * The run's header as it now stands: an edit before approval changes the plan's spec, revision,
   * hash, rules and title (what a schedule attached after it carries into its fires).
   */
  private currentHeader(): RunHeader {
    const { planSpecId, revision, planHash, rules, title, objective, approval } = this.state;
    const approvals = behaviourOf(this.input.format).rechecksAtAction ? approval?.approvals : undefined;
    return {
      ...this.header,
      planSpecId,
      ...(approvals?.length ? { approvedBy: approvals } : {}),
      ...(revision ? { revision } : {}),
      ...(planHash ? { planHash } : {}),
      ...(rules ? { rules } : {}),
      title,
      objective,
    };
  }

  /** What the run continues as new with: its state, and the plan and gate facts as they now stand (an edit changed them). */
  continuedInput(): PlanRunInput {
    const { planSpecId, revision, planHash, rules } = this.state;
    return {
      ...this.input,
      planSpecId,
      plan: this.plan,
      ...(revision ? { revision } : {}),
      ...(planHash ? { planHash } : {}),
      ...(rules ? { rules } : {}),
      resume: { state: this.state },
    };
  }

  snapshot(): PlanSnapshot {
    return snapshotOf(this.state, this.plan);
  }

  /** Takes a state change: the state moves on, its transition is queued to be stored, its effects follow. Answers the outbox position. */
  take(step: StateChange): number {
    const statusChanged = step.state.status !== this.state.status;
    this.current = step.state;
    if (step.transition.edit) this.replacePlan(step.transition.edit.current.plan);
    this.outbox.push({ kind: 'persist', transition: step.transition });
    if (statusChanged && this.showsStatus(this.state.status))
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: this.state.status }]);
    this.describe();
    this.effects(step.effects);
    return this.outbox.length;
  }

  /**
   * Whether the status search attribute follows the run into `status`. In formats 2 and 3 a run
   * that completes keeps `running` (its workflow closes Completed, which says so; an upsert saved);
   * from format 4 on it ends at every final status, so `PlanRunStatus='running'` means running.
   */
  private showsStatus(status: RunStatus): boolean {
    return !(behaviourOf(this.input.format).keepsRunningWhenCompleted && status === 'completed');
  }

  /** An edit before approval was taken: its plan is the one that runs from now on. */
  private replacePlan(plan: CompiledPlan): void {
    this.currentPlan = plan;
    this.specs.clear();
    for (const node of plan.nodes) this.specs.set(node.nodeId, node);
  }

  /** Takes a state change if there is one; answers the outbox position either way (nothing new to settle without one). */
  takeIfAny(step: StateChange | undefined): number {
    return step ? this.take(step) : this.outbox.length;
  }

  /** Records a refused signal (its `decision-refused` step) and shows it in the Web UI. */
  refuse(step: StateChange, kind: string, refusal: PlanError): void {
    const by = step.transition.events[0]?.emittedBy ?? 'unknown';
    this.lastRefused = { kind, by, because: refusal.message, at: now() };
    this.take(step);
  }

  /** Who a message names, when the run's rules need the decider looked up; undefined for runs from before the gate. */
  deciderOf(payload: unknown): string | undefined {
    const emittedBy = (payload as { emittedBy?: unknown } | undefined)?.emittedBy;
    return this.state.rules && typeof emittedBy === 'string' ? emittedBy : undefined;
  }

  /** An approval, checked as any decision is, then its word on steps against the plan as it stands (step-decisions.ts). */
  checkApprove(payload: unknown, who?: Decider | null): Checked<Decision> {
    // A run started before format 3 refuses an edit or a word on steps as the unknown fields they were then (its history replays so).
    const late = this.lateFields(payload);
    if (late.length > 0)
      return {
        refusal: invalidDecision(
          'approve',
          late.map((field) => `unknown field "${field}"`),
        ),
      };
    // A rule's fresh sign-in is checked against the workflow's own clock (runs without one never ask).
    const checked = checkDecision(this.state, payload, 'approve', who, now());
    const refusal = checked.value?.steps ? stepRefusal(this.state, this.plan, checked.value) : undefined;
    return refusal ? { refusal } : checked;
  }

  /** The fields of `payload` this run's format does not take (an edit, steps: from format 3). */
  private lateFields(payload: unknown): string[] {
    if (behaviourOf(this.input.format).takesEditsAndSteps || typeof payload !== 'object' || payload === null) return [];
    return ['draft', 'patch', 'steps'].filter((field) => field in payload);
  }

  /**
   * A rejection, checked as any decision is: any approver of the organization may reject, the
   * draft's narrowing is for approvals. Runs that refused such a rejection before that rule, as
   * recorded in their history, refuse it again on replay; a new one records the patch marker,
   * only when the rule makes a difference.
   */
  checkReject(payload: unknown, who?: Decider | null): Checked<Decision> {
    const checked = checkDecision(this.state, payload, 'reject', who);
    const narrowed = !checked.refusal && who && this.state.rules ? narrowingRefusal(this.state.rules, who) : undefined;
    return narrowed && !patched(REJECT_BY_ANY_APPROVER) ? { refusal: narrowed } : checked;
  }

  /**
   * Before an approval that would complete the quorum: every earlier approver looked up again
   * (activities, in parallel), answering whose approval no longer stands and why; undefined
   * when there is nothing to look up. Runs that completed a quorum before this rule replay
   * without the lookups (the `RECHECK_AT_QUORUM` patch, recorded only when there are some).
   */
  recheckApprovals(decision: Decision): Promise<Rechecked> | undefined {
    const rules = this.state.rules;
    const earlier = approvalsToRecheck(this.state, decision);
    if (!rules || earlier.length === 0 || !patched(RECHECK_AT_QUORUM)) return undefined;
    // The completing approver too: the lookups may take a while, and they may have left meanwhile.
    const { organizationId } = this.state;
    // An approval a standing approval made is looked up with it: revoked or ended since, it no longer stands.
    const standingOf = (principalId: string) => {
      const credential = this.state.approval?.approvals.find((counted) => counted.by === principalId)?.credential;
      return credential?.kind === 'standing' ? findStanding({ organizationId, standingId: credential.id }) : undefined;
    };
    const lookups = [decision.emittedBy, ...earlier].map(async (principalId) => ({
      principalId,
      who: await this.lookup(principalId),
      standing: await standingOf(principalId),
    }));
    return Promise.all(lookups).then(([completing, ...found]) => ({
      decider: completing!.who,
      recheck: new Map(
        found.flatMap(({ principalId, who, standing }) => {
          // The run may have moved on during the lookups (another approval, a stage opened): only what still counts is rechecked.
          const entry = this.state.approval?.approvals.find((counted) => counted.by === principalId);
          const refused = entry && recheckRefusal(this.state, entry, who, standing, now());
          return refused ? [[principalId, refused.message] as const] : [];
        }),
      ),
    }));
  }

  /**
   * What an approval needs looked up before it is taken: with an edit, the edit's admission
   * (compiled and admitted like a draft, by an activity) and the editor again; otherwise, when
   * it would complete the quorum, the rechecks of the approvals counted earlier.
   */
  prepareApproval(decision: Decision): Promise<PreparedApproval> | undefined {
    // A decision on held steps of a running plan counts toward their own quorum: nothing to recheck.
    if (this.state.status !== 'pending-approval') return undefined;
    if (decision.draft === undefined && decision.patch === undefined) return this.recheckApprovals(decision);
    const { organizationId, runId, threadId, sourceThreadId, leadAgentId, createdByAgentId, revision } = this.state;
    const edit = decision.draft !== undefined ? { draft: decision.draft } : { patch: decision.patch };
    const admitting = admitEdit({
      organizationId,
      runId,
      threadId,
      ...(sourceThreadId ? { sourceThreadId } : {}),
      leadAgentId,
      ...(createdByAgentId ? { createdByAgentId } : {}),
      current: this.plan,
      edit,
    });
    // The hazard: both yield, and the run may be decided, expire or be edited by someone else meanwhile.
    return Promise.all([admitting, this.lookup(decision.emittedBy)]).then(([admission, decider]) => ({
      admission,
      decider,
      basedOn: revision,
    }));
  }

  /** Why a prepared approval may not be taken after all: its edit refused, changing nothing, or admitted against a revision since replaced. */
  preparedRefusal(prepared: PreparedApproval): PlanError | undefined {
    if (!isEdit(prepared)) return undefined;
    const { admission, basedOn } = prepared;
    if (admission.refusal) return new PlanError(admission.refusal.code, admission.refusal.message);
    if (basedOn !== this.state.revision)
      return new PlanError(
        'stale-revision',
        `The plan was edited while this edit was checked: it is at revision ${this.state.revision}; edit that one.`,
      );
    if (admission.edit.revision === this.state.revision)
      return new PlanError('invalid-input', 'The edit changes nothing that runs: approve without an edit.');
    return undefined;
  }

  /** Takes an approval: with an edit, the edit first (`plan-edited`), then the editor's approval when it counts (plan-edit.ts). */
  approve(decision: Decision, prepared: PreparedApproval | undefined): number {
    if (this.state.status !== 'pending-approval') return this.takeIfAny(decideSteps(this.state, this.plan, decision, now()));
    if (!isEdit(prepared)) return this.takeIfAny(decideApproval(this.state, this.plan, decision, now(), prepared?.recheck));
    const { draft: _draft, patch: _patch, ...approval } = decision;
    const edited = editPlan(this.state, this.plan, approval, prepared.admission.edit!, prepared.decider, now());
    this.take(edited.step);
    return edited.counts ? this.takeIfAny(decideApproval(this.state, this.plan, approval, now())) : this.outbox.length;
  }

  /** Looks a principal up in the run's organization, as the directory has it now. */
  lookup(principalId: string): Promise<Decider | null> {
    return findPrincipal({ organizationId: this.state.organizationId, principalId });
  }

  /** Who a person's step is assigned to (a principal id or `role:NAME`), if anyone. */
  assigneeOf(nodeId: string): string | undefined {
    const executor = this.specs.get(nodeId)?.executor;
    return executor?.type === 'human' ? executor.assignee : undefined;
  }

  private describe(): void {
    setCurrentDetails(describeWaiting(this.state, this.specs, this.lastRefused));
  }

  /** A durable timer: a run still pending at `at` (with the same expiry) is decided per its rules. */
  private armExpiry(at: string): void {
    sleep(Math.max(1, Date.parse(at) - Date.now())).then(
      () => {
        if (this.state.status === 'pending-approval' && this.state.approval?.expiresAt === at)
          this.take(expireRun(this.state, this.plan, now()));
      },
      // Cancelled with the workflow: nothing to decide.
      () => undefined,
    );
  }

  /** A durable timer: at `timer.at`, the open stage is reminded or escalated, if the run is still where it was. */
  private armApprovalTimer(timer: ApprovalTimer): void {
    sleep(Math.max(1, Date.parse(timer.at) - Date.now())).then(
      () => this.takeIfAny(fireApprovalTimer(this.state, timer, now())),
      // Cancelled with the workflow: nothing to do.
      () => undefined,
    );
  }

  /** Applies what node work reported; reports about attempts the run has moved past are ignored. */
  apply(outcome: Outcome): void {
    if (outcome.kind === 'deadline') {
      for (const step of passDeadline(this.state, this.plan, outcome.nodeId, outcome.which, now())) this.take(step);
      return;
    }
    const node = this.state.nodes.find((candidate) => candidate.nodeId === outcome.nodeId)!;
    if (node.status !== 'running' || node.attempt !== outcome.attempt) return;
    if (outcome.kind === 'succeeded') {
      this.take(finishNode(this.state, this.plan, outcome.nodeId, { artifactIds: outcome.artifactIds, emittedBy: 'system' }, now()));
    } else if (outcome.kind === 'failed') {
      this.take(failNodeAttempt(this.state, this.plan, outcome.nodeId, { error: outcome.error, final: false }, now()));
    } else {
      this.take(restartNode(this.state, this.plan, outcome.nodeId, now()));
    }
  }

  /** The transitions this execution made from `from` on (a continued run's earlier ones are in the executions before). */
  recordPage(from = 1, limit = RECORD_PAGE_LIMIT): RecordPage {
    const { resume } = this.input;
    return {
      // The plan it was created with: an edit's transition carries the plan it made.
      ...(resume ? {} : { creation: { header: this.header, plan: this.input.plan } }),
      firstSequence: resume ? resume.state.sequences.transition + 1 : 1,
      lastSequence: this.state.sequences.transition,
      persisted: this.outbox.stored,
      snapshot: this.snapshot(),
      nodes: this.state.nodes,
      transitions: this.outbox.transitions(from, Math.min(limit, RECORD_PAGE_LIMIT)),
    };
  }

  private effects(effects: readonly Effect[]): void {
    for (const effect of effects) {
      if (isOutboxEffect(effect)) this.outbox.push(effect);
      else dispatchEffect(this.runEffects, effect);
    }
  }

  /** The effects carried out at once: node work in flight and the run's timers. */
  private readonly runEffects: EffectHandlers<RunEffect, void> = {
    'cancel-all': () => this.nodes.cancelAll(),
    'start-attempt': ({ nodeId }) => this.nodes.queue(nodeId),
    'retry-attempt': ({ nodeId, attempt, inMs }) => this.nodes.retryAfter(nodeId, attempt, inMs),
    'cancel-attempt': ({ nodeId }) => this.nodes.cancelAttempt(nodeId),
    'arm-deadline': ({ nodeId }) => this.nodes.armDeadline(nodeId),
    'cancel-deadline': ({ nodeId }) => this.nodes.cancelDeadline(nodeId),
    'arm-expiry': ({ at }) => this.armExpiry(at),
    'arm-approval-timer': ({ timer }) => this.armApprovalTimer(timer),
  };

  /** The outbox's effects, carried out in order behind the transitions that asked for them. */
  private perform(effect: OutboxEffect): Promise<number | void> {
    return dispatchEffect(this.outboxEffects, effect);
  }

  private readonly outboxEffects: EffectHandlers<OutboxEffect, Promise<number | void>> = {
    'attach-schedule': async () => {
      const schedule = scheduleToAttach(this.state, this.plan);
      if (!schedule) return;
      const attached = await attachSchedule({ run: this.currentHeader(), plan: this.plan, schedule });
      // Queued behind whatever was accepted meanwhile: transitions are stored in the order they were made.
      return this.take(recordSchedule(this.state, attached, now()));
    },
    'refresh-schedule': async ({ scheduleId }) => {
      await refreshSchedule({ scheduleId, firedRunId: this.state.runId });
    },
    'delete-schedule': async ({ scheduleId }) => {
      await deleteSchedule({ scheduleId });
    },
    'start-replacement': async ({ input }) => {
      // The replacement outlives this run, which ends as soon as it has started it.
      await startChild('planRun', {
        workflowId: workflowIdOf(input.runId),
        args: [input],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: searchAttributesOf({ ...input, status: input.requireApproval ? 'pending-approval' : 'running' }),
        staticSummary: input.plan.title,
      });
    },
  };
}
