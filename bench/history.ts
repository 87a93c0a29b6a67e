import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;

/**
 * Counts a workflow's history (all its runs, across continue-as-new): events, and actions as
 * Temporal Cloud bills them where history shows them — starts, signals, updates, activities,
 * timers, child workflows, search-attribute upserts, continue-as-new, and local activities
 * (all markers recorded by one workflow task count as one action).
 */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
const ACTION_EVENTS = new Set([
  'WORKFLOW_EXECUTION_STARTED',
  'WORKFLOW_EXECUTION_SIGNALED',
  'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
  'ACTIVITY_TASK_SCHEDULED',
  'MARKER_RECORDED',
  'TIMER_STARTED',
  'START_CHILD_WORKFLOW_EXECUTION_INITIATED',
  'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
  'WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
]);

export interface HistoryCount {
  events: number;
  actions: number;
  /** The history's size as the server stores it (protobuf bytes), all runs. */
  bytes: number;
  byType: Record<string, number>;
}

export async function countHistory(client: Client, workflowId: string): Promise<HistoryCount> {
  const count: HistoryCount = { events: 0, actions: 0, bytes: 0, byType: {} };
  // Walk back from the latest run through the runs it continued.
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    count.bytes += temporal.api.history.v1.History.encode(history).finish().length;
    const markerTasks = new Set<string>();
    for (const event of history.events ?? []) {
      count.events++;
      const name = eventName(event.eventType);
      if (!ACTION_EVENTS.has(name)) continue;
      if (name === 'MARKER_RECORDED') {
        // Patch markers (workflow versioning) are not billed; local activities are.
        if (event.markerRecordedEventAttributes?.markerName !== LOCAL_ACTIVITY_MARKER) continue;
        const task = String(event.markerRecordedEventAttributes?.workflowTaskCompletedEventId ?? event.eventId);
        if (markerTasks.has(task)) continue;
        markerTasks.add(task);
      }
      count.actions++;
      count.byType[name] = (count.byType[name] ?? 0) + 1;
    }
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return count;
}

function eventName(type: unknown): string {
  const name = typeof type === 'number' ? temporal.api.enums.v1.EventType[type] : String(type);
  return String(name).replace(/^EVENT_TYPE_/, '');
}
