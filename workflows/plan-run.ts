import {
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type { PlanActivities } from '../activities/index.js';
import { type Decision, checkAbort, checkDecision, checkNodeCompletion, checkReplace } from '../domain/decisions.js';
import type { Effect, OutboxEffect } from '../domain/effects.js';
import { isOutboxEffect } from '../domain/effects.js';
import { canStartNodes, completeByPerson, completeNode, dispatchReadyNodes, failNodeAttempt, passDeadline, restartNode } from '../domain/execution.js';
import type { RecordPage } from '../domain/run-record.js';
import type { PlanRunInput } from '../domain/run-input.js';
import {
  type RunHeader,
  type RunState,
  type Step,
  abortRun,
  approveRun,
  createRun,
  recordSchedule,
  refuseDecision,
  rejectRun,
  replaceRun,
} from '../domain/run-state.js';
import { type PlanSnapshot, snapshotOf } from '../domain/snapshot.js';
import { TERMINAL_RUN_STATUSES } from '../domain/status.js';
import { SEARCH_ATTRIBUTES, runIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import { messagePair, registerMessagePairs, toFailure } from './handlers.js';
import {
  abortPlanUpdate,
  abortSignal,
  approvePlanUpdate,
  approveSignal,
  completeNodeSignal,
  completeNodeUpdate,
  persistedPlanUpdate,
  planQuery,
  recordQuery,
  rejectPlanUpdate,
  rejectSignal,
  replacePlanUpdate,
} from './messages.js';
import { NodeRunner, type Outcome } from './node-runner.js';
import { Outbox } from './outbox.js';
import { describeWaiting } from './web-ui.js';

// Storing must never give up: nothing the run accepted may be lost, so retry until it lands.
const RETRY_FOREVER = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };
/**
 * A flush is an activity, so it writes only what Temporal committed (I1): its input is recorded
 * in history before it runs. Runs recorded before this patch keep the local activity they
 * started with, so their histories replay (ARCHITECTURE.md, "Committed history").
 */
const COMMITTED_PERSISTENCE = 'persist-from-committed-history';
const committed = proxyActivities<PlanActivities>({ startToCloseTimeout: '15s', retry: RETRY_FOREVER });
const uncommitted = proxyLocalActivities<PlanActivities>({ startToCloseTimeout: '30s', retry: RETRY_FOREVER });
const { attachSchedule, refreshSchedule, deleteSchedule } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '1m',
  retry: RETRY_FOREVER,
});
// A receiver that stays down for about an hour misses its notification; the run does not wait longer.
const { notifyEvents } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 12 },
});

const DEFAULT_HISTORY_LIMIT = 10_000;
/** Transitions per `record` query answer, so an answer stays far below Temporal's payload limits. */
const RECORD_PAGE_LIMIT = 500;

function now(): string {
  return new Date().toISOString();
}

/**
 * One run as the workflow holds it: its state, which only `take` changes, the outbox that
 * stores and carries out what it accepted, and the node work in flight. The domain decides
 * every step and its effects; this class performs them.
 */
class PlanRun {
  state: RunState;
  readonly outbox: Outbox;
  readonly nodes: NodeRunner;
  private readonly specs: ReadonlyMap<string, PlanRunInput['plan']['nodes'][number]>;

  constructor(
    readonly input: PlanRunInput,
    readonly header: RunHeader,
    fromCommittedHistory: boolean,
  ) {
    const { plan, resume } = input;
    this.specs = new Map(plan.nodes.map((node) => [node.nodeId, node]));
    this.nodes = new NodeRunner(this.specs, () => this.state);
    this.outbox = new Outbox({
      run: header,
      creation: { header, plan },
      fromCommittedHistory,
      persistTransitions: (fromCommittedHistory ? committed : uncommitted).persistTransitions,
      notifyEvents,
      perform: (effect) => this.perform(effect),
    });
    if (resume) {
      this.state = resume.state;
    } else {
      const created = createRun(header, plan, header.createdAt);
      this.state = created.state;
      this.outbox.push({ kind: 'persist', transition: created.transition, creation: true });
      this.effects(created.effects);
    }
    setCurrentDetails(describeWaiting(this.state, this.specs));
  }

  get plan() {
    return this.input.plan;
  }

  snapshot(): PlanSnapshot {
    return snapshotOf(this.state, this.plan);
  }

  /** Takes a step: the state moves on, its transition is queued to be stored, its effects follow. Answers the outbox position. */
  take(step: Step): number {
    const statusChanged = step.state.status !== this.state.status;
    this.state = step.state;
    this.outbox.push({ kind: 'persist', transition: step.transition });
    if (statusChanged) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: this.state.status }]);
    setCurrentDetails(describeWaiting(this.state, this.specs));
    this.effects(step.effects);
    return this.outbox.length;
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
      this.take(completeNode(this.state, this.plan, outcome.nodeId, { artifactIds: outcome.artifactIds, emittedBy: 'system' }, now()));
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
      ...(resume ? {} : { creation: { header: this.header, plan: this.plan } }),
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
      if (isOutboxEffect(effect)) {
        this.outbox.push(effect);
        continue;
      }
      switch (effect.kind) {
        case 'cancel-all':
          this.nodes.cancelAll();
          break;
        case 'start-attempt':
          this.nodes.queue(effect.nodeId);
          break;
        case 'retry-attempt':
          this.nodes.retryAfter(effect.nodeId, effect.attempt, effect.inMs);
          break;
        case 'cancel-attempt':
          this.nodes.cancelAttempt(effect.nodeId);
          break;
        case 'arm-deadline':
          this.nodes.armDeadline(effect.nodeId);
          break;
        case 'cancel-deadline':
          this.nodes.cancelDeadline(effect.nodeId);
          break;
      }
    }
  }

  /** The outbox's effects, carried out in order behind the transitions that asked for them. */
  private async perform(effect: OutboxEffect): Promise<number | void> {
    switch (effect.kind) {
      case 'attach-schedule': {
        const { schedule } = this.plan;
        if (!schedule || this.state.scheduleId) return; // S7: idempotent
        const attached = await attachSchedule({ run: this.header, plan: this.plan, schedule });
        // Queued behind whatever was accepted meanwhile: transitions are stored in the order they were made.
        return this.take(recordSchedule(this.state, attached, now()));
      }
      case 'refresh-schedule':
        await refreshSchedule({ scheduleId: effect.scheduleId, firedRunId: this.state.runId });
        return;
      case 'delete-schedule':
        await deleteSchedule({ scheduleId: effect.scheduleId });
        return;
      case 'start-replacement': {
        const { input } = effect;
        // The replacement outlives this run, which ends as soon as it has started it.
        await startChild(planRun, {
          workflowId: workflowIdOf(input.runId),
          args: [input],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: searchAttributesOf({ ...input, status: input.requireApproval ? 'pending-approval' : 'running' }),
          staticSummary: input.plan.title,
        });
        return;
      }
    }
  }
}

/**
 * One execution plan run. A run that needs approval waits in `pending-approval` until a
 * decision arrives (S2, S4–S6); a running run executes its DAG, at most `parallelism` nodes at a
 * time, until it is completed, failed or aborted. Every change is stored in SurrealDB from
 * committed history, strictly in order (ARCHITECTURE.md).
 */
export async function planRun(input: PlanRunInput): Promise<PlanSnapshot> {
  const { workflowId } = workflowInfo();
  const { plan, runId = runIdOf(workflowId), resume: _resume, historyLimit: _limit, ...context } = input;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const header: RunHeader = { ...context, runId, workflowId, title: plan.title, objective: plan.objective, createdAt: now() };
  // State and handlers exist before the first await, so no early decision is ever lost.
  const run = new PlanRun(input, header, patched(COMMITTED_PERSISTENCE));
  const { outbox, nodes } = run;

  setHandler(planQuery, () => run.snapshot(), { description: 'The run as it stands: status, nodes, schedule.' });
  setHandler(recordQuery, (request = {}) => run.recordPage(request.from, request.limit), {
    description: 'What this execution committed, transition by transition: {from?, limit?} (for `plans doctor`).',
  });
  setHandler(
    persistedPlanUpdate,
    async () => {
      await outbox.settled(outbox.length);
      return run.snapshot();
    },
    { description: 'Answers once everything the run accepted took effect; SurrealDB holds it once it shows the same version.' },
  );
  registerMessagePairs(
    {
      settled: (position) => outbox.settled(position),
      snapshot: () => run.snapshot(),
      refuse: (refused, payload, refusal) => run.take(refuseDecision(run.state, refused, payload, refusal, now())),
    },
    [
      messagePair({
        update: approvePlanUpdate,
        signal: approveSignal,
        refused: 'approve',
        does: 'Approve a pending run',
        payload: '{organizationId, threadId, emittedBy, reason?}',
        signalDoes: 'Approve',
        check: (payload: Decision) => {
          const { decision, refusal } = checkDecision(run.state, payload, 'approve');
          return { value: decision, refusal };
        },
        act: (decision: Decision) => run.take(approveRun(run.state, plan, decision, now())),
      }),
      messagePair({
        update: rejectPlanUpdate,
        signal: rejectSignal,
        refused: 'reject',
        does: 'Reject a pending run',
        payload: '{organizationId, threadId, emittedBy, reason?, resolution?: rejected|changes-requested}',
        signalDoes: 'Reject',
        check: (payload: Decision) => {
          const { decision, refusal } = checkDecision(run.state, payload, 'reject');
          return { value: decision, refusal };
        },
        act: (decision: Decision) => run.take(rejectRun(run.state, decision, now())),
      }),
      messagePair({
        update: completeNodeUpdate,
        signal: completeNodeSignal,
        refused: 'complete-node',
        does: 'Complete the node waiting for a person',
        payload: '{organizationId, threadId, emittedBy, nodeId, output?}',
        signalDoes: 'Complete a waiting node',
        check: (payload) => {
          const { completion, refusal } = checkNodeCompletion(run.state, payload);
          return { value: completion, refusal };
        },
        act: (completion) => run.take(completeByPerson(run.state, plan, completion!, now())),
      }),
      messagePair({
        update: abortPlanUpdate,
        signal: abortSignal,
        refused: 'abort',
        does: 'Abort an active run',
        payload: '{organizationId, threadId, emittedBy, reason}',
        signalDoes: 'Abort',
        check: (payload) => {
          const { abort, refusal } = checkAbort(run.state, payload);
          return { value: abort, refusal };
        },
        act: (abort) => run.take(abortRun(run.state, { reason: abort!.reason, emittedBy: abort!.emittedBy }, now())),
      }),
    ],
  );
  setHandler(
    replacePlanUpdate,
    async (request) => {
      await outbox.settled(run.take(replaceRun(run.state, request, now())));
      return { runId: request.newRunId, workflowId: workflowIdOf(request.newRunId) };
    },
    {
      description: 'Abort this run and start its replacement (sent by PlansClient.replacePlan).',
      validator: (request) => {
        const refusal = checkReplace(run.state, request);
        if (refusal) throw toFailure(refusal);
      },
    },
  );

  const wantsContinueAsNew = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyLimit;
  const canDispatch = () => !wantsContinueAsNew() && canStartNodes(run.state, plan);
  const ended = () => TERMINAL_RUN_STATUSES.has(run.state.status);
  const quiet = () => outbox.quiet && nodes.outcomes.length === 0 && nodes.idle && allHandlersFinished();
  const inFlight = (nodeId: string) => nodes.isInFlight(nodeId);

  if (input.resume) nodes.resume();

  // The run's single writer: applies what happened, starts what can start, stores, repeats.
  try {
    for (;;) {
      await condition(
        () => outbox.needsDrain(inFlight) || nodes.outcomes.length > 0 || canDispatch() || ((ended() || wantsContinueAsNew()) && quiet()),
      );
      while (nodes.outcomes.length > 0) run.apply(nodes.outcomes.shift()!);
      const dispatched = canDispatch() ? dispatchReadyNodes(run.state, plan, now()) : undefined;
      if (dispatched) run.take(dispatched);
      // A node starts only once its start is stored: flushed now, or carried by its own activity.
      const launching = nodes.takeQueued();
      const carried = launching.length === 1 ? outbox.carry(run.plan.nodes.find((node) => node.nodeId === launching[0])!, !nodes.idle) : undefined;
      if (carried) nodes.launch(launching[0]!, carried);
      await outbox.drain(inFlight);
      if (!carried) for (const nodeId of launching) nodes.launch(nodeId);
      if (ended() && quiet()) return run.snapshot();
      if (wantsContinueAsNew() && quiet() && !ended()) {
        nodes.cancelDeadlines();
        await continueAsNew<typeof planRun>({ ...input, resume: { state: run.state } });
      }
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled from Temporal (Web UI, CLI, a schedule's overlap policy): end aborted, stored.
    return CancellationScope.nonCancellable(async () => {
      if (!ended()) run.take(abortRun(run.state, { reason: 'Cancelled through Temporal.', emittedBy: 'temporal' }, now()));
      do await outbox.drain(inFlight);
      while (!outbox.drained);
      return run.snapshot();
    });
  }
}
