import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { Surreal } from 'surrealdb';

import { defaultAgents } from '../agents/registry.js';
import type { AgentRegistry } from '../agents/types.js';
import { buildApi } from '../api/server.js';
import { LinkSigner } from '../auth/links.js';
import { ensureOperatorToken } from '../auth/operator.js';
import { PlansClient } from '../client/plans-client.js';
import { openDatabase, runQuery } from '../storage/database.js';
import { PlanStore } from '../storage/plan-store.js';
import { type DevServer, startDevServer } from '../temporal/dev-server.js';
import { cachedWorkflowBundle } from '../worker/bundle.js';
import { createPlanWorker } from '../worker/worker.js';
import { type StackConfig, temporalConnectionOptions } from './config.js';
import { HealthMonitor } from './health.js';

export interface Stack {
  config: StackConfig;
  temporalAddress: string;
  /** The Temporal Web UI, when this stack started the dev server. */
  uiUrl?: string;
  apiUrl: string;
  surrealUrl: string;
  plans: PlansClient;
  /** The data dir's operator token: manages any organization's tokens through the API, nothing else. */
  operatorToken: string;
  client: Client;
  store: PlanStore;
  db: Surreal;
  api: FastifyInstance;
  /** Stops the API, drains the worker, closes connections and the dev server, in that order. */
  stop(): Promise<void>;
}

/** The data dir's link-signing secret, made on first use and kept (mode 0600). */
function linkSecretOf(dataDir: string): string {
  const file = join(dataDir, 'link-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

export interface StartStackOptions {
  /** Progress lines for the operator. */
  log?: (line: string) => void;
  /** The agents the worker runs (default: `echo` and `PLANS_HTTP_AGENTS`); drafts naming others are refused. */
  agents?: AgentRegistry;
  workflowBundle?: WorkflowBundleWithSourceMap;
}

/**
 * Runs the whole stack in one process: a Temporal dev server (unless an address is
 * configured), the embedded SurrealDB, the worker and the HTTP API. A stack started again
 * on the same data dir carries on where it stopped.
 */
export async function startStack(config: StackConfig, options: StartStackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => {});
  const cleanup: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };
  let ready = false;
  try {
    mkdirSync(config.dataDir, { recursive: true });
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
    log(`Opening SurrealDB at ${surrealUrl} …`);
    const db = await openDatabase({
      url: surrealUrl,
      namespace: config.surrealNamespace,
      database: config.surrealDatabase,
      ...(config.surrealUser ? { username: config.surrealUser } : {}),
      ...(config.surrealPass ? { password: config.surrealPass } : {}),
    });
    cleanup.push(() => db.close());
    const store = new PlanStore(db);

    const connection = await Connection.connect(temporalConnectionOptions(config, temporalAddress));
    cleanup.push(() => connection.close());
    const client = new Client({ connection, namespace: config.namespace });
    const nativeConnection = await NativeConnection.connect(temporalConnectionOptions(config, temporalAddress));
    cleanup.push(() => nativeConnection.close());

    let apiUrl = '';
    const links = new LinkSigner(config.linkSecret ?? linkSecretOf(config.dataDir), () => config.publicUrl ?? apiUrl);
    log('Starting the worker …');
    const agents = options.agents ?? defaultAgents(config.httpAgents);
    const worker = await createPlanWorker({
      agents,
      links,
      connection: nativeConnection,
      client,
      store,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      maxCachedWorkflows: config.workflowCacheSize,
      workflowBundle: options.workflowBundle ?? (await cachedWorkflowBundle(join(config.dataDir, 'cache'))),
    });
    const running = worker.run();
    cleanup.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    const agentEndpoints = Object.fromEntries(config.httpAgents.filter(({ name }) => name in agents).map(({ name, url }) => [name, url]));
    const plans = new PlansClient({ client, store, taskQueue: config.taskQueue, knownAgents: Object.keys(agents), agentEndpoints });
    const imported = await plans.principals.importTokenFile(config.tokensFile);
    if (imported > 0) log(`Imported ${imported} API tokens from ${config.tokensFile} (as agents unless the file said otherwise); it is now ${config.tokensFile}.imported.`);
    const operatorToken = ensureOperatorToken(config.dataDir);
    const health = new HealthMonitor(
      {
        temporal: async () => {
          await connection.withDeadline(Date.now() + 1000, () => connection.workflowService.describeNamespace({ namespace: config.namespace }));
        },
        surrealdb: async () => {
          await runQuery(db, 'RETURN 1;');
        },
        worker: async () => {
          const state = worker.getState();
          if (state !== 'RUNNING') throw new Error(`the worker is ${state.toLowerCase()}`);
        },
      },
      () => ready,
    );
    const api = buildApi({ plans, operatorToken, links, health });
    await api.listen({ host: config.apiHost, port: config.apiPort });
    cleanup.push(() => api.close());
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : config.apiPort;
    apiUrl = `http://${config.apiHost}:${port}`;
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
      api,
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
