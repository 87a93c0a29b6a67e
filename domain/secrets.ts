import { z } from 'zod';

import { EgressAllowSchema, destinationOf, listsDestination } from './egress.js';
import { type Webhook, headerSecretNamesOf } from './secret-refs.js';

/*
 * The schemas of secrets (a name, a reference in a draft, what setting one sends) and where a
 * secret may go. Secrets are kept per organization and resolved only inside the activity that
 * makes the call: a plan, its history, its snapshots and its events carry the name, never the
 * value. The references themselves, and everything the workflow may read of them, are in
 * secret-refs.ts (no zod).
 */

export { SecretNameSchema, SecretRefSchema } from './draft.js';

/** The longest secret value kept (a token, a key, a whole webhook URL). */
export const MAX_SECRET_VALUE = 8192;

/**
 * What setting a secret sends: its value, and the hosts a webhook may send it to in a header, in
 * the egress allow list's syntax (`domain/egress.ts`). Left out: any host, and a plan sending it
 * in a header waits for approval (`Admission.admit`, client/admission.ts).
 */
export const SecretValueSchema = z
  .object({
    value: z.string().min(1).max(MAX_SECRET_VALUE),
    hosts: EgressAllowSchema.refine(
      (hosts) => hosts.length > 0,
      'must list at least one host; leave hosts out for a secret usable anywhere',
    )
      .optional()
      .describe(
        'Where a webhook may send it in a header: "host", "host:port", "*.example.com", IP literals. Left out: anywhere, and a plan sending it waits for approval.',
      ),
  })
  .strict();

/** A secret's hosts by its name (empty or undefined: any host). */
export type HostsOf = (name: string) => readonly string[] | undefined;

/**
 * The secrets a webhook would send in a header to `url` (the URL it calls: as written, or its
 * secret's value) though their hosts leave that destination out, each once; matched as the
 * egress allow list is. A secret without hosts goes anywhere; a secret that is the whole URL is
 * its own destination and needs no hosts.
 */
export function secretsOffHost(executor: Webhook, url: string, hostsOf: HostsOf): string[] {
  const bound = headerSecretNamesOf(executor).filter((name) => (hostsOf(name) ?? []).length > 0);
  if (bound.length === 0) return [];
  const destination = destinationOf(url);
  return bound.filter((name) => !listsDestination(hostsOf(name)!, destination));
}

/** The secrets a webhook sends in a header that are bound to no host: they go wherever its URL says. */
export function unboundSecretsOf(executor: Webhook, hostsOf: HostsOf): string[] {
  return headerSecretNamesOf(executor).filter((name) => (hostsOf(name) ?? []).length === 0);
}
