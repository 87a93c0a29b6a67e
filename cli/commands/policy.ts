import type { Command } from 'commander';

import { PlanError } from '../../domain/errors.js';
import type { PolicyRecord } from '../../domain/policy.js';
import { type PolicyTrial, describeTrial } from '../../domain/policy-trial.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import type { PolicyChange } from '../../storage/plan-store.js';
import { formatPolicy } from '../format.js';
import { type CommandContext, optional, readJsonFile, write, writeList } from './context.js';

/** A one-step plan: with no recent plan to show a dry run for, the proposal is still checked by trying it on this. */
const PROBE_DRAFT = {
  title: 'Probe',
  objective: 'Check a proposed policy.',
  nodes: [{ id: 'probe', title: 'Probe', executor: { type: 'system', action: 'noop' } }],
};

/** `plans policy get|set|test|history`: the organization's approval policy, and a dry run of it. */
export function registerPolicy(program: Command, { apiCommand }: CommandContext): void {
  const policy = program.command('policy').description("Read or change the organization's approval policy (changing it is for admins).");
  apiCommand<PolicyRecord>(policy, {
    name: 'get',
    description: 'Show the approval policy in force and its version.',
    request: (api) => api.request('GET', '/v1/policy'),
    show: (_options, record) => write(formatPolicy(record)),
  });
  apiCommand<PolicyRecord | PolicyTrial[]>(policy, {
    name: 'set',
    description:
      'Replace the approval policy with a JSON file (defaults fill what it leaves out); first shows what it would require of the most recent plans (on stderr). Runs already created keep theirs.',
    options: (command) =>
      command
        .requiredOption(
          '--file <file>',
          'the policy (JSON): {roles?, approvers?, required?, skipApproval?, expiresAfter?, onExpiry?, reminders?, escalations?, rules?}',
        )
        .option('--dry-run', 'only show what it would require of recent plans (--json: those dry runs); save nothing')
        .option('--recent <n>', 'how many recent plans to show it for (0: none)', '3'),
    request: async (api, options) => {
      const proposed = await readJsonFile(String(options.file), 'Policy file');
      const count = Number(options.recent);
      if (!Number.isInteger(count) || count < 0 || count > 20)
        throw new PlanError('invalid-input', '--recent must be a whole number from 0 to 20.');
      // Changing the policy is an admin's: anyone else is refused by the save itself, before any preview.
      const me = options.dryRun ? undefined : await api.request<{ kind: string; roles: string[] }>('GET', '/v1/me');
      const mayChange = options.dryRun || (me!.kind === 'person' && me!.roles.includes('admin'));
      const runs = count > 0 && mayChange ? await api.request<PlanSnapshot[]>('GET', `/v1/plans?limit=${count}`) : [];
      // A proposal that does not parse is refused by the first dry run, before anything is saved.
      const recent = await Promise.all(
        runs.map((run) => api.request<PolicyTrial>('POST', '/v1/policy/test', { runId: run.runId, policy: proposed })),
      );
      if (runs.length === 0 && options.dryRun) await api.request('POST', '/v1/policy/test', { draft: PROBE_DRAFT, policy: proposed });
      if (!options.json) for (const trial of recent) process.stderr.write(`${describeTrial(trial).join('\n')}\n`);
      return options.dryRun ? recent : api.request<PolicyRecord>('PUT', '/v1/policy', proposed);
    },
    show: (_options, answer) => write(Array.isArray(answer) ? 'Dry run: nothing saved.' : formatPolicy(answer)),
  });
  apiCommand<PolicyTrial>(policy, {
    name: 'test',
    description:
      "A dry run: which rules match a draft (or a run's plan), its stages and who may approve each, reminders, escalations and expiry. Nothing is stored or started.",
    options: (command) =>
      command
        .option('--file <file>', 'the plan draft (JSON) to try')
        .option('--run <id>', "try a run's plan (its requester and threads) instead of a draft")
        .option('--requester <id>', 'who asks for it (default: you; with --run: its requester)')
        .option('--thread <id>', 'the thread it is created in')
        .option('--source-thread <id>', 'the thread it is drafted on behalf of (cross-thread when it differs)')
        .option('--policy <file>', 'try a proposed policy (JSON) instead of the one in force'),
    request: async (api, options) => {
      if ((options.file === undefined) === (options.run === undefined))
        throw new PlanError('invalid-input', 'Give exactly one of --file and --run.');
      return api.request('POST', '/v1/policy/test', {
        ...(options.file !== undefined ? { draft: await readJsonFile(String(options.file), 'Draft file') } : {}),
        ...optional(options, { run: 'runId', requester: 'requester', thread: 'threadId', sourceThread: 'sourceThreadId' }),
        ...(options.policy !== undefined ? { policy: await readJsonFile(String(options.policy), 'Policy file') } : {}),
      });
    },
    show: (_options, trial) => write(describeTrial(trial).join('\n')),
  });
  apiCommand<PolicyChange[]>(policy, {
    name: 'history',
    description: 'Every version of the approval policy, newest first: who set it, when.',
    request: (api) => api.request('GET', '/v1/policy/history'),
    show: (_options, changes) =>
      writeList(
        changes,
        'Never set: the defaults apply.',
        (change) => `version ${change.version}  ${change.changedAt}  by ${change.changedBy}`,
      ),
  });
}
