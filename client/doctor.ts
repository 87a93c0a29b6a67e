import type { ChainBreak } from '../audit/chain.js';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/codec-helpers.js';

import type { ExecuteNodeInput } from '../activities/index.js';
import { type DoctorRequest, DoctorRequestSchema, parseRequest } from '../domain/requests.js';
import {
  type CommittedRecord,
  type Divergence,
  type RecordPage,
  type RecordPageRequest,
  compareRecords,
  stateOfTransitions,
} from '../domain/run-record.js';
import type { RunCreation, Transition } from '../domain/run-state.js';
import type { PersistTransitionsInput, PlanStore } from '../storage/plan-store.js';
import { RunMovedOnError } from '../storage/plan-store.js';
import { runIdOf, workflowIdOf } from '../temporal/names.js';
import { isStaleClockRefusal } from '../workflows/fresh-clock.js';
import { recordQuery } from '../workflows/messages.js';

/** What the doctor found of one run. */
export interface RunExamination {
  runId: string;
  /**
   * `consistent`: the stored record equals what Temporal committed. `diverged`: it does not
   * (see `divergences`). `repaired`: it did not and was rewritten. `busy`: the run has work on
   * its way to SurrealDB; examine it again later. `no-workflow`: Temporal knows no such run.
   */
  verdict: 'consistent' | 'diverged' | 'repaired' | 'busy' | 'no-workflow';
  /** Where the stored record differed, before any repair. */
  divergences: Divergence[];
}

export interface DoctorReport {
  organizationId: string;
  checked: number;
  consistent: number;
  diverged: number;
  repaired: number;
  busy: number;
  noWorkflow: number;
  /** Every run that was not consistent. */
  runs: RunExamination[];
  /** The organization's audit chain walked after the runs (docs/auditing.md): whether it holds, and its first break. */
  audit: { ok: boolean; position: number; signedThrough: number | null; break: ChainBreak | null };
}

const DEFAULT_LIMIT = 10_000;
const CONCURRENCY = 4;

/**
 * `plans doctor`: compares each run's stored record with what its workflow committed (the
 * transitions its history handed to storage, across every execution the run continued as new)
 * and, when asked, rewrites the stored record from them. Temporal's history is the truth.
 */
export class RecordDoctor {
  constructor(
    private readonly client: Client,
    private readonly store: PlanStore,
  ) {}

  /**
   * `plans doctor`: examines an organization's runs — the given ones, or every run SurrealDB or
   * Temporal knows (newest first, at most `limit`) — and, with `repair`, rewrites those whose
   * stored record differs. Another organization's run ids are skipped as unknown (I7).
   */
  async examine(request: DoctorRequest, onProgress?: (done: number, total: number) => void): Promise<DoctorReport> {
    const {
      organizationId,
      runIds: given,
      repair = false,
      limit = DEFAULT_LIMIT,
    } = parseRequest(DoctorRequestSchema, request, 'doctor request');
    const runIds = given ?? (await this.runsOf(organizationId, limit));
    const examinations: RunExamination[] = [];
    let next = 0;
    const worker = async () => {
      while (next < runIds.length) {
        const runId = runIds[next++]!;
        const examination = await this.examineRun(runId, organizationId, repair);
        if (examination) examinations.push(examination);
        onProgress?.(examinations.length, runIds.length);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const chain = await this.store.audit.verify(organizationId);
    const count = (verdict: RunExamination['verdict']) => examinations.filter((examination) => examination.verdict === verdict).length;
    return {
      organizationId,
      checked: examinations.length,
      consistent: count('consistent'),
      diverged: count('diverged'),
      repaired: count('repaired'),
      busy: count('busy'),
      noWorkflow: count('no-workflow'),
      runs: examinations.filter((examination) => examination.verdict !== 'consistent').sort((a, b) => (a.runId < b.runId ? -1 : 1)),
      audit: { ok: chain.ok, position: chain.position, signedThrough: chain.signedThrough, break: chain.break },
    };
  }

  /** Runs of an organization that SurrealDB stores or Temporal knows (a run Temporal started but nothing stored is found too). */
  private async runsOf(organizationId: string, limit: number): Promise<string[]> {
    const ids = new Set(await this.store.runs.listRunIds(organizationId, limit));
    // Organization ids match ID_PATTERN (no quotes), so the value is safe in a visibility query.
    const query = `WorkflowType = 'planRun' AND OrganizationId = '${organizationId}'`;
    for await (const execution of this.client.workflow.list({ query })) {
      if (ids.size >= limit) break;
      ids.add(runIdOf(execution.workflowId));
    }
    return [...ids];
  }

  private async examineRun(runId: string, organizationId: string, repair: boolean): Promise<RunExamination | undefined> {
    // A run that moves on while it is read is read again; one that keeps moving is busy.
    for (let attempt = 0; attempt < 3; attempt++) {
      const committed = await readCommittedRecord(this.client, runId);
      const stored = await this.store.runs.getStoredRecord(runId);
      const owner = committed?.snapshot.organizationId ?? stored?.snapshot.organizationId;
      if (owner !== organizationId) return undefined;
      if (!committed) return { runId, verdict: 'no-workflow', divergences: [] };
      if (!committed.persisted) continue;
      const divergences = compareRecords(committed, stored);
      const committedLast = committed.transitions.at(-1)?.sequence ?? 0;
      if (stored && stored.lastTransition > committedLast) continue;
      if (divergences.length === 0) return { runId, verdict: 'consistent', divergences };
      if (!repair) return { runId, verdict: 'diverged', divergences };
      const { header } = committed.creation;
      try {
        await this.store.runs.rewriteRun({
          runId,
          organizationId: header.organizationId,
          threadId: header.threadId,
          transitions: committed.transitions,
          creation: committed.creation,
        });
      } catch (error) {
        if (error instanceof RunMovedOnError) continue;
        throw error;
      }
      const after = compareRecords(committed, await this.store.runs.getStoredRecord(runId));
      return { runId, verdict: after.length === 0 ? 'repaired' : 'diverged', divergences };
    }
    return { runId, verdict: 'busy', divergences: [] };
  }
}

/**
 * Everything a run committed, across every execution it continued as new, oldest first; undefined
 * when Temporal knows no such workflow. The transitions are the ones its history hands to
 * storage — the inputs of its `persistTransitions` and `executeNode` activities, exactly as
 * committed — and the run's state is what they make. (An execution from before persisting from
 * committed history handed them to local activities, whose inputs history does not keep: its
 * transitions come from the `record` query.) The query also says whether everything accepted is
 * stored yet, so it needs a worker to answer.
 */
export async function readCommittedRecord(client: Client, runId: string): Promise<CommittedRecord | undefined> {
  const workflowId = workflowIdOf(runId);
  let executionRunId: string;
  try {
    // Pinned, so that every page comes from one execution even if the run continues as new meanwhile.
    executionRunId = (await client.workflow.getHandle(workflowId).describe()).runId;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
  const executions = [{ executionRunId, pages: await pagesOf(client, workflowId, executionRunId) }];
  const head = executions[0]!.pages.at(-1)!;
  while (executions[0]!.pages[0]!.firstSequence > 1) {
    executionRunId = await previousExecution(client, workflowId, executions[0]!.executionRunId);
    executions.unshift({ executionRunId, pages: await pagesOf(client, workflowId, executionRunId) });
  }
  let creation = executions[0]!.pages[0]!.creation;
  const transitions: Transition[] = [];
  for (const { executionRunId: execution, pages } of executions) {
    const handedOff = await handedOffIn(client, workflowId, execution);
    creation = handedOff.creation ?? creation;
    const wanted = Array.from(
      { length: pages.at(-1)!.lastSequence - pages[0]!.firstSequence + 1 },
      (_, index) => pages[0]!.firstSequence + index,
    );
    const fromHistory = wanted.map((sequence) => handedOff.transitions.get(sequence));
    transitions.push(
      ...(fromHistory.every((transition) => transition !== undefined) ? fromHistory : pages.flatMap((page) => page.transitions)),
    );
  }
  if (!creation) throw new Error(`The first execution of ${workflowId} did not report its creation.`);
  if (transitions.some((transition, index) => transition.sequence !== index + 1)) {
    throw new Error(`The executions of ${workflowId} reported transitions out of order.`);
  }
  return { creation, persisted: head.persisted, ...stateOfTransitions(creation, transitions), transitions };
}

/** The transitions (first hand-off of each number) and creation that one execution's history gave its storing activities. */
async function handedOffIn(
  client: Client,
  workflowId: string,
  executionRunId: string,
): Promise<{ creation?: RunCreation; transitions: Map<number, Transition> }> {
  const history = await client.workflow.getHandle(workflowId, executionRunId).fetchHistory();
  const found: { creation?: RunCreation; transitions: Map<number, Transition> } = { transitions: new Map() };
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    const type = scheduled?.activityType?.name;
    if (type !== 'persistTransitions' && type !== 'executeNode') continue;
    const input = await decodeFromPayloadsAtIndex<PersistTransitionsInput & ExecuteNodeInput>(
      client.options.loadedDataConverter,
      0,
      scheduled?.input?.payloads,
    );
    const persisted = type === 'persistTransitions' ? input : input.persist;
    if (!persisted) continue;
    found.creation ??= persisted.creation;
    for (const transition of persisted.transitions)
      if (!found.transitions.has(transition.sequence)) found.transitions.set(transition.sequence, transition);
  }
  return found;
}

/** Every page of one execution's record. */
async function pagesOf(client: Client, workflowId: string, executionRunId: string): Promise<RecordPage[]> {
  const handle = client.workflow.getHandle(workflowId, executionRunId);
  // A worker that just restarted may refuse once to replay a run with a stale clock: ask again.
  const page = async (request: RecordPageRequest): Promise<RecordPage> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle.query(recordQuery, request);
      } catch (error) {
        if (attempt >= 3 || !isStaleClockRefusal(error)) throw error;
      }
    }
  };
  const pages = [await page({})];
  for (;;) {
    const last = pages.at(-1)!.transitions.at(-1)?.sequence ?? pages.at(-1)!.firstSequence - 1;
    if (last >= pages.at(-1)!.lastSequence || pages.at(-1)!.transitions.length === 0) return pages;
    pages.push(await page({ from: last + 1 }));
  }
}

/** The execution that `executionRunId` continued as new. */
async function previousExecution(client: Client, workflowId: string, executionRunId: string): Promise<string> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId: executionRunId },
    maximumPageSize: 1,
  });
  const previous = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
  if (!previous) throw new Error(`Execution ${executionRunId} of ${workflowId} continued no earlier one.`);
  return previous;
}
