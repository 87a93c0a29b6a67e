import { RecordId, type Surreal } from 'surrealdb';

import type { PlanSchedule } from '../domain/draft.js';
import type { ValidationIssue } from '../domain/errors.js';
import type { CompiledNode, CompiledPlan } from '../domain/plan.js';
import type { StoredRecord } from '../domain/run-record.js';
import type {
  ArtifactRecord,
  CheckpointRecord,
  NodeState,
  PlanEventRecord,
  RunCreation,
  RunFields,
  RunHeader,
} from '../domain/run-state.js';
import { type IncludeOptions, type PlanSnapshot, approvalsOf, nodesOf, snapshotFrom } from '../domain/snapshot.js';
import type { RunStatus } from '../domain/status.js';
import type { PersistTransitionsInput } from '../domain/run-record.js';
import { runQuery } from './database.js';
import { type ListKind, listKeysOf, listOrderOf } from './run-keys.js';
import { artifactRow, fromDb, toDb } from './rows.js';
import { StoredVersions } from './stored-versions.js';
import { Turns } from './turns.js';


export interface RunFilter {
  organizationId?: string;
  threadId?: string;
  sourceThreadId?: string;
  createdByAgentId?: string;
  statuses?: readonly RunStatus[];
  limit?: number;
  /** Only runs listed after this position (the last of a previous page). */
  after?: ListPosition;
}

/** Where a run sits in every list of its organization: its list order, then its id. */
export type ListPosition = [order: number, runId: string];

// Each transition is guarded by its number: one already applied (a retried or late attempt) is
// skipped. Records are written whole (UPSERT … CONTENT), so a rewrite replaces what was there.
// The run is read once, before; the organization's feed counter is bumped once, last, by the
// number of events, so concurrent writers of one organization overlap on it as briefly as can be
// (a transaction that read it before another committed a bump fails and is retried), and the
// events take the numbers it reserved, in order, in one statement.
const PERSIST_TRANSITIONS = `
  LET $before = (SELECT status, lastTransition FROM ONLY $run);
  LET $was = IF $rewrite = true { $stored } ELSE { $before.status };
  LET $fresh = $transitions[WHERE sequence > ($before.lastTransition ?? 0)];
  FOR $t IN $fresh {
    UPSERT $run MERGE $t.fields;
    INSERT INTO plan_node_run $t.nodeRuns ON DUPLICATE KEY UPDATE
      status = $input.status, attempt = $input.attempt, startedAt = $input.startedAt, completedAt = $input.completedAt,
      error = $input.error, artifactIds = $input.artifactIds, deadlineEvents = $input.deadlineEvents, updatedAt = $input.updatedAt;
  };
  FOR $checkpoint IN array::flatten($fresh.checkpoints) { UPSERT $checkpoint.id CONTENT $checkpoint };
  FOR $artifact IN array::flatten($fresh.artifacts) { UPSERT $artifact.id CONTENT $artifact };`;
// A run is listed by its status under a key that names the status: once a flush has moved the
// run on, its key moves with it (one delete, one write: never a record deleted and written again
// in the same transaction, which SurrealDB 3.0 refuses). $was is the status before the flush.
const MOVE_STATUS_KEY = `
  LET $after = (SELECT status, listOrder FROM ONLY $run);
  IF $was != $after.status AND $after.listOrder != NONE {
    IF $was != NONE { DELETE type::record('plan_run_key', [$organizationId, 'status', $was, $after.listOrder, $runId]) };
    UPSERT type::record('plan_run_key', [$organizationId, 'status', $after.status, $after.listOrder, $runId]) CONTENT { run: $run };
  };`;
const APPEND_EVENTS = `
  LET $events = array::flatten($fresh.events);
  IF array::len($events) > 0 {
    LET $top = (UPSERT ONLY $feed SET seq += array::len($events) RETURN VALUE seq);
    INSERT INTO plan_event array::map($events, |$event, $index| object::extend($event, { feedSeq: $top - array::len($events) + $index + 1 }))
      ON DUPLICATE KEY UPDATE eventType = $input.eventType, message = $input.message, fromStatus = $input.fromStatus, toStatus = $input.toStatus,
        emittedBy = $input.emittedBy, nodeId = $input.nodeId, detail = $input.detail, createdAt = $input.createdAt, feedSeq = $input.feedSeq
      RETURN NONE;
  };`;
const CREATE_SPEC = `
  INSERT IGNORE INTO plan_spec $spec;
  INSERT IGNORE INTO plan_node_spec $nodeSpecs;
  INSERT IGNORE INTO plan_run_key $listKeys;`;
const WRITE_TRANSITIONS = PERSIST_TRANSITIONS + MOVE_STATUS_KEY + APPEND_EVENTS;

type RunRow = RunHeader & RunFields & { lastTransition: number };
type NodeSpecRow = CompiledNode & { planSpecId: string; position: number };
type SpecRow = { planSpecId: string; organizationId: string; title: string; objective: string; schedule?: PlanSchedule; parallelism: number; warnings: ValidationIssue[]; createdAt: string };

const MOVED_ON = 'run-moved-on';
/** How many specs' nodes a store keeps in memory (oldest read first out). */
const NODE_SPEC_CACHE = 5000;

/** A repair found the run already past the transitions it was given. */
export class RunMovedOnError extends Error {
  constructor(readonly runId: string) {
    super(`Run ${runId} moved on while its record was being repaired; examine it again.`);
    this.name = 'RunMovedOnError';
  }
}

/** The statements and bindings that apply a run's transitions (and create it, with its first one). */
function transitionWrite(input: PersistTransitionsInput): { text: string; bindings: Record<string, unknown> } {
  const { runId, organizationId, threadId, transitions, creation } = input;
  const bindings: Record<string, unknown> = {
    run: new RecordId('plan_run', runId),
    feed: new RecordId('plan_feed', organizationId),
    transitions: transitions.map((transition, index) => {
      const now = transition.run.updatedAt ?? new Date().toISOString();
      const header = index === 0 && creation ? { ...creation.header, listOrder: listOrderOf(creation.header.createdAt) } : {};
      return {
        sequence: transition.sequence,
        fields: toDb({ ...header, ...transition.run, lastTransition: transition.sequence }),
        nodeRuns: transition.nodes.map((node) =>
          toDb({
            startedAt: null,
            completedAt: null,
            error: null,
            ...node,
            id: new RecordId('plan_node_run', [runId, node.nodeId]),
            runId,
            updatedAt: now,
          }),
        ),
        events: transition.events.map((event) =>
          toDb({ id: new RecordId('plan_event', [runId, event.sequence]), runId, organizationId, threadId, ...event }),
        ),
        checkpoints: transition.checkpoint
          ? [toDb({ id: new RecordId('plan_checkpoint', [runId, transition.checkpoint.sequence]), runId, ...transition.checkpoint })]
          : [],
        artifacts: (transition.artifacts ?? []).map((artifact) => artifactRow(runId, artifact)),
      };
    }),
  };
  bindings.runId = runId;
  bindings.organizationId = organizationId;
  if (!creation) return { text: WRITE_TRANSITIONS, bindings };
  const { plan, header } = creation;
  bindings.listKeys = listKeysOf(header).map((id) => ({ id, run: new RecordId('plan_run', runId) }));
  const planSpecId = header.planSpecId;
  bindings.spec = [
    toDb({
      id: new RecordId('plan_spec', planSpecId),
      planSpecId,
      organizationId: header.organizationId,
      title: plan.title,
      objective: plan.objective,
      schedule: plan.schedule,
      parallelism: plan.parallelism,
      warnings: plan.warnings,
      nodeCount: plan.nodes.length,
      createdAt: header.createdAt,
    }),
  ];
  bindings.nodeSpecs = plan.nodes.map((node, position) => ({
    id: new RecordId('plan_node_spec', [planSpecId, node.nodeId]),
    planSpecId,
    position,
    ...node,
  }));
  return { text: CREATE_SPEC + WRITE_TRANSITIONS, bindings };
}

/**
 * Runs and what they are made of: specs, runs, node runs, events, checkpoints, artifacts. Every
 * write of a run is one transaction keyed by deterministic record ids and guarded by the
 * transition number; writes come only from committed history, so a number always stands for
 * the same content and a retried or late write neither duplicates nor rolls back.
 */
export class RunStore {
  private readonly nodeSpecs = new Map<string, NodeSpecRow[]>();
  private readonly versions = new StoredVersions();
  /** Writes of one organization's events take turns (they share its feed counter). */
  private readonly feedTurns = new Turns();

  constructor(private readonly db: Surreal) {}

  /**
   * Applies transitions in order, all-or-nothing; those already applied are no-ops. Answers
   * which of the persisted events some subscription of the organization wants delivered.
   */
  async persistTransitions(input: PersistTransitionsInput): Promise<{ notify: number[] }> {
    const { text, bindings } = transitionWrite(input);
    const [wanted] = await this.feedTurns
      .run(input.organizationId, () =>
        runQuery<[string[]]>(
          this.db,
          `BEGIN;${text}\nCOMMIT;\nRETURN array::distinct(array::flatten((SELECT VALUE eventTypes FROM plan_subscription WHERE organizationId = $organizationId)));`,
          { ...bindings, organizationId: input.organizationId },
        ),
      )
      .then((results) => [results.at(-1) as string[]]);
    this.versions.stored(input.runId);
    const types = new Set(wanted ?? []);
    return {
      notify: input.transitions.flatMap((transition) =>
        transition.events.filter((event) => types.has(event.eventType)).map((event) => event.sequence),
      ),
    };
  }

  /**
   * Replaces a run's records with the ones its committed transitions make (`plans doctor
   * --repair`), in one transaction through the same write as `persistTransitions`: the run
   * starts again from its header, records past the committed ones go, the rest are written
   * whole. Agents' outputs stay. Refused with `RunMovedOnError` when the stored run is already
   * past the last of `transitions`: the run moved on since its record was read.
   */
  async rewriteRun(input: PersistTransitionsInput & { creation: RunCreation }): Promise<void> {
    const { text, bindings } = transitionWrite(input);
    const { transitions, creation } = input;
    const [first] = transitions;
    if (first?.sequence !== 1) throw new Error(`A rewrite of run ${input.runId} must start at its first transition.`);
    const last = (numbers: number[]) => Math.max(0, ...numbers);
    try {
      // (SurrealDB 3.0 fails a transaction that deletes a record and writes it again, so what is
      // rewritten is overwritten, never deleted first.)
      await this.feedTurns.run(input.organizationId, () => runQuery(
        this.db,
        `BEGIN;
        IF ((SELECT VALUE lastTransition FROM ONLY $run) ?? 0) > $lastTransition { THROW $movedOn };
        LET $stored = (SELECT VALUE status FROM ONLY $run);
        DELETE plan_event WHERE runId = $runId AND sequence > $lastEvent;
        DELETE plan_checkpoint WHERE runId = $runId AND sequence > $lastCheckpoint;
        DELETE plan_node_run WHERE runId = $runId AND nodeId NOTINSIDE $nodeIds;
        UPSERT $run CONTENT $base;
        ${text}
        COMMIT;`,
        {
          ...bindings,
          // The status key to move is the one of the status stored before the rewrite.
          rewrite: true,
          movedOn: MOVED_ON,
          lastTransition: last(transitions.map((transition) => transition.sequence)),
          lastEvent: last(transitions.flatMap((transition) => transition.events.map((event) => event.sequence))),
          lastCheckpoint: last(transitions.flatMap((transition) => (transition.checkpoint ? [transition.checkpoint.sequence] : []))),
          nodeIds: creation.plan.nodes.map((node) => node.nodeId),
          // The run as its first transition makes it, numbered 0 so that every transition applies again.
          base: toDb({ ...creation.header, ...first.run, lastTransition: 0 }),
        },
      ));
    } catch (error) {
      if (error instanceof Error && error.message.includes(MOVED_ON)) throw new RunMovedOnError(input.runId);
      throw error;
    }
  }

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

  /** The ids of an organization's runs, newest first, at most `limit`. */
  async listRunIds(organizationId: string, limit: number): Promise<string[]> {
    const [rows] = await runQuery<[Array<{ runId: string }>]>(
      this.db,
      'SELECT runId, createdAt FROM plan_run WHERE organizationId = $organizationId ORDER BY createdAt DESC LIMIT $limit;',
      { organizationId, limit },
    );
    return rows.map((row) => row.runId);
  }

  /** Stores a node attempt's output once (a retried attempt keeps the first). */
  async putArtifact(runId: string, artifact: ArtifactRecord): Promise<void> {
    await runQuery(this.db, 'INSERT IGNORE INTO plan_artifact $rows;', { rows: [artifactRow(runId, artifact)] });
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
      warnings: row.warnings ?? [],
    };
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
   * Runs matching every given filter, newest first, as snapshots. With an organization (every
   * caller but internal ones), read through the list keys: a range scan of the most selective
   * list, so the cost follows `limit`, not the table; other filters are checked on the runs read.
   */
  async listSnapshots(filter: RunFilter, include: IncludeOptions = {}): Promise<PlanSnapshot[]> {
    return (await this.listPage(filter, include)).runs;
  }

  /** A page of `listSnapshots`, and whether a next page may hold more (then `next` is where it starts). */
  async listPage(filter: RunFilter, include: IncludeOptions = {}): Promise<{ runs: PlanSnapshot[]; next: ListPosition | null }> {
    const limit = filter.limit ?? 200;
    if (filter.organizationId === undefined) return { runs: await this.snapshotsOf((await this.scanRuns(filter, limit)).map((run) => run.runId), include), next: null };
    const lists: Array<[ListKind, string]> = filter.threadId
      ? [['thread', filter.threadId]]
      : filter.sourceThreadId
        ? [['source', filter.sourceThreadId]]
        : filter.createdByAgentId
          ? [['creator', filter.createdByAgentId]]
          : filter.statuses
            ? filter.statuses.map((status) => ['status', status] as [ListKind, string])
            : [['all', '']];
    const matches = (run: RunRow) =>
      (filter.threadId === undefined || run.threadId === filter.threadId) &&
      (filter.sourceThreadId === undefined || run.sourceThreadId === filter.sourceThreadId) &&
      (filter.createdByAgentId === undefined || run.createdByAgentId === filter.createdByAgentId) &&
      (filter.statuses === undefined || filter.statuses.includes(run.status));
    // Read a page of keys from each list, merge them newest first, keep the runs that match;
    // read further pages only while the lists have more and the page did not fill.
    // A page of keys is a page of matches when the lists read are the only filter: then the
    // runs themselves are read only once, with their snapshots.
    const filters = [filter.threadId, filter.sourceThreadId, filter.createdByAgentId, filter.statuses].filter((value) => value !== undefined).length;
    const keysDecide = filters <= 1;
    const pageSize = keysDecide ? limit : limit * 2;
    // Every list sorts by the same position, so a page that ended at a run starts each list after it.
    const cursors = lists.map(([kind, value]) => ({ kind, value, after: filter.after, done: false }));
    const found: ListPosition[] = [];
    while (found.length < limit && cursors.some((cursor) => !cursor.done)) {
      const open = cursors.filter((cursor) => !cursor.done);
      // Per list, in one round trip: a page of its keys (range scan, newest first), and their runs when they must be matched.
      const results = await runQuery<unknown[]>(
        this.db,
        open
          .map((cursor, index) => {
            const from = cursor.after ? `[$organizationId, $kind${index}, $value${index}, $order${index}, $run${index}]>` : `[$organizationId, $kind${index}, $value${index}, NONE]`;
            return `LET $keys${index} = (SELECT id, run FROM plan_run_key:${from}..[$organizationId, $kind${index}, $value${index}, ..] LIMIT $pageSize);
              RETURN $keys${index}.id;
              ${keysDecide ? 'RETURN [];' : `SELECT * FROM $keys${index}.run;`}`;
          })
          .join('\n'),
        Object.assign(
          { organizationId: filter.organizationId, pageSize },
          ...open.map((cursor, index) => ({
            [`kind${index}`]: cursor.kind,
            [`value${index}`]: cursor.value,
            ...(cursor.after ? { [`order${index}`]: cursor.after[0], [`run${index}`]: cursor.after[1] } : {}),
          })),
        ),
      );
      const keys: ListPosition[] = [];
      const byId = new Map<string, RunRow>();
      open.forEach((cursor, index) => {
        const ids = ((results[index * 3 + 1] ?? []) as RecordId[]).map((id) => id.id as [string, string, string, number, string]);
        for (const row of (results[index * 3 + 2] ?? []) as Record<string, unknown>[]) {
          const run = fromDb<RunRow>(row);
          byId.set(run.runId, run);
        }
        if (ids.length < pageSize) cursor.done = true;
        const last = ids.at(-1);
        if (last) cursor.after = [last[3], last[4]];
        for (const id of ids) keys.push([id[3], id[4]]);
      });
      for (const key of keys) {
        const run = byId.get(key[1]);
        if ((keysDecide || (run && matches(run))) && !found.some((kept) => kept[1] === key[1])) found.push(key);
      }
      // Newest first, by position: keys from several lists interleave, and a later page may hold runs newer than this one's tail.
      found.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    }
    const page = found.slice(0, limit);
    const more = found.length > limit || (page.length === limit && cursors.some((cursor) => !cursor.done));
    // The snapshots are read afresh, all at one instant: a run that changed status since its key
    // was read is left out rather than shown in a list it no longer belongs to.
    const runs = (await this.snapshotsOf(page.map((position) => position[1]), include)).filter(
      (run) => filter.statuses === undefined || filter.statuses.includes(run.status),
    );
    return { runs, next: more ? page.at(-1)! : null };
  }

  /** The unkeyed way, for filters that name no organization (internal callers only). */
  private async scanRuns(filter: RunFilter, limit: number): Promise<RunRow[]> {
    const conditions: string[] = [];
    const bindings: Record<string, unknown> = { limit };
    const add = (field: keyof RunFilter & string, clause: string) => {
      if (filter[field] === undefined) return;
      conditions.push(clause);
      bindings[field] = filter[field];
    };
    add('threadId', 'threadId = $threadId');
    add('sourceThreadId', 'sourceThreadId = $sourceThreadId');
    add('createdByAgentId', 'createdByAgentId = $createdByAgentId');
    add('statuses', 'status IN $statuses');
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const [rows] = await runQuery<[Record<string, unknown>[]]>(this.db, `SELECT * FROM plan_run${where} ORDER BY createdAt DESC LIMIT $limit;`, bindings);
    return rows.map((row) => fromDb<RunRow>(row));
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
  private async snapshotsOf(runIds: string[], include: IncludeOptions): Promise<PlanSnapshot[]> {
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
      ? await runQuery<[Record<string, unknown>[]]>(this.db, 'SELECT * FROM $specs;', { specs: specIds.map((id) => new RecordId('plan_spec', id)) })
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
      if (include.includeArtifacts) snapshot.artifacts = (artifactsByRun.get(runId) ?? []).map(({ runId: _runId, ...artifact }) => artifact);
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
