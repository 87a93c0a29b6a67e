import { formatInterval } from './duration.js';
import type { CompiledPlan } from './plan.js';
import { MASK, isSecretName, maskUrl } from './masking.js';
import { stepViewOf } from './plan-review.js';
import { isSecretRef } from './secret-refs.js';

/*
 * What changed between two revisions of a plan, for the person deciding the replacement:
 * steps added, removed and changed field by field, the schedule, and the plan's own fields.
 * Fields are compared by their real values and shown masked (a changed credential shows as
 * changed, never as itself). Pure: the API, the CLI and the page show the same diff.
 */

/** One field that differs; `null` stands for absent. Field names are dotted paths (`retry.maxAttempts`, `executor.headers.Authorization`). */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface StepRef {
  nodeId: string;
  title: string;
}

export interface PlanDiff {
  /** Title, objective, parallelism, the draft's approval rules. */
  plan: FieldChange[];
  schedule: FieldChange[];
  added: StepRef[];
  removed: StepRef[];
  changed: Array<StepRef & { changes: FieldChange[] }>;
}

type Leaves = Map<string, unknown>;

/** Objects flattened to dotted paths; arrays, scalars and secret references are leaves, compared whole. */
function leavesOf(value: unknown, prefix = '', into: Leaves = new Map()): Leaves {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !isSecretRef(value)) {
    for (const [key, item] of Object.entries(value)) if (item !== undefined) leavesOf(item, prefix ? `${prefix}.${key}` : key, into);
  } else if (prefix) {
    into.set(prefix, value);
  }
  return into;
}

/** How a changed value is shown: credentials never; a secret reference is a name, shown (another name is another secret). */
function shown(field: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (isSecretRef(value)) return value;
  const last = field.slice(field.lastIndexOf('.') + 1);
  if (field.includes('.headers.') && isSecretName(last)) return MASK;
  if ((field === 'executor.url' || field === 'url') && typeof value === 'string') return maskUrl(value);
  return value;
}

function changesBetween(before: unknown, after: unknown): FieldChange[] {
  const a = leavesOf(before);
  const b = leavesOf(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])];
  return fields
    .filter((field) => JSON.stringify(a.get(field)) !== JSON.stringify(b.get(field)))
    .map((field) => ({ field, before: shown(field, a.get(field)), after: shown(field, b.get(field)) }));
}

/** A step's comparable fields: its view with real (unmasked) values, without what the diff reports apart. */
function comparable(plan: CompiledPlan): Map<string, Record<string, unknown>> {
  return new Map(
    plan.nodes.map((node) => {
      const { nodeId: _nodeId, external: _external, ...fields } = stepViewOf(node, {}, false);
      return [node.nodeId, fields];
    }),
  );
}

function planFields(plan: CompiledPlan): Record<string, unknown> {
  const { expiresAfterMs, ...approval } = plan.approval ?? {};
  return {
    title: plan.title,
    objective: plan.objective,
    parallelism: plan.parallelism,
    approval: { ...approval, ...(expiresAfterMs !== undefined ? { expiresAfter: formatInterval(expiresAfterMs) } : {}) },
  };
}

/** What changed from `before` to `after`, steps in `after`'s order (removed ones in `before`'s). */
export function diffPlans(before: CompiledPlan, after: CompiledPlan): PlanDiff {
  const old = comparable(before);
  const now = comparable(after);
  const changed: PlanDiff['changed'] = [];
  for (const node of after.nodes) {
    const previous = old.get(node.nodeId);
    if (!previous) continue;
    const changes = changesBetween(previous, now.get(node.nodeId));
    if (changes.length) changed.push({ nodeId: node.nodeId, title: node.title, changes });
  }
  return {
    plan: changesBetween(planFields(before), planFields(after)),
    schedule: changesBetween(before.schedule ?? {}, after.schedule ?? {}),
    added: after.nodes.filter((node) => !old.has(node.nodeId)).map(({ nodeId, title }) => ({ nodeId, title })),
    removed: before.nodes.filter((node) => !now.has(node.nodeId)).map(({ nodeId, title }) => ({ nodeId, title })),
    changed,
  };
}

/** Whether nothing that runs differs. */
export function isUnchanged(diff: PlanDiff): boolean {
  return !diff.plan.length && !diff.schedule.length && !diff.added.length && !diff.removed.length && !diff.changed.length;
}
