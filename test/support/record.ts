import type { Client } from '@temporalio/client';

import proto from '@temporalio/proto';

import type { Stack } from '../../app/stack.js';
import { workflowIdOf } from '../../temporal/names.js';
import { readCommittedRecord } from '../../client/doctor.js';
import type { CommittedRecord } from '../../domain/run-record.js';
import type { CheckpointRecord, PlanEventRecord, Transition } from '../../domain/run-state.js';
import { recordQuery } from '../../workflows/messages.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { eventually } from './stack.js';

const { temporal } = proto;

/** Numbers 1..n with no gap and no repeat (I2, I3). */
function expectOneToN(sequences: number[]): void {
  expect(sequences).toEqual(sequences.map((_, index) => index + 1));
}

const EVENT_FIELDS = ['sequence', 'eventType', 'message', 'fromStatus', 'toStatus', 'emittedBy', 'nodeId', 'detail', 'createdAt'] as const;

/** An event as the run made it, without what storing adds (feed position, organization, thread). */
function ownFields(event: PlanEventRecord): Partial<PlanEventRecord> {
  return Object.fromEntries(EVENT_FIELDS.filter((field) => event[field] !== undefined).map((field) => [field, event[field]]));
}

/** What the run's workflow committed, once everything it accepted is persisted. */
export async function committedRecordOf(client: Client, runId: string): Promise<CommittedRecord> {
  return eventually(
    `the workflow of run ${runId} to report everything it committed as persisted`,
    async () => {
      const record = await readCommittedRecord(client, runId);
      return record?.persisted ? record : undefined;
    },
    30_000,
  );
}

/**
 * I1 for one quiet run, compared field by field: the stored snapshot equals the workflow's,
 * and the stored events and checkpoints are exactly the ones its transitions made, numbered
 * 1..n (I2, I3). `stored` reads the run with its events and checkpoints.
 */
export async function expectStoredEqualsCommitted(committed: CommittedRecord, stored: PlanSnapshot): Promise<void> {
  const { events = [], checkpoints = [], ...snapshot } = stored;
  delete snapshot.approvals;
  delete snapshot.artifacts;
  expect(snapshot).toEqual(committed.snapshot);
  expect(events.map(ownFields)).toEqual(committed.transitions.flatMap((transition) => transition.events).map(ownFields));
  const committedCheckpoints: CheckpointRecord[] = committed.transitions.flatMap((transition) =>
    transition.checkpoint ? [transition.checkpoint] : [],
  );
  expect(checkpoints.map(({ runId: _run, ...checkpoint }: CheckpointRecord & { runId?: string }) => checkpoint)).toEqual(
    committedCheckpoints,
  );
  expectOneToN(events.map((event) => event.sequence));
  expectOneToN(checkpoints.map((checkpoint) => checkpoint.sequence));
}

/** I1 for one run of an in-process stack, once it is quiet. */
export async function expectRecordEqualsWorkflow(stack: Stack, runId: string): Promise<void> {
  const committed = await committedRecordOf(stack.client, runId);
  const stored = await stack.plans.runs.get(runId, { includeEvents: true, includeCheckpoints: true });
  await explainingDivergence(stack.client, runId, () => expectStoredEqualsCommitted(committed, stored));
}

/**
 * The transitions the run's workflow holds in memory (the `record` query), every page. Asked of
 * a worker that has not cached the run, they are what a replay of its history makes.
 */
export async function workflowTransitionsOf(client: Client, runId: string): Promise<Transition[]> {
  const handle = client.workflow.getHandle(workflowIdOf(runId));
  const transitions: Transition[] = [];
  for (;;) {
    const page = await handle.query(recordQuery, { from: (transitions.at(-1)?.sequence ?? 0) + 1 });
    transitions.push(...page.transitions);
    if (page.transitions.length === 0 || transitions.at(-1)!.sequence >= page.lastSequence) return transitions;
  }
}

/** A divergence is rare and timing-bound: print the run's history beside it, so one failure is enough to explain it. */
export async function explainingDivergence(client: Client, runId: string, compare: () => Promise<void>): Promise<void> {
  try {
    await compare();
  } catch (error) {
    const history = await client.workflow.getHandle(workflowIdOf(runId)).fetchHistory();
    const events = history.events!.map((event) => {
      const seconds = Number(event.eventTime!.seconds) + (event.eventTime!.nanos ?? 0) / 1e9;
      const name =
        event.activityTaskScheduledEventAttributes?.activityType?.name ??
        event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ??
        event.workflowExecutionSignaledEventAttributes?.signalName ??
        '';
      return `${event.eventId} ${new Date(seconds * 1000).toISOString()} ${temporal.api.enums.v1.EventType[event.eventType!]} ${name}`.trimEnd();
    });
    console.error(`History of plan run ${runId}, which diverged:\n${events.join('\n')}`);
    throw error;
  }
}
