import { readFile } from 'node:fs/promises';

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import { cliDefaults } from '../app/config.js';
import type { DoctorReport } from '../client/doctor.js';
import type { IssuedToken } from '../client/principals-client.js';
import type { PlanDiffView } from '../client/reviews-client.js';
import type { PolicyChange, SecretView } from '../storage/plan-store.js';
import { PlanError, type PlanErrorCode, formatIssues } from '../domain/errors.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../domain/requests.js';
import type { PolicyRecord } from '../domain/policy.js';
import { PRINCIPAL_KINDS, type TokenView } from '../domain/principals.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { RUN_STATUSES } from '../domain/status.js';
import { validateDraft } from '../domain/validate.js';
import { ApiClient } from './api-client.js';
import { formatDiff, formatDoctorReport, formatPlan, formatPlanLine, formatPolicy, formatSchedule, formatToken } from './format.js';
import { runStart, serving } from './start.js';
import { tokenAccess } from './token-access.js';

/** Exit codes, so scripts can tell refusals apart. A usage error (unknown flag, missing option) is 2, like bad input. */
const EXIT_CODES: Record<PlanErrorCode, number> = {
  'invalid-input': 2,
  'too-large': 2,
  unauthorized: 7,
  forbidden: 3,
  'wrong-organization': 3,
  'wrong-thread': 3,
  'not-eligible': 3,
  'not-found': 4,
  'not-pending': 5,
  'not-active': 5,
  'not-waiting': 5,
  'stale-revision': 5,
  unavailable: 6,
  'rate-limited': 9,
};
const USAGE_EXIT = 2;
/** `plans doctor` found stored records that differ from what Temporal committed (and did not repair them). */
const DIVERGED_EXIT = 8;

/** The options every command sees (set before or after the command name). */
interface GlobalOptions {
  api: string;
  token?: string;
  json?: boolean;
}
type Options = GlobalOptions & Record<string, unknown>;

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

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PlanError('invalid-input', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PlanError('invalid-input', `Cannot read ${what.toLowerCase()} ${file}: ${(error as Error).message}`);
  }
  return parseJson(text, `${what} ${file}`);
}

const readDraft = (file: string) => readJsonFile(file, 'Draft file');

/** Request fields for the flags that were given: `{flag: field}`. */
function optional(options: Options, mapping: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(mapping)) if (options[flag] !== undefined) out[field] = options[flag];
  return out;
}

function approvalChoice(options: Options): { requireApproval?: boolean } {
  return typeof options.requireApproval === 'boolean' ? { requireApproval: options.requireApproval } : {};
}

/** A secret's value piped in (one trailing newline dropped, as `echo` adds one): never an argument, so never in shell history. */
async function secretFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Value (then Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!value) throw new PlanError('invalid-input', 'No value: pipe it in (printf %s "$TOKEN" | plans secret set NAME) or give --value.');
  return value;
}

/** Where a secret may be sent, as `plans secret` says it. */
function hostsInWords(hosts: readonly string[] | undefined): string {
  return hosts && hosts.length > 0 ? `sent only to ${hosts.join(', ')}` : 'sent to any host (a plan sending it in a header waits for approval)';
}

function write(text: string): void {
  process.stdout.write(`${text}\n`);
}

const showPlans = (options: Options, value: PlanSnapshot | PlanSnapshot[]) => {
  if (options.json) write(JSON.stringify(value, null, 2));
  else if (Array.isArray(value)) write(value.length === 0 ? 'No plans.' : value.map(formatPlanLine).join('\n'));
  else write(formatPlan(value));
};

interface ApiCommand<R> {
  name: string;
  description: string;
  /** Positional arguments, e.g. `<run>`. */
  args?: Array<[string, string]>;
  /** Adds the command's own options. */
  options?: (command: Command) => Command;
  /** What it asks of the API. */
  request(api: ApiClient, options: Options, args: string[]): Promise<R>;
  /** How it prints the answer (always JSON with --json). */
  show?(options: Options, value: R): void;
}

/**
 * The one shape of every API command: it asks the API, prints the answer (JSON with --json),
 * or prints the refusal and exits with the refusal's code.
 */
function apiCommand<R>(parent: Command, spec: ApiCommand<R>): Command {
  const command = parent.command(spec.name).description(spec.description);
  for (const [name, description] of spec.args ?? []) command.argument(name, description);
  spec.options?.(command);
  command.action(async (...received: unknown[]) => {
    const self = received.at(-1) as Command;
    const options = self.optsWithGlobals<Options>();
    try {
      const value = await spec.request(new ApiClient(options.api, options.token), options, self.processedArgs as string[]);
      if (spec.show && !options.json) spec.show(options, value);
      else if (spec.show) write(JSON.stringify(value, null, 2));
      else showPlans(options, value as PlanSnapshot);
    } catch (error) {
      if (!(error instanceof PlanError)) throw error;
      if (options.json) write(JSON.stringify({ error: { code: error.code, message: error.message } }));
      process.stderr.write(`Error: ${error.message}\n`);
      process.exitCode = EXIT_CODES[error.code];
    }
  });
  return command;
}

const ORG = ['--org <id>', "organization (default: the token's; another is refused)"] as const;

/**
 * The decision commands (approve, reject, complete-node, abort) share one shape: a run, the
 * acting thread, who acts (the token's actor), an idempotency key, and a body of their own.
 */
function decisionCommand(
  parent: Command,
  spec: {
    name: string;
    description: string;
    args?: Array<[string, string]>;
    path: (args: string[]) => string;
    options?: (command: Command) => Command;
    body?: (options: Options, api: ApiClient, runId: string) => Record<string, unknown> | Promise<Record<string, unknown>>;
  },
): Command {
  return apiCommand<PlanSnapshot>(parent, {
    name: spec.name,
    description: spec.description,
    args: [['<run>', 'run id'], ...(spec.args ?? [])],
    options: (command) => {
      command.option(...ORG);
      command.option('--thread <id>', "acting thread: the run's thread or its source thread (default: its source thread, else its thread)");
      command.option('--by <principal>', "who acts (default: the token's principal; another is refused)");
      command.option('--key <key>', 'idempotency key: a retried call returns the first outcome');
      return spec.options?.(command) ?? command;
    },
    request: async (api, options, args) =>
      api.request<PlanSnapshot>('POST', `/v1/plans/${encodeURIComponent(args[0]!)}/${spec.path(args.slice(1))}`, {
        ...optional(options, { org: 'organizationId', thread: 'threadId', by: 'emittedBy', key: 'idempotencyKey' }),
        ...(await spec.body?.(options, api, args[0]!)),
      }),
  });
}

/** A decision is bound to the revision its decider saw: `--revision`, else the one `plans get` shows right now. */
const revisionOption = (command: Command) =>
  command.option('--revision <revision>', 'the plan revision you decide on (default: the current one, as `plans get` shows it); a changed plan is refused');
async function decidedRevision(options: Options, api: ApiClient, runId: string): Promise<Record<string, unknown>> {
  if (options.revision !== undefined) return { expectedRevision: options.revision };
  const { revision } = await api.request<PlanSnapshot>('GET', `/v1/plans/${encodeURIComponent(runId)}`);
  return revision ? { expectedRevision: revision } : {};
}

const requireApprovalOptions = (command: Command) =>
  command
    .addOption(new Option('--require-approval', 'require a person to approve before anything runs'))
    .addOption(new Option('--no-require-approval', 'run at once even when cross-thread'));

export function buildProgram(): Command {
  const defaults = cliDefaults();
  const program = new Command('plans')
    .description('Durable execution plans for AI agents, on Temporal and SurrealDB.')
    .addOption(new Option('--api <url>', 'the plans HTTP API (env: PLANS_API_URL)').default(defaults.api))
    .addOption(new Option('--token <token>', 'API token, see `plans token create` (env: PLANS_TOKEN)').default(defaults.token, defaults.token ? 'PLANS_TOKEN' : undefined))
    .option('--json', 'print answers (and refusals) as JSON, for scripts')
    .showHelpAfterError()
    .exitOverride();

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
    .description('Run a worker only, beside others: needs TEMPORAL_ADDRESS, SURREALDB_URL=ws://… (a SurrealDB server) and PLANS_PUBLIC_URL.')
    .addOption(new Option('--data-dir <dir>', 'where it caches the workflow bundle (env: PLANS_DATA_DIR, default ./.plans-data)'))
    .action(async (options: { dataDir?: string }) => {
      await runStart(options, 'worker');
    });

  program
    .command('api')
    .description('Run the HTTP API and inbox only (stateless), beside others: needs TEMPORAL_ADDRESS and SURREALDB_URL=ws://… (a SurrealDB server).')
    .addOption(new Option('--data-dir <dir>', 'where its operator token is kept (env: PLANS_DATA_DIR, default ./.plans-data)'))
    .addOption(new Option('--api-port <port>', 'HTTP API port (env: PLANS_API_PORT, default 8787)').argParser(port))
    .action(async (options: { dataDir?: string; apiPort?: number }) => {
      await runStart(options, 'api');
    });

  const token = program
    .command('token')
    .description("Manage API tokens and the principals they stand for. Uses --token (an admin's) when given; otherwise the data dir's operator token through the running stack, or the data dir itself when the stack is stopped.");
  const dataDirOption = () => new Option('--data-dir <dir>', 'the data dir of `plans start` (env: PLANS_DATA_DIR, default ./.plans-data)');
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  apiCommand<IssuedToken>(token, {
    name: 'create',
    description: 'Create an API token for a principal of an organization (made on the way: say its kind); printed once, stored only as a hash.',
    options: (command) =>
      command
        .option('--org <id>', "organization (default: the admin token's)")
        .requiredOption('--principal <id>', 'who acts with it (recorded in events)')
        .addOption(new Option('--kind <kind>', 'what the principal is (required for a new one)').choices(PRINCIPAL_KINDS))
        .option('--role <role>', 'a role of the principal (repeat for several; replaces its roles)', collect)
        .addOption(dataDirOption()),
    request: (_api, options) =>
      tokenAccess(options as Options & { dataDir?: string }).create({
        principalId: String(options.principal),
        ...optional(options, { org: 'organizationId', kind: 'kind', role: 'roles' }),
      }),
    show: (_options, issued) => {
      write(issued.token);
      const { principal } = issued;
      process.stderr.write(
        `Token ${issued.tokenId} for ${principal.id} (${principal.kind}${principal.roles.length ? `; roles ${principal.roles.join(', ')}` : ''}) in ${principal.organizationId}, stored hashed. Use it as PLANS_TOKEN or --token.\n`,
      );
    },
  });
  apiCommand<TokenView[]>(token, {
    name: 'list',
    description: "List an organization's tokens (active and revoked) with their principals; never the tokens themselves.",
    options: (command) => command.option('--org <id>', "organization (default: the admin token's)").addOption(dataDirOption()),
    request: (_api, options) => tokenAccess(options as Options & { dataDir?: string }).list(options.org as string | undefined),
    show: (_options, tokens) => write(tokens.length === 0 ? 'No tokens.' : tokens.map(formatToken).join('\n')),
  });
  apiCommand<TokenView>(token, {
    name: 'revoke',
    description: 'Revoke a token: the API refuses it from then on.',
    args: [['<token-id>', 'the token id (tok_…), see `plans token list`']],
    options: (command) => command.option('--org <id>', "organization (default: the admin token's)").addOption(dataDirOption()),
    request: (_api, options, [tokenId]) => tokenAccess(options as Options & { dataDir?: string }).revoke(tokenId!, options.org as string | undefined),
    show: (_options, revoked) => write(formatToken(revoked)),
  });

  const principal = program
    .command('principal')
    .description("Disable a principal of the organization — every token of it refused, its decisions and approval links too, at once — or enable it again (an admin's token).");
  for (const [action, description] of [
    ['disable', 'Disable a principal: its tokens, decisions and links stop at once (someone who left, a compromised agent).'],
    ['enable', 'Enable a disabled principal again: its tokens work again.'],
  ] as const) {
    apiCommand<{ organizationId: string; principalId: string; disabled: boolean }>(principal, {
      name: action,
      description,
      args: [['<principal-id>', "the principal, of the token's organization"]],
      request: (api, _options, [principalId]) => api.request('POST', `/v1/principals/${encodeURIComponent(principalId!)}/${action}`),
      show: (_options, state) => write(`${state.principalId} of ${state.organizationId} is ${state.disabled ? 'disabled' : 'enabled'}.`),
    });
  }

  const secret = program
    .command('secret')
    .description('The organization\'s secrets, which webhook steps send by name ({"$secret": "NAME"} as a header value or the url), resolved only when the step calls out (admins).');
  apiCommand<SecretView>(secret, {
    name: 'set',
    description:
      'Set (or replace) a secret and where it may be sent. The value is read from stdin, so it stays out of shell history (printf %s "$TOKEN" | plans secret set crm-token --host api.crm.com); --value also works.',
    args: [['<name>', 'the secret: 1-64 lower-case letters, digits, ".", "_" or "-"']],
    options: (command) =>
      command
        .option('--value <value>', 'the value itself (it stays in shell history: prefer stdin)')
        .option(
          '--host <host>',
          'a host a webhook may send it to in a header, as egress.allow writes them (host, host:port, *.suffix); repeat for more. None: any host, and a plan sending it waits for approval',
          (host: string, hosts: string[] = []) => [...hosts, host],
        ),
    request: async (api, options, [name]) =>
      api.request('PUT', `/v1/secrets/${encodeURIComponent(name!)}`, {
        value: options.value === undefined ? await secretFromStdin() : String(options.value),
        ...(options.host ? { hosts: options.host } : {}),
      }),
    show: (_options, set) => write(`Secret ${set.name} set by ${set.updatedBy} at ${set.updatedAt}, ${hostsInWords(set.hosts)}. A draft sends it as {"$secret": "${set.name}"}.`),
  });
  apiCommand<SecretView[]>(secret, {
    name: 'list',
    description: "The organization's secrets by name: who set each and when (never a value).",
    show: (_options, secrets) =>
      write(secrets.length === 0 ? 'No secrets.' : secrets.map((entry) => `${entry.name}  ${hostsInWords(entry.hosts)}  set by ${entry.updatedBy}  ${entry.updatedAt}`).join('\n')),
    request: (api) => api.request('GET', '/v1/secrets'),
  });
  apiCommand<{ deleted: string }>(secret, {
    name: 'delete',
    description: 'Delete a secret; a step that still sends it fails, naming it.',
    args: [['<name>', 'the secret']],
    // The API answers 204, no body: what was deleted is said here, for --json too.
    request: async (api, _options, [name]) => {
      await api.request('DELETE', `/v1/secrets/${encodeURIComponent(name!)}`);
      return { deleted: name! };
    },
    show: (_options, { deleted }) => write(`Secret ${deleted} deleted.`),
  });

  const policy = program.command('policy').description("Read or change the organization's approval policy (changing it is for admins).");
  apiCommand<PolicyRecord>(policy, {
    name: 'get',
    description: 'Show the approval policy in force and its version.',
    request: (api) => api.request('GET', '/v1/policy'),
    show: (_options, record) => write(formatPolicy(record)),
  });
  apiCommand<PolicyRecord>(policy, {
    name: 'set',
    description: 'Replace the approval policy with a JSON file (defaults fill what it leaves out); runs already created keep theirs.',
    options: (command) => command.requiredOption('--file <file>', 'the policy (JSON): {roles?, approvers?, required?, skipApproval?, expiresAfter?, onExpiry?}'),
    request: async (api, options) => api.request('PUT', '/v1/policy', await readJsonFile(String(options.file), 'Policy file')),
    show: (_options, record) => write(formatPolicy(record)),
  });
  apiCommand<PolicyChange[]>(policy, {
    name: 'history',
    description: 'Every version of the approval policy, newest first: who set it, when.',
    request: (api) => api.request('GET', '/v1/policy/history'),
    show: (_options, changes) =>
      write(changes.length === 0 ? 'Never set: the defaults apply.' : changes.map((change) => `version ${change.version}  ${change.changedAt}  by ${change.changedBy}`).join('\n')),
  });

  program
    .command('validate')
    .description('Check a draft file offline and print every blocking issue.')
    .requiredOption('--file <file>', 'the plan draft (JSON)')
    .action(async (_options: unknown, self: Command) => {
      const options = self.optsWithGlobals<Options & { file: string }>();
      const result = validateDraft(await readDraft(options.file));
      if (options.json) write(JSON.stringify(result, null, 2));
      else if (result.ok) write(`Valid: ${result.plan.nodes.length} nodes.`);
      if (!result.ok) {
        process.stderr.write(`Error: ${formatIssues(result.issues)}\n`);
        process.exitCode = EXIT_CODES['invalid-input'];
      }
    });

  apiCommand<PlanSnapshot>(program, {
    name: 'create',
    description: "Create a plan run from a draft file; one the organization's policy gates (cross-thread, external calls, …) waits for approval.",
    options: (command) =>
      requireApprovalOptions(
        command
          .requiredOption('--file <file>', 'the plan draft (JSON)')
          .option(...ORG)
          .requiredOption('--thread <id>', 'thread the plan belongs to')
          .option('--source-thread <id>', 'thread the plan was drafted on behalf of')
          .requiredOption('--lead-agent <id>', 'agent that leads the plan')
          .option('--created-by <id>', "who drafted the plan (default: the token's principal; another is refused)")
          .option('--key <key>', 'idempotency key: the same key never makes a second run'),
      ),
    request: async (api, options) =>
      api.request('POST', '/v1/plans', {
        threadId: options.thread,
        leadAgentId: options.leadAgent,
        ...optional(options, { org: 'organizationId', sourceThread: 'sourceThreadId', createdBy: 'createdByAgentId', key: 'idempotencyKey' }),
        ...approvalChoice(options),
        draft: await readDraft(String(options.file)),
      }),
  });

  decisionCommand(program, {
    name: 'approve',
    description: 'Approve a pending plan run; it starts running and its schedule is attached.',
    path: () => 'approve',
    options: (command) => revisionOption(command.option('--reason <text>', 'why')),
    body: async (options, api, runId) => ({ ...optional(options, { reason: 'reason' }), ...(await decidedRevision(options, api, runId)) }),
  });

  decisionCommand(program, {
    name: 'reject',
    description: 'Reject a pending plan run, or request changes to it.',
    path: () => 'reject',
    options: (command) => revisionOption(command.option('--changes-requested', 'ask for changes instead of a plain rejection').option('--reason <text>', 'why')),
    body: async (options, api, runId) => ({
      ...(options.changesRequested ? { resolution: 'changes-requested' } : {}),
      ...optional(options, { reason: 'reason' }),
      ...(await decidedRevision(options, api, runId)),
    }),
  });

  decisionCommand(program, {
    name: 'complete-node',
    description: 'Complete a human node with its output; the run moves on.',
    args: [['<node>', 'node id of the node waiting for a person']],
    path: ([node]) => `nodes/${encodeURIComponent(node!)}/complete`,
    options: (command) => command.option('--output <json>', "the node's output, as JSON"),
    body: (options) => (options.output !== undefined ? { output: parseJson(String(options.output), '--output') } : {}),
  });

  decisionCommand(program, {
    name: 'abort',
    description: 'Abort an active run: in-flight work is cancelled and the run ends aborted.',
    path: () => 'abort',
    options: (command) => command.requiredOption('--reason <text>', 'why'),
    body: (options) => ({ reason: options.reason }),
  });

  apiCommand<PlanSnapshot>(program, {
    name: 'replace',
    description: 'Abort an active run and start a new one from a draft file, linked to it.',
    args: [['<run>', 'run id of the active run to replace']],
    options: (command) =>
      requireApprovalOptions(
        command
          .requiredOption('--file <file>', 'the new plan draft (JSON)')
          .option(...ORG)
          .requiredOption('--thread <id>', 'acting thread')
          .requiredOption('--lead-agent <id>', 'agent that leads the new plan')
          .requiredOption('--reason <text>', 'why the plan is replaced')
          .option('--created-by <id>', "who drafted the new plan (default: the token's principal; another is refused)")
          .option('--key <key>', 'idempotency key for a retried replace'),
      ),
    request: async (api, options, [run]) =>
      api.request('POST', `/v1/plans/${encodeURIComponent(run!)}/replace`, {
        threadId: options.thread,
        leadAgentId: options.leadAgent,
        reason: options.reason,
        ...optional(options, { org: 'organizationId', createdBy: 'createdByAgentId', key: 'idempotencyKey' }),
        ...approvalChoice(options),
        draft: await readDraft(String(options.file)),
      }),
  });

  const schedule = program.command('schedule').description('Inspect, pause, resume or delete the schedule of an approved recurring plan.');
  for (const [action, description] of [
    ['get', 'Show a schedule and its next fire times.'],
    ['pause', 'Stop a schedule from firing until resumed (a person may).'],
    ['resume', 'Let a paused schedule fire again (who paused it, an approver or an admin).'],
    ['delete', 'Delete a schedule for good; runs it started are kept (an approver or an admin).'],
  ] as const) {
    apiCommand<unknown>(schedule, {
      name: action,
      description,
      args: [['<schedule>', 'schedule id (plan-schedule:…)']],
      options: (command) => {
        command.option(...ORG);
        return action === 'pause' || action === 'resume' ? command.option('--note <text>', 'why, shown in the Temporal Web UI') : command;
      },
      request: async (api, options, [id]) => {
        const path = `/v1/schedules/${encodeURIComponent(id!)}`;
        const query = options.org !== undefined ? `?organizationId=${encodeURIComponent(String(options.org))}` : '';
        if (action === 'get') return api.request('GET', `${path}${query}`);
        if (action === 'delete') {
          await api.request('DELETE', `${path}${query}`);
          return { scheduleId: id, state: 'deleted' };
        }
        return api.request('POST', `${path}/${action}`, optional(options, { org: 'organizationId', note: 'note' }));
      },
      show: (_options, value) => write(formatSchedule(value as Parameters<typeof formatSchedule>[0])),
    });
  }

  apiCommand<PlanSnapshot>(program, {
    name: 'get',
    description: 'Show a plan run as stored.',
    args: [['<run>', 'run id']],
    options: (command) => command.option('--events', 'include its events').option('--checkpoints', 'include its checkpoints'),
    request: (api, options, [run]) => {
      const include = [options.events ? 'events' : '', options.checkpoints ? 'checkpoints' : ''].filter(Boolean).join(',');
      return api.request('GET', `/v1/plans/${encodeURIComponent(run!)}${include ? `?include=${include}` : ''}`);
    },
  });

  apiCommand<PlanDiffView>(program, {
    name: 'diff',
    description: 'Show what a replacement changed against the run it replaced: steps added, removed and changed, the schedule.',
    args: [['<run>', 'run id (the replacement)']],
    request: (api, _options, [run]) => api.request('GET', `/v1/plans/${encodeURIComponent(run!)}/diff`),
    show: (_options, value) => write(formatDiff(value)),
  });

  apiCommand<PlanSnapshot[]>(program, {
    name: 'list',
    description: 'List plan runs of an organization, newest first.',
    options: (command) =>
      command
        .option(...ORG)
        .option('--thread <id>', 'only runs of this thread')
        .option('--source-thread <id>', 'only runs drafted on behalf of this thread')
        .option('--created-by <id>', 'only runs drafted by this agent')
        .option('--status <statuses>', `only these statuses, comma-separated (${RUN_STATUSES.join(', ')})`)
        .option('--limit <n>', `at most this many (default ${DEFAULT_PAGE}, at most ${MAX_PAGE})`)
        .option('--cursor <cursor>', 'continue after the previous page (printed after it)'),
    request: async (api, options) => {
      const query = new URLSearchParams();
      for (const [flag, name] of Object.entries({ org: 'organizationId', thread: 'threadId', sourceThread: 'sourceThreadId', createdBy: 'createdByAgentId', status: 'status', limit: 'limit', cursor: 'cursor' })) {
        if (options[flag] !== undefined) query.set(name, String(options[flag]));
      }
      const plans = await api.request<PlanSnapshot[]>('GET', `/v1/plans?${query}`);
      // More follow: say how to read them (on stderr, so --json output stays one array).
      if (api.nextCursor) process.stderr.write(`More runs follow: add --cursor ${api.nextCursor}\n`);
      return plans;
    },
    show: showPlans,
  });

  apiCommand<DoctorReport>(program, {
    name: 'doctor',
    description: `Compare the organization's stored runs with what Temporal committed and list every difference; --repair rewrites those that differ from Temporal's history (an admin's token). Exits ${DIVERGED_EXIT} when differences remain.`,
    options: (command) =>
      command
        .option(...ORG)
        .option('--run <ids...>', 'only these runs')
        .option('--repair', 'rewrite every diverged record from what Temporal committed')
        .option('--limit <n>', 'at most this many runs, newest first (default 10000)', positiveInt),
    request: async (api, options) => {
      const report = await api.request<DoctorReport>('POST', '/v1/doctor', {
        ...(options.repair ? { repair: true } : {}),
        ...optional(options, { org: 'organizationId', run: 'runIds', limit: 'limit' }),
      });
      if (report.diverged > 0) process.exitCode = DIVERGED_EXIT;
      return report;
    },
    show: (_options, report) => write(formatDoctorReport(report)),
  });

  return program;
}

/** Runs the CLI. A usage error exits 2 (like bad input); an unexpected failure prints its message and exits 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the problem (or the help, or the version, which are no errors).
      process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT;
    } else {
      process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = error instanceof PlanError ? EXIT_CODES[error.code] : 1;
    }
  }
  // A command is done when it returns, unless it now serves: the embedded SurrealDB engine a
  // command opened (`plans token …` on a stopped stack) keeps the process alive after close.
  if (!serving.now) {
    await new Promise((resolve) => process.stdout.write('', resolve));
    await new Promise((resolve) => process.stderr.write('', resolve));
    process.exit();
  }
}
