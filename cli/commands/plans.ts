import { type Command, Option } from 'commander';

import { PlanError, formatIssues } from '../../domain/errors.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { validateDraft } from '../../domain/validate.js';
import type { ApiClient } from '../api-client.js';
import { type CommandContext, ORG, type Options, optional, parseJson, readJsonFile, write } from './context.js';

const readDraft = (file: string) => readJsonFile(file, 'Draft file');

/**
 * What `--edit FILE` sends: the whole edited draft (as `plans get RUN --draft` prints it), or a
 * JSON merge patch of it (anything that is not a whole draft), or `plans get RUN --draft --json`'s
 * answer edited, whose revision it is then bound to (an edit of a plan changed since is refused).
 */
function editOf(file: unknown, revisionGiven: boolean): Record<string, unknown> {
  const fields = (typeof file === 'object' && file !== null ? file : {}) as Record<string, unknown>;
  const whole = (value: Record<string, unknown>) =>
    typeof value.title === 'string' && typeof value.objective === 'string' && Array.isArray(value.nodes);
  if (typeof fields.draft === 'object' && fields.draft !== null)
    return { draft: fields.draft, ...(typeof fields.revision === 'string' && !revisionGiven ? { expectedRevision: fields.revision } : {}) };
  return whole(fields) ? { draft: fields } : { patch: fields };
}

/** A repeatable option's values. */
const collect = (value: string, previous: string[]) => [...previous, value];

/** The `steps` of a decision from repeatable options: each option's steps get its word. */
function stepsOf(options: Options, words: Record<string, 'approve' | 'skip' | 'hold'>): { steps?: Record<string, string> } {
  const steps: Record<string, string> = {};
  for (const [flag, word] of Object.entries(words)) for (const step of (options[flag] as string[] | undefined) ?? []) steps[step] = word;
  return Object.keys(steps).length > 0 ? { steps } : {};
}

function approvalChoice(options: Options): { requireApproval?: boolean } {
  return typeof options.requireApproval === 'boolean' ? { requireApproval: options.requireApproval } : {};
}

/**
 * The decision commands (approve, reject, complete-node, abort) share one shape: a run, the
 * acting thread, who acts (the token's actor), an idempotency key, and a body of their own.
 */
function decisionCommand(
  { apiCommand }: CommandContext,
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
  command.option(
    '--revision <revision>',
    'the plan revision you decide on (default: the current one, as `plans get` shows it); a changed plan is refused',
  );
async function decidedRevision(options: Options, api: ApiClient, runId: string): Promise<Record<string, unknown>> {
  if (options.revision !== undefined) return { expectedRevision: options.revision };
  const { revision } = await api.request<PlanSnapshot>('GET', `/v1/plans/${encodeURIComponent(runId)}`);
  return revision ? { expectedRevision: revision } : {};
}

const requireApprovalOptions = (command: Command) =>
  command
    .addOption(new Option('--require-approval', 'require a person to approve before anything runs'))
    .addOption(new Option('--no-require-approval', 'run at once even when cross-thread'));

/** `plans validate|create|approve|reject|complete-node|abort|replace`: check a draft, create a run, decide on it, end or replace it. */
export function registerPlans(program: Command, context: CommandContext): void {
  const { apiCommand } = context;

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
        process.exitCode = context.exitCode('invalid-input');
      }
    });

  apiCommand<PlanSnapshot>(program, {
    name: 'create',
    description:
      "Create a plan run from a draft file; one the organization's policy gates (cross-thread, external calls, …) waits for approval.",
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
        ...optional(options, {
          org: 'organizationId',
          sourceThread: 'sourceThreadId',
          createdBy: 'createdByAgentId',
          key: 'idempotencyKey',
        }),
        ...approvalChoice(options),
        draft: await readDraft(String(options.file)),
      }),
  });

  decisionCommand(context, program, {
    name: 'approve',
    description:
      'Approve a pending plan run; it starts running and its schedule is attached. With --edit, approve it with your changes: the edited plan becomes its next revision and is what runs.',
    path: () => 'approve',
    options: (command) =>
      revisionOption(
        command
          .option('--reason <text>', 'why')
          .option(
            '--standing <duration>',
            "also approve plans identical to this one from the same requester for this long (e.g. 30d, at most 90d), where the policy's rules allow it",
          )
          .option(
            '--skip <step>',
            'approve the plan but skip this optional step (and what depends on the plan only through it); repeatable',
            collect,
            [],
          )
          .option('--hold <step>', 'approve the plan but hold this step for a later decision (the rest runs); repeatable', collect, [])
          .option('--step <step>', 'approve a step held for a decision (plans get shows it awaiting-approval); repeatable', collect, [])
          .option(
            '--edit <file>',
            'approve with changes: FILE is the whole edited draft, as `plans get RUN --draft` prints it, or a JSON merge patch of it, or `plans get RUN --draft --json` edited (bound to its revision); validated like a draft, approvals given to the earlier revision no longer count',
          ),
      ),
    body: async (options, api, runId) => ({
      ...optional(options, { reason: 'reason', standing: 'standing' }),
      ...stepsOf(options, { skip: 'skip', hold: 'hold', step: 'approve' }),
      ...(await decidedRevision(options, api, runId)),
      // The revision an edited `plans get --draft --json` answer names binds the edit (unless --revision says another).
      ...(options.edit !== undefined
        ? editOf(await readJsonFile(String(options.edit), 'Edited draft file'), options.revision !== undefined)
        : {}),
    }),
  });

  decisionCommand(context, program, {
    name: 'skip',
    description:
      'Skip a step held for a decision (awaiting-approval), with why: it does not run, nor what depends on the plan only through it. Only optional steps may be skipped; to skip one while approving the plan, use plans approve RUN --skip STEP.',
    path: () => 'approve',
    options: (command) =>
      revisionOption(
        command.requiredOption('--step <step>', 'the held step to skip; repeatable', collect, []).requiredOption('--reason <text>', 'why'),
      ),
    body: async (options, api, runId) => {
      const run = await api.request<PlanSnapshot>('GET', `/v1/plans/${encodeURIComponent(runId)}`);
      if (run.status === 'pending-approval')
        throw new PlanError(
          'invalid-input',
          `Run ${runId} is pending approval: skip a step as you approve it, plans approve ${runId} --skip STEP.`,
        );
      return { ...stepsOf(options, { step: 'skip' }), reason: options.reason, ...(await decidedRevision(options, api, runId)) };
    },
  });

  decisionCommand(context, program, {
    name: 'reject',
    description: 'Reject a pending plan run, or request changes to it.',
    path: () => 'reject',
    options: (command) =>
      revisionOption(
        command.option('--changes-requested', 'ask for changes instead of a plain rejection').option('--reason <text>', 'why'),
      ),
    body: async (options, api, runId) => ({
      ...(options.changesRequested ? { resolution: 'changes-requested' } : {}),
      ...optional(options, { reason: 'reason' }),
      ...(await decidedRevision(options, api, runId)),
    }),
  });

  decisionCommand(context, program, {
    name: 'complete-node',
    description: 'Complete a human node with its output; the run moves on.',
    args: [['<node>', 'node id of the node waiting for a person']],
    path: ([node]) => `nodes/${encodeURIComponent(node!)}/complete`,
    options: (command) => command.option('--output <json>', "the node's output, as JSON"),
    body: (options) => (options.output !== undefined ? { output: parseJson(String(options.output), '--output') } : {}),
  });

  decisionCommand(context, program, {
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
}
