import { readFile } from 'node:fs/promises';

import { Command, InvalidArgumentError, Option } from 'commander';

import type { DoctorReport } from '../client/doctor.js';
import { PlanError, type PlanErrorCode } from '../domain/errors.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { RUN_STATUSES } from '../domain/status.js';
import { validateDraft } from '../domain/validate.js';
import { formatIssues } from '../domain/errors.js';
import { loadConfig } from '../app/config.js';
import { TokenStore } from '../auth/tokens.js';
import { ApiClient } from './api-client.js';
import { formatDoctorReport, formatPlan, formatPlanLine } from './format.js';
import { runStart } from './start.js';

/** Exit codes, so scripts can tell refusals apart. */
const EXIT_CODES: Record<PlanErrorCode, number> = {
  'invalid-input': 2,
  unauthorized: 7,
  forbidden: 3,
  'wrong-organization': 3,
  'wrong-thread': 3,
  'not-found': 4,
  'not-pending': 5,
  'not-active': 5,
  'not-waiting': 5,
  unavailable: 6,
};

/** `plans doctor` found stored records that differ from what Temporal committed (and did not repair them). */
const DIVERGED_EXIT = 8;

interface CommonOptions {
  api: string;
  token?: string;
  json?: boolean;
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer.');
  return parsed;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError('must be a port number (0-65535).');
  return parsed;
}

async function readDraft(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PlanError('invalid-input', `Cannot read draft file ${file}: ${(error as Error).message}`);
  }
  return parseJson(text, `Draft file ${file}`);
}

function print(options: { json?: boolean }, value: PlanSnapshot | PlanSnapshot[]): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  } else if (Array.isArray(value)) {
    process.stdout.write(value.length === 0 ? 'No plans.\n' : `${value.map(formatPlanLine).join('\n')}\n`);
  } else {
    process.stdout.write(`${formatPlan(value)}\n`);
  }
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PlanError('invalid-input', `${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

type CommandOptions = CommonOptions & Record<string, unknown>;

/** Runs an API command: prints its result, or its refusal and a non-zero exit code. */
function apiAction<Args extends unknown[]>(
  run: (api: ApiClient, options: CommandOptions, ...args: Args) => Promise<PlanSnapshot | PlanSnapshot[]>,
) {
  return commandAction(run, print);
}

/** Like apiAction, for schedules: prints the schedule (JSON or a few lines). */
function scheduleAction<Args extends unknown[]>(run: (api: ApiClient, options: CommandOptions, ...args: Args) => Promise<unknown>) {
  return commandAction(run, (options, value) => {
    if (options.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const view = value as { scheduleId: string; state: string; paused?: boolean; nextFireTimes?: string[] };
      const next = view.nextFireTimes?.length ? `  next: ${view.nextFireTimes.slice(0, 3).join(', ')}` : '';
      process.stdout.write(`${view.scheduleId}  ${view.paused ? 'paused' : view.state}${next}\n`);
    }
  });
}

function commandAction<Args extends unknown[], R>(
  run: (api: ApiClient, options: CommandOptions, ...args: Args) => Promise<R>,
  show: (options: CommandOptions, value: R) => void,
) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals<CommandOptions>();
    try {
      show(options, await run(new ApiClient(options.api, options.token), options, ...(args.slice(0, -2) as Args)));
    } catch (error) {
      if (!(error instanceof PlanError)) throw error;
      if (options.json) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
      process.stderr.write(`Error: ${error.message}\n`);
      process.exitCode = EXIT_CODES[error.code];
    }
  };
}

const requireApprovalOptions = [
  new Option('--require-approval', 'require a person to approve before anything runs'),
  new Option('--no-require-approval', 'run at once even when cross-thread'),
];

function approvalChoice(options: Record<string, unknown>): { requireApproval?: boolean } {
  return typeof options.requireApproval === 'boolean' ? { requireApproval: options.requireApproval } : {};
}

function optional(options: Record<string, unknown>, mapping: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(mapping)) if (options[flag] !== undefined) out[field] = options[flag];
  return out;
}

export function buildProgram(): Command {
  const program = new Command('plans')
    .description('Durable execution plans for AI agents, on Temporal and SurrealDB.')
    .addOption(
      new Option('--api <url>', 'the plans HTTP API').env('PLANS_API_URL').default('http://127.0.0.1:8787'),
    )
    .addOption(new Option('--token <token>', 'API token (see `plans token create`)').env('PLANS_TOKEN'))
    .showHelpAfterError();

  program
    .command('start')
    .description('Run the whole stack: Temporal dev server, embedded SurrealDB, worker and HTTP API.')
    .addOption(new Option('--data-dir <dir>', 'where Temporal and SurrealDB keep their data').env('PLANS_DATA_DIR'))
    .addOption(new Option('--api-port <port>', 'HTTP API port (default 8787)').env('PLANS_API_PORT').argParser(port))
    .addOption(new Option('--temporal-port <port>', 'Temporal frontend port (default 7233)').env('TEMPORAL_PORT').argParser(port))
    .addOption(new Option('--ui-port <port>', 'Temporal Web UI port (default 8233)').env('TEMPORAL_UI_PORT').argParser(port))
    .action(async (options: { dataDir?: string; apiPort?: number; temporalPort?: number; uiPort?: number }) => {
      await runStart(options);
    });

  program
    .command('token')
    .description('Manage API tokens.')
    .command('create')
    .description('Create an API token for an actor of an organization; it is printed once and stored only as a hash.')
    .requiredOption('--org <id>', 'organization the token acts for')
    .requiredOption('--actor <id>', 'who acts with it (recorded in events)')
    .addOption(new Option('--data-dir <dir>', 'the data dir of `plans start`').env('PLANS_DATA_DIR'))
    .addOption(new Option('--tokens-file <file>', 'the token file (default <data dir>/tokens.json)').env('PLANS_TOKENS_FILE'))
    .option('--json', 'print {token, organizationId, actor} as JSON')
    .action((options: { org: string; actor: string; dataDir?: string; tokensFile?: string; json?: boolean }) => {
      const config = loadConfig({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.tokensFile ? { tokensFile: options.tokensFile } : {}) });
      const token = new TokenStore(config.tokensFile).create({ organizationId: options.org, actor: options.actor });
      if (options.json) process.stdout.write(`${JSON.stringify({ token, organizationId: options.org, actor: options.actor })}\n`);
      else {
        process.stdout.write(`${token}\n`);
        process.stderr.write(`Token for ${options.actor} in ${options.org}, saved (hashed) in ${config.tokensFile}. Use it as PLANS_TOKEN or --token.\n`);
      }
    });

  program
    .command('validate')
    .description('Check a draft file offline and print every blocking issue.')
    .requiredOption('--file <file>', 'the plan draft (JSON)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { file: string; json?: boolean }) => {
      const result = validateDraft(await readDraft(options.file));
      if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else if (result.ok) process.stdout.write(`Valid: ${result.plan.nodes.length} nodes.\n`);
      if (!result.ok) {
        process.stderr.write(`Error: ${formatIssues(result.issues)}\n`);
        process.exitCode = EXIT_CODES['invalid-input'];
      }
    });

  const create = program
    .command('create')
    .description('Create a plan run from a draft file; a cross-thread plan waits for approval.')
    .requiredOption('--file <file>', 'the plan draft (JSON)')
    .requiredOption('--org <id>', 'organization')
    .requiredOption('--thread <id>', 'thread the plan belongs to')
    .option('--source-thread <id>', 'thread the plan was drafted on behalf of')
    .requiredOption('--lead-agent <id>', 'agent that leads the plan')
    .option('--created-by <id>', 'agent that drafted the plan')
    .option('--key <key>', 'idempotency key: the same key never makes a second run')
    .option('--json', 'print the snapshot as JSON');
  requireApprovalOptions.forEach((option) => create.addOption(option));
  create.action(
    apiAction(async (api, options) =>
      api.request<PlanSnapshot>('POST', '/v1/plans', {
        organizationId: options.org,
        threadId: options.thread,
        leadAgentId: options.leadAgent,
        ...optional(options, { sourceThread: 'sourceThreadId', createdBy: 'createdByAgentId', key: 'idempotencyKey' }),
        ...approvalChoice(options),
        draft: await readDraft(String(options.file)),
      }),
    ),
  );

  program
    .command('approve')
    .argument('<run>', 'run id')
    .description('Approve a pending plan run; it starts running and its schedule is attached.')
    .requiredOption('--org <id>', 'organization')
    .requiredOption('--thread <id>', 'acting thread (the run\'s thread or its source thread)')
    .option('--by <actor>', 'who approves (default: the token\'s actor)')
    .option('--reason <text>', 'why')
    .option('--key <key>', 'idempotency key for a retried decision')
    .option('--json', 'print the snapshot as JSON')
    .action(
      apiAction(async (api, options, run: string) =>
        api.request<PlanSnapshot>('POST', `/v1/plans/${encodeURIComponent(run)}/approve`, {
          organizationId: options.org,
          threadId: options.thread,
          emittedBy: options.by,
          ...optional(options, { reason: 'reason', key: 'idempotencyKey' }),
        }),
      ),
    );

  program
    .command('reject')
    .argument('<run>', 'run id')
    .description('Reject a pending plan run, or request changes to it.')
    .requiredOption('--org <id>', 'organization')
    .requiredOption('--thread <id>', 'acting thread (the run\'s thread or its source thread)')
    .option('--by <actor>', 'who rejects (default: the token\'s actor)')
    .option('--changes-requested', 'ask for changes instead of a plain rejection')
    .option('--reason <text>', 'why')
    .option('--key <key>', 'idempotency key for a retried decision')
    .option('--json', 'print the snapshot as JSON')
    .action(
      apiAction(async (api, options, run: string) =>
        api.request<PlanSnapshot>('POST', `/v1/plans/${encodeURIComponent(run)}/reject`, {
          organizationId: options.org,
          threadId: options.thread,
          emittedBy: options.by,
          ...(options.changesRequested ? { resolution: 'changes-requested' } : {}),
          ...optional(options, { reason: 'reason', key: 'idempotencyKey' }),
        }),
      ),
    );

  const replace = program
    .command('replace')
    .argument('<run>', 'run id of the active run to replace')
    .description('Abort an active run and start a new one from a draft file, linked to it.')
    .requiredOption('--file <file>', 'the new plan draft (JSON)')
    .requiredOption('--org <id>', 'organization')
    .requiredOption('--thread <id>', 'acting thread')
    .requiredOption('--lead-agent <id>', 'agent that leads the new plan')
    .requiredOption('--reason <text>', 'why the plan is replaced')
    .option('--created-by <id>', 'agent that drafted the new plan (default: the lead agent)')
    .option('--key <key>', 'idempotency key for a retried replace')
    .option('--json', 'print the new snapshot as JSON');
  requireApprovalOptions.forEach((option) => replace.addOption(option));
  replace.action(
    apiAction(async (api, options, run: string) =>
      api.request<PlanSnapshot>('POST', `/v1/plans/${encodeURIComponent(run)}/replace`, {
        organizationId: options.org,
        threadId: options.thread,
        leadAgentId: options.leadAgent,
        reason: options.reason,
        ...optional(options, { createdBy: 'createdByAgentId', key: 'idempotencyKey' }),
        ...approvalChoice(options),
        draft: await readDraft(String(options.file)),
      }),
    ),
  );

  program
    .command('complete-node')
    .argument('<run>', 'run id')
    .argument('<node>', 'node id of the node waiting for a person')
    .description('Complete a human node with its output; the run moves on.')
    .requiredOption('--org <id>', 'organization')
    .requiredOption('--thread <id>', 'acting thread (the run\'s thread or its source thread)')
    .option('--by <actor>', 'who completes it (default: the token\'s actor)')
    .option('--output <json>', 'the node\'s output, as JSON')
    .option('--key <key>', 'idempotency key for a retried completion')
    .option('--json', 'print the snapshot as JSON')
    .action(
      apiAction(async (api, options, run: string, node: string) =>
        api.request<PlanSnapshot>('POST', `/v1/plans/${encodeURIComponent(run)}/nodes/${encodeURIComponent(node)}/complete`, {
          organizationId: options.org,
          threadId: options.thread,
          emittedBy: options.by,
          ...(options.output !== undefined ? { output: parseJson(String(options.output), '--output') } : {}),
          ...optional(options, { key: 'idempotencyKey' }),
        }),
      ),
    );

  program
    .command('abort')
    .argument('<run>', 'run id')
    .description('Abort an active run: in-flight work is cancelled and the run ends aborted.')
    .requiredOption('--org <id>', 'organization')
    .requiredOption('--thread <id>', 'acting thread (the run\'s thread or its source thread)')
    .option('--by <actor>', 'who aborts (default: the token\'s actor)')
    .requiredOption('--reason <text>', 'why')
    .option('--key <key>', 'idempotency key for a retried abort')
    .option('--json', 'print the snapshot as JSON')
    .action(
      apiAction(async (api, options, run: string) =>
        api.request<PlanSnapshot>('POST', `/v1/plans/${encodeURIComponent(run)}/abort`, {
          organizationId: options.org,
          threadId: options.thread,
          emittedBy: options.by,
          reason: options.reason,
          ...optional(options, { key: 'idempotencyKey' }),
        }),
      ),
    );

  const schedule = program.command('schedule').description('Inspect, pause, resume or delete the schedule of an approved recurring plan.');
  for (const [action, description] of [
    ['get', 'Show a schedule and its next fire times.'],
    ['pause', 'Stop a schedule from firing until resumed.'],
    ['resume', 'Let a paused schedule fire again.'],
    ['delete', 'Delete a schedule for good (runs it started are kept).'],
  ] as const) {
    const command = schedule
      .command(action)
      .argument('<schedule>', 'schedule id (plan-schedule:…)')
      .description(description)
      .requiredOption('--org <id>', 'organization')
      .option('--json', 'print the schedule as JSON');
    if (action === 'pause' || action === 'resume') command.option('--note <text>', 'why, shown in the Temporal Web UI');
    command.action(
      scheduleAction(async (api, options, id: string) => {
        const path = `/v1/schedules/${encodeURIComponent(id)}`;
        const org = encodeURIComponent(String(options.org));
        if (action === 'get') return api.request('GET', `${path}?organizationId=${org}`);
        if (action === 'delete') {
          await api.request('DELETE', `${path}?organizationId=${org}`);
          return { scheduleId: id, state: 'deleted' };
        }
        return api.request('POST', `${path}/${action}`, { organizationId: options.org, ...optional(options, { note: 'note' }) });
      }),
    );
  }

  program
    .command('get')
    .argument('<run>', 'run id')
    .description('Show a plan run as persisted.')
    .option('--events', 'include its events')
    .option('--checkpoints', 'include its checkpoints')
    .option('--json', 'print the snapshot as JSON')
    .action(
      apiAction(async (api, options, run: string) => {
        const include = [options.events ? 'events' : '', options.checkpoints ? 'checkpoints' : ''].filter(Boolean).join(',');
        return api.request<PlanSnapshot>('GET', `/v1/plans/${encodeURIComponent(run)}${include ? `?include=${include}` : ''}`);
      }),
    );

  program
    .command('list')
    .description('List plan runs of an organization, newest first.')
    .requiredOption('--org <id>', 'organization')
    .option('--thread <id>', 'only runs of this thread')
    .option('--source-thread <id>', 'only runs drafted on behalf of this thread')
    .option('--created-by <id>', 'only runs drafted by this agent')
    .option('--status <statuses>', `only these statuses, comma-separated (${RUN_STATUSES.join(', ')})`)
    .option('--json', 'print the snapshots as JSON')
    .action(
      apiAction(async (api, options) => {
        const query = new URLSearchParams({ organizationId: String(options.org) });
        for (const [flag, name] of Object.entries({ thread: 'threadId', sourceThread: 'sourceThreadId', createdBy: 'createdByAgentId', status: 'status' })) {
          if (options[flag] !== undefined) query.set(name, String(options[flag]));
        }
        return api.request<PlanSnapshot[]>('GET', `/v1/plans?${query}`);
      }),
    );

  program
    .command('doctor')
    .description(
      `Compare the organization's stored runs with what Temporal committed and list every difference; --repair rewrites those that differ from Temporal's history. Exits ${DIVERGED_EXIT} when differences remain.`,
    )
    .requiredOption('--org <id>', 'organization')
    .option('--run <ids...>', 'only these runs')
    .option('--repair', 'rewrite every diverged record from what Temporal committed')
    .option('--limit <n>', 'at most this many runs, newest first (default 10000)', positiveInt)
    .option('--json', 'print the report as JSON')
    .action(
      commandAction(
        async (api, options) =>
          api.request<DoctorReport>('POST', '/v1/doctor', {
            organizationId: options.org,
            ...(options.repair ? { repair: true } : {}),
            ...optional(options, { run: 'runIds', limit: 'limit' }),
          }),
        (options, report) => {
          if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          else process.stdout.write(`${formatDoctorReport(report)}\n`);
          if (report.diverged > 0) process.exitCode = DIVERGED_EXIT;
        },
      ),
    );

  return program;
}

/** Runs the CLI; an unexpected failure prints its message and exits 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof PlanError ? EXIT_CODES[error.code] : 1;
  }
}
