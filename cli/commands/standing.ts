import type { Command } from 'commander';

import type { StandingApproval } from '../../domain/standing.js';
import { type CommandContext, write, writeList } from './context.js';

/** One standing approval a line: `ID  by alice  for planner's revision R  until …`, and when it was revoked. */
export function formatStanding(standing: StandingApproval): string {
  const revoked = standing.revokedAt ? `  revoked ${standing.revokedAt} by ${standing.revokedBy}` : '';
  return `${standing.standingId}  by ${standing.approvedBy}  for ${standing.requester}'s plan at revision ${standing.revision}  until ${standing.until}${revoked}`;
}

/**
 * `plans standing list|revoke`: standing approvals, given with `plans approve RUN --standing 30d`
 * and applied to new runs of the same plan from the same requester.
 */
export function registerStanding(program: Command, { apiCommand }: CommandContext): void {
  const standing = program
    .command('standing')
    .description('Standing approvals: yours (an admin: every one), given with `plans approve RUN --standing 30d`.');
  apiCommand<StandingApproval[]>(standing, {
    name: 'list',
    description: "Standing approvals you gave (an admin's token: every one of the organization), oldest first, revoked ones too.",
    options: (command) => command.option('--active', 'only those that hold now (not revoked, not ended)'),
    request: (api, options) => api.request('GET', `/v1/standing-approvals${options.active ? '?active=true' : ''}`),
    show: (_options, all) => writeList(all, 'No standing approvals.', formatStanding),
  });
  apiCommand<StandingApproval>(standing, {
    name: 'revoke',
    description: 'Revoke a standing approval at once (who gave it, or an admin): runs created from then on are not approved by it.',
    args: [['<standing-id>', 'the standing approval, as `plans standing list` shows it']],
    request: (api, _options, [standingId]) => api.request('DELETE', `/v1/standing-approvals/${encodeURIComponent(standingId!)}`),
    show: (_options, revoked) => write(formatStanding(revoked)),
  });
}
