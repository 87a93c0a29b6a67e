import {
  ApplicationFailure,
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
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type { PlanActivities } from '../activities/index.js';
import { checkScope, resolveRequireApproval } from '../domain/context.js';
import {
  type Decision,
  type DecisionKind,
  checkAbort,
  checkDecision,
  checkNodeCompletion,
} from '../domain/decisions.js';
import { PlanError } from '../domain/errors.js';
import { completeNode, dispatchReadyNodes, failNodeAttempt, recordDeadline, restartNode } from '../domain/execution.js';
import { ID_PATTERN } from '../domain/ids.js';
import type { RecordPage, RecordPageRequest } from '../domain/run-record.js';
import type { CompiledNode } from '../domain/plan.js';
import {
  type RunHeader,
  type RunState,
  type Step,
  type Transition,
  abortRun,
  approveRun,
  artifactIdOf,
  createRun,
  recordSchedule,
  refuseDecision,
  rejectRun,
} from '../domain/run-state.js';
import { type PlanSnapshot, snapshotOf } from '../domain/snapshot.js';
import { TERMINAL_RUN_STATUSES } from '../domain/status.js';
import type { PersistTransitionsInput } from '../storage/plan-store.js';
import { SEARCH_ATTRIBUTES, runIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import {
  type PlanRunInput,
  type ReplaceRequest,
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
import { runNodeAttempt } from './node-attempt.js';

// Persistence must never give up: nothing the run accepted may be lost, so retry until it lands.
const RETRY_FOREVER = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };
/**
 * A flush is an activity, so it writes only what Temporal committed (I1): its input is recorded
 * in history before it runs. A local activity writes from inside a workflow task that may still
 * be lost, and the retried task can decide differently under the same sequence numbers (another
 * decider admitted first, another time). Runs recorded before this patch keep their local
 * activity so their histories replay.
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

/** Work the run has accepted and must carry out, in order, one at a time (single writer). */
type Work =
  | { kind: 'persist'; transition: Transition; creation?: { header: RunHeader } }
  | { kind: 'attach-schedule' }
  | { kind: 'refresh-schedule'; scheduleId: string }
  | { kind: 'delete-schedule'; scheduleId: string }
  | { kind: 'start-replacement'; request: ReplaceRequest };

/** What node work reports back to the main loop. */
type Outcome =
  | { kind: 'succeeded'; nodeId: string; attempt: number; artifactIds: string[] }
  | { kind: 'failed'; nodeId: string; attempt: number; error: string }
  | { kind: 'restart'; nodeId: string; attempt: number }
  | { kind: 'deadline'; nodeId: string; which: 'warning' | 'missed' };

function toFailure(error: PlanError): ApplicationFailure {
  return ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true });
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const root = cause instanceof Error ? cause : error;
  return root instanceof Error ? root.message : String(root);
}

/** The client sends a compiled plan; a hand-made request (e.g. from the `temporal` CLI) gets a shape check. */
function malformedReplacement(request: ReplaceRequest): PlanError | undefined {
  const ids = [request?.newRunId, request?.leadAgentId, request?.organizationId, request?.threadId];
  const plan = request?.plan;
  const wellFormed =
    ids.every((id) => typeof id === 'string' && ID_PATTERN.test(id)) &&
    typeof request.reason === 'string' &&
    request.reason.trim().length > 0 &&
    Array.isArray(plan?.nodes) &&
    plan.nodes.length > 0 &&
    typeof plan.title === 'string';
  return wellFormed ? undefined : new PlanError('invalid-input', 'Invalid replace request: use PlansClient.replacePlan, which validates and compiles the draft.');
}

function now(): string {
  return new Date().toISOString();
}

/** The Web UI's current details: the status and who must act. */
function describeWaiting(state: RunState, nodes: Map<string, CompiledNode>): string {
  const lines = [`**Status:** ${state.status}`];
  if (state.status === 'pending-approval') {
    const from = state.sourceThreadId ? ` or its source thread ${state.sourceThreadId}` : '';
    lines.push(`Waiting for a person in thread ${state.threadId}${from} to approve or reject.`);
  }
  const waiting = state.nodes.filter((node) => node.status === 'awaiting-human');
  for (const node of waiting) {
    const spec = nodes.get(node.nodeId)!;
    const who = spec.executor.type === 'human' ? (spec.executor.assignee ?? 'a person') : 'a person';
    lines.push(`Waiting for ${who} to complete node "${spec.title}" (${node.nodeId}).`);
  }
  const running = state.nodes.filter((node) => node.status === 'running').map((node) => node.nodeId);
  if (running.length > 0) lines.push(`Running: ${running.join(', ')}.`);
  return lines.join('\n\n');
}

/**
 * One execution plan run. The run's state lives here and every change is persisted to
 * SurrealDB by activities, strictly in order. A run that needs approval waits in
 * `pending-approval` until a decision arrives (S2, S4–S6); a running run executes its DAG,
 * at most `parallelism` nodes at a time, until it is completed, failed or aborted.
 */
export async function planRun(input: PlanRunInput): Promise<PlanSnapshot> {
  const { workflowId } = workflowInfo();
  const { plan, runId = runIdOf(workflowId), resume, historyLimit: _limit, ...context } = input;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const header: RunHeader = { ...context, runId, workflowId, title: plan.title, objective: plan.objective, createdAt: now() };
  const specs = new Map(plan.nodes.map((node) => [node.nodeId, node]));

  const fromCommittedHistory = patched(COMMITTED_PERSISTENCE);
  const { persistTransitions } = fromCommittedHistory ? committed : uncommitted;
  // State and handlers exist before the first await, so no early decision is ever lost.
  const work: Work[] = [];
  let state: RunState;
  if (resume) {
    state = resume.state;
  } else {
    const created = createRun(header, plan, header.createdAt);
    state = created.state;
    work.push({ kind: 'persist', transition: created.transition, creation: { header } });
    // S3: a run that needs no approval gets its schedule right away.
    if (!header.requireApproval && plan.schedule) work.push({ kind: 'attach-schedule' });
    if (header.firedByScheduleId) work.push({ kind: 'refresh-schedule', scheduleId: header.firedByScheduleId });
  }
  /** Work items handed off: performed, flushed, or carried by a node activity. */
  let done = 0;
  /**
   * Transitions handed to a node activity to persist before it runs (saving a flush activity,
   * its action and a workflow task per node). Unconfirmed until that activity reports back; any
   * flush before then re-sends them first, which the store's transition guard makes harmless.
   */
  let carried: { from: number; carrier: string } | undefined;
  /** Update handlers waiting to answer: meanwhile pending transitions get a flush, never a carried write. */
  let waiters = 0;
  /** Notification deliveries in progress: the run ends only once they are done. */
  let notifying = 0;
  /** Where the schedule's record sits in the work queue, once attached. */
  let scheduleRecorded: number | undefined;
  const outcomes: Outcome[] = [];
  /** Node attempts, waits and retry backoffs in progress: what an abort cancels and continue-as-new waits for. */
  const inFlight = new Map<string, CancellationScope>();
  const deadlines = new Map<string, CancellationScope>();
  setCurrentDetails(describeWaiting(state, specs));

  /** Takes a step into workflow state and queues its persistence; returns when it will be done. */
  function accept(step: Step): number {
    const statusChanged = step.state.status !== state.status;
    state = step.state;
    work.push({ kind: 'persist', transition: step.transition });
    if (statusChanged) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: state.status }]);
    setCurrentDetails(describeWaiting(state, specs));
    if (TERMINAL_RUN_STATUSES.has(state.status)) cancelAll();
    return work.length;
  }

  const persisted = (count: number) => condition(() => done >= count && (carried === undefined || carried.from >= count));
  const snapshot = () => snapshotOf(state, plan);

  /** The transitions this execution made from `from` on (a continued run's earlier ones are in the executions before). */
  function recordPage({ from = 1, limit = RECORD_PAGE_LIMIT }: RecordPageRequest): RecordPage {
    const transitions: Transition[] = [];
    for (const item of work) {
      if (transitions.length >= Math.min(limit, RECORD_PAGE_LIMIT)) break;
      if (item.kind === 'persist' && item.transition.sequence >= from) transitions.push(item.transition);
    }
    return {
      ...(resume ? {} : { creation: { header, plan } }),
      firstSequence: resume ? resume.state.sequences.transition + 1 : 1,
      lastSequence: state.sequences.transition,
      persisted: done === work.length && carried === undefined,
      snapshot: snapshot(),
      nodes: state.nodes,
      transitions,
    };
  }
  const nodeState = (nodeId: string) => state.nodes.find((node) => node.nodeId === nodeId)!;

  function cancelAll(): void {
    for (const scope of [...inFlight.values(), ...deadlines.values()]) scope.cancel();
  }

  function cancelDeadline(nodeId: string): void {
    deadlines.get(nodeId)?.cancel();
    deadlines.delete(nodeId);
  }

  /** Runs `body` in a cancellable scope tracked in `registry`; it is forgotten once settled. */
  function track(registry: Map<string, CancellationScope>, nodeId: string, body: () => Promise<void>): void {
    const scope = new CancellationScope();
    registry.set(nodeId, scope);
    scope
      .run(body)
      .catch(() => {}) // cancelled: the run moved on
      .finally(() => {
        if (registry.get(nodeId) === scope) registry.delete(nodeId);
      });
  }

  function launch(nodeId: string, persist?: PersistTransitionsInput): void {
    const spec = specs.get(nodeId)!;
    const attempt = nodeState(nodeId).attempt ?? 1;
    const upstreamArtifactIds = spec.dependsOn.flatMap((dep) => nodeState(dep).artifactIds ?? []);
    track(inFlight, nodeId, async () => {
      try {
        const artifactIds = await runNodeAttempt(spec, {
          runId: state.runId,
          organizationId: state.organizationId,
          threadId: state.threadId,
          attempt,
          upstreamArtifactIds,
          ...(persist ? { persist } : {}),
        });
        if (carried?.carrier === nodeId) carried = undefined; // its transitions are persisted
        outcomes.push({ kind: 'succeeded', nodeId, attempt, artifactIds });
      } catch (error) {
        if (isCancellation(error) && TERMINAL_RUN_STATUSES.has(state.status)) return;
        outcomes.push({ kind: 'failed', nodeId, attempt, error: describeError(error) });
      }
    });
  }

  /** The transitions handed off but not yet known to be persisted, with the run's creation if among them. */
  function unconfirmed(from: number, to: number): PersistTransitionsInput {
    const batch = work.slice(from, to).filter((item): item is Extract<Work, { kind: 'persist' }> => item.kind === 'persist');
    const creation = batch[0]?.creation;
    return {
      runId: state.runId,
      organizationId: state.organizationId,
      threadId: state.threadId,
      transitions: batch.map((entry) => entry.transition),
      ...(creation ? { creation: { header: creation.header, plan } } : {}),
    };
  }

  /**
   * Hands the pending transitions to the activity of `nodeId` instead of flushing them: only
   * when nothing else runs (so it is the only writer), no caller waits on a flush, and every
   * pending item is a node-level transition.
   */
  function carry(nodeId: string): PersistTransitionsInput | undefined {
    const spec = specs.get(nodeId)!;
    const onWorker = !(spec.executor.type === 'system' && spec.executor.action === 'wait');
    const pending = work.slice(done);
    // Run-level events (approved, completed, …) go through a flush, which starts their notifications.
    const runLevel = (item: Work) => item.kind !== 'persist' || item.transition.events.some((event) => event.eventType.startsWith('plan-'));
    if (!onWorker || waiters > 0 || inFlight.size > 0 || pending.length === 0 || pending.some(runLevel)) {
      return undefined;
    }
    const from = carried?.from ?? done;
    carried = { from, carrier: nodeId };
    done = work.length;
    return unconfirmed(from, work.length);
  }

  /** Deadline timers count from the node's start, so they survive continue-as-new. */
  function armDeadline(nodeId: string): void {
    const deadline = specs.get(nodeId)!.policy.deadline;
    const node = nodeState(nodeId);
    if (!deadline || !node.startedAt) return;
    const startedAt = Date.parse(node.startedAt);
    const at = (ms: number) => sleep(Math.max(1, startedAt + ms - Date.now()));
    track(deadlines, nodeId, async () => {
      if (deadline.warnAtMs !== undefined && !node.deadlineEvents?.includes('warning')) {
        await at(deadline.warnAtMs);
        outcomes.push({ kind: 'deadline', nodeId, which: 'warning' });
      }
      if (!node.deadlineEvents?.includes('missed')) {
        await at(deadline.afterMs);
        outcomes.push({ kind: 'deadline', nodeId, which: 'missed' });
      }
    });
  }

  function fail(nodeId: string, error: string, final: boolean): void {
    const { step, retryInMs } = failNodeAttempt(state, plan, nodeId, { error, final }, now());
    accept(step);
    if (retryInMs === undefined) {
      cancelDeadline(nodeId);
      return;
    }
    const attempt = nodeState(nodeId).attempt ?? 1;
    track(inFlight, nodeId, async () => {
      await sleep(retryInMs);
      outcomes.push({ kind: 'restart', nodeId, attempt });
    });
  }

  /** Applies what node work reported; reports about attempts the run has moved past are ignored. */
  function apply(outcome: Outcome, toLaunch: string[]): void {
    const node = nodeState(outcome.nodeId);
    if (outcome.kind === 'deadline') {
      const step = recordDeadline(state, plan, outcome.nodeId, outcome.which, now());
      if (!step) return;
      accept(step);
      if (outcome.which === 'missed' && specs.get(outcome.nodeId)!.policy.deadline!.cancel) {
        inFlight.get(outcome.nodeId)?.cancel();
        fail(outcome.nodeId, 'Deadline missed.', true);
      }
      return;
    }
    if (node.status !== 'running' || node.attempt !== outcome.attempt) return;
    if (outcome.kind === 'succeeded') {
      accept(completeNode(state, plan, outcome.nodeId, { artifactIds: outcome.artifactIds, emittedBy: 'system' }, now()));
      cancelDeadline(outcome.nodeId);
    } else if (outcome.kind === 'failed') {
      fail(outcome.nodeId, outcome.error, false);
    } else {
      accept(restartNode(state, plan, outcome.nodeId, now()));
      toLaunch.push(outcome.nodeId);
    }
  }

  function decide(kind: DecisionKind, decision: Decision): number {
    if (kind === 'reject') return accept(rejectRun(state, decision, now()));
    accept(approveRun(state, plan, decision, now()));
    // S5: the schedule is attached after the approval is persisted, before the caller hears back.
    if (plan.schedule) work.push({ kind: 'attach-schedule' });
    return work.length;
  }

  /**
   * Waits until what the first `count` work items ask of the world has happened (a schedule
   * attached and recorded, a replacement started). A run persisting from committed history
   * answers then, with a `version` its caller waits for in SurrealDB: waiting here for the
   * flush activity would cost every answer another workflow task. Runs recorded before that
   * answer once everything is persisted, as they did.
   */
  async function settled(count: number): Promise<void> {
    waiters++;
    try {
      if (fromCommittedHistory) {
        const effects = work.slice(0, count).findLastIndex((item) => item.kind !== 'persist') + 1;
        await condition(() => done >= effects);
        return;
      }
      await persisted(count);
      if (scheduleRecorded !== undefined) await persisted(scheduleRecorded);
    } finally {
      waiters--;
    }
  }

  /** Handlers of the same message as update (answers once persisted, or refuses) and as signal (audits refusals). */
  function handleBoth<P, V>(
    check: (payload: P) => { value?: V; refusal?: PlanError },
    act: (value: V) => number,
    kind: Parameters<typeof refuseDecision>[1],
  ) {
    return {
      update: async (payload: P) => {
        await settled(act(check(payload).value as V));
        return snapshot();
      },
      validator: (payload: P) => {
        const { refusal } = check(payload);
        if (refusal) throw toFailure(refusal);
      },
      signal: (payload: P) => {
        const { value, refusal } = check(payload);
        if (refusal) accept(refuseDecision(state, kind, payload, refusal, now()));
        else act(value as V);
      },
    };
  }

  const decision = (kind: DecisionKind) =>
    handleBoth(
      (payload: Decision) => {
        const { decision: value, refusal } = checkDecision(state, payload, kind);
        return { value, refusal };
      },
      (value) => decide(kind, value),
      kind,
    );
  const approve = decision('approve');
  const reject = decision('reject');
  const complete = handleBoth(
    (payload: Parameters<typeof checkNodeCompletion>[1]) => {
      const { completion, refusal } = checkNodeCompletion(state, payload);
      return { value: completion, refusal };
    },
    (completion) => {
      const attempt = nodeState(completion.nodeId).attempt ?? 1;
      const artifacts =
        completion.output === undefined
          ? []
          : [
              {
                artifactId: artifactIdOf(state.runId, completion.nodeId, attempt),
                nodeId: completion.nodeId,
                attempt,
                content: completion.output,
                createdBy: completion.emittedBy,
                createdAt: now(),
              },
            ];
      cancelDeadline(completion.nodeId);
      return accept(
        completeNode(
          state,
          plan,
          completion.nodeId,
          { artifactIds: artifacts.map((artifact) => artifact.artifactId), emittedBy: completion.emittedBy, artifacts },
          now(),
        ),
      );
    },
    'complete-node',
  );
  const abort = handleBoth(
    (payload: Parameters<typeof checkAbort>[1]) => {
      const { abort: request, refusal } = checkAbort(state, payload);
      return { value: request, refusal };
    },
    (request) => accept(abortRun(state, { reason: request.reason, emittedBy: request.emittedBy }, now())),
    'abort',
  );

  setHandler(planQuery, snapshot, { description: 'The run as it stands: status, nodes, schedule.' });
  setHandler(recordQuery, (request = {}) => recordPage(request), {
    description: 'What this execution committed, transition by transition: {from?, limit?} (for `plans doctor`).',
  });
  setHandler(
    persistedPlanUpdate,
    async () => {
      await settled(work.length);
      return snapshot();
    },
    { description: 'Answers once everything the run accepted took effect; SurrealDB holds it once it shows the same version.' },
  );
  setHandler(approvePlanUpdate, approve.update, {
    validator: approve.validator,
    description: 'Approve a pending run: {organizationId, threadId, emittedBy, reason?}.',
  });
  setHandler(rejectPlanUpdate, reject.update, {
    validator: reject.validator,
    description: 'Reject a pending run: {organizationId, threadId, emittedBy, reason?, resolution?: rejected|changes-requested}.',
  });
  setHandler(completeNodeUpdate, complete.update, {
    validator: complete.validator,
    description: 'Complete the node waiting for a person: {organizationId, threadId, emittedBy, nodeId, output?}.',
  });
  setHandler(abortPlanUpdate, abort.update, {
    validator: abort.validator,
    description: 'Abort an active run: {organizationId, threadId, emittedBy, reason}.',
  });
  setHandler(approveSignal, approve.signal, { description: 'Approve, fire-and-forget (same payload as approvePlan).' });
  setHandler(rejectSignal, reject.signal, { description: 'Reject, fire-and-forget (same payload as rejectPlan).' });
  setHandler(completeNodeSignal, complete.signal, { description: 'Complete a waiting node, fire-and-forget (same payload as completeNode).' });
  setHandler(abortSignal, abort.signal, { description: 'Abort, fire-and-forget (same payload as abortPlan).' });
  setHandler(
    replacePlanUpdate,
    async (request) => {
      accept(abortRun(state, { replacedByRunId: request.newRunId, reason: request.reason, emittedBy: request.leadAgentId }, now()));
      // A replaced spec leaves no live schedule.
      const scheduleId = state.scheduleId ?? state.firedByScheduleId;
      if (scheduleId) work.push({ kind: 'delete-schedule', scheduleId });
      work.push({ kind: 'start-replacement', request });
      await settled(work.length);
      return { runId: request.newRunId, workflowId: workflowIdOf(request.newRunId) };
    },
    {
      description: 'Abort this run and start its replacement (sent by PlansClient.replacePlan).',
      validator: (request) => {
        const refusal =
          malformedReplacement(request) ??
          checkScope(state, request) ??
          (TERMINAL_RUN_STATUSES.has(state.status) ? new PlanError('not-active', 'Only active plans can be replaced.') : undefined);
        if (refusal) throw toFailure(refusal);
      },
    },
  );
  async function perform(item: Exclude<Work, { kind: 'persist' }>): Promise<void> {
    switch (item.kind) {
      case 'attach-schedule': {
        if (!plan.schedule || state.scheduleId) return; // S7: idempotent
        const attached = await attachSchedule({ run: header, plan, schedule: plan.schedule });
        // Queued behind whatever was accepted meanwhile: transitions persist in the order they were made.
        scheduleRecorded = accept(recordSchedule(state, attached, now()));
        return;
      }
      case 'refresh-schedule':
        await refreshSchedule({ scheduleId: item.scheduleId, firedRunId: state.runId });
        return;
      case 'delete-schedule':
        await deleteSchedule({ scheduleId: item.scheduleId });
        return;
      case 'start-replacement': {
        const { request } = item;
        const next: PlanRunInput = {
          runId: request.newRunId,
          planSpecId: request.newRunId,
          organizationId: state.organizationId,
          threadId: state.threadId,
          ...(state.sourceThreadId ? { sourceThreadId: state.sourceThreadId } : {}),
          leadAgentId: request.leadAgentId,
          createdByAgentId: request.createdByAgentId ?? request.leadAgentId,
          requireApproval: resolveRequireApproval(request.requireApproval, state.sourceThreadId, state.threadId),
          replacedRunId: state.runId,
          plan: request.plan,
        };
        // The replacement outlives this run, which ends as soon as it has started it.
        await startChild(planRun, {
          workflowId: workflowIdOf(request.newRunId),
          args: [next],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: searchAttributesOf({ ...next, status: next.requireApproval ? 'pending-approval' : 'running' }),
          staticSummary: request.plan.title,
        });
        return;
      }
    }
  }

  /** Carries out accepted work in order; consecutive transitions are persisted in one transaction. */
  async function drain(): Promise<void> {
    // Work accepted meanwhile waits for the next round, which first applies outcomes and starts
    // nodes: a decision and the nodes it starts are stored together, so the caller waiting for
    // the decision's version reads where the run went. (Runs recorded before committed
    // persistence drain everything at once, as they did.)
    const accepted = work.length;
    const limit = () => (fromCommittedHistory ? accepted : work.length);
    while (done < limit()) {
      const item = work[done]!;
      if (item.kind !== 'persist') {
        await perform(item);
        done++;
        continue;
      }
      let end = done;
      while (end < limit() && work[end]!.kind === 'persist') end++;
      await flush(end);
    }
    // A carrier that failed may not have persisted what it carried; a waiting caller will not wait for it.
    if (carried && (!inFlight.has(carried.carrier) || waiters > 0)) await flush(done);
  }

  /** Persists every transition up to `end` not yet confirmed, in one transaction; starts the notifications it asks for. */
  async function flush(end: number): Promise<void> {
    const from = carried?.from ?? done;
    const result = await persistTransitions(unconfirmed(from, end));
    done = end;
    carried = undefined;
    const sequences = result?.notify ?? [];
    if (sequences.length > 0) {
      notifying++;
      // Not cancelled with the run: a run that ends still tells its subscribers.
      CancellationScope.nonCancellable(() => notifyEvents({ runId: state.runId, sequences }))
        .catch(() => {}) // given up after its retries; the failure is in the history
        .finally(() => notifying--);
    }
  }

  const wantsContinueAsNew = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyLimit;
  // Nodes backing off before a retry are still `running`: they keep their slot.
  const canDispatch = () =>
    state.status === 'running' &&
    !wantsContinueAsNew() &&
    state.nodes.some(
      (node) =>
        node.status === 'ready' &&
        (specs.get(node.nodeId)!.executor.type === 'human' ||
          state.nodes.filter((candidate) => candidate.status === 'running').length < plan.parallelism),
    );
  const quiet = () =>
    done === work.length && carried === undefined && outcomes.length === 0 && inFlight.size === 0 && notifying === 0 && allHandlersFinished();

  if (resume) {
    for (const node of state.nodes) {
      if (node.status === 'running' || node.status === 'awaiting-human') armDeadline(node.nodeId);
      if (node.status === 'running') launch(node.nodeId);
    }
  }

  // The run's single writer: applies what happened, starts what can start, persists, repeats.
  try {
    for (;;) {
      await condition(
        () =>
          done < work.length ||
          (carried !== undefined && (!inFlight.has(carried.carrier) || waiters > 0)) ||
          outcomes.length > 0 ||
          canDispatch() ||
          (TERMINAL_RUN_STATUSES.has(state.status) && quiet()) ||
          (wantsContinueAsNew() && quiet()),
      );
      const toLaunch: string[] = [];
      while (outcomes.length > 0) apply(outcomes.shift()!, toLaunch);
      const dispatched = canDispatch() ? dispatchReadyNodes(state, plan, now()) : undefined;
      if (dispatched) {
        accept(dispatched.step);
        toLaunch.push(...dispatched.started);
        for (const node of dispatched.step.transition.nodes) if (node.attempt === 1 && node.startedAt) armDeadline(node.nodeId);
      }
      // A node starts only once its start is persisted: flushed now, or carried by its own activity.
      const launching = toLaunch.filter((nodeId) => nodeState(nodeId).status === 'running');
      const persist = launching.length === 1 ? carry(launching[0]!) : undefined;
      if (persist) launch(launching[0]!, persist);
      await drain();
      if (!persist) for (const nodeId of launching) launch(nodeId);
      if (TERMINAL_RUN_STATUSES.has(state.status) && quiet()) return snapshot();
      if (wantsContinueAsNew() && quiet() && !TERMINAL_RUN_STATUSES.has(state.status)) {
        for (const scope of deadlines.values()) scope.cancel();
        await continueAsNew<typeof planRun>({ ...input, resume: { state } });
      }
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled from Temporal (Web UI, CLI, a schedule's overlap policy): end aborted, persisted.
    return CancellationScope.nonCancellable(async () => {
      if (!TERMINAL_RUN_STATUSES.has(state.status)) {
        accept(abortRun(state, { reason: 'Cancelled through Temporal.', emittedBy: 'temporal' }, now()));
      }
      do await drain();
      while (done < work.length);
      return snapshot();
    });
  }
}
