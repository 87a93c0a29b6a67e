import { createHash } from 'node:crypto';

import type { CompiledPlan } from '../domain/plan.js';

/** JSON with object keys sorted at every level: the same plan always serialises the same way. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A plan's revision: the first 16 hex digits of the SHA-256 of its compiled form (steps,
 * executors, policies, schedule, approval rules; not the validator's warnings). Two drafts that
 * compile to the same plan have the same revision; any change that alters what runs changes it.
 */
export function revisionOf(plan: CompiledPlan): string {
  return planHashOf(plan).slice(0, 16);
}

/**
 * The whole SHA-256 of the same canonical form: what a standing approval is bound to, where the
 * revision's 64 bits could be matched by a plan searched for on purpose.
 */
export function planHashOf(plan: CompiledPlan): string {
  const { warnings: _warnings, ...meaningful } = plan;
  return createHash('sha256').update(canonical(meaningful)).digest('hex');
}
