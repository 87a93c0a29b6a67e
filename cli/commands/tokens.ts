import { type Command, Option } from 'commander';

import type { IssuedToken } from '../../client/principals-client.js';
import { PRINCIPAL_KINDS, type TokenView } from '../../domain/principals.js';
import { formatToken } from '../format.js';
import { tokenAccess } from '../token-access.js';
import { type CommandContext, type Options, optional, write, writeList } from './context.js';

/** `plans token create|list|revoke`: API tokens and the principals they stand for. */
export function registerTokens(program: Command, { apiCommand }: CommandContext): void {
  const token = program
    .command('token')
    .description(
      "Manage API tokens and the principals they stand for. Uses --token (an admin's) when given; otherwise the data dir's operator token through the running stack, or the data dir itself when the stack is stopped.",
    );
  const dataDirOption = () => new Option('--data-dir <dir>', 'the data dir of `plans start` (env: PLANS_DATA_DIR, default ./.plans-data)');
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  apiCommand<IssuedToken>(token, {
    name: 'create',
    description:
      'Create an API token for a principal of an organization (made on the way: say its kind); printed once, stored only as a hash.',
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
    show: (_options, tokens) => writeList(tokens, 'No tokens.', formatToken),
  });
  apiCommand<TokenView>(token, {
    name: 'revoke',
    description: 'Revoke a token: the API refuses it from then on.',
    args: [['<token-id>', 'the token id (tok_…), see `plans token list`']],
    options: (command) => command.option('--org <id>', "organization (default: the admin token's)").addOption(dataDirOption()),
    request: (_api, options, [tokenId]) =>
      tokenAccess(options as Options & { dataDir?: string }).revoke(tokenId!, options.org as string | undefined),
    show: (_options, revoked) => write(formatToken(revoked)),
  });
}
