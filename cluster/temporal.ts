import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';

import { SEARCH_ATTRIBUTE_KEYS } from '../temporal/names.js';
import { ClusterProcess, listening, waitFor } from './processes.js';

const run = promisify(execFile);

export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
/** Each service's offset from the frontend's gRPC and membership ports. */
const PORT_OFFSET = { frontend: 0, history: 1, matching: 2, worker: 3 } as const satisfies Record<
  (typeof TEMPORAL_SERVICES)[number],
  number
>;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

export interface TemporalCluster {
  /** The frontend's gRPC address. */
  address: string;
  services: Record<TemporalService, ClusterProcess>;
  /** Starts a service again (after a kill) once its ports are free, and waits until it listens. */
  restart(service: TemporalService): Promise<void>;
  stop(): Promise<void>;
}

export interface TemporalClusterOptions {
  /** Holds `temporal-server`, `temporal-sql-tool` and `schema/` (cluster/engines/build-temporal.sh). */
  engineDir: string;
  dir: string;
  postgresPort: number;
  /** The frontend's gRPC port; the other services take the next ports (and the frontend's HTTP API port + 10). */
  port: number;
  /** The first of four membership ports; Temporal stores them as a smallint, so below 32768. */
  membershipPort: number;
  namespace: string;
}

// What the dev server turns on and a plan run uses: updates, update-with-start, eager activities.
const DYNAMIC_CONFIG = `system.enableActivityEagerExecution:
  - value: true
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
system.enableEagerWorkflowStart:
  - value: true
`;

function configYaml(options: TemporalClusterOptions, dynamicConfig: string): string {
  const sql = (database: string, conns: number) =>
    `{ pluginName: postgres12, databaseName: ${database}, connectAddr: "127.0.0.1:${options.postgresPort}", connectProtocol: tcp, user: temporal, password: temporal, maxConns: ${conns}, maxIdleConns: ${conns}, maxConnLifetime: 1h }`;
  const service = (index: number, http = false) =>
    `{ rpc: { grpcPort: ${options.port + index}, membershipPort: ${options.membershipPort + index}, bindOnLocalHost: true${http ? `, httpPort: ${options.port + 10}` : ''} } }`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql: ${sql('temporal', 20)}
    visibility:
      sql: ${sql('temporal_visibility', 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:
  frontend: ${service(PORT_OFFSET.frontend, true)}
  history: ${service(PORT_OFFSET.history)}
  matching: ${service(PORT_OFFSET.matching)}
  worker: ${service(PORT_OFFSET.worker)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active: { enabled: true, initialFailoverVersion: 1, rpcName: frontend, rpcAddress: "127.0.0.1:${options.port}" }
dcRedirectionPolicy: { policy: noop }
dynamicConfigClient:
  filepath: "${dynamicConfig}"
  pollInterval: 10s
`;
}

/**
 * A Temporal server as production runs it: frontend, history, matching and worker, each its own
 * process, on PostgreSQL (schemas set up by Temporal's own SQL tool); then the namespace and the
 * search attributes plans use.
 */
export async function startTemporalCluster(options: TemporalClusterOptions, log: (line: string) => void): Promise<TemporalCluster> {
  mkdirSync(options.dir, { recursive: true });
  const tool = (database: string, ...args: string[]) =>
    run(join(options.engineDir, 'temporal-sql-tool'), [
      '--plugin',
      'postgres12',
      '--ep',
      '127.0.0.1',
      '-p',
      String(options.postgresPort),
      '-u',
      'temporal',
      '--pw',
      'temporal',
      '--db',
      database,
      ...args,
    ]);
  log('Temporal: schemas in PostgreSQL …');
  for (const [database, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    await tool(database, 'create-database').catch(() => {}); // exists after a restart
    await tool(database, 'setup-schema', '-v', '0.0').catch(() => {});
    await tool(database, 'update-schema', '-d', join(options.engineDir, 'schema', 'postgresql', 'v12', schema, 'versioned'));
  }
  const dynamicConfig = join(options.dir, 'dynamic-config.yaml');
  writeFileSync(dynamicConfig, DYNAMIC_CONFIG);
  const configFile = join(options.dir, 'temporal.yaml');
  writeFileSync(configFile, configYaml(options, dynamicConfig));
  const services = Object.fromEntries(
    TEMPORAL_SERVICES.map((name) => [
      name,
      new ClusterProcess(
        `temporal-${name}`,
        join(options.engineDir, 'temporal-server'),
        ['--config-file', configFile, '--allow-no-auth', 'start', '--service', name],
        {
          logFile: join(options.dir, `${name}.log`),
        },
      ),
    ]),
  ) as Record<TemporalService, ClusterProcess>;
  log('Temporal: frontend, history, matching and worker, each its own process …');
  const address = `127.0.0.1:${options.port}`;
  const stop = async () => {
    for (const service of Object.values(services)) await service.kill();
  };
  try {
    // On a fresh database the first service to start writes the cluster's metadata; services
    // started at the same instant race to write it and the losers exit. History goes first.
    services.history.start();
    await waitFor('the Temporal history service', () => listening(options.port + PORT_OFFSET.history), 120_000, [services.history]);
    for (const name of ['matching', 'frontend', 'worker'] as const) services[name].start();
    await waitFor(
      'the Temporal frontend',
      async () => {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return true;
        } finally {
          await connection.close();
        }
      },
      120_000,
      Object.values(services),
    );
    const connection = await Connection.connect({ address });
    try {
      await connection.workflowService
        .registerNamespace({ namespace: options.namespace, workflowExecutionRetentionPeriod: msToTs('1 day') })
        .catch((error: Error) => {
          if (!/already exists/i.test(error.message)) throw error;
        });
      // The namespace reaches every service's cache within seconds: retry until it is known.
      await waitFor(
        'the namespace',
        async () => {
          await connection.operatorService
            .addSearchAttributes({
              namespace: options.namespace,
              searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
            })
            .catch((error: Error) => {
              if (!/already exists/i.test(error.message)) throw error;
            });
          return true;
        },
        60_000,
        Object.values(services),
      );
    } finally {
      await connection.close();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  log(`Temporal: serving at ${address}`);
  const restart = async (name: TemporalService) => {
    const ports = [options.port + PORT_OFFSET[name], options.membershipPort + PORT_OFFSET[name]];
    await waitFor(
      `the ports of the Temporal ${name} service (${ports.join(', ')}) to be free`,
      async () => !(await Promise.all(ports.map(listening))).some(Boolean),
      60_000,
    );
    services[name].start();
    await waitFor(`the Temporal ${name} service to listen again`, () => listening(ports[0]!), 60_000, [services[name]]);
  };
  return { address, services, restart, stop };
}
