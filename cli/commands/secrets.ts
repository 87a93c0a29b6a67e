import type { Command } from 'commander';

import { PlanError } from '../../domain/errors.js';
import type { SecretView } from '../../storage/plan-store.js';
import { type CommandContext, write, writeList } from './context.js';

/** A secret's value piped in (one trailing newline dropped, as `echo` adds one): never an argument, so never in shell history. */
async function secretFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Value (then Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!value) throw new PlanError('invalid-input', 'No value: pipe it in (printf %s "$TOKEN" | plans secret set NAME) or give --value.');
  return value;
}

/** Where a secret may be sent, as `plans secret` says it. */
function hostsInWords(hosts: readonly string[] | undefined): string {
  return hosts && hosts.length > 0
    ? `sent only to ${hosts.join(', ')}`
    : 'sent to any host (a plan sending it in a header waits for approval)';
}

/** `plans secret set|list|delete`: the organization's secrets, which webhook steps send by name. */
export function registerSecrets(program: Command, { apiCommand }: CommandContext): void {
  const secret = program
    .command('secret')
    .description(
      'The organization\'s secrets, which webhook steps send by name ({"$secret": "NAME"} as a header value or the url), resolved only when the step calls out (admins).',
    );
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
    show: (_options, set) =>
      write(
        `Secret ${set.name} set by ${set.updatedBy} at ${set.updatedAt}, ${hostsInWords(set.hosts)}. A draft sends it as {"$secret": "${set.name}"}.`,
      ),
  });
  apiCommand<SecretView[]>(secret, {
    name: 'list',
    description: "The organization's secrets by name: who set each and when (never a value).",
    show: (_options, secrets) =>
      writeList(
        secrets,
        'No secrets.',
        (entry) => `${entry.name}  ${hostsInWords(entry.hosts)}  set by ${entry.updatedBy}  ${entry.updatedAt}`,
      ),
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
}
