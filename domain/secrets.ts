import { z } from 'zod';

import type { Executor } from './draft.js';

/*
 * Secrets a draft refers to by name (`{"$secret": "crm-token"}`), kept per organization and
 * resolved only inside the activity that makes the call: a plan, its history, its snapshots and
 * its events carry the name, never the value. Types only from draft.ts, which imports this.
 */

/** A secret's name: a slug, safe in a URL path, a record id and a message. */
export const SECRET_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const SecretNameSchema = z
  .string()
  .regex(SECRET_NAME_PATTERN, 'must be 1-64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Where a draft sends a stored secret: the value is put in its place just before the call. */
export const SecretRefSchema = z.object({ $secret: SecretNameSchema }).strict().describe('A secret of the organization, by name (plans secret set NAME)');
export type SecretRef = z.infer<typeof SecretRefSchema>;

/** The longest secret value kept (a token, a key, a whole webhook URL). */
export const MAX_SECRET_VALUE = 8192;

/** What setting a secret sends: its value, and nothing else. */
export const SecretValueSchema = z.object({ value: z.string().min(1).max(MAX_SECRET_VALUE) }).strict();

export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === 'object' && value !== null && typeof (value as { $secret?: unknown }).$secret === 'string';
}

/** How a secret reference reads in a message or an external call's URL: its name, never a value. */
export function secretRefText(ref: SecretRef): string {
  return `{"$secret":"${ref.$secret}"}`;
}

type Webhook = Extract<Executor, { type: 'system'; action: 'webhook' }>;

/** The secrets an executor names, each once, in the order written. */
export function secretNamesOf(executor: Executor): string[] {
  if (executor.type !== 'system' || executor.action !== 'webhook') return [];
  const refs = [executor.url, ...Object.values(executor.headers ?? {})].filter(isSecretRef);
  return [...new Set(refs.map((ref) => ref.$secret))];
}

/** A webhook as it is called: every secret reference replaced by its value. */
export interface ResolvedWebhook {
  url: string;
  headers: Record<string, string>;
}

/** The secret names among `names` that `values` lacks. */
export function missingSecrets(names: readonly string[], values: ReadonlyMap<string, string>): string[] {
  return names.filter((name) => !values.has(name));
}

/** Puts the values in place of the references; every named secret must be in `values` (`missingSecrets` first). */
export function resolveWebhook(executor: Webhook, values: ReadonlyMap<string, string>): ResolvedWebhook {
  const valueOf = (value: string | SecretRef) => (isSecretRef(value) ? values.get(value.$secret)! : value);
  return {
    url: valueOf(executor.url),
    headers: Object.fromEntries(Object.entries(executor.headers ?? {}).map(([name, value]) => [name, valueOf(value)])),
  };
}
