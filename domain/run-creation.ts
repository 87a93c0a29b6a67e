import { approvalStateOf } from './approval.js';
import { timerEffects } from './approval-steps.js';
import type { CompiledPlan } from './plan.js';
import type { EventDraft, NodeState, RunContext, RunPatch, RunState, StateChange } from './run-state.js';
import { evaluateGraph, makeChange } from './state-change.js';

/* The run's first transition (see `transitions.ts`). */

/**
 * S2/S3: a new run. With approval required it waits in `pending-approval` with no `startedAt`
 * and no ready nodes; otherwise it is `running` at once with its graph evaluated.
 */
export function createRun(context: RunContext, plan: CompiledPlan, now: string): StateChange {
  const base: RunState = {
    ...context,
    title: plan.title,
    objective: plan.objective,
    status: context.requireApproval ? 'pending-approval' : 'running',
    readyNodeIds: [],
    failureCount: 0,
    createdAt: now,
    updatedAt: now,
    nodes: plan.nodes.map((node) => ({ nodeId: node.nodeId, status: 'pending' })),
    sequences: { event: 0, checkpoint: 0, transition: 0 },
  };
  const replaced = context.replacedRunId !== undefined;
  const createdDetail = {
    title: plan.title,
    objective: plan.objective,
    nodeCount: plan.nodes.length,
    requireApproval: context.requireApproval,
    ...(context.sourceThreadId ? { sourceThreadId: context.sourceThreadId } : {}),
    ...(context.createdByAgentId ? { createdByAgentId: context.createdByAgentId } : {}),
    ...(replaced ? { replacedRunId: context.replacedRunId } : {}),
  };
  const events: EventDraft[] = [
    {
      eventType: replaced ? 'plan-replaced' : 'plan-created',
      message: replaced ? `Replaced execution plan with "${plan.title}".` : `Created execution plan "${plan.title}".`,
      toStatus: base.status,
      emittedBy: context.createdByAgentId ?? context.leadAgentId,
      detail: createdDetail,
    },
  ];
  let run: RunPatch = { status: base.status, readyNodeIds: [], failureCount: 0 };
  let nodes: NodeState[] = [];
  const approval = context.requireApproval && context.rules ? approvalStateOf(context.rules, now) : undefined;
  if (context.requireApproval) {
    events.push({
      eventType: 'plan-pending-approval',
      message: `Execution plan "${plan.title}" is pending approval.`,
      toStatus: 'pending-approval',
      emittedBy: context.createdByAgentId ?? context.leadAgentId,
      detail: approval
        ? {
            ...createdDetail,
            required: approval.required,
            expiresAt: approval.expiresAt,
            policyVersion: approval.policyVersion,
            revision: context.revision,
            ...(context.rules?.stages
              ? { stage: context.rules.stages[0]!.name, stages: context.rules.stages.map((stage) => stage.name) }
              : {}),
            ...(context.rules?.matched && context.rules.matched.length > 0 ? { matched: context.rules.matched } : {}),
          }
        : createdDetail,
    });
    if (approval) run = { ...run, approval };
  } else {
    const graph = evaluateGraph(plan, base.nodes);
    nodes = graph.nodes;
    run = { ...run, startedAt: now, readyNodeIds: graph.readyNodeIds };
    // A schedule's fire acts on the approval of the run that attached it: kept, to be checked again before it acts.
    if (context.approvedBy && context.rules)
      run = { ...run, approval: { ...approvalStateOf(context.rules, now), approvals: context.approvedBy } };
  }
  const step = makeChange(base, now, {
    run,
    nodes,
    events,
    checkpoint: { reason: replaced ? 'plan-replaced' : 'plan-created' },
    effects: [
      // The gate: a pending run is decided by `system` at its expiry, per its rules.
      ...(approval ? [{ kind: 'arm-expiry', at: approval.expiresAt } as const] : []),
      // Its first stage's reminders and escalations (approval-stages.ts), counted from now.
      ...(approval ? timerEffects(context.rules!, approval, now) : []),
      // S3: a run that needs no approval gets its schedule right away.
      ...(!context.requireApproval && plan.schedule ? [{ kind: 'attach-schedule' } as const] : []),
      ...(context.firedByScheduleId ? [{ kind: 'refresh-schedule', scheduleId: context.firedByScheduleId } as const] : []),
    ],
  });
  // The creation transition carries every node, not just the changed ones: it creates them.
  return { ...step, transition: { ...step.transition, nodes: step.state.nodes } };
}
