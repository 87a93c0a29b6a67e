import { readFile } from 'node:fs/promises';

import { createNodeEngines } from '@surrealdb/node';
import { BoundQuery, RecordId, Surreal, createRemoteEngines, isRetryableConflict as isTransactionConflict } from 'surrealdb';
import { WebSocket as NodeWebSocket } from 'ws';

import { trace } from '@opentelemetry/api';

import { SpanKind, dbSpanName, inSpan, inTrace } from '../tracing/spans.js';
import { listKeysOf, listOrderOf, statusKeyOf } from './run-keys.js';

export interface DatabaseOptions {
  /** `mem://`, `rocksdb://<dir>` (embedded) or `ws://host:port` (a server, itself on RocksDB or TiKV). Not `surrealkv://`: see `openDatabase`. */
  url: string;
  namespace?: string;
  database?: string;
  /** Root credentials, for a server (ignored by the embedded engine). */
  username?: string;
  password?: string;
  /** How long to wait for the connection before failing (the embedded engine can hang). */
  connectTimeoutMs?: number;
}

const SCHEMA_FILE = new URL('../../storage/schema.surql', import.meta.url);

/**
 * Memory bounds for the embedded engine's RocksDB, each unless set in the environment. Left to
 * itself SurrealDB sizes its block cache at half the machine's memory less 1 GiB and its write
 * buffers at up to 1 GiB: room a process that also runs the worker and the API must not claim
 * as its data grows. The engine reads them once, when it starts.
 */
export const EMBEDDED_MEMORY_BOUNDS: Readonly<Record<string, string>> = {
  SURREAL_ROCKSDB_BLOCK_CACHE_SIZE: String(64 * 1024 * 1024),
  SURREAL_ROCKSDB_WRITE_BUFFER_SIZE: String(16 * 1024 * 1024),
  SURREAL_ROCKSDB_MAX_WRITE_BUFFER_NUMBER: '2',
};

function boundEmbeddedMemory(): void {
  for (const [name, value] of Object.entries(EMBEDDED_MEMORY_BOUNDS)) process.env[name] ||= value;
}

const RECONNECT = { enabled: true, attempts: -1, retryDelay: 100, retryDelayMax: 2000, retryDelayMultiplier: 2, retryDelayJitter: 0.1 };

const REMOTE_URL = /^(wss?|https?):\/\//;

/** Whether `url` names a SurrealDB server, reached over the network (not an engine in this process). */
export function isSurrealServerUrl(url: string): boolean {
  return REMOTE_URL.test(url);
}

/** A SurrealDB server that did not answer in time: it may be starting, or restarting. */
class SurrealUnreachable extends Error {}

/**
 * Whether an error from `openDatabase` can pass by itself, so a start tries again
 * (`app/start-retry.ts`): a write conflict with another process defining the same namespace,
 * database or schema at the same instant, or a server that does not answer yet. Not: wrong
 * credentials, a bad URL, an embedded engine whose files another process holds.
 */
export function isPassingOpenError(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current instanceof SurrealUnreachable || isRetryableConflict(current)) return true;
  }
  return false;
}

/**
 * Opens SurrealDB and applies the schema. Fails with a clear error rather than hanging when
 * the embedded engine cannot open its files (bad path, data dir locked by another process).
 */
export async function openDatabase(options: DatabaseOptions): Promise<Surreal> {
  // SurrealKV in SurrealDB 3.0.5 lets two concurrent updates of one record both commit; the feed
  // counter would hand out a position twice (docs/running-at-scale.md).
  if (/^surrealkv(\+versioned)?:/.test(options.url)) {
    throw new Error(
      `Cannot open SurrealDB at ${options.url}: SurrealKV loses concurrent updates in SurrealDB 3.0.5; use rocksdb://<dir> (or a SurrealDB server on RocksDB).`,
    );
  }
  boundEmbeddedMemory();
  // Node 20 has no global WebSocket; the SDK's remote engine (ws://, wss://) takes `ws`'s, which every supported Node runs.
  const db = new Surreal({
    engines: { ...createRemoteEngines(), ...createNodeEngines() },
    websocketImpl: NodeWebSocket as unknown as typeof WebSocket,
  });
  const timeoutMs = options.connectTimeoutMs ?? 15_000;
  const remote = isSurrealServerUrl(options.url);
  let unsubscribe = () => {};
  const failed = new Promise<never>((_, reject) => {
    unsubscribe = db.subscribe('error', (error) => reject(error));
    setTimeout(
      () =>
        reject(
          remote
            ? new SurrealUnreachable(
                `the SurrealDB server at ${options.url} did not answer within ${timeoutMs / 1000} s (is it running, and is that its address?)`,
              )
            : new Error(`SurrealDB at ${options.url} did not open within ${timeoutMs} ms (is the data dir locked by another process?)`),
        ),
      timeoutMs,
    ).unref();
  });
  failed.catch(() => {});
  try {
    const authentication = options.username && options.password ? { username: options.username, password: options.password } : undefined;
    await Promise.race([
      db.connect(options.url, {
        namespace: options.namespace ?? 'execution_plans',
        // A server that restarts is reconnected to for as long as it takes; writes meanwhile fail and are retried by their activities.
        reconnect: RECONNECT,
        database: options.database ?? 'main',
        ...(authentication ? { authentication } : {}),
      }),
      failed,
    ]);
    await Promise.race([applySchema(db), failed]);
  } catch (error) {
    unsubscribe();
    await db.close().catch(() => {});
    throw new Error(`Cannot open SurrealDB at ${options.url}: ${(error as Error).message}`, { cause: error });
  }
  unsubscribe();
  return db;
}

/** Applies `schema.surql`; idempotent, so it runs at every start. Then keys runs stored before lists were keyed. */
export async function applySchema(db: Surreal): Promise<void> {
  const schema = await readFile(SCHEMA_FILE, 'utf8');
  // Processes starting side by side (workers, API replicas) define the same schema at once:
  // all but one meet a write conflict, and find it defined when they try again.
  await runQuery(db, schema);
  await keyUnkeyedRuns(db);
}

const KEYED = new RecordId('plan_meta', 'run-list-keys');

/**
 * Runs stored before lists were keyed (`storage/run-keys.ts`) get their keys, in batches, once:
 * a marker says it is done, so later starts cost one read.
 */
async function keyUnkeyedRuns(db: Surreal): Promise<void> {
  const [done] = await runQuery<[unknown]>(db, 'SELECT * FROM ONLY $marker;', { marker: KEYED });
  if (done) return;
  for (;;) {
    const [runs] = await runQuery<[Array<Record<string, unknown>>]>(
      db,
      'SELECT runId, organizationId, threadId, sourceThreadId, createdByAgentId, status, createdAt FROM plan_run WHERE listOrder = NONE LIMIT 500;',
    );
    if (runs.length === 0) break;
    const rows = runs.map(
      (row) =>
        ({ ...row, createdAt: new Date(row.createdAt as string | Date).toISOString() }) as Parameters<typeof listKeysOf>[0] & {
          status: string;
        },
    );
    await runQuery(
      db,
      'BEGIN; INSERT IGNORE INTO plan_run_key $keys; FOR $run IN $runs { UPDATE $run.id SET listOrder = $run.order }; COMMIT;',
      {
        keys: rows.flatMap((run) => [...listKeysOf(run), statusKeyOf(run)].map((id) => ({ id, run: new RecordId('plan_run', run.runId) }))),
        runs: rows.map((run) => ({ id: new RecordId('plan_run', run.runId), order: listOrderOf(run.createdAt) })),
      },
    );
  }
  await runQuery(db, 'UPSERT $marker CONTENT { at: time::now() };', { marker: KEYED });
}

/** The longest wait between two attempts of a conflicting transaction. */
const CONFLICT_BACKOFF_CAP_MS = 200;

/** A write conflict between concurrent transactions: the same write may succeed when tried again. */
export function isRetryableConflict(error: unknown): boolean {
  return isTransactionConflict(error) || (error instanceof Error && /can be retried|conflict/i.test(error.message));
}

/**
 * Runs one query (usually a whole `BEGIN; …; COMMIT;` transaction) and retries it when
 * SurrealDB reports a write conflict. Values are always bound, never spliced (S12).
 */
let conflictRetries = 0;

/** How many times this process retried a query after a write conflict (benchmarks report it). */
export function conflictRetriesSoFar(): number {
  return conflictRetries;
}

export async function runQuery<T extends unknown[] = unknown[]>(
  db: Surreal,
  text: string,
  bindings: Record<string, unknown> = {},
  attempts = 25,
): Promise<T> {
  // A span inside a trace (a request, an activity) only — every query passes here, so nothing is built otherwise;
  // no statement text and no bound value in it.
  if (!inTrace()) return queryRetrying<T>(db, text, bindings, attempts);
  return inSpan(dbSpanName(text), DB_SPAN, () => queryRetrying<T>(db, text, bindings, attempts));
}

const DB_SPAN = { kind: SpanKind.CLIENT, attributes: { 'db.system': 'surrealdb', 'db.system.name': 'surrealdb' } };

async function queryRetrying<T extends unknown[]>(
  db: Surreal,
  text: string,
  bindings: Record<string, unknown>,
  attempts: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const responses = await db.query(new BoundQuery(text, bindings)).responses();
      const results = responses.flatMap((response) => (response.success ? [response.result] : []));
      if (results.length < responses.length) throw causeOf(responses.flatMap((response) => (response.success ? [] : [response.error])));
      return results as T;
    } catch (error) {
      if (attempt >= attempts || !isRetryableConflict(error)) throw error;
      conflictRetries++;
      trace.getActiveSpan()?.setAttribute('plans.db.conflict_retries', attempt);
      // Writers of one organization meet on its feed counter: back off with jitter, capped, so they take turns.
      await new Promise((resolve) => setTimeout(resolve, Math.min(CONFLICT_BACKOFF_CAP_MS, 5 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}

/**
 * In a failed transaction every statement but one reports only "not executed due to a failed
 * transaction"; the one that failed says why (a write conflict, a duplicate record). Answer that
 * one, so conflicts are recognised and retried and anything else is reported by its real cause.
 */
function causeOf(errors: Error[]): Error {
  return errors.find((error) => (error as { details?: { kind?: string } }).details?.kind !== 'NotExecuted') ?? errors[0];
}
