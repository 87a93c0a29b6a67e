import type { Executor } from './draft.js';

/**
 * Whether a step's executor is a webhook: the one system action that calls outside the system.
 * Its own module (types only from draft.ts), so the policy, which draft.ts itself imports, can use it.
 */
export function isWebhook(executor: Executor): executor is Extract<Executor, { type: 'system'; action: 'webhook' }> {
  return executor.type === 'system' && executor.action === 'webhook';
}
