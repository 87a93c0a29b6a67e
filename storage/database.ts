import { readFile } from 'node:fs/promises';

import { createNodeEngines } from '@surrealdb/node';
import { BoundQuery, Surreal, createRemoteEngines, isRetryableConflict as isTransactionConflict } from 'surrealdb';

export interface DatabaseOptions {
  /** `mem://`, `rocksdb://<dir>`, `surrealkv://<dir>` (embedded) or `ws://host:port` (a server). */
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
 * Opens SurrealDB and applies the schema. Fails with a clear error rather than hanging when
 * the embedded engine cannot open its files (bad path, data dir locked by another process).
 */
export async function openDatabase(options: DatabaseOptions): Promise<Surreal> {
  const db = new Surreal({ engines: { ...createRemoteEngines(), ...createNodeEngines() } });
  const timeoutMs = options.connectTimeoutMs ?? 15_000;
  let unsubscribe = () => {};
  const failed = new Promise<never>((_, reject) => {
    unsubscribe = db.subscribe('error', (error) => reject(error));
    setTimeout(
      () => reject(new Error(`SurrealDB at ${options.url} did not open within ${timeoutMs} ms (is the data dir locked by another process?)`)),
      timeoutMs,
    ).unref();
  });
  failed.catch(() => {});
  try {
    const authentication =
      options.username && options.password ? { username: options.username, password: options.password } : undefined;
    await Promise.race([
      db.connect(options.url, {
        namespace: options.namespace ?? 'execution_plans',
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

/** Applies `schema.surql`; idempotent, so it runs at every start. */
export async function applySchema(db: Surreal): Promise<void> {
  const schema = await readFile(SCHEMA_FILE, 'utf8');
  await db.query(schema).collect();
}

/** A write conflict between concurrent transactions: the same write may succeed when tried again. */
export function isRetryableConflict(error: unknown): boolean {
  return isTransactionConflict(error) || (error instanceof Error && /can be retried|conflict/i.test(error.message));
}

/**
 * Runs one query (usually a whole `BEGIN; …; COMMIT;` transaction) and retries it when
 * SurrealDB reports a write conflict. Values are always bound, never spliced (S12).
 */
export async function runQuery<T extends unknown[] = unknown[]>(
  db: Surreal,
  text: string,
  bindings: Record<string, unknown> = {},
  attempts = 8,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const responses = await db.query(new BoundQuery(text, bindings)).responses();
      const results = responses.flatMap((response) => (response.success ? [response.result] : []));
      if (results.length < responses.length) throw causeOf(responses.flatMap((response) => (response.success ? [] : [response.error])));
      return results as T;
    } catch (error) {
      if (attempt >= attempts || !isRetryableConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()));
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
