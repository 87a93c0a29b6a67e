import { countedAs } from './approval.js';
import { stagesOf } from './approval-stages.js';
import { type Decision, credentialOf } from './decisions.js';
import { PlanError } from './errors.js';
import { nodeOf, nodeStep } from './execution.js';
import type { CompiledPlan } from './plan.js';
import type { EventDraft, NodeState, RunState, StateChange, StepVerdict } from './run-state.js';
import { heldStepStage, mergedVerdict, skipClosure, skipSteps } from './step-verdicts.js';

/*
 * Step by step (issue 22, item 2; docs/deciding.md). With the plan's approval a person may skip
 * optional steps or hold steps for later; a held step (or a draft's `before-run` one) waits in
 * `awaiting-approval` when it would start, and is approved — by the run's quorum of eligible
 * persons — or skipped later. Who may decide is the plan's approval rule (decisions.ts); what
 * may be decided is here, checked by the workflow before it takes the decision.
 */

/** Why a decision's `steps` cannot be taken on the run as it stands (undefined: they can). */
export function stepRefusal(state: RunState, plan: CompiledPlan, decision: Decision): PlanError | undefined {
  const steps = Object.entries(decision.steps ?? {});
  const pending = state.status === 'pending-approval';
  for (const [id, word] of steps) {
    const node = state.nodes.find((candidate) => candidate.nodeId === id);
    if (!node) return new PlanError('invalid-input', `steps: the plan has no step "${id}".`);
    if (!pending && node.status !== 'awaiting-approval')
      return new PlanError('not-waiting', `Step "${id}" is not waiting for a decision (it is ${node.status}).`);
    if (!pending && word === 'hold') return new PlanError('invalid-input', `Step "${id}" is held already: approve it or skip it.`);
  }
  const approving = steps.filter(([, word]) => word === 'approve').map(([id]) => state.nodes.find((node) => node.nodeId === id)!);
  const stageOf = (node: NodeState) => (state.rules ? heldStepStage(state.rules, node.approvals ?? []) : 0);
  if (new Set(approving.map(stageOf)).size > 1)
    return new PlanError(
      'invalid-input',
      `steps: ${approving.map((node) => node.nodeId).join(', ')} wait at different stages: decide them one at a time.`,
    );
  const named = steps.filter(([, word]) => word === 'skip').map(([id]) => id);
  if (named.length === 0) return undefined;
  // Skips other approvers asked for count too: together they may reach a step none of them named.
  const recorded = pending ? state.nodes.filter((node) => node.verdict?.decision === 'skip').map((node) => node.nodeId) : [];
  const skipping = [...new Set([...named, ...recorded])];
  const required = [...skipClosure(plan, state.nodes, skipping)].filter((id) => !nodeOf(plan, id).policy.optional);
  if (required.length === 0) return undefined;
  return new PlanError(
    'invalid-input',
    `Only optional steps may be skipped: skipping ${skipping.join(', ')}${recorded.length ? ` (with the skips already asked for)` : ''} would skip ${required.join(', ')}, which ${
      required.length === 1 ? 'is' : 'are'
    } not optional. Hold ${required.length === 1 ? 'it' : 'them'} instead, edit the plan (remove the step or mark it optional), or reject it.`,
  );
}

/** A person's verdict as a decision states it. */
function verdictOf(decision: Decision, word: 'skip' | 'hold' | 'approved', now: string): StepVerdict {
  return {
    decision: word,
    by: decision.emittedBy,
    at: now,
    ...(decision.reason ? { reason: decision.reason } : {}),
    ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
  };
}

/**
 * The skips and holds an approval of the plan carries, kept on the steps until the plan is
 * approved (a skip stands over a hold): `takeSkips` applies the skips then, the dispatch the holds.
 */
export function verdictsOf(state: RunState, decision: Decision, now: string): NodeState[] {
  return Object.entries(decision.steps ?? {}).flatMap(([id, word]) => {
    if (word === 'approve') return [];
    const node = state.nodes.find((candidate) => candidate.nodeId === id)!;
    return [{ ...node, verdict: mergedVerdict(node.verdict, verdictOf(decision, word, now)) }];
  });
}

/** The stages a held step's approvals go through: the run's own (a run without rules: one approval). */
function stepStages(state: RunState): Array<{ name: string; required: number }> {
  return state.rules ? stagesOf(state.rules) : [{ name: 'approval', required: 1 }];
}

/**
 * Decisions on steps waiting in `awaiting-approval` once the plan runs: an approval counts once
 * per person toward the run's quorum (`node-approval-recorded`, then `node-approved` and the step
 * starts); a skip ends the step and what depends on the plan only through it (`node-skipped`).
 * Undefined when it changes nothing (the same person approving twice).
 */
export function decideSteps(state: RunState, plan: CompiledPlan, decision: Decision, now: string): StateChange | undefined {
  let nodes = state.nodes;
  const changed = new Map<string, NodeState>();
  const events: EventDraft[] = [];
  const take = (next: NodeState[]) => {
    for (const node of next) changed.set(node.nodeId, node);
    nodes = nodes.map((node) => changed.get(node.nodeId) ?? node);
  };
  const person = decision.onBehalfOf ?? decision.emittedBy;
  for (const [id, word] of Object.entries(decision.steps ?? {})) {
    const node = nodes.find((candidate) => candidate.nodeId === id)!;
    if (node.status !== 'awaiting-approval') continue;
    const spec = nodeOf(plan, id);
    if (word === 'skip') {
      const skipped = skipSteps(plan, nodes, [id], now, verdictOf(decision, 'skip', now));
      take(skipped.nodes);
      events.push(...skipped.events);
      continue;
    }
    const approvals = node.approvals ?? [];
    if (approvals.some((entry) => [entry.by, countedAs(entry)].some((who) => who === decision.emittedBy || who === person))) continue;
    const stages = stepStages(state);
    const stage = state.rules ? heldStepStage(state.rules, approvals) : 0;
    const entry = {
      by: decision.emittedBy,
      at: now,
      stage,
      ...(decision.reason ? { reason: decision.reason } : {}),
      ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
      credential: credentialOf(decision),
    };
    const counted = [...approvals, entry];
    const required = stages[stage]!.required;
    const inStage = counted.filter((made) => (made.stage ?? 0) === stage).length;
    // Approved once every stage has its quorum, stage after stage, as the plan was.
    const approved = (state.rules ? heldStepStage(state.rules, counted) : counted.length) >= stages.length;
    const staged = stages.length > 1 ? ` at stage ${stages[stage]!.name}` : '';
    take([
      approved
        ? { ...node, status: 'ready', approvals: counted, verdict: verdictOf(decision, 'approved', now) }
        : { ...node, approvals: counted },
    ]);
    events.push({
      eventType: approved ? 'node-approved' : 'node-approval-recorded',
      message: approved
        ? `Approved step "${spec.title}", by ${counted.map((made) => made.by).join(', ')}: it starts now.`
        : `Recorded approval ${inStage} of ${required}${staged} of step "${spec.title}" by ${decision.emittedBy}.`,
      nodeId: id,
      emittedBy: decision.emittedBy,
      detail: {
        count: inStage,
        required,
        ...(stages.length > 1 ? { stage: stages[stage]!.name } : {}),
        credential: entry.credential,
        ...(decision.reason ? { reason: decision.reason } : {}),
        ...(decision.onBehalfOf ? { onBehalfOf: decision.onBehalfOf } : {}),
      },
    });
  }
  if (changed.size === 0) return undefined;
  return nodeStep(state, plan, now, [...changed.values()], events, 'step-decided');
}
