import type { Command } from 'commander';

import type { PolicyRecord } from '../../domain/policy.js';
import type { PolicyChange } from '../../storage/plan-store.js';
import { formatPolicy } from '../format.js';
import { type CommandContext, readJsonFile, write } from './context.js';

/** `plans policy get|set|history`: the organization's approval policy. */
export function registerPolicy(program: Command, { apiCommand }: CommandContext): void {
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
    options: (command) =>
      command.requiredOption(
        '--file <file>',
        'the policy (JSON): {roles?, approvers?, required?, skipApproval?, expiresAfter?, onExpiry?}',
      ),
    request: async (api, options) => api.request('PUT', '/v1/policy', await readJsonFile(String(options.file), 'Policy file')),
    show: (_options, record) => write(formatPolicy(record)),
  });
  apiCommand<PolicyChange[]>(policy, {
    name: 'history',
    description: 'Every version of the approval policy, newest first: who set it, when.',
    request: (api) => api.request('GET', '/v1/policy/history'),
    show: (_options, changes) =>
      write(
        changes.length === 0
          ? 'Never set: the defaults apply.'
          : changes.map((change) => `version ${change.version}  ${change.changedAt}  by ${change.changedBy}`).join('\n'),
      ),
  });
}
