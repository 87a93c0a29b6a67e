import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The worked approval policy of docs/approval-policies.md, as `examples/refund-policy.json` has
 * it: the tests that route by it read the example itself, so the example stays one that works.
 */
export function refundPolicy(): {
  roles: string[];
  reminders: string[];
  escalations: unknown[];
  rules: Array<{ name: string; when: unknown; require: Record<string, unknown>; standing?: boolean }>;
  [field: string]: unknown;
} {
  return JSON.parse(readFileSync(fileURLToPath(new URL('../../../examples/refund-policy.json', import.meta.url)), 'utf8'));
}
