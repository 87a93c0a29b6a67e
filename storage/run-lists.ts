import { RecordId, type Surreal } from 'surrealdb';

import type { IncludeOptions, PlanSnapshot } from '../domain/snapshot.js';
import type { RunStatus } from '../domain/status.js';
import { runQuery } from './database.js';
import type { ListKind } from './run-keys.js';
import { fromDb } from './rows.js';
import type { RunReads, RunRow } from './run-reads.js';

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

/**
 * The lists of an organization's runs, newest first: read through their keys (`plan_run_key`,
 * see `run-keys.ts`), a page at a time; the runs listed are read as snapshots by `reads`.
 */
export class RunLists {
  constructor(
    private readonly db: Surreal,
    private readonly reads: RunReads,
  ) {}

  /** The ids of an organization's runs, newest first, at most `limit`. */
  async listRunIds(organizationId: string, limit: number): Promise<string[]> {
    const [rows] = await runQuery<[Array<{ runId: string }>]>(
      this.db,
      'SELECT runId, createdAt FROM plan_run WHERE organizationId = $organizationId ORDER BY createdAt DESC LIMIT $limit;',
      { organizationId, limit },
    );
    return rows.map((row) => row.runId);
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
    if (filter.organizationId === undefined)
      return {
        runs: await this.reads.snapshotsOf(
          (await this.scanRuns(filter, limit)).map((run) => run.runId),
          include,
        ),
        next: null,
      };
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
    const filters = [filter.threadId, filter.sourceThreadId, filter.createdByAgentId, filter.statuses].filter(
      (value) => value !== undefined,
    ).length;
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
            const from = cursor.after
              ? `[$organizationId, $kind${index}, $value${index}, $order${index}, $run${index}]>`
              : `[$organizationId, $kind${index}, $value${index}, NONE]`;
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
    const runs = (
      await this.reads.snapshotsOf(
        page.map((position) => position[1]),
        include,
      )
    ).filter((run) => filter.statuses === undefined || filter.statuses.includes(run.status));
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
    const [rows] = await runQuery<[Record<string, unknown>[]]>(
      this.db,
      `SELECT * FROM plan_run${where} ORDER BY createdAt DESC LIMIT $limit;`,
      bindings,
    );
    return rows.map((row) => fromDb<RunRow>(row));
  }
}
