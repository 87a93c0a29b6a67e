import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

import { ClusterProcess, waitFor } from './processes.js';

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

/** Resolves once nothing listens on `port` any more (a restart right after a kill finds it still bound). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
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
    await waitFor(`port ${port} to be free`, () => portFree(port), 30_000);
    server.start();
    await waitFor('the SurrealDB server', () => answers(port), 60_000);
  };
  await start();
  return {
    url: `ws://127.0.0.1:${port}`,
    process: server,
    restart: start,
    stop: () => server.kill(),
  };
}
