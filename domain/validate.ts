import {
  AgentExecutorSchema,
  type DraftNode,
  type Executor,
  HumanExecutorSchema,
  type PlanDraft,
  PlanDraftSchema,
  type PlanSchedule,
  SystemExecutorSchemas,
} from './draft.js';
import { forbiddenHeaders } from './egress.js';
import { isWebhook } from './webhook.js';
import { PlanError, type ValidationIssue, formatIssues } from './errors.js';
import { MAX_DEPTH, tooDeepAt } from './limits.js';
import { type CompiledNode, type CompiledPlan, DEFAULT_PARALLELISM, DEFAULT_POLICY, type NodePolicy, type PlanApproval } from './plan.js';
import { parseInterval } from './duration.js';
import { literalCredentials } from './masking.js';
import { scheduleProblems } from './schedule.js';

export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What validation may check beyond the draft itself. */
export interface ValidationContext {
  /** Agent ids the workers can run; an agent node naming another is refused. Unchecked when absent. */
  knownAgents?: ReadonlySet<string>;
}

function executorSchema(executor: { type: string; action?: unknown }) {
  if (executor.type === 'agent') return AgentExecutorSchema;
  if (executor.type === 'human') return HumanExecutorSchema;
  if (executor.type !== 'system') return undefined;
  return Object.hasOwn(SystemExecutorSchemas, String(executor.action))
    ? SystemExecutorSchemas[executor.action as keyof typeof SystemExecutorSchemas]
    : undefined;
}

/** Resolves a node's retry, timeout and deadline against the defaults; durations are already checked. */
function policyOf(node: DraftNode): NodePolicy {
  const ms = (value: string | undefined, fallback: number) => (value === undefined ? fallback : parseInterval(value)!);
  const retry = DEFAULT_POLICY.retry;
  const deadline = node.deadline;
  const afterMs = deadline ? parseInterval(deadline.after)! : 0;
  return {
    optional: node.optional ?? false,
    retry: {
      maxAttempts: node.retry?.maxAttempts ?? retry.maxAttempts,
      initialIntervalMs: ms(node.retry?.initialInterval, retry.initialIntervalMs),
      backoffCoefficient: node.retry?.backoffCoefficient ?? retry.backoffCoefficient,
      maximumIntervalMs: ms(node.retry?.maximumInterval, retry.maximumIntervalMs),
    },
    timeoutMs: ms(node.timeout, DEFAULT_POLICY.timeoutMs),
    ...(deadline
      ? {
          deadline: {
            afterMs,
            ...(deadline.warnBefore ? { warnAtMs: afterMs - parseInterval(deadline.warnBefore)! } : {}),
            cancel: deadline.cancel ?? false,
          },
        }
      : {}),
  };
}

function policyProblems(node: DraftNode): string[] {
  const problems: string[] = [];
  const policy = policyOf(node);
  if (policy.timeoutMs < 1000) problems.push(`Node "${node.id}" has a timeout under 1s.`);
  if (policy.retry.maximumIntervalMs < policy.retry.initialIntervalMs) {
    problems.push(`Node "${node.id}" has a retry maximumInterval shorter than its initialInterval.`);
  }
  const deadline = policy.deadline;
  if (deadline && deadline.afterMs < 1000) problems.push(`Node "${node.id}" has a deadline under 1s.`);
  if (deadline?.warnAtMs !== undefined && deadline.warnAtMs <= 0) {
    problems.push(`Node "${node.id}" warns before its deadline by as much as the deadline itself.`);
  }
  return problems;
}

export type DraftValidation = { ok: true; plan: CompiledPlan } | { ok: false; issues: ValidationIssue[] };

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
export function validateDraft(input: unknown, context: ValidationContext = {}): DraftValidation {
  const deep = tooDeepAt(input, MAX_DEPTH);
  if (deep) return { ok: false, issues: [{ code: 'invalid-draft', message: `${deep}: nests deeper than ${MAX_DEPTH} levels` }] };
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
    const schema = executorSchema(node.executor);
    if (!schema) {
      issues.push({
        code: 'invalid-executor',
        nodeId: node.id,
        message:
          type === 'system'
            ? `Node "${node.id}" has unknown system action "${String(node.executor.action)}"; use "noop", "wait" or "webhook".`
            : `Node "${node.id}" has unknown executor type "${type}"; use "agent", "human" or "system".`,
      });
      return undefined;
    }
    const result = schema.safeParse(node.executor);
    if (!result.success) {
      const detail = result.error.issues.map((issue) => `${pathOf(issue.path)}: ${issue.message}`).join('; ');
      issues.push({ code: 'invalid-executor', nodeId: node.id, message: `Node "${node.id}" has an invalid ${type} executor (${detail}).` });
      return undefined;
    }
    // A header refused as the connection's (Cookie, Host…) is refused once, as that, below.
    const connectionHeaders = new Set(
      isWebhook(result.data as Executor)
        ? forbiddenHeaders((result.data as { headers?: Record<string, unknown> }).headers).map((name) => `header "${name}"`)
        : [],
    );
    for (const place of literalCredentials(result.data as Executor).filter((where) => !connectionHeaders.has(where))) {
      issues.push({
        code: 'literal-credential',
        nodeId: node.id,
        message: `Node "${node.id}" sends a literal credential in ${place}; store it as a secret (plans secret set NAME) and write {"$secret": "NAME"}${place.startsWith('the URL') ? ' as the whole url' : ''}.`,
      });
    }
    if (result.data.type === 'agent') {
      if (context.knownAgents && !context.knownAgents.has(result.data.agentId)) {
        const known = [...context.knownAgents].sort().join(', ') || 'none';
        issues.push({
          code: 'unknown-agent',
          nodeId: node.id,
          message: `Node "${node.id}" names agent "${result.data.agentId}", which no worker runs (known: ${known}).`,
        });
      }
      if (!node.instructions?.trim()) {
        warnings.push({ code: 'missing-instructions', nodeId: node.id, message: `Agent node "${node.id}" has no instructions.` });
      }
    }
    if (result.data.type === 'system' && result.data.action === 'webhook') {
      const forbidden = forbiddenHeaders(result.data.headers);
      if (forbidden.length > 0) {
        issues.push({
          code: 'forbidden-header',
          nodeId: node.id,
          message: `Node "${node.id}" sets ${forbidden.map((name) => `"${name}"`).join(', ')}: hop-by-hop, Host, Cookie and Content-Length headers are the connection's, not a webhook's.`,
        });
      }
    }
    for (const problem of policyProblems(node)) issues.push({ code: 'invalid-policy', nodeId: node.id, message: problem });
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
  const cyclic = nodesOnCycles(
    draft.nodes.map((node) => node.id),
    edges,
  );
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
    policy: policyOf(node),
    ...(node.approval ? { approval: node.approval } : {}),
  }));
  return {
    ok: true,
    plan: {
      title: draft.title,
      objective: draft.objective,
      nodes,
      ...(draft.schedule ? { schedule: draft.schedule as PlanSchedule } : {}),
      parallelism: draft.parallelism ?? DEFAULT_PARALLELISM,
      ...(draft.approval ? { approval: approvalOf(draft.approval) } : {}),
      ...(draft.tags && draft.tags.length > 0 ? { tags: [...new Set(draft.tags)].sort() } : {}),
      ...(draft.parameters && Object.keys(draft.parameters).length > 0 ? { parameters: { ...draft.parameters } } : {}),
      warnings,
    },
  };
}

function approvalOf(approval: NonNullable<PlanDraft['approval']>): PlanApproval {
  const { expiresAfter, ...rest } = approval;
  return { ...rest, ...(expiresAfter !== undefined ? { expiresAfterMs: parseInterval(expiresAfter)! } : {}) };
}

/** Validates and compiles, or throws a PlanError (`invalid-input`) listing every blocking issue (S11). */
export function compileDraft(input: unknown, context: ValidationContext = {}): CompiledPlan {
  const result = validateDraft(input, context);
  if (!result.ok) throw new PlanError('invalid-input', formatIssues(result.issues), result.issues);
  return result.plan;
}
