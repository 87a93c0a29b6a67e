import type { Executor } from './draft.js';
import { type SecretRef, isSecretRef, secretRefText } from './secret-refs.js';
import { isWebhook } from './webhook.js';

/*
 * Which parts of a webhook are credentials, and how they show: one rule, read by the review,
 * the diff, every snapshot (domain/snapshot.ts) and the validator, which refuses a credential
 * written into a draft. Pure, without imports beyond the draft's types, so the workflow's
 * snapshot can use it.
 */

/** What replaces a secret: a reviewer needs to know one is sent, not what it is. */
export const MASK = '••••••';
const SECRET_NAME = /auth|token|secret|passw|key|cookie|session|signature|credential/i;

/** Whether a header or query parameter name looks like it carries a credential. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Header values of credential-looking headers masked, names kept; a secret reference is only a name and shows as is. */
export function maskHeaders(headers: Readonly<Record<string, string | SecretRef>>): Record<string, string | SecretRef> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, isSecretRef(value) || !isSecretName(name) ? value : MASK]),
  );
}

/** A URL as a person may see it: user info and credential-looking query values masked. */
export function maskUrl(text: string): string {
  const url = new URL(text);
  const credentials = url.username || url.password ? `${MASK}@` : '';
  const query = [...url.searchParams].map(
    ([name, value]) => `${encodeURIComponent(name)}=${isSecretName(name) ? MASK : encodeURIComponent(value)}`,
  );
  return `${url.protocol}//${credentials}${url.host}${url.pathname}${query.length ? `?${query.join('&')}` : ''}${url.hash}`;
}

/** Values shorter than this are not masked in text: they would mask common words and numbers. */
export const MIN_MASKED_LENGTH = 4;

/** The forms a value may take in an answer: as is, JSON-escaped, URL-encoded, and an Authorization value's credential alone. */
function formsOf(value: string): string[] {
  const credential = /^[A-Za-z][\w-]*\s+(\S+)$/.exec(value)?.[1];
  return [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), ...(credential ? [credential] : [])];
}

/**
 * `text` with every occurrence of each of `values` masked, in each of its forms, longest first
 * (a called service may echo what it was sent). Values shorter than `MIN_MASKED_LENGTH` stay.
 */
export function maskValues(text: string, values: Iterable<string>): string {
  const forms = [...new Set([...values].flatMap(formsOf))]
    .filter((form) => form.length >= MIN_MASKED_LENGTH)
    .sort((a, b) => b.length - a.length);
  return forms.reduce((masked, form) => masked.split(form).join(MASK), text);
}

/** What tells a secret URL apart besides the whole of it: its host, its path, its user info and its query values. */
export function revealingParts(url: string): string[] {
  if (!URL.canParse(url)) return [];
  const parsed = new URL(url);
  return [
    parsed.host,
    parsed.hostname,
    parsed.pathname === '/' ? '' : parsed.pathname,
    parsed.username,
    parsed.password,
    ...parsed.searchParams.values(),
  ].filter(Boolean);
}

/** A webhook's URL as text for people and messages: masked, or the secret's name when it is one. */
export function shownUrl(url: string | SecretRef): string {
  return isSecretRef(url) ? secretRefText(url) : maskUrl(url);
}

/** An executor as shown to people: a webhook's secrets masked (secret references are names, kept). */
export function maskExecutor(executor: Executor): Executor {
  if (!isWebhook(executor)) return executor;
  return {
    ...executor,
    url: isSecretRef(executor.url) ? executor.url : maskUrl(executor.url),
    ...(executor.headers ? { headers: maskHeaders(executor.headers) } : {}),
  };
}

/**
 * Where a webhook carries a credential written into the draft, by the rule masking follows:
 * each place ('header "Authorization"', "the URL's user info", 'the URL's query parameter
 * "token"'). A draft sends credentials as secret references instead (`validateDraft`).
 */
export function literalCredentials(executor: Executor): string[] {
  if (!isWebhook(executor)) return [];
  const places = Object.entries(executor.headers ?? {})
    .filter(([name, value]) => !isSecretRef(value) && isSecretName(name))
    .map(([name]) => `header "${name}"`);
  if (isSecretRef(executor.url)) return places;
  const url = new URL(executor.url);
  if (url.username || url.password) places.push("the URL's user info");
  for (const name of new Set(url.searchParams.keys())) if (isSecretName(name)) places.push(`the URL's query parameter "${name}"`);
  return places;
}
