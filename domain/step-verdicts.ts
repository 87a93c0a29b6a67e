import { type StagedRules, stagesOf } from './approval-stages.js';
import type { CompiledNode, CompiledPlan } from './plan.js';
import type { EventDraft, NodeState, StepVerdict } from './run-state.js';
import { FINISHED_NODE_STATUSES } from './status.js';

/*
 * Step by step (issue 22, item 2), the parts the node dispatch reads: whether a step about to
 * start waits for a decision, and which steps a skip leaves out. The decisions themselves are
 * step-decisions.ts.
 */

/**
 * The stage a held step's next approval counts toward: the first whose quorum its approvals have
 * not met (one past the last when all are met). A held step goes through the run's stages in
 * order, as the plan did.
 */
export function heldStepStage(rules: StagedRules, approvals: ReadonlyArray<{ stage?: number | null | undefined }>): number {
  const stages = stagesOf(rules);
  const index = stages.findIndex((stage, at) => approvals.filter((entry) => (entry.stage ?? 0) === at).length < stage.required);
  return index < 0 ? stages.length : index;
}

/** Whether a step that is ready waits for a decision instead of starting: held by a person, or `before-run` and not approved yet. */
export function isHeld(node: NodeState, spec: CompiledNode): boolean {
  if (node.verdict?.decision === 'approved') return false;
  return node.verdict?.decision === 'hold' || spec.approval === 'before-run';
}

/** `node-held`: the step waits for a decision at the moment it would start, by whom (`system` for a draft's `before-run`). */
export function heldEvent(node: NodeState, spec: CompiledNode): EventDraft {
  const verdict = node.verdict?.decision === 'hold' ? node.verdict : undefined;
  return {
    eventType: 'node-held',
    message: verdict
      ? `Step "${spec.title}" waits for a decision before it runs: ${verdict.by} held it${verdict.reason ? ` (“${verdict.reason}”)` : ''}.`
      : `Step "${spec.title}" waits for a decision before it runs, as its draft asks.`,
    nodeId: node.nodeId,
    emittedBy: verdict?.by ?? 'system',
    detail: verdict ? { heldBy: verdict.by, ...(verdict.reason ? { reason: verdict.reason } : {}) } : { approval: 'before-run' },
  };
}

/**
 * What skipping `skipped` leaves out: those steps, and every step that depends on the plan only
 * through skipped ones (all its dependencies skipped), transitively; a step that also depends on
 * one that runs still runs. Steps already finished are left as they are.
 */
export function skipClosure(plan: CompiledPlan, nodes: readonly NodeState[], skipped: Iterable<string>): Set<string> {
  const status = new Map(nodes.map((node) => [node.nodeId, node.status]));
  const closure = new Set([...skipped].filter((id) => !FINISHED_NODE_STATUSES.has(status.get(id) ?? 'pending')));
  const out = (id: string) => closure.has(id) || status.get(id) === 'skipped';
  for (let grew = true; grew;) {
    grew = false;
    for (const node of plan.nodes) {
      if (closure.has(node.nodeId) || FINISHED_NODE_STATUSES.has(status.get(node.nodeId) ?? 'pending')) continue;
      if (node.dependsOn.length > 0 && node.dependsOn.some((dep) => closure.has(dep)) && node.dependsOn.every(out)) {
        closure.add(node.nodeId);
        grew = true;
      }
    }
  }
  return closure;
}

/** The verdict a new decision leaves on a step: a skip stands over a hold; otherwise the first word stands. */
export function mergedVerdict(current: StepVerdict | undefined, next: StepVerdict): StepVerdict {
  if (!current || (current.decision === 'hold' && next.decision === 'skip')) return next;
  return current;
}

/**
 * The skips the plan's approvers decided, taken when the plan is approved: each step skipped by
 * its person (`node-skipped`, by them, with why), then what depends on the plan only through
 * skipped steps (`node-skipped` by `system`, naming them).
 */
export function takeSkips(plan: CompiledPlan, nodes: readonly NodeState[], now: string): { nodes: NodeState[]; events: EventDraft[] } {
  const decided = nodes.filter((node) => node.verdict?.decision === 'skip' && node.status === 'pending');
  if (decided.length === 0) return { nodes: [], events: [] };
  return skipSteps(
    plan,
    nodes,
    decided.map((node) => node.nodeId),
    now,
  );
}

/** Skips `ids` and what depends on the plan only through them: the nodes skipped and their events. */
export function skipSteps(
  plan: CompiledPlan,
  nodes: readonly NodeState[],
  ids: readonly string[],
  now: string,
  verdict?: StepVerdict,
): { nodes: NodeState[]; events: EventDraft[] } {
  const closure = skipClosure(plan, nodes, ids);
  const byId = new Map(nodes.map((node) => [node.nodeId, node]));
  const specs = new Map(plan.nodes.map((node) => [node.nodeId, node]));
  const skipped: NodeState[] = [];
  const events: EventDraft[] = [];
  for (const spec of plan.nodes) {
    if (!closure.has(spec.nodeId)) continue;
    const node = byId.get(spec.nodeId)!;
    const word = ids.includes(spec.nodeId) ? (verdict ?? node.verdict) : undefined;
    skipped.push({ ...node, status: 'skipped', completedAt: now, ...(word ? { verdict: word } : {}) });
    events.push(
      word
        ? {
            eventType: 'node-skipped',
            message: `Skipped step "${spec.title}": ${word.by}${word.onBehalfOf ? ` for ${word.onBehalfOf}` : ''} skipped it${word.reason ? ` (“${word.reason}”)` : ''}.`,
            nodeId: spec.nodeId,
            emittedBy: word.by,
            detail: {
              skippedBy: word.by,
              ...(word.reason ? { reason: word.reason } : {}),
              ...(word.onBehalfOf ? { onBehalfOf: word.onBehalfOf } : {}),
            },
          }
        : {
            eventType: 'node-skipped',
            message: `Skipped step "${spec.title}": it depends only on skipped steps (${spec.dependsOn.map((id) => specs.get(id)?.title ?? id).join(', ')}).`,
            nodeId: spec.nodeId,
            emittedBy: 'system',
            detail: { because: spec.dependsOn },
          },
    );
  }
  return { nodes: skipped, events };
}
