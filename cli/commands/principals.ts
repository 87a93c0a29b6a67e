import type { Command } from 'commander';

import { type CommandContext, write } from './context.js';

/** `plans principal disable|enable`: stop a principal at once, or let it act again. */
export function registerPrincipals(program: Command, { apiCommand }: CommandContext): void {
  const principal = program
    .command('principal')
    .description(
      "Disable a principal of the organization — every token of it refused, its decisions and approval links too, at once — or enable it again (an admin's token).",
    );
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
}
