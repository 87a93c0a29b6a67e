import {
  AgentExecutorSchema,
  type DraftNode,
  type Executor,
  HumanExecutorSchema,
  PlanDraftSchema,
  type PlanSchedule,
  SystemExecutorSchema,
} from './draft.js';
import { PlanError, type ValidationIssue, formatIssues } from './errors.js';
import type { CompiledNode, CompiledPlan } from './plan.js';
import { scheduleProblems } from './schedule.js';

export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const EXECUTOR_SCHEMAS = { agent: AgentExecutorSchema, human: HumanExecutorSchema, system: SystemExecutorSchema };

export type DraftValidation =
  | { ok: true; plan: CompiledPlan }
  | { ok: false; issues: ValidationIssue[] };

function pathOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? 'draft' : path.map(String).join('.');
}

/** Edges as declared, or the implicit linear chain when no node declares `dependsOn`. */
function edgesOf(nodes: DraftNode[]): string[][] {
  const declares = nodes.some((node) => node.dependsOn !== undefined);
  return nodes.map((node, index) => {
    if (declares) return node.dependsOn ?? [];
    return index === 0 ? [] : [nodes[index - 1]!.id];
  });
}

/** Node ids that sit on a cycle (Kahn's algorithm: whatever never reaches in-degree 0). */
function nodesOnCycles(ids: string[], edges: string[][]): string[] {
  const known = new Set(ids);
  const indegree = new Map(ids.map((id) => [id, 0]));
  const dependents = new Map<string, string[]>(ids.map((id) => [id, []]));
  ids.forEach((id, index) => {
    for (const dep of new Set(edges[index])) {
      if (!known.has(dep) || dep === id) continue;
      indegree.set(id, indegree.get(id)! + 1);
      dependents.get(dep)!.push(id);
    }
  });
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    for (const next of dependents.get(queue[i]!)!) {
      const left = indegree.get(next)! - 1;
      indegree.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  const done = new Set(queue);
  return ids.filter((id) => !done.has(id));
}

/**
 * Validates a draft and compiles it. Returns every blocking issue found (never just the first),
 * so an agent can fix its draft in one go. Pure: no I/O, the same input gives the same answer.
 */
export function validateDraft(input: unknown): DraftValidation {
  const parsed = PlanDraftSchema.safeParse(input);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((issue) => ({
        code: 'invalid-draft',
        message: `${pathOf(issue.path)}: ${issue.message}`,
      })),
    };
  }
  const draft = parsed.data;
  const issues: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  if (draft.nodes.length === 0) issues.push({ code: 'empty-plan', message: 'The plan has no nodes.' });

  const seen = new Set<string>();
  for (const node of draft.nodes) {
    if (!NODE_ID_PATTERN.test(node.id)) {
      issues.push({
        code: 'invalid-node-id',
        nodeId: node.id,
        message: `Node id "${node.id}" must be 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
      });
    }
    if (seen.has(node.id)) {
      issues.push({ code: 'duplicate-node-id', nodeId: node.id, message: `Node id "${node.id}" is used more than once.` });
    }
    seen.add(node.id);
  }

  const executors = draft.nodes.map((node) => {
    const type = node.executor.type;
    const schema = EXECUTOR_SCHEMAS[type as keyof typeof EXECUTOR_SCHEMAS];
    if (!schema) {
      issues.push({
        code: 'invalid-executor',
        nodeId: node.id,
        message: `Node "${node.id}" has unknown executor type "${type}"; use "agent", "human" or "system".`,
      });
      return undefined;
    }
    const result = schema.safeParse(node.executor);
    if (!result.success) {
      const detail = result.error.issues.map((issue) => `${pathOf(issue.path)}: ${issue.message}`).join('; ');
      issues.push({ code: 'invalid-executor', nodeId: node.id, message: `Node "${node.id}" has an invalid ${type} executor (${detail}).` });
      return undefined;
    }
    if (result.data.type === 'agent' && !node.instructions?.trim()) {
      warnings.push({ code: 'missing-instructions', nodeId: node.id, message: `Agent node "${node.id}" has no instructions.` });
    }
    return result.data as Executor;
  });

  const edges = edgesOf(draft.nodes);
  draft.nodes.forEach((node, index) => {
    const deps = edges[index]!;
    if (new Set(deps).size !== deps.length) {
      warnings.push({ code: 'duplicate-dependency', nodeId: node.id, message: `Node "${node.id}" lists a dependency twice.` });
    }
    for (const dep of new Set(deps)) {
      if (dep === node.id) {
        // An implicit edge only points at itself through a duplicate id, reported above.
        if (node.dependsOn === undefined) continue;
        issues.push({ code: 'self-dependency', nodeId: node.id, message: `Node "${node.id}" depends on itself.` });
      } else if (!seen.has(dep)) {
        issues.push({ code: 'unknown-dependency', nodeId: node.id, message: `Node "${node.id}" depends on unknown node "${dep}".` });
      }
    }
  });
  const cyclic = nodesOnCycles(draft.nodes.map((node) => node.id), edges);
  if (cyclic.length > 0) {
    issues.push({ code: 'cycle', message: `The dependencies form a cycle through: ${cyclic.join(', ')}.` });
  }

  if (draft.schedule) {
    for (const problem of scheduleProblems(draft.schedule)) issues.push({ code: 'invalid-schedule', message: problem });
  }

  if (issues.length > 0) return { ok: false, issues };
  const nodes: CompiledNode[] = draft.nodes.map((node, index) => ({
    nodeId: node.id,
    title: node.title,
    ...(node.instructions !== undefined ? { instructions: node.instructions } : {}),
    executor: executors[index]!,
    dependsOn: [...new Set(edges[index])],
  }));
  return {
    ok: true,
    plan: {
      title: draft.title,
      objective: draft.objective,
      nodes,
      ...(draft.schedule ? { schedule: draft.schedule as PlanSchedule } : {}),
      warnings,
    },
  };
}

/** Validates and compiles, or throws a PlanError (`invalid-input`) listing every blocking issue (S11). */
export function compileDraft(input: unknown): CompiledPlan {
  const result = validateDraft(input);
  if (!result.ok) throw new PlanError('invalid-input', formatIssues(result.issues), result.issues);
  return result.plan;
}
