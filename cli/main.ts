import { Command, CommanderError, Option } from 'commander';

import { cliDefaults } from '../app/config.js';
import { PlanError, type PlanErrorCode } from '../domain/errors.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { ApiClient } from './api-client.js';
import { type ApiCommand, type CommandContext, type Options, showPlans, write } from './commands/context.js';
import { registerDelegations } from './commands/delegations.js';
import { registerStanding } from './commands/standing.js';
import { registerAudit } from './commands/audit.js';
import { registerDoctor } from './commands/doctor.js';
import { registerMcp } from './commands/mcp.js';
import { registerPlanReads } from './commands/plan-reads.js';
import { registerPlans } from './commands/plans.js';
import { registerPolicy } from './commands/policy.js';
import { registerPrincipals } from './commands/principals.js';
import { registerSchedules } from './commands/schedules.js';
import { registerSecrets } from './commands/secrets.js';
import { registerStack } from './commands/stack.js';
import { registerTokens } from './commands/tokens.js';
import { serving } from './start.js';

/**
 * Exit codes, so scripts can tell refusals apart. A usage error (unknown flag, missing option) is 2, like bad input.
 * (`plans doctor` exits 8 when differences remain: `commands/doctor.ts`; `plans audit verify` 10 when the record does not hold: `commands/audit.ts`.)
 */
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
      if (spec.writesOwnOutput) return;
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

/** What every command group is given. */
const context: CommandContext = { apiCommand, exitCode: (code) => EXIT_CODES[code] };

/** The command groups, in the order `plans --help` lists their commands. */
const GROUPS = [
  registerStack,
  registerTokens,
  registerPrincipals,
  registerSecrets,
  registerPolicy,
  registerDelegations,
  registerStanding,
  registerPlans,
  registerSchedules,
  registerPlanReads,
  registerDoctor,
  registerAudit,
  registerMcp,
];

export function buildProgram(): Command {
  const defaults = cliDefaults();
  const program = new Command('plans')
    .description('Durable execution plans for AI agents, on Temporal and SurrealDB.')
    .addOption(new Option('--api <url>', 'the plans HTTP API (env: PLANS_API_URL)').default(defaults.api))
    .addOption(
      new Option('--token <token>', 'API token, see `plans token create` (env: PLANS_TOKEN)').default(
        defaults.token,
        defaults.token ? 'PLANS_TOKEN' : undefined,
      ),
    )
    .option('--json', 'print answers (and refusals) as JSON, for scripts')
    .showHelpAfterError()
    .exitOverride();

  for (const register of GROUPS) register(program, context);
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
