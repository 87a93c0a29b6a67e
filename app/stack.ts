import { hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Client, type Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { Surreal } from 'surrealdb';

import { defaultAgents } from '../agents/registry.js';
import type { AgentRegistry } from '../agents/types.js';
import { buildApi } from '../api/server.js';
import { LinkSigner } from '../auth/links.js';
import { OidcSignIn } from '../auth/oidc.js';
import { ensureOperatorToken } from '../auth/operator.js';
import { ensureSecretKeyFile, parseSecretKey } from '../auth/secret-box.js';
import { PlansClient } from '../client/plans-client.js';
import { isPassingOpenError, isSurrealServerUrl, openDatabase, runQuery } from '../storage/database.js';
import { listenForMetrics } from '../metrics/metrics-listener.js';
import { PlanMetrics } from '../metrics/plan-metrics.js';
import { countRunsByStatus } from '../storage/run-counts.js';
import { PlanStore } from '../storage/plan-store.js';
import { connectToNamespace, isPassingTemporalError } from '../temporal/connect.js';
import { type DevServer, startDevServer } from '../temporal/dev-server.js';
import { type Tracing, startTracing } from '../tracing/sdk.js';
import { tracingClientInterceptors } from '../tracing/temporal.js';
import { cachedWorkflowBundle } from '../worker/bundle.js';
import { createPlanWorker } from '../worker/worker.js';
import { type StackConfig, temporalConnectionOptions } from './config.js';
import { HealthMonitor } from '../api/health.js';
import { retryStart } from './start-retry.js';

const { temporal } = proto;

export interface Stack {
  config: StackConfig;
  temporalAddress: string;
  /** The Temporal Web UI, when this stack started the dev server. */
  uiUrl?: string;
  /** Where this process serves the API ('' for a worker alone). */
  apiUrl: string;
  surrealUrl: string;
  plans: PlansClient;
  /** The data dir's operator token: manages any organization's tokens through the API, nothing else ('' for a worker alone). */
  operatorToken: string;
  client: Client;
  store: PlanStore;
  db: Surreal;
  /** The HTTP API, unless this process is a worker alone. */
  api?: FastifyInstance;
  /** This process's metrics: `GET /metrics` on the API, and everything at `PLANS_METRICS_ADDRESS`. */
  metrics: PlanMetrics;
  /** Where `PLANS_METRICS_ADDRESS` serves them, when it is set. */
  metricsUrl?: string;
  /** The tracing SDK, when `OTEL_*` configures it (docs/tracing.md). */
  tracing?: Tracing;
  /** Stops the API, drains the worker, closes connections and the dev server, in that order. */
  stop(): Promise<void>;
}

/**
 * The link-signing secret every process of an installation shares (the worker signs the links
 * in notifications, any API process verifies them), kept in SurrealDB. The first process to
 * store one wins; it starts from the data dir's secret when there is one (`plans start` keeps
 * it there too), so links already sent stay valid.
 */
async function sharedLinkSecret(db: Surreal, dataDir: string, writeFile: boolean): Promise<string> {
  const file = join(dataDir, 'link-secret');
  const candidate = existsSync(file) ? readFileSync(file, 'utf8').trim() : randomBytes(32).toString('hex');
  const [, stored] = await runQuery<[unknown, string]>(
    db,
    'INSERT IGNORE INTO plan_meta [{ id: plan_meta:link_secret, secret: $candidate }]; RETURN (SELECT VALUE secret FROM ONLY plan_meta:link_secret);',
    { candidate },
  );
  if (writeFile && !existsSync(file)) writeFileSync(file, stored, { mode: 0o600 });
  return stored;
}

/**
 * What a process runs: `all` is `plans start` (everything in one process, a dev server unless
 * an address is configured, the embedded SurrealDB by default); `worker` and `api` are one part
 * each, any number of them side by side on a shared Temporal and a SurrealDB server.
 */
export type StackRole = 'all' | 'worker' | 'api';

export interface StartStackOptions {
  /** Progress lines for the operator. */
  log?: (line: string) => void;
  /** The agents the worker runs (default: `echo` and `PLANS_HTTP_AGENTS`); drafts naming others are refused. */
  agents?: AgentRegistry;
  /** Prebuilt workflows; with tracing on, bundled with its interceptors (`bundlePlanWorkflows({ tracing: true })`). */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Which parts this process runs (default `all`). */
  role?: StackRole;
}

/** Resolves when some worker polled the task queue lately (Temporal keeps pollers of the last minutes). */
async function someWorkerPolls(connection: Connection, namespace: string, taskQueue: string): Promise<void> {
  const { pollers } = await connection.withDeadline(Date.now() + 1000, () =>
    connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    }),
  );
  if (!pollers?.length) throw new Error(`no worker polls task queue ${taskQueue}`);
}

/** A part alone shares its engines with other processes: refuse what only one process can own. */
function checkSharedEngines(config: StackConfig, role: StackRole): void {
  if (role === 'all') return;
  const command = `plans ${role}`;
  if (!config.temporalAddress) {
    throw new Error(
      `${command} runs beside other processes on one Temporal: set TEMPORAL_ADDRESS (or a Temporal profile) to its frontend.`,
    );
  }
  if (!config.surrealUrl || !isSurrealServerUrl(config.surrealUrl)) {
    throw new Error(
      `${command} shares SurrealDB with other processes: set SURREALDB_URL to a SurrealDB server (ws://host:port); an embedded engine belongs to one process.`,
    );
  }
  if (role === 'worker' && !config.publicUrl) {
    throw new Error('plans worker signs the approve and reject links it sends: set PLANS_PUBLIC_URL to where people reach the API.');
  }
}

/**
 * Runs the stack, or one part of it (`options.role`). All in one: a Temporal dev server (unless
 * an address is configured), the embedded SurrealDB, the worker and the HTTP API; started again
 * on the same data dir it carries on where it stopped. A worker or an API alone connects to a
 * shared Temporal and SurrealDB server and keeps nothing of its own but its data dir's operator token.
 */
export async function startStack(config: StackConfig, options: StartStackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => {});
  const role = options.role ?? 'all';
  checkSharedEngines(config, role);
  const cleanup: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  let ready = false;
  try {
    // Secrets live here (the operator token, the link secret) and the engines' files: the owner's alone.
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(config.dataDir, 0o700); // one made before this rule too
    // Tracing starts first and stops last, so the stop's own work is exported too.
    const tracing = config.tracing ? startTracing(config.tracing) : undefined;
    if (tracing) {
      cleanup.push(() => tracing.shutdown());
      const { origin, pathname } = new URL(config.tracing!.endpoint);
      log(`Exporting traces to ${origin}${pathname} (${config.tracing!.protocol}).`);
    }
    let temporalAddress = config.temporalAddress;
    let devServer: DevServer | undefined;
    if (!temporalAddress) {
      log(`Starting the Temporal dev server on 127.0.0.1:${config.temporalPort} …`);
      devServer = await startDevServer({
        onEvent: log,
        ...(config.temporalBin ? { binary: config.temporalBin } : {}),
        dbFile: join(config.dataDir, 'temporal.db'),
        logFile: join(config.dataDir, 'temporal.log'),
        port: config.temporalPort,
        uiPort: config.uiPort,
        namespace: config.namespace,
      });
      cleanup.push(() => devServer!.stop());
      temporalAddress = devServer.address;
    }

    const surrealUrl = config.surrealUrl ?? `rocksdb://${join(config.dataDir, 'surreal')}`;
    // Processes started side by side meet on a fresh server (each defines the namespace, database
    // and schema), and engines started with them answer a moment later: what can pass is retried.
    const retrying = { timeoutMs: config.startTimeout * 1000, log };
    log(`Opening SurrealDB at ${surrealUrl} …`);
    const db = await retryStart(
      () =>
        openDatabase({
          url: surrealUrl,
          namespace: config.surrealNamespace,
          database: config.surrealDatabase,
          ...(config.surrealUser ? { username: config.surrealUser } : {}),
          ...(config.surrealPass ? { password: config.surrealPass } : {}),
          connectTimeoutMs: Math.min(15_000, retrying.timeoutMs),
        }),
      { ...retrying, what: `SurrealDB at ${surrealUrl}`, isPassing: isPassingOpenError },
    );
    cleanup.push(() => db.close());
    // Read at start, so a bad PLANS_SECRET_KEY stops the start rather than a step.
    const secretKey = config.secretKey ? parseSecretKey(config.secretKey) : ensureSecretKeyFile(config.dataDir);
    const store = new PlanStore(db, () => secretKey, { events: config.auditSignEvents, ms: config.auditSignSeconds * 1000 });
    // What this process wrote last is signed before the database closes (the worker and API stop first).
    cleanup.push(() => store.headSigner.stop());

    // Counters and histograms in memory; the runs' gauges where the API runs (a worker alone
    // would repeat them); Temporal's own metrics where its worker runs.
    const metrics = new PlanMetrics({
      ...(role !== 'worker' ? { countRuns: () => countRunsByStatus(db) } : {}),
      ...(config.otlpMetrics ? { otlp: config.otlpMetrics } : {}),
      temporal: role !== 'api',
    });
    cleanup.push(() => metrics.shutdown());
    let metricsUrl: string | undefined;
    if (config.metricsAddress) {
      const listener = await listenForMetrics(metrics, config.metricsAddress);
      cleanup.push(() => listener.close());
      metricsUrl = listener.url;
      log(`Metrics (Prometheus text, no token) at ${metricsUrl}`);
    }

    const temporalWhat = `Temporal at ${temporalAddress} (namespace ${config.namespace})`;
    const connection = await retryStart(() => connectToNamespace(temporalConnectionOptions(config, temporalAddress), config.namespace), {
      ...retrying,
      what: temporalWhat,
      isPassing: isPassingTemporalError,
    });
    cleanup.push(() => connection.close());
    const client = new Client({
      connection,
      namespace: config.namespace,
      ...(tracing ? { interceptors: tracingClientInterceptors() } : {}),
    });

    let apiUrl = '';
    const linkSecret = config.linkSecret ?? (await sharedLinkSecret(db, config.dataDir, role === 'all'));
    const links = new LinkSigner(linkSecret, () => config.publicUrl ?? apiUrl);
    const agents = options.agents ?? defaultAgents(config.httpAgents);
    let worker: Worker | undefined;
    if (role !== 'api') {
      log('Starting the worker …');
      const nativeConnection = await retryStart(() => NativeConnection.connect(temporalConnectionOptions(config, temporalAddress)), {
        ...retrying,
        what: temporalWhat,
        isPassing: isPassingTemporalError,
      });
      cleanup.push(() => nativeConnection.close());
      const started = await createPlanWorker({
        agents,
        links,
        connection: nativeConnection,
        client,
        store,
        namespace: config.namespace,
        taskQueue: config.taskQueue,
        egressAllow: config.egressAllow,
        maxCachedWorkflows: config.workflowCacheSize,
        metrics,
        workflowBundle:
          options.workflowBundle ?? (await cachedWorkflowBundle(join(config.dataDir, 'cache'), { tracing: tracing !== undefined })),
        ...(tracing ? { tracing } : {}),
      });
      const running = started.run();
      cleanup.push(async () => {
        if (started.getState() === 'RUNNING') started.shutdown();
        await running;
      });
      worker = started;
    }

    const agentEndpoints = Object.fromEntries(config.httpAgents.filter(({ name }) => name in agents).map(({ name, url }) => [name, url]));
    const plans = new PlansClient({
      client,
      store,
      taskQueue: config.taskQueue,
      knownAgents: Object.keys(agents),
      agentEndpoints,
      egressAllow: config.egressAllow,
    });
    let api: FastifyInstance | undefined;
    let operatorToken = '';
    if (role !== 'worker') {
      const imported = await plans.principals.importTokenFile(config.tokensFile);
      if (imported > 0)
        log(
          `Imported ${imported} API tokens from ${config.tokensFile} (as agents unless the file said otherwise); it is now ${config.tokensFile}.imported.`,
        );
      operatorToken = ensureOperatorToken(config.dataDir);
      const health = new HealthMonitor(
        {
          temporal: async () => {
            await connection.withDeadline(Date.now() + 1000, () =>
              connection.workflowService.describeNamespace({ namespace: config.namespace }),
            );
          },
          surrealdb: async () => {
            await runQuery(db, 'RETURN 1;');
          },
          // Here, this process's worker; for an API alone, any worker polling the task queue.
          worker: worker
            ? async () => {
                const state = worker!.getState();
                if (state !== 'RUNNING') throw new Error(`the worker is ${state.toLowerCase()}`);
              }
            : () => someWorkerPolls(connection, config.namespace, config.taskQueue),
        },
        () => ready,
      );
      const signIn = config.oidc
        ? {
            oidc: await OidcSignIn.discover(config.oidc, links.baseUrl),
            // The session cookie's key comes from the link secret every API process shares.
            sessionKey: Buffer.from(hkdfSync('sha256', linkSecret, 'execution-plans', 'session cookie', 32)),
            secureCookie: config.publicUrl?.startsWith('https:') ?? false,
          }
        : undefined;
      if (signIn) log(`People sign in through ${config.oidc!.issuer} (organization ${config.oidc!.organizationId}).`);
      api = buildApi({
        plans,
        operatorToken,
        links,
        health,
        metrics,
        rateLimitPerMinute: config.rateLimitPerMinute,
        traceRequests: tracing !== undefined,
        ...(signIn ? { signIn } : {}),
      });
      await api.listen({ host: config.apiHost, port: config.apiPort });
      cleanup.push(() => api!.close());
      const address = api.server.address();
      const port = typeof address === 'object' && address ? address.port : config.apiPort;
      apiUrl = `http://${config.apiHost}:${port}`;
    }
    ready = true;
    return {
      config,
      temporalAddress,
      ...(devServer ? { uiUrl: devServer.uiUrl } : {}),
      apiUrl,
      surrealUrl,
      plans,
      operatorToken,
      client,
      store,
      db,
      ...(api ? { api } : {}),
      metrics,
      ...(metricsUrl ? { metricsUrl } : {}),
      ...(tracing ? { tracing } : {}),
      stop: async () => {
        ready = false;
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
