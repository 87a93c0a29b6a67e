import type { RunContext } from '../../domain/run-state.js';

/** A cross-thread run's context for unit tests of the domain: run r1 of org-1, drafted in t-1 for t-9. */
export function runContext(overrides: Partial<RunContext> = {}): RunContext {
  return {
    runId: 'r1',
    workflowId: 'plan-run:r1',
    planSpecId: 'r1',
    organizationId: 'org-1',
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'lead',
    requireApproval: true,
    ...overrides,
  };
}
