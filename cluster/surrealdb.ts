import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { ClusterProcess, listening, waitFor } from './processes.js';

export interface SurrealServer {
  /** For `SURREALDB_URL`. */
  url: string;
  process: ClusterProcess;
  /** Starts it again on the same files (after a kill), and waits until it answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/health`).then((response) => response.ok);
}

/** A SurrealDB server (cluster/engines/build-surrealdb.sh) on RocksDB files under `dir`: what survives its own kill -9. */
export async function startSurrealServer(binary: string, dir: string, port: number): Promise<SurrealServer> {
  mkdirSync(dir, { recursive: true });
  const server = new ClusterProcess(
    'surrealdb',
    binary,
    ['start', '--bind', `127.0.0.1:${port}`, '--user', 'root', '--pass', 'root', '--log', 'warn', `rocksdb://${join(dir, 'data')}`],
    { logFile: join(dir, 'surrealdb.log') },
  );
  const start = async () => {
    await waitFor(`port ${port} to be free`, async () => !(await listening(port)), 30_000);
    server.start();
    await waitFor('the SurrealDB server', () => answers(port), 60_000, [server]);
  };
  await start();
  return {
    url: `ws://127.0.0.1:${port}`,
    process: server,
    restart: start,
    stop: () => server.kill(),
  };
}
