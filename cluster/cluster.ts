import { spawn } from 'node:child_process';

import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Postgres, startPostgres } from './postgres.js';
import { ClusterProcess, waitFor } from './processes.js';
import { type SurrealServer, startSurrealServer } from './surrealdb.js';
import { type TemporalCluster, startTemporalCluster } from './temporal.js';
import { DEFAULT_TASK_QUEUE } from '../temporal/names.js';

const { temporal } = proto;

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
    child.on('exit', (code) =>
      code === 0 ? resolve(out.trim().split('\n').at(-1)!) : reject(new Error(`${script} failed (exit ${code})`)),
    );
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
  /** The SurrealDB server's binary (cluster/engines/build-surrealdb.sh), to start more of them. */
  surrealBinary: string;
  temporal: TemporalCluster;
  workers: ClusterProcess[];
  apis: PlansApi[];
  /** The data dir the plans processes share (the operator token lives there). */
  dataDir: string;
  /**
   * Throws, naming the process and the end of its log, when a process of the cluster ended that
   * nobody stopped: a test that waits on the cluster checks it on every poll, so it never waits
   * out its timeout on a process that has died.
   */
  checkAlive(): void;
  /** Starts one more `plans worker` (after one was killed, or to scale out) and waits until it polls the task queue. */
  startWorker(): Promise<ClusterProcess>;
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
      {
        engineDir: temporalEngine,
        dir: join(options.dir, 'temporal'),
        postgresPort: port,
        port: port + 1,
        // Ringpop's ports, apart from every other of the suite's (base+0 … base+50).
        membershipPort: port + 100,
        namespace: 'default',
      },
      log,
    );
    stops.push(() => temporal.stop());
    const surreal = await startSurrealServer(surrealBinary, join(options.dir, 'surrealdb'), port + 20);
    stops.push(() => surreal.stop());
    log(`SurrealDB: serving at ${surreal.url}`);

    const dataDir = join(options.dir, 'plans');
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const plans = new PlansProcesses({
      dir: options.dir,
      dataDir,
      temporalAddress: temporal.address,
      surrealUrl: surreal.url,
      firstApiPort: port + 30,
      connection,
    });
    stops.push(() => plans.stopAll());
    log(`plans: ${options.workers} workers, ${options.apis} APIs, started at once …`);
    const started = [
      ...Array.from({ length: options.workers }, () => plans.startWorker()),
      ...Array.from({ length: options.apis }, () => plans.startApi()),
    ];
    // Ready means each one serves: a worker polls the task queue, an API answers /healthz. One that
    // exits on the way fails the start at once, naming it and the end of its log.
    await Promise.all(started.map((process) => plans.ready(process)));
    log('Cluster ready.');
    return {
      temporalAddress: temporal.address,
      surreal,
      surrealBinary,
      temporal,
      workers: plans.workers,
      apis: plans.apis,
      dataDir,
      startWorker: async () => {
        const worker = plans.startWorker();
        await plans.ready(worker);
        return worker;
      },
      checkAlive: () => {
        for (const process of [
          ...Object.values(temporal.services),
          surreal.process,
          ...plans.workers,
          ...plans.apis.map((api) => api.process),
        ])
          process.checkAlive();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A `plans api` process and where it serves. */
export interface PlansApi {
  process: ClusterProcess;
  url: string;
}

export interface PlansProcessesOptions {
  /** Where their logs go. */
  dir: string;
  /** The data dir they share (the operator token lives there). */
  dataDir: string;
  temporalAddress: string;
  surrealUrl: string;
  /** The first API's port; each next API takes the next one. */
  firstApiPort: number;
  /** A connection to the same Temporal, to see which workers poll. */
  connection: Connection;
  /** The task queue they serve (the default one unless given). */
  taskQueue?: string;
  /** Put after each log file's name, so several sets of processes can log into one `dir`. */
  logSuffix?: string;
}

/**
 * `plans worker` and `plans api` processes beside each other on one Temporal and one SurrealDB
 * server, as an operator runs them; each is ready when it serves, and a wait on one that exited
 * fails at once with the end of its log.
 */
export class PlansProcesses {
  readonly workers: ClusterProcess[] = [];
  readonly apis: PlansApi[] = [];
  private readonly urls = new Map<ClusterProcess, string>();

  constructor(private readonly options: PlansProcessesOptions) {}

  private env(): NodeJS.ProcessEnv {
    return {
      TEMPORAL_ADDRESS: this.options.temporalAddress,
      SURREALDB_URL: this.options.surrealUrl,
      SURREALDB_USER: 'root',
      SURREALDB_PASS: 'root',
      PLANS_DATA_DIR: this.options.dataDir,
      PLANS_PUBLIC_URL: `http://127.0.0.1:${this.options.firstApiPort}`,
      PLANS_LOG_LEVEL: 'WARN',
      ...(this.options.taskQueue ? { PLANS_TASK_QUEUE: this.options.taskQueue } : {}),
    };
  }

  startWorker(): ClusterProcess {
    const number = this.workers.length + 1;
    const worker = new ClusterProcess(`plans-worker-${number}`, process.execPath, [PLANS, 'worker'], {
      logFile: join(this.options.dir, `worker-${number}${this.options.logSuffix ?? ''}.log`),
      env: this.env(),
    });
    worker.start();
    this.workers.push(worker);
    return worker;
  }

  startApi(): ClusterProcess {
    const number = this.apis.length + 1;
    const port = this.options.firstApiPort + number - 1;
    const api = new ClusterProcess(`plans-api-${number}`, process.execPath, [PLANS, 'api'], {
      logFile: join(this.options.dir, `api-${number}${this.options.logSuffix ?? ''}.log`),
      env: { ...this.env(), PLANS_API_PORT: String(port) },
    });
    api.start();
    const url = `http://127.0.0.1:${port}`;
    this.apis.push({ process: api, url });
    this.urls.set(api, url);
    return api;
  }

  /** Resolves once `plans` serves: an API answers /healthz with 200, a worker polls the task queue. */
  async ready(plans: ClusterProcess, timeoutMs = 120_000): Promise<void> {
    const url = this.urls.get(plans);
    if (url) {
      await waitFor(
        `${plans.name} to answer ${url}/healthz with 200`,
        async () => (await fetch(`${url}/healthz`)).status === 200,
        timeoutMs,
        [plans],
      );
      return;
    }
    const taskQueue = this.options.taskQueue ?? DEFAULT_TASK_QUEUE;
    await waitFor(
      `${plans.name} (pid ${plans.pid}) to poll task queue ${taskQueue}`,
      async () => {
        const { pollers } = await this.options.connection.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: taskQueue },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        // A worker's identity is `<pid>@<host>` (the SDK's default).
        return (pollers ?? []).some((poller) => poller.identity?.startsWith(`${plans.pid}@`));
      },
      timeoutMs,
      [plans],
    );
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.workers, ...this.apis.map((api) => api.process)].map((process) => process.kill()));
  }
}
