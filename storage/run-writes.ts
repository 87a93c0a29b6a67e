import { RecordId, type Surreal } from 'surrealdb';

import type { CompiledPlan } from '../domain/plan.js';
import type { PlanEditRecord, PlanRevisionRecord } from '../domain/plan-edit.js';
import type { ArtifactRecord, PlanEventRecord, RunCreation, Transition } from '../domain/run-state.js';
import type { EffectiveCall } from '../domain/step-records.js';
import type { StandingGrant } from '../domain/standing.js';
import type { PersistTransitionsInput } from '../domain/run-record.js';
import { canonicalJson, GENESIS } from '../audit/chain.js';
import { auditBodyOf } from './audit-rows.js';
import { withDbPurpose } from '../tracing/spans.js';
import { runQuery } from './database.js';
import { listKeysOf, listOrderOf } from './run-keys.js';
import { artifactRow, fromDb, toDb } from './rows.js';
import type { StoredVersions } from './stored-versions.js';
import { Turns } from './turns.js';

// Each transition is guarded by its number: one already applied (a retried or late attempt) is
// skipped. Records are written whole (UPSERT … CONTENT), so a rewrite replaces what was there.
// The run is read once, before; the organization's feed counter is bumped once, last, by the
// number of events, so concurrent writers of one organization overlap on it as briefly as can be
// (a transaction that read it before another committed a bump fails and is retried), and the
// events take the numbers it reserved, in order, in one statement.
const PERSIST_TRANSITIONS = `
  LET $before = (SELECT status, lastTransition, createdAt FROM ONLY $run);
  LET $was = IF $rewrite = true { $stored } ELSE { $before.status };
  LET $fresh = $transitions[WHERE sequence > ($before.lastTransition ?? 0)];
  FOR $t IN $fresh {
    UPSERT $run MERGE $t.fields;
    INSERT INTO plan_node_run $t.nodeRuns ON DUPLICATE KEY UPDATE
      status = $input.status, attempt = $input.attempt, startedAt = $input.startedAt, completedAt = $input.completedAt,
      error = $input.error, artifactIds = $input.artifactIds, deadlineEvents = $input.deadlineEvents, updatedAt = $input.updatedAt,
      verdict = $input.verdict, approvals = $input.approvals;
  };
  FOR $checkpoint IN array::flatten($fresh.checkpoints) { UPSERT $checkpoint.id CONTENT $checkpoint };
  FOR $artifact IN array::flatten($fresh.artifacts) { UPSERT $artifact.id CONTENT $artifact };
  FOR $edit IN array::flatten($fresh.edits) {
    INSERT IGNORE INTO plan_revision $edit.revisions RETURN NONE;
    INSERT IGNORE INTO plan_spec [$edit.spec] RETURN NONE;
    INSERT IGNORE INTO plan_node_spec $edit.nodeSpecs RETURN NONE;
    DELETE plan_node_run WHERE runId = $runId AND nodeId NOTINSIDE $edit.nodeIds;
  };
  LET $grants = array::flatten($fresh.standing);
  IF array::len($grants) > 0 { INSERT IGNORE INTO plan_standing $grants RETURN NONE };
  LET $unapproved = $fresh[WHERE endedUnapproved != NONE];
  IF array::len($unapproved) > 0 {
    UPDATE plan_standing SET revokedAt = $unapproved[0].endedUnapproved, revokedBy = 'system' WHERE sourceRunId = $runId AND revokedAt IS NONE RETURN NONE;
  };`;
// A run is listed by its status under a key that names the status: once a flush has moved the
// run on, its key moves with it (one delete, one write: never a record deleted and written again
// in the same transaction, which SurrealDB 3.0 refuses). $was is the status before the flush.
const MOVE_STATUS_KEY = `
  LET $after = (SELECT status, listOrder FROM ONLY $run);
  IF $was != $after.status AND $after.listOrder != NONE {
    IF $was != NONE { DELETE type::record('plan_run_key', [$organizationId, 'status', $was, $after.listOrder, $runId]) };
    UPSERT type::record('plan_run_key', [$organizationId, 'status', $after.status, $after.listOrder, $runId]) CONTENT { run: $run };
  };`;
// Every new event joins its organization's audit chain in the same transaction (audit/chain.ts has
// the formulas): its position is the feed counter's next number (the counter is read and written in this transaction, so writers that overlap conflict and one is retried), its hash the hash of the previous
// position's hash and its digest — `$event.audit` is its body's canonical JSON, made by
// `auditBodyOf` from the very row written. An event already stored (a rewrite by `plans doctor
// --repair`) gets its committed content back where it stands in the chain: a position once given
// is never given again. (The chain is made outside the IF: in SurrealDB 3.0 a block that writes the counter and then folds fails.)
const APPEND_EVENTS = `
  LET $events = array::flatten($fresh.events);
  FOR $event IN $events[WHERE sequence INSIDE $storedSequences] {
    LET $at = (SELECT feedSeq, hash FROM ONLY $event.id);
    UPSERT $event.id CONTENT object::extend(object::remove($event, 'audit'), { feedSeq: $at.feedSeq, hash: $at.hash }) RETURN NONE;
  };
  LET $new = $events[WHERE sequence NOTINSIDE $storedSequences];
  LET $feedBefore = (SELECT seq, head, chainedFrom FROM ONLY $feed);
  LET $first = ($feedBefore.seq ?? 0) + 1;
  LET $chain = array::fold($new, { hash: $feedBefore.head ?? $genesis, position: $first - 1, rows: [] }, |$acc, $event| {
    LET $position = $acc.position + 1;
    LET $hash = crypto::sha256($acc.hash + crypto::sha256(<string> $position + "\\n" + $event.audit));
    RETURN { hash: $hash, position: $position, rows: array::append($acc.rows, object::extend(object::remove($event, 'audit'), { feedSeq: $position, hash: $hash })) };
  });
  IF array::len($new) > 0 {
    UPSERT $feed SET seq = $chain.position, head = $chain.hash, chainedFrom = $feedBefore.chainedFrom ?? $first RETURN NONE;
    INSERT INTO plan_event $chain.rows RETURN NONE;
  };`;
const CREATE_SPEC = `
  INSERT IGNORE INTO plan_spec $spec;
  INSERT IGNORE INTO plan_node_spec $nodeSpecs;
  INSERT IGNORE INTO plan_run_key $listKeys;`;
const WRITE_TRANSITIONS = PERSIST_TRANSITIONS + MOVE_STATUS_KEY + APPEND_EVENTS;

const MOVED_ON = 'run-moved-on';

/** Told of a committed write of an organization's new events (a retried write adds none). */
export type EventsWritten = (organizationId: string, events: number) => void;
/** What a write of transitions did: the events to deliver, and what it applied (the rest were stored already). */
export interface StoredTransitions {
  /** The sequence numbers of the events some webhook subscription wants. */
  notify: number[];
  /** The transitions this write applied: a retried, late or re-sent write applies none (the metrics count these). */
  applied: Transition[];
  /** When the run was created, as stored. */
  createdAt?: string;
}

/** A repair found the run already past the transitions it was given. */
export class RunMovedOnError extends Error {
  constructor(readonly runId: string) {
    super(`Run ${runId} moved on while its record was being repaired; examine it again.`);
    this.name = 'RunMovedOnError';
  }
}

/** The standing approval an event grants (`detail.standing` of a `plan-approval-recorded`), as a row. */
function standingRows(runId: string, organizationId: string, event: PlanEventRecord): Array<Record<string, unknown>> {
  const grant = event.eventType === 'plan-approval-recorded' ? (event.detail.standing as StandingGrant | undefined) : undefined;
  if (!grant) return [];
  return [
    toDb({
      id: new RecordId('plan_standing', grant.standingId),
      standingId: grant.standingId,
      organizationId,
      requester: grant.requester,
      revision: grant.revision,
      planHash: grant.planHash,
      approvedBy: event.emittedBy,
      sourceRunId: runId,
      createdAt: event.createdAt,
      until: grant.until,
    }),
  ];
}

/** When a run ended while pending approval (rejected, changes requested, expired, aborted, replaced), as a datetime; else none. */
function endedUnapproved(events: readonly PlanEventRecord[]): Date | undefined {
  const ended = events.find((event) => event.fromStatus === 'pending-approval' && event.toStatus === 'aborted');
  return ended ? new Date(ended.createdAt) : undefined;
}

/** A plan's spec row and its steps' rows (the run's creation writes them; an edit rewrites them). */
function specRows(planSpecId: string, organizationId: string, plan: CompiledPlan, createdAt?: string) {
  return {
    spec: toDb({
      id: new RecordId('plan_spec', planSpecId),
      planSpecId,
      organizationId,
      title: plan.title,
      objective: plan.objective,
      schedule: plan.schedule ?? null,
      parallelism: plan.parallelism,
      // The rest of what the plan's revision is made of: a plan read back is the plan that ran.
      approval: plan.approval ?? null,
      tags: plan.tags ?? null,
      parameters: plan.parameters ?? null,
      warnings: plan.warnings,
      nodeCount: plan.nodes.length,
      ...(createdAt ? { createdAt } : {}),
    }),
    nodeSpecs: plan.nodes.map((node, position) => ({
      id: new RecordId('plan_node_spec', [planSpecId, node.nodeId]),
      planSpecId,
      position,
      ...node,
    })),
  };
}

/** What an edit writes: both revisions (the replaced one once), the edited plan's own spec and steps, and which steps remain. */
function editRows(runId: string, organizationId: string, edit: PlanEditRecord) {
  const revisionRow = (record: PlanRevisionRecord) => toDb({ id: new RecordId('plan_revision', [runId, record.number]), runId, ...record });
  const { spec, nodeSpecs } = specRows(edit.planSpecId, organizationId, edit.current.plan, edit.current.editedAt);
  return {
    revisions: [revisionRow(edit.replaced), revisionRow(edit.current)],
    spec,
    nodeSpecs,
    nodeIds: edit.current.plan.nodes.map((node) => node.nodeId),
  };
}

/** Each transition once: a committed record can hand one over twice (a node's activity carried it, a flush re-sent it), and one number always stands for the same content. */
function onceEach<T extends { sequence: number }>(transitions: readonly T[]): T[] {
  return transitions.filter((transition, index, all) => all.findIndex((other) => other.sequence === transition.sequence) === index);
}

/** The statements and bindings that apply a run's transitions (and create it, with its first one). */
function transitionWrite(input: PersistTransitionsInput): { text: string; bindings: Record<string, unknown> } {
  const { runId, organizationId, threadId, transitions, creation } = input;
  const bindings: Record<string, unknown> = {
    run: new RecordId('plan_run', runId),
    feed: new RecordId('plan_feed', organizationId),
    genesis: GENESIS,
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
        events: transition.events.map((event) => {
          // The body is hashed before the id is set: the id is [runId, sequence] by construction, which a read checks.
          const row = toDb({ runId, organizationId, threadId, ...event });
          return { ...row, id: new RecordId('plan_event', [runId, event.sequence]), audit: canonicalJson(auditBodyOf(row)) };
        }),
        checkpoints: transition.checkpoint
          ? [toDb({ id: new RecordId('plan_checkpoint', [runId, transition.checkpoint.sequence]), runId, ...transition.checkpoint })]
          : [],
        artifacts: (transition.artifacts ?? []).map((artifact) => artifactRow(runId, artifact)),
        // A standing approval is stored with the approval that grants it; once (a revoked one stays revoked).
        standing: transition.events.flatMap((event) => standingRows(runId, organizationId, event)),
        // An edit before approval: its revision (and the one it replaced) kept, the spec made the edited plan.
        edits: transition.edit ? [editRows(runId, organizationId, transition.edit)] : [],
        // A run that ends without being approved takes back the standing approvals given on it.
        endedUnapproved: endedUnapproved(transition.events),
      };
    }),
  };
  bindings.runId = runId;
  bindings.organizationId = organizationId;
  // Events already stored (a rewrite names them; a transition is otherwise never applied twice).
  bindings.storedSequences = [];
  if (!creation) return { text: WRITE_TRANSITIONS, bindings };
  const { plan, header } = creation;
  bindings.listKeys = listKeysOf(header).map((id) => ({ id, run: new RecordId('plan_run', runId) }));
  const rows = specRows(header.planSpecId, header.organizationId, plan, header.createdAt);
  bindings.spec = [rows.spec];
  bindings.nodeSpecs = rows.nodeSpecs;
  return { text: CREATE_SPEC + WRITE_TRANSITIONS, bindings };
}

/**
 * The writes of runs: their transitions (which create them, with the first), their rewrite by
 * `plans doctor --repair`, and agents' outputs. Every write of a run is one transaction keyed by
 * deterministic record ids and guarded by the transition number.
 */
export class RunWrites {
  /** Writes of one organization's events take turns (they share its feed counter). */
  private readonly feedTurns = new Turns();

  /** `versions` hears of every write, for the reads that wait for one; `written` of every write of events. */
  constructor(
    private readonly db: Surreal,
    private readonly versions: StoredVersions,
    private readonly written: EventsWritten,
  ) {}

  /**
   * Applies transitions in order, all-or-nothing; those already applied are no-ops. Answers
   * which of the persisted events some subscription of the organization wants delivered.
   */
  async persistTransitions(received: PersistTransitionsInput): Promise<StoredTransitions> {
    const input = { ...received, transitions: onceEach(received.transitions) };
    const { text, bindings } = transitionWrite(input);
    // After the commit, what the run was before it: which transitions this write applied, and since when the run exists.
    // (The span is this query's alone: the head signer it tells afterwards makes its own.)
    const { wanted, before } = await this.feedTurns
      .run(input.organizationId, () =>
        withDbPurpose('persistTransitions', () =>
          runQuery(
            this.db,
            `BEGIN;${text}\nCOMMIT;\nRETURN { wanted: array::distinct(array::flatten((SELECT VALUE eventTypes FROM plan_subscription WHERE organizationId = $organizationId))), before: $before };`,
            { ...bindings, organizationId: input.organizationId },
          ),
        ),
      )
      .then((results) => results.at(-1) as { wanted?: string[]; before?: { lastTransition?: number; createdAt?: Date | string } | null });
    this.versions.stored(input.runId);
    const appliedAfter = before?.lastTransition ?? 0;
    const applied = input.transitions.filter((transition) => transition.sequence > appliedAfter);
    this.written(
      input.organizationId,
      applied.reduce((count, transition) => count + transition.events.length, 0),
    );
    const types = new Set(wanted ?? []);
    const createdAt = input.creation?.header.createdAt ?? (before ? fromDb<{ createdAt?: string }>(before).createdAt : undefined);
    return {
      notify: input.transitions.flatMap((transition) =>
        transition.events.filter((event) => types.has(event.eventType)).map((event) => event.sequence),
      ),
      applied,
      ...(createdAt ? { createdAt } : {}),
    };
  }

  /**
   * Replaces a run's records with the ones its committed transitions make (`plans doctor
   * --repair`), in one transaction through the same write as `persistTransitions`: the run
   * starts again from its header, records past the committed ones go, the rest are written
   * whole. Agents' outputs stay. Refused with `RunMovedOnError` when the stored run is already
   * past the last of `transitions`: the run moved on since its record was read.
   */
  async rewriteRun(received: PersistTransitionsInput & { creation: RunCreation }): Promise<void> {
    const input = { ...received, transitions: onceEach(received.transitions) };
    const { text, bindings } = transitionWrite(input);
    const { transitions, creation } = input;
    const [first] = transitions;
    if (first?.sequence !== 1) throw new Error(`A rewrite of run ${input.runId} must start at its first transition.`);
    const last = (numbers: number[]) => Math.max(0, ...numbers);
    // The events it keeps where they stand in the chain, read first (record::exists inside this transaction let a stored one through as new: AlreadyExists at commit).
    const [storedSequences] = await runQuery<[number[]]>(this.db, 'SELECT VALUE sequence FROM plan_event WHERE runId = $runId;', {
      runId: input.runId,
    });
    try {
      // (SurrealDB 3.0 fails a transaction that deletes a record and writes it again, so what is
      // rewritten is overwritten, never deleted first.)
      await this.feedTurns.run(input.organizationId, () =>
        runQuery(
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
            storedSequences,
            movedOn: MOVED_ON,
            lastTransition: last(transitions.map((transition) => transition.sequence)),
            lastEvent: last(transitions.flatMap((transition) => transition.events.map((event) => event.sequence))),
            lastCheckpoint: last(transitions.flatMap((transition) => (transition.checkpoint ? [transition.checkpoint.sequence] : []))),
            // The steps of the plan as last edited (the edit's own statement deletes those it removed).
            nodeIds: (transitions.findLast((transition) => transition.edit)?.edit!.current.plan ?? creation.plan).nodes.map(
              (node) => node.nodeId,
            ),
            // The run as its first transition makes it, numbered 0 so that every transition applies again.
            base: toDb({ ...creation.header, ...first.run, lastTransition: 0 }),
          },
        ),
      );
      // Events it put back at the end of the chain are signed as any write's.
      this.written(
        input.organizationId,
        transitions.reduce((count, transition) => count + transition.events.length, 0),
      );
    } catch (error) {
      if (error instanceof Error && error.message.includes(MOVED_ON)) throw new RunMovedOnError(input.runId);
      throw error;
    }
  }

  /** Stores what a node attempt's executor was called with, once per attempt (step-records.ts). */
  async putEffectiveCall(runId: string, nodeId: string, call: EffectiveCall): Promise<void> {
    await runQuery(this.db, 'INSERT IGNORE INTO plan_node_input $rows;', {
      rows: [{ id: new RecordId('plan_node_input', [runId, nodeId, call.attempt]), runId, nodeId, ...call }],
    });
  }

  /** Stores a node attempt's output once (a retried attempt keeps the first). */
  async putArtifact(runId: string, artifact: ArtifactRecord): Promise<void> {
    await runQuery(this.db, 'INSERT IGNORE INTO plan_artifact $rows;', { rows: [artifactRow(runId, artifact)] });
  }
}
