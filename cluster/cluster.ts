import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Postgres, startPostgres } from './postgres.js';
import { ClusterProcess, waitFor } from './processes.js';
import { type SurrealServer, startSurrealServer } from './surrealdb.js';
import { type TemporalCluster, startTemporalCluster } from './temporal.js';

const ENGINES = fileURLToPath(new URL('../../cluster/engines/', import.meta.url));
const PLANS = fileURLToPath(new URL('../../bin/plans.js', import.meta.url));

/** Runs an engine's build script (a no-op once cached), its progress passed to `log`; answers the path it prints. */
async function buildEngine(script: string, log: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ENGINES, script)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(line.trimEnd());
    });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').at(-1)!) : reject(new Error(`${script} failed (exit ${code})`))));
  });
}

export interface ClusterOptions {
  dir: string;
  /** Ports from here on: PostgreSQL, Temporal (5), SurrealDB, the APIs. */
  basePort: number;
  workers: number;
  apis: number;
  log?: (line: string) => void;
}

export interface Cluster {
  temporalAddress: string;
  surreal: SurrealServer;
  temporal: TemporalCluster;
  workers: ClusterProcess[];
  apis: Array<{ process: ClusterProcess; url: string }>;
  /** The data dir the plans processes share (the operator token lives there). */
  dataDir: string;
  /** Starts one more `plans worker` (after one was killed, or to scale out), waiting until it polls. */
  startWorker(): ClusterProcess;
  stop(): Promise<void>;
}

/**
 * Everything as it runs beyond one machine, on loopback: PostgreSQL; Temporal's frontend,
 * history, matching and worker services; a SurrealDB server; `plans worker` and `plans api`
 * processes. Engines are built once and cached (cluster/engines/).
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const log = options.log ?? (() => {});
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => {});
  };
  try {
    mkdirSync(options.dir, { recursive: true });
    chmodSync(options.dir, 0o755); // PostgreSQL runs as its own user beneath it
    log('Engines (built once, then cached) …');
    const temporalEngine = await buildEngine('build-temporal.sh', log);
    const surrealBinary = await buildEngine('build-surrealdb.sh', log);
    const port = options.basePort;
    const postgres: Postgres = await startPostgres(join(options.dir, 'postgres'), port);
    stops.push(() => postgres.stop());
    const temporal = await startTemporalCluster(
      { engineDir: temporalEngine, dir: join(options.dir, 'temporal'), postgresPort: port, port: port + 1, membershipPort: 20_000 + (port % 10_000), namespace: 'default' },
      log,
    );
    stops.push(() => temporal.stop());
    const surreal = await startSurrealServer(surrealBinary, join(options.dir, 'surrealdb'), port + 20);
    stops.push(() => surreal.stop());
    log(`SurrealDB: serving at ${surreal.url}`);

    const dataDir = join(options.dir, 'plans');
    const apiPorts = Array.from({ length: options.apis }, (_, index) => port + 30 + index);
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      SURREALDB_URL: surreal.url,
      SURREALDB_USER: 'root',
      SURREALDB_PASS: 'root',
      PLANS_DATA_DIR: dataDir,
      PLANS_PUBLIC_URL: `http://127.0.0.1:${apiPorts[0]}`,
      PLANS_LOG_LEVEL: 'WARN',
    };
    const workers: ClusterProcess[] = [];
    const startWorker = () => {
      const worker = new ClusterProcess(`plans-worker-${workers.length + 1}`, process.execPath, [PLANS, 'worker'], { logFile: join(options.dir, `worker-${workers.length + 1}.log`), env });
      worker.start();
      workers.push(worker);
      return worker;
    };
    stops.push(async () => {
      for (const worker of workers) await worker.kill();
    });
    for (let index = 0; index < options.workers; index++) startWorker();
    const apis = apiPorts.map((apiPort, index) => {
      const api = new ClusterProcess(`plans-api-${index + 1}`, process.execPath, [PLANS, 'api'], { logFile: join(options.dir, `api-${index + 1}.log`), env: { ...env, PLANS_API_PORT: String(apiPort) } });
      api.start();
      return { process: api, url: `http://127.0.0.1:${apiPort}` };
    });
    stops.push(async () => {
      for (const api of apis) await api.process.kill();
    });
    log(`plans: ${options.workers} workers, ${options.apis} APIs …`);
    for (const api of apis) {
      await waitFor(`plans api at ${api.url}`, async () => (await fetch(`${api.url}/healthz`)).status === 200, 180_000);
    }
    log('Cluster ready.');
    return { temporalAddress: temporal.address, surreal, temporal, workers, apis, dataDir, startWorker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

