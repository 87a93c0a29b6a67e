import { type Command, InvalidArgumentError, Option } from 'commander';

import { runStart } from '../start.js';
import type { CommandContext } from './context.js';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError('must be a port number (0-65535).');
  return parsed;
}

/** `plans start`, `plans worker`, `plans api`: run the whole stack, or one part of it beside others. */
export function registerStack(program: Command, _context: CommandContext): void {
  program
    .command('start')
    .description('Run the whole stack: Temporal dev server, embedded SurrealDB, worker and HTTP API.')
    .addOption(new Option('--data-dir <dir>', 'where Temporal and SurrealDB keep their data (env: PLANS_DATA_DIR, default ./.plans-data)'))
    .addOption(new Option('--api-port <port>', 'HTTP API port (env: PLANS_API_PORT, default 8787)').argParser(port))
    .addOption(new Option('--temporal-port <port>', 'port of the dev server it starts (env: TEMPORAL_PORT, default 7233)').argParser(port))
    .addOption(new Option('--ui-port <port>', 'Temporal Web UI port (env: TEMPORAL_UI_PORT, default 8233)').argParser(port))
    .action(async (options: { dataDir?: string; apiPort?: number; temporalPort?: number; uiPort?: number }) => {
      await runStart(options);
    });

  program
    .command('worker')
    .description(
      'Run a worker only, beside others: needs TEMPORAL_ADDRESS, SURREALDB_URL=ws://… (a SurrealDB server) and PLANS_PUBLIC_URL.',
    )
    .addOption(new Option('--data-dir <dir>', 'where it caches the workflow bundle (env: PLANS_DATA_DIR, default ./.plans-data)'))
    .action(async (options: { dataDir?: string }) => {
      await runStart(options, 'worker');
    });

  program
    .command('api')
    .description(
      'Run the HTTP API and inbox only (stateless), beside others: needs TEMPORAL_ADDRESS and SURREALDB_URL=ws://… (a SurrealDB server).',
    )
    .addOption(new Option('--data-dir <dir>', 'where its operator token is kept (env: PLANS_DATA_DIR, default ./.plans-data)'))
    .addOption(new Option('--api-port <port>', 'HTTP API port (env: PLANS_API_PORT, default 8787)').argParser(port))
    .action(async (options: { dataDir?: string; apiPort?: number }) => {
      await runStart(options, 'api');
    });
}
