import { type SearchAttributePair, defineSearchAttributeKey } from '@temporalio/common';

/** Names shared by workflow, worker and client. Safe to import from workflow code. */
export const DEFAULT_TASK_QUEUE = 'execution-plans';

const WORKFLOW_PREFIX = 'plan-run:';
const SCHEDULE_PREFIX = 'plan-schedule:';

/** Every run is the workflow `plan-run:<runId>`. */
export function workflowIdOf(runId: string): string {
  return WORKFLOW_PREFIX + runId;
}

export function runIdOf(workflowId: string): string {
  return workflowId.startsWith(WORKFLOW_PREFIX) ? workflowId.slice(WORKFLOW_PREFIX.length) : workflowId;
}

/**
 * One Temporal Schedule per approved spec. A revision an edit before approval made is a spec of
 * its own (`<run>:rev2`, plan-edit.ts `specIdOf`); its schedule keeps the run's id, as people know it.
 */
export function scheduleIdOf(planSpecId: string): string {
  return SCHEDULE_PREFIX + planSpecId.replace(/:rev\d+$/, '');
}

/** Keyword search attributes, so operators can filter runs in the Web UI and `temporal workflow list`. */
export const SEARCH_ATTRIBUTES = {
  status: defineSearchAttributeKey('PlanRunStatus', 'KEYWORD'),
  organizationId: defineSearchAttributeKey('OrganizationId', 'KEYWORD'),
  threadId: defineSearchAttributeKey('ThreadId', 'KEYWORD'),
  sourceThreadId: defineSearchAttributeKey('SourceThreadId', 'KEYWORD'),
  leadAgentId: defineSearchAttributeKey('LeadAgentId', 'KEYWORD'),
} as const;

export const SEARCH_ATTRIBUTE_KEYS = Object.values(SEARCH_ATTRIBUTES);

/** The search attributes a run starts with; its status is kept current by the workflow. */
export function searchAttributesOf(run: {
  status: string;
  organizationId: string;
  threadId: string;
  sourceThreadId?: string;
  leadAgentId: string;
}): SearchAttributePair[] {
  return [
    { key: SEARCH_ATTRIBUTES.status, value: run.status },
    { key: SEARCH_ATTRIBUTES.organizationId, value: run.organizationId },
    { key: SEARCH_ATTRIBUTES.threadId, value: run.threadId },
    ...(run.sourceThreadId ? [{ key: SEARCH_ATTRIBUTES.sourceThreadId, value: run.sourceThreadId }] : []),
    { key: SEARCH_ATTRIBUTES.leadAgentId, value: run.leadAgentId },
  ];
}
