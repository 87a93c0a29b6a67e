import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';

import type { PlanActivities } from '../activities/index.js';
import { checkScope, resolveRequireApproval } from '../domain/context.js';
import { type Decision, type DecisionKind, checkDecision } from '../domain/decisions.js';
import { PlanError } from '../domain/errors.js';
import { ID_PATTERN } from '../domain/ids.js';
import {
  type RunState,
  type Step,
  type Transition,
  abortForReplacement,
  approveRun,
  createRun,
  recordSchedule,
  refuseDecision,
  rejectRun,
} from '../domain/run-state.js';
import { snapshotOf } from '../domain/snapshot.js';
import { TERMINAL_RUN_STATUSES } from '../domain/status.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import type { RunHeader } from '../storage/plan-store.js';
import { SEARCH_ATTRIBUTES, runIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';
import {
  type PlanRunInput,
  type ReplaceRequest,
  approvePlanUpdate,
  approveSignal,
  persistedPlanUpdate,
  planQuery,
  rejectPlanUpdate,
  rejectSignal,
  replacePlanUpdate,
} from './messages.js';

// Persistence must never give up: nothing the run accepted may be lost, so retry until it lands.
const RETRY_FOREVER = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };
// A transition is one short, idempotent database transaction: a local activity saves the
// round trips through the server that a decision would otherwise wait for.
const { persistTransition } = proxyLocalActivities<PlanActivities>({ startToCloseTimeout: '30s', retry: RETRY_FOREVER });
const { attachSchedule } = proxyActivities<PlanActivities>({ startToCloseTimeout: '1m', retry: RETRY_FOREVER });

/** Work the run has accepted and must carry out, in order, one at a time (single writer). */
type Work =
  | { kind: 'persist'; transition: Transition; creation?: { header: RunHeader } }
  | { kind: 'attach-schedule' }
  | { kind: 'start-replacement'; request: ReplaceRequest };

function toFailure(error: PlanError): ApplicationFailure {
  return ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true });
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

function describeWaiting(state: RunState): string {
  const lines = [`**Status:** ${state.status}`];
  if (state.status === 'pending-approval') {
    const from = state.sourceThreadId ? ` drafted for thread ${state.sourceThreadId}` : '';
    lines.push(`Waiting for a person to approve or reject (plan${from}, in thread ${state.threadId}).`);
  } else if (state.status === 'running') {
    lines.push(`Ready nodes: ${state.readyNodeIds.join(', ') || 'none'}.`);
  }
  return lines.join('\n\n');
}

/**
 * One execution plan run. The run's state lives here and every change is persisted to
 * SurrealDB by activities, strictly in order. A run that needs approval waits in
 * `pending-approval` until a decision arrives as an update or a signal (S2, S4–S6).
 */
export async function planRun(input: PlanRunInput): Promise<PlanSnapshot> {
  const { workflowId } = workflowInfo();
  const { plan, runId = runIdOf(workflowId), ...context } = input;
  const header: RunHeader = { ...context, runId, workflowId, title: plan.title, objective: plan.objective, createdAt: now() };

  // State and handlers exist before the first await, so no early decision is ever lost.
  const created = createRun(header, plan, header.createdAt);
  let state = created.state;
  const work: Work[] = [{ kind: 'persist', transition: created.transition, creation: { header } }];
  // S3: a run that needs no approval gets its schedule right away.
  if (!header.requireApproval && plan.schedule) work.push({ kind: 'attach-schedule' });
  let done = 0;
  setCurrentDetails(describeWaiting(state));

  /** Takes a step into workflow state and queues its persistence; returns when it will be done. */
  function accept(step: Step): number {
    const statusChanged = step.state.status !== state.status;
    state = step.state;
    work.push({ kind: 'persist', transition: step.transition });
    if (statusChanged) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: state.status }]);
    setCurrentDetails(describeWaiting(state));
    return work.length;
  }

  const persisted = (count: number) => condition(() => done >= count);
  const snapshot = () => snapshotOf(state, plan);

  function decide(kind: DecisionKind, decision: Decision): number {
    if (kind === 'reject') return accept(rejectRun(state, decision, now()));
    accept(approveRun(state, plan, decision, now()));
    // S5: the schedule is attached after the approval is persisted, before the caller hears back.
    if (plan.schedule) work.push({ kind: 'attach-schedule' });
    return work.length;
  }

  function validateDecision(kind: DecisionKind, payload: unknown): Decision {
    const { decision, refusal } = checkDecision(state, payload, kind);
    if (refusal) throw toFailure(refusal);
    return decision;
  }

  const updateHandler = (kind: DecisionKind) => async (payload: Decision) => {
    const until = decide(kind, validateDecision(kind, payload));
    await persisted(until);
    return snapshot();
  };

  const signalHandler = (kind: DecisionKind) => (payload: Decision) => {
    const { decision, refusal } = checkDecision(state, payload, kind);
    if (refusal) accept(refuseDecision(state, kind, payload, refusal, now()));
    else decide(kind, decision);
  };

  setHandler(planQuery, snapshot);
  setHandler(persistedPlanUpdate, async () => {
    await persisted(work.length);
    return snapshot();
  });
  setHandler(approvePlanUpdate, updateHandler('approve'), { validator: (payload) => void validateDecision('approve', payload) });
  setHandler(rejectPlanUpdate, updateHandler('reject'), { validator: (payload) => void validateDecision('reject', payload) });
  setHandler(approveSignal, signalHandler('approve'));
  setHandler(rejectSignal, signalHandler('reject'));
  setHandler(
    replacePlanUpdate,
    async (request) => {
      accept(abortForReplacement(state, { replacedByRunId: request.newRunId, reason: request.reason, emittedBy: request.leadAgentId }, now()));
      work.push({ kind: 'start-replacement', request });
      await persisted(work.length);
      return { runId: request.newRunId, workflowId: workflowIdOf(request.newRunId) };
    },
    {
      validator: (request) => {
        const refusal =
          malformedReplacement(request) ??
          checkScope(state, request) ??
          (TERMINAL_RUN_STATUSES.has(state.status) ? new PlanError('not-active', 'Only active plans can be replaced.') : undefined);
        if (refusal) throw toFailure(refusal);
      },
    },
  );

  async function perform(item: Work): Promise<void> {
    switch (item.kind) {
      case 'persist':
        await persistTransition({
          runId: state.runId,
          transition: item.transition,
          ...(item.creation ? { creation: { header: item.creation.header, plan } } : {}),
        });
        return;
      case 'attach-schedule': {
        if (!plan.schedule || state.scheduleId) return; // S7: idempotent
        const attached = await attachSchedule({ run: header, plan, schedule: plan.schedule });
        const step = recordSchedule(state, attached, now());
        state = step.state;
        await persistTransition({ runId: state.runId, transition: step.transition });
        return;
      }
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

  // The run's single writer: carries out accepted work in order until the run is over.
  // A `running` run stays here, waiting, until node execution moves it on.
  for (;;) {
    await condition(() => done < work.length || (TERMINAL_RUN_STATUSES.has(state.status) && allHandlersFinished()));
    if (done === work.length) return snapshot();
    await perform(work[done]!);
    done++;
  }
}
