import type { Command } from 'commander';

import type { Delegation } from '../../domain/delegations.js';
import { PlanError } from '../../domain/errors.js';
import { formatDelegation } from '../format.js';
import { type CommandContext, optional, write, writeList } from './context.js';

/**
 * `plans delegate --to P --until DATE`, `plans delegate list|revoke`: while a delegation holds,
 * its delegator's approvals can be made by its delegate.
 */
export function registerDelegations(program: Command, { apiCommand }: CommandContext): void {
  const show = (_options: unknown, delegation: Delegation) => write(formatDelegation(delegation));
  // Its options are not required options: commander would then ask them of `delegate list` too.
  const delegate = apiCommand<Delegation>(program, {
    name: 'delegate',
    description:
      "Delegate your approvals to another person until a date: while it holds, they can approve for you (recorded as 'bob for alice'), never a plan they requested themselves, nor twice in one quorum. A delegation to an agent or a service is refused; list and revoke them with the commands below.",
    options: (command) =>
      command
        .option('--to <person>', 'the delegate: a person of the organization')
        .option('--until <date>', 'when it ends: an ISO date (its midnight UTC) or date and time with offset, at most 90 days ahead')
        .option('--reason <text>', 'why (shown with it)')
        .option('--from <person>', "whose approvals (admins only; default: the token's person)"),
    request: (api, options) => {
      if (options.to === undefined || options.until === undefined)
        throw new PlanError(
          'invalid-input',
          'Say to whom and until when: plans delegate --to P --until 2026-12-24 (or plans delegate list|revoke).',
        );
      return api.request('POST', '/v1/delegations', optional(options, { to: 'to', until: 'until', reason: 'reason', from: 'from' }));
    },
    show,
  });
  apiCommand<Delegation[]>(delegate, {
    name: 'list',
    description: "Delegations from or to you (an admin's token: every one of the organization), oldest first, revoked ones too.",
    options: (command) => command.option('--active', 'only those that hold now (not revoked, not ended)'),
    request: (api, options) => api.request('GET', `/v1/delegations${options.active ? '?active=true' : ''}`),
    show: (_options, delegations) => writeList(delegations, 'No delegations.', formatDelegation),
  });
  apiCommand<Delegation>(delegate, {
    name: 'revoke',
    description: 'Revoke a delegation at once (its delegator, its delegate or an admin).',
    args: [['<delegation-id>', 'the delegation, as `plans delegate list` shows it']],
    request: (api, _options, [delegationId]) => api.request('DELETE', `/v1/delegations/${encodeURIComponent(delegationId!)}`),
    show,
  });
}
