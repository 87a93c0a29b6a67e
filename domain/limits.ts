/** Size limits of drafts and ids, shared by the schemas and the workflow (kept free of zod). */
export const LIMITS = {
  maxNodes: 2000,
  maxTitle: 200,
  maxObjective: 4000,
  maxInstructions: 20_000,
  maxId: 128,
} as const;

/**
 * How deeply JSON may nest where it enters (request bodies, node outputs, webhook bodies, agent
 * answers). SurrealDB refuses documents nested a few hundred levels deep, and a document it
 * refuses could never be stored: bounding depth where input enters keeps every run storable.
 */
export const MAX_DEPTH = 64;

/**
 * The path (`draft.nodes.0.executor.body.a`) of the first value nested deeper than `limit`
 * levels inside `value`, or undefined when it nests no deeper. Iterative, so even a value nested
 * far past any stack is examined safely.
 */
export function tooDeepAt(value: unknown, limit: number = MAX_DEPTH, root = ''): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: root }];
  while (stack.length > 0) {
    const { value: item, depth, path } = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return path || '(the value)';
    for (const [key, child] of Object.entries(item)) stack.push({ value: child, depth: depth + 1, path: path ? `${path}.${key}` : key });
  }
  return undefined;
}
