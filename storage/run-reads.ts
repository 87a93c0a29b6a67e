import { RecordId, type Surreal } from 'surrealdb';

import type { PlanSchedule } from '../domain/draft.js';
import type { ValidationIssue } from '../domain/errors.js';
import type { CompiledNode, CompiledPlan } from '../domain/plan.js';
import type { PlanRevisionRecord } from '../domain/plan-edit.js';
import type { EffectiveCall } from '../domain/step-records.js';
import type { StoredRecord } from '../domain/run-record.js';
import type { ArtifactRecord, CheckpointRecord, NodeState, PlanEventRecord, RunFields, RunHeader } from '../domain/run-state.js';
import { type IncludeOptions, type PlanSnapshot, approvalsOf, nodesOf, snapshotFrom } from '../domain/snapshot.js';
import { runQuery } from './database.js';
import { fromDb } from './rows.js';
import type { StoredVersions } from './stored-versions.js';
import { ACTIVE_RUN_STATUSES } from '../domain/status.js';

/** A run as `plan_run` holds it. */
export type RunRow = RunHeader & RunFields & { lastTransition: number };
type NodeSpecRow = CompiledNode & { planSpecId: string; position: number };
type SpecRow = {
  planSpecId: string;
  organizationId: string;
  title: string;
  objective: string;
  schedule?: PlanSchedule;
  parallelism: number;
  warnings: ValidationIssue[];
  /** Stored since the draft's own approval, tags and parameters were kept with the spec (absent before). */
  approval?: CompiledPlan['approval'];
  tags?: string[];
  parameters?: CompiledPlan['parameters'];
  createdAt: string;
};

/** How many specs' nodes a store keeps in memory (oldest read first out). */
const NODE_SPEC_CACHE = 5000;

/**
 * The reads of runs as stored: snapshots (each of one instant), the record `plans doctor`
 * compares, compiled plans and artifacts.
 */
export class RunReads {
  private readonly nodeSpecs = new Map<string, NodeSpecRow[]>();

  /** `versions` hears of every write: what `waitForVersion` waits on. */
  constructor(
    private readonly db: Surreal,
    private readonly versions: StoredVersions,
  ) {}

  /** A run's records as stored, for comparing with what its workflow committed; undefined when it has none. */
  async getStoredRecord(runId: string): Promise<StoredRecord | undefined> {
    const [read] = await this.readRuns([runId], { includeEvents: true, includeCheckpoints: true, includeArtifacts: true });
    if (!read) return undefined;
    const { events = [], checkpoints = [], artifacts = [], ...snapshot } = read.snapshot;
    return {
      snapshot,
      nodes: read.nodeRuns.map(({ runId: _run, updatedAt: _updated, ...node }) => node),
      lastTransition: read.row.lastTransition ?? 0,
      events,
      checkpoints,
      artifacts,
    };
  }

  /** Artifacts by id, in the order asked. */
  async getArtifacts(artifactIds: readonly string[]): Promise<ArtifactRecord[]> {
    if (artifactIds.length === 0) return [];
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT artifactId, nodeId, attempt, content, createdBy, createdAt FROM plan_artifact WHERE artifactId IN $ids;',
      { ids: artifactIds },
    );
    const byId = new Map(rows.map((row) => [String(row.artifactId), fromDb<ArtifactRecord>(row)]));
    return artifactIds.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  }

  /** The compiled plan stored for a spec, or undefined. */
  async getPlan(planSpecId: string): Promise<CompiledPlan | undefined> {
    const [spec, nodes] = await runQuery<[Record<string, unknown> | undefined, Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM ONLY $spec; SELECT * FROM plan_node_spec WHERE planSpecId = $planSpecId ORDER BY position;',
      { spec: new RecordId('plan_spec', planSpecId), planSpecId },
    );
    if (!spec) return undefined;
    const row = fromDb<SpecRow>(spec);
    return {
      title: row.title,
      objective: row.objective,
      nodes: nodes.map((node) => {
        const { planSpecId: _spec, position: _position, ...compiled } = fromDb<NodeSpecRow>(node);
        return compiled;
      }),
      ...(row.schedule ? { schedule: row.schedule } : {}),
      parallelism: row.parallelism,
      ...(row.approval ? { approval: row.approval } : {}),
      ...(row.tags ? { tags: row.tags } : {}),
      ...(row.parameters ? { parameters: row.parameters } : {}),
      warnings: row.warnings ?? [],
    };
  }

  /**
   * The organization's runs not ended that an approval by one of `principalIds` (made by them, or
   * for them by a delegate) rests on — pending ones too (a stage approved earlier counts when the
   * last one completes): who to tell when the directory changes for them.
   */
  async activeRunsApprovedBy(organizationId: string, principalIds: readonly string[]): Promise<string[]> {
    const [runIds] = await runQuery<[string[]]>(
      this.db,
      `SELECT VALUE runId FROM plan_run WHERE organizationId = $organizationId AND status INSIDE $statuses
        AND array::len(approval.approvals[WHERE by INSIDE $ids OR onBehalfOf INSIDE $ids] ?? []) > 0;`,
      { organizationId, ids: [...principalIds], statuses: ACTIVE_RUN_STATUSES },
    );
    return runIds;
  }

  /** A run's plan revisions, 1..n, once it was edited before approval (none for a run never edited: its spec is its only one). */
  async getRevisions(runId: string): Promise<PlanRevisionRecord[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_revision WHERE runId = $runId ORDER BY number;',
      { runId },
    );
    return rows.map((row) => {
      const { runId: _run, ...record } = fromDb<PlanRevisionRecord & { runId: string }>(row);
      return record;
    });
  }

  /** What each attempt of a step was called with, in attempt order. */
  async getEffectiveCalls(runId: string, nodeId: string): Promise<EffectiveCall[]> {
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      'SELECT * FROM plan_node_input:[$runId, $nodeId, NONE]..[$runId, $nodeId, ..] ORDER BY attempt;',
      { runId, nodeId },
    );
    return rows.map((row) => {
      const { runId: _run, nodeId: _node, ...call } = fromDb<EffectiveCall & { runId: string; nodeId: string }>(row);
      return call;
    });
  }

  /** One run's snapshot as persisted, or undefined when no such run exists. */
  async getSnapshot(runId: string, include: IncludeOptions = {}): Promise<PlanSnapshot | undefined> {
    const [snapshot] = await this.snapshotsOf([runId], include);
    return snapshot;
  }

  /**
   * Waits until the stored run has reached `version` (its workflow answered with that version
   * and is persisting it), then reads its snapshot; undefined if that takes over `timeoutMs`.
   */
  async waitForVersion(runId: string, version: number, timeoutMs = 10_000): Promise<PlanSnapshot | undefined> {
    const run = new RecordId('plan_run', runId);
    const deadline = Date.now() + timeoutMs;
    // A flush in this process wakes the wait at once; one in another process (a separate
    // worker) is found by looking again, soon at first, then less often.
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const [stored] = await runQuery<[number]>(this.db, 'RETURN (SELECT VALUE lastTransition FROM ONLY $run) ?? 0;', { run });
      if (stored >= version) return this.getSnapshot(runId);
      if (Date.now() >= deadline) return undefined;
      await this.versions.next(runId, Math.min(pause, deadline - Date.now()));
    }
  }

  /**
   * The compiled nodes of specs, in position order. Node specs never change once stored, so they
   * are kept after the first read (a bounded cache); one statement per spec not yet read.
   */
  private async nodeSpecsOf(specIds: readonly string[]): Promise<Map<string, NodeSpecRow[]>> {
    const missing = specIds.filter((id) => !this.nodeSpecs.has(id));
    if (missing.length > 0) {
      const results = await runQuery<Record<string, unknown>[][]>(
        this.db,
        missing.map((_, index) => `SELECT * FROM plan_node_spec WHERE planSpecId = $spec${index} ORDER BY position;`).join('\n'),
        Object.fromEntries(missing.map((id, index) => [`spec${index}`, id])),
      );
      missing.forEach((id, index) => {
        const rows = (results[index] ?? []).map((row) => fromDb<NodeSpecRow>(row));
        if (rows.length === 0) return; // not stored (yet): read again next time
        if (this.nodeSpecs.size >= NODE_SPEC_CACHE) this.nodeSpecs.delete(this.nodeSpecs.keys().next().value!);
        this.nodeSpecs.set(id, rows);
      });
    }
    return new Map(specIds.map((id) => [id, this.nodeSpecs.get(id) ?? []]));
  }

  /** The snapshots of runs as stored now, in the order asked; runs not stored are left out. */
  async snapshotsOf(runIds: string[], include: IncludeOptions): Promise<PlanSnapshot[]> {
    return (await this.readRuns(runIds, include)).map((read) => read.snapshot);
  }

  /**
   * Reads runs with everything their snapshots show in one read transaction: the run rows, node
   * runs, events, checkpoints and artifacts are one instant's. (Separate statements are separate
   * transactions: a flush landing between them made a snapshot that never existed — an old
   * version with newer nodes.) What a run has many of is keyed [runId, …], so each kind is one
   * statement that scans each run's id range (an IN list of many run ids is not indexed, and a
   * statement per run cost a statement's overhead per run: 3.5× slower for 200 runs).
   */
  private async readRuns(runIds: string[], include: IncludeOptions): Promise<RunRead[]> {
    if (runIds.length === 0) return [];
    // (A bare expression, not RETURN: in a transaction RETURN ends it early.)
    const ranged = (table: string) => `array::flatten(array::map($runIds, |$run| (SELECT * FROM ${table}:[$run, NONE]..[$run, ..])));`;
    const wanted = [
      ...(include.includeEvents || include.includeApprovals ? [['events', ranged('plan_event')] as const] : []),
      ...(include.includeCheckpoints ? [['checkpoints', ranged('plan_checkpoint')] as const] : []),
      ...(include.includeArtifacts ? [['artifacts', ranged('plan_artifact')] as const] : []),
    ];
    const results = await runQuery<Record<string, unknown>[][]>(
      this.db,
      ['BEGIN;', 'SELECT * FROM $runs;', ranged('plan_node_run'), ...wanted.map(([, statement]) => statement), 'COMMIT;'].join('\n'),
      { runs: runIds.map((runId) => new RecordId('plan_run', runId)), runIds },
    );
    // BEGIN and COMMIT answer too: the statements' results sit between them.
    const [rows, nodeRuns] = results.slice(1);
    const { events, checkpoints, artifacts } = Object.fromEntries(wanted.map(([name], position) => [name, results[3 + position]]));
    const group = <T>(rows: Record<string, unknown>[] | undefined, key: string) => {
      const map = new Map<string, T[]>();
      for (const row of rows ?? []) {
        const id = String(row[key]);
        if (!map.has(id)) map.set(id, []);
        map.get(id)!.push(fromDb<T>(row));
      }
      return map;
    };
    const runs = new Map((rows ?? []).map((row) => [String(row.runId), fromDb<RunRow>(row)]));
    // Specs never change once stored: read (and cached) outside the transaction.
    const specIds = [...new Set([...runs.values()].map((run) => run.planSpecId))];
    const nodeSpecsBySpec = await this.nodeSpecsOf(specIds);
    const [specs] = include.includeValidationIssues
      ? await runQuery<[Record<string, unknown>[]]>(this.db, 'SELECT * FROM $specs;', {
          specs: specIds.map((id) => new RecordId('plan_spec', id)),
        })
      : [[]];
    const nodeRunsByRun = group<StoredNodeRun>(nodeRuns, 'runId');
    const eventsByRun = group<PlanEventRecord & { runId?: string }>(events, 'runId');
    const checkpointsByRun = group<CheckpointRecord & { runId?: string }>(checkpoints, 'runId');
    const artifactsByRun = group<ArtifactRecord & { runId?: string }>(artifacts, 'runId');
    const warningsBySpec = group<{ warnings: ValidationIssue[] }>(specs, 'planSpecId');

    return runIds.flatMap((runId) => {
      const run = runs.get(runId);
      if (!run) return [];
      const runNodes = nodeRunsByRun.get(runId) ?? [];
      const snapshot = snapshotFrom(run, nodesOf({ nodes: nodeSpecsBySpec.get(run.planSpecId) ?? [] }, runNodes), run.lastTransition ?? 0);
      const runEvents = (eventsByRun.get(runId) ?? []).map(({ runId: _runId, ...event }) => event);
      if (include.includeEvents) snapshot.events = runEvents;
      if (include.includeApprovals) snapshot.approvals = approvalsOf(runEvents);
      if (include.includeCheckpoints) {
        snapshot.checkpoints = (checkpointsByRun.get(runId) ?? []).map(({ runId: _runId, ...checkpoint }) => checkpoint);
      }
      if (include.includeArtifacts)
        snapshot.artifacts = (artifactsByRun.get(runId) ?? []).map(({ runId: _runId, ...artifact }) => artifact);
      if (include.includeValidationIssues) {
        snapshot.validationIssues = warningsBySpec.get(run.planSpecId)?.[0]?.warnings ?? [];
      }
      return [{ row: run, nodeRuns: runNodes, snapshot }];
    });
  }
}

/** A node run as stored: its state, with the run it belongs to and when it last changed. */
type StoredNodeRun = NodeState & { runId: string; updatedAt: string };

/** One run as read at one instant: its row, its node runs as stored, and the snapshot they make. */
interface RunRead {
  row: RunRow;
  nodeRuns: StoredNodeRun[];
  snapshot: PlanSnapshot;
}
