import type { Executor } from './draft.js';

/*
 * Secret references as plans carry them (`{"$secret": "crm-token"}`), and how a webhook's are put
 * in place. Pure and free of zod: masking (domain/masking.ts) reads them, and the workflow's
 * snapshots read masking, so whatever this imports is evaluated in every run's sandbox
 * (domain/decisions.ts says why the workflow stays clear of zod). The schemas are in secrets.ts.
 */

export { SECRET_NAME_PATTERN } from './ids.js';

/** Where a draft sends a stored secret: the value is put in its place just before the call. */
export interface SecretRef {
  $secret: string;
}

export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === 'object' && value !== null && typeof (value as { $secret?: unknown }).$secret === 'string';
}

/** How a secret reference reads in a message or an external call's URL: its name, never a value. */
export function secretRefText(ref: SecretRef): string {
  return `{"$secret":"${ref.$secret}"}`;
}

export type Webhook = Extract<Executor, { type: 'system'; action: 'webhook' }>;

/** The secrets an executor names, each once, in the order written. */
export function secretNamesOf(executor: Executor): string[] {
  if (executor.type !== 'system' || executor.action !== 'webhook') return [];
  const refs = [executor.url, ...Object.values(executor.headers ?? {})].filter(isSecretRef);
  return [...new Set(refs.map((ref) => ref.$secret))];
}

/** The secrets a webhook sends in its headers, each once: they go to wherever its URL points. */
export function headerSecretNamesOf(executor: Webhook): string[] {
  return [
    ...new Set(
      Object.values(executor.headers ?? {})
        .filter(isSecretRef)
        .map((ref) => ref.$secret),
    ),
  ];
}

/** A webhook as it is called: every secret reference replaced by its value. */
export interface ResolvedWebhook {
  url: string;
  headers: Record<string, string>;
}

/** The secret names among `names` that `values` lacks. */
export function missingSecrets(names: readonly string[], values: ReadonlyMap<string, unknown>): string[] {
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
