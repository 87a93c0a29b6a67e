import type { Surreal } from 'surrealdb';

import type { PlanRevisionRecord } from '../domain/plan-edit.js';
import type { EffectiveCall } from '../domain/step-records.js';
import type { CompiledPlan } from '../domain/plan.js';
import type { PersistTransitionsInput, StoredRecord } from '../domain/run-record.js';
import type { ArtifactRecord, RunCreation } from '../domain/run-state.js';
import type { IncludeOptions, PlanSnapshot } from '../domain/snapshot.js';
import { type ListPosition, type RunFilter, RunLists } from './run-lists.js';
import { RunReads } from './run-reads.js';
import { type EventsWritten, RunWrites, type StoredTransitions } from './run-writes.js';
import { StoredVersions } from './stored-versions.js';

export type { ListPosition, RunFilter } from './run-lists.js';
export { RunMovedOnError } from './run-writes.js';

/**
 * Runs and what they are made of: specs, runs, node runs, events, checkpoints, artifacts. Every
 * write of a run is one transaction keyed by deterministic record ids and guarded by the
 * transition number; writes come only from committed history, so a number always stands for
 * the same content and a retried or late write neither duplicates nor rolls back.
 *
 * One face (`store.runs`) on three parts: the writes (`run-writes.ts`), the snapshot reads
 * (`run-reads.ts`) and the keyed lists (`run-lists.ts`); each method is documented where it is
 * written.
 */
export class RunStore {
  private readonly writes: RunWrites;
  private readonly reads: RunReads;
  private readonly lists: RunLists;

  /** `written` hears of every committed write of events (the audit chain's signer). */
  constructor(db: Surreal, written: EventsWritten = () => {}) {
    // Reads that wait for a version hear of the writes that store it.
    const versions = new StoredVersions();
    this.writes = new RunWrites(db, versions, written);
    this.reads = new RunReads(db, versions);
    this.lists = new RunLists(db, this.reads);
  }

  /** {@link RunWrites.persistTransitions} */
  persistTransitions(input: PersistTransitionsInput): Promise<StoredTransitions> {
    return this.writes.persistTransitions(input);
  }

  /** {@link RunWrites.rewriteRun} */
  rewriteRun(input: PersistTransitionsInput & { creation: RunCreation }): Promise<void> {
    return this.writes.rewriteRun(input);
  }

  /** {@link RunWrites.putArtifact} */
  putArtifact(runId: string, artifact: ArtifactRecord): Promise<void> {
    return this.writes.putArtifact(runId, artifact);
  }

  /** {@link RunReads.getStoredRecord} */
  getStoredRecord(runId: string): Promise<StoredRecord | undefined> {
    return this.reads.getStoredRecord(runId);
  }

  /** {@link RunReads.getArtifacts} */
  getArtifacts(artifactIds: readonly string[]): Promise<ArtifactRecord[]> {
    return this.reads.getArtifacts(artifactIds);
  }

  /** {@link RunWrites.putEffectiveCall} */
  putEffectiveCall(runId: string, nodeId: string, call: EffectiveCall): Promise<void> {
    return this.writes.putEffectiveCall(runId, nodeId, call);
  }

  /** {@link RunReads.getEffectiveCalls} */
  getEffectiveCalls(runId: string, nodeId: string): Promise<EffectiveCall[]> {
    return this.reads.getEffectiveCalls(runId, nodeId);
  }

  /** {@link RunReads.activeRunsApprovedBy} */
  activeRunsApprovedBy(organizationId: string, principalIds: readonly string[]): Promise<string[]> {
    return this.reads.activeRunsApprovedBy(organizationId, principalIds);
  }

  /** {@link RunReads.getRevisions} */
  getRevisions(runId: string): Promise<PlanRevisionRecord[]> {
    return this.reads.getRevisions(runId);
  }

  /** {@link RunReads.getPlan} */
  getPlan(planSpecId: string): Promise<CompiledPlan | undefined> {
    return this.reads.getPlan(planSpecId);
  }

  /** {@link RunReads.getSnapshot} */
  getSnapshot(runId: string, include: IncludeOptions = {}): Promise<PlanSnapshot | undefined> {
    return this.reads.getSnapshot(runId, include);
  }

  /** {@link RunReads.waitForVersion} */
  waitForVersion(runId: string, version: number, timeoutMs?: number): Promise<PlanSnapshot | undefined> {
    return this.reads.waitForVersion(runId, version, timeoutMs);
  }

  /** {@link RunLists.listRunIds} */
  listRunIds(organizationId: string, limit: number): Promise<string[]> {
    return this.lists.listRunIds(organizationId, limit);
  }

  /** {@link RunLists.listSnapshots} */
  listSnapshots(filter: RunFilter, include: IncludeOptions = {}): Promise<PlanSnapshot[]> {
    return this.lists.listSnapshots(filter, include);
  }

  /** {@link RunLists.listPage} */
  listPage(filter: RunFilter, include: IncludeOptions = {}): Promise<{ runs: PlanSnapshot[]; next: ListPosition | null }> {
    return this.lists.listPage(filter, include);
  }
}
