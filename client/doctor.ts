import { type Client, WorkflowNotFoundError } from '@temporalio/client';

import { type DoctorRequest, DoctorRequestSchema, parseRequest } from '../domain/requests.js';
import { type CommittedRecord, type Divergence, type RecordPage, compareRecords } from '../domain/run-record.js';
import type { PlanStore } from '../storage/plan-store.js';
import { RunMovedOnError } from '../storage/plan-store.js';
import { runIdOf, workflowIdOf } from '../temporal/names.js';
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
}

const DEFAULT_LIMIT = 10_000;
const CONCURRENCY = 4;

/**
 * `plans doctor`: compares each run's stored record with what its workflow committed (the
 * `record` query, across every execution the run continued as new) and, when asked, rewrites
 * the stored record from it. The workflow is the truth: it is what Temporal's history holds.
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
    const { organizationId, runIds: given, repair = false, limit = DEFAULT_LIMIT } = parseRequest(DoctorRequestSchema, request, 'doctor request');
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
 * Everything a run committed, from its workflow: the latest execution's state and every
 * transition of every execution it continued as new, oldest first. Undefined when Temporal
 * knows no such workflow. Needs a worker to answer the `record` query.
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
  const latest = await pagesOf(client, workflowId, executionRunId);
  const head = latest.at(-1)!;
  const transitions = latest.flatMap((page) => page.transitions);
  let { creation, firstSequence } = latest[0]!;
  while (firstSequence > 1) {
    executionRunId = await previousExecution(client, workflowId, executionRunId);
    const pages = await pagesOf(client, workflowId, executionRunId);
    transitions.unshift(...pages.flatMap((page) => page.transitions));
    ({ creation, firstSequence } = pages[0]!);
  }
  if (!creation) throw new Error(`The first execution of ${workflowId} did not report its creation.`);
  if (transitions.some((transition, index) => transition.sequence !== index + 1)) {
    throw new Error(`The executions of ${workflowId} reported transitions out of order.`);
  }
  return { creation, persisted: head.persisted, snapshot: head.snapshot, nodes: head.nodes, transitions };
}

/** Every page of one execution's record. */
async function pagesOf(client: Client, workflowId: string, executionRunId: string): Promise<RecordPage[]> {
  const handle = client.workflow.getHandle(workflowId, executionRunId);
  const pages = [await handle.query(recordQuery, {})];
  for (;;) {
    const page = pages.at(-1)!;
    const last = page.transitions.at(-1)?.sequence ?? page.firstSequence - 1;
    if (last >= page.lastSequence || page.transitions.length === 0) return pages;
    pages.push(await handle.query(recordQuery, { from: last + 1 }));
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
