import { type Decision, type MessageKind, credentialIn, credentialOf } from './decisions.js';
import type { PlanError } from './errors.js';
import type { CompiledPlan } from './plan.js';
import type { EventDraft, NodeState, RunPatch, RunState, StateChange } from './run-state.js';
import { takeSkips } from './step-verdicts.js';
import { evaluateGraph, makeChange, openNodes } from './state-change.js';

/* A person's decision on a pending run: approved, rejected, or refused (see `transitions.ts`; the gate's quorum is `approval-steps.ts`). */

/** What the gate adds to a decision's step: the events before it, run fields, and detail for its event. */
export interface DecisionExtras {
  preceding?: EventDraft[];
  /** Steps changed with the decision (the skips and holds its approval carries). */
  nodes?: NodeState[];
  run?: RunPatch;
  detail?: Record<string, unknown>;
}

/** Who decided, in words: `bob for alice` when a delegate decided for their delegator. */
export function deciderInWords(decision: Pick<Decision, 'emittedBy' | 'onBehalfOf'>): string {
  return decision.onBehalfOf ? `${decision.emittedBy} for ${decision.onBehalfOf}` : decision.emittedBy;
}

/** Nodes with `changed` put in their place. */
function merged(nodes: readonly NodeState[], changed: readonly NodeState[]): NodeState[] {
  const byId = new Map(changed.map((node) => [node.nodeId, node]));
  return nodes.map((node) => byId.get(node.nodeId) ?? node);
}

/**
 * S5: `pending-approval` → `running`, graph evaluated, checkpoint `plan-approved`. The steps its
 * approvers skipped are skipped first (step-verdicts.ts `takeSkips`), after the event.
 */
export function approveRun(state: RunState, plan: CompiledPlan, decision: Decision, now: string, extras: DecisionExtras = {}): StateChange {
  const marked = merged(state.nodes, extras.nodes ?? []);
  const skips = takeSkips(plan, marked, now);
  const graph = evaluateGraph(plan, merged(marked, skips.nodes));
  const changed = new Map([...(extras.nodes ?? []), ...skips.nodes, ...graph.nodes].map((node) => [node.nodeId, node]));
  return makeChange(state, now, {
    run: { ...extras.run, status: 'running', startedAt: state.startedAt ?? now, readyNodeIds: graph.readyNodeIds },
    nodes: [...changed.values()],
    events: [
      ...(extras.preceding ?? []),
      {
        eventType: 'plan-approved',
        message: `Approved execution plan "${state.title}".`,
        fromStatus: state.status,
        toStatus: 'running',
        emittedBy: decision.emittedBy,
        detail: {
          title: state.title,
          objective: state.objective,
          ...(decision.reason ? { reason: decision.reason } : {}),
          credential: credentialOf(decision),
          ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
          ...extras.detail,
        },
      },
      ...skips.events,
    ],
    checkpoint: { reason: 'plan-approved' },
    // S5: the schedule is attached once the approval is stored, before the caller hears back.
    effects: plan.schedule ? [{ kind: 'attach-schedule' }] : [],
  });
}

/** S6: `pending-approval` → `aborted`, as `rejected` (default) or `changes-requested`. */
export function rejectRun(state: RunState, decision: Decision, now: string, extras: DecisionExtras = {}): StateChange {
  const resolution = decision.resolution ?? 'rejected';
  const eventType = resolution === 'changes-requested' ? 'plan-changes-requested' : 'plan-rejected';
  // A run sent back for approval after its approval lapsed may have steps ready or in flight: they end with it.
  const started = openNodes(state).filter((node) => node.status !== 'pending');
  return makeChange(state, now, {
    run: { ...extras.run, status: 'aborted', currentNodeId: null, waitingNodeId: null, readyNodeIds: [], completedAt: now },
    ...(started.length > 0 ? { nodes: started.map((node): NodeState => ({ ...node, status: 'aborted', completedAt: now })) } : {}),
    events: [
      ...(extras.preceding ?? []),
      {
        eventType,
        message:
          resolution === 'changes-requested'
            ? `Requested changes for execution plan "${state.title}".`
            : `Rejected execution plan "${state.title}".`,
        fromStatus: state.status,
        toStatus: 'aborted',
        emittedBy: decision.emittedBy,
        detail: {
          resolution,
          ...(decision.reason ? { reason: decision.reason } : {}),
          credential: credentialOf(decision),
          ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
          ...extras.detail,
        },
      },
    ],
    checkpoint: { reason: eventType, resolution },
  });
}

/** A signalled decision that failed S4: nothing changes but the audit trail. */
export function refuseDecision(state: RunState, kind: MessageKind, payload: unknown, refusal: PlanError, now: string): StateChange {
  const emittedBy =
    typeof payload === 'object' && payload !== null && typeof (payload as { emittedBy?: unknown }).emittedBy === 'string'
      ? String((payload as { emittedBy: string }).emittedBy).slice(0, 128)
      : 'unknown';
  return makeChange(state, now, {
    events: [
      {
        eventType: 'decision-refused',
        message: `Refused ${kind} signal: ${refusal.message}`,
        emittedBy,
        detail: { decision: kind, code: refusal.code, reason: refusal.message, credential: credentialIn(payload) },
      },
    ],
  });
}
