import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { fileMadeOnce } from './file-once.js';

/*
 * The organization secrets' encryption: AES-256-GCM, a random IV per value, the organization and
 * the secret's name as additional authenticated data, so a row copied under another name or
 * organization does not decrypt. The key is `PLANS_SECRET_KEY` (base64 of 32 bytes), else a
 * key file in the data dir made once (mode 0600). Never in SurrealDB, beside the ciphertext.
 */

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Sealed values start with their format, so another one can come beside it later. */
const FORMAT = 'v1';

/** The key `PLANS_SECRET_KEY` encodes, or why it is not one. */
export function parseSecretKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES)
    throw new Error(`PLANS_SECRET_KEY must be the base64 of ${KEY_BYTES} bytes (openssl rand -base64 32); it decodes to ${key.length}.`);
  return key;
}

/** Where the data dir keeps the key when the environment gives none. */
export function secretKeyFile(dataDir: string): string {
  return join(dataDir, 'secret-key');
}

/** The data dir's key, made on first use (one for every process sharing the data dir, as the operator token). */
export function ensureSecretKeyFile(dataDir: string): Buffer {
  return parseSecretKey(fileMadeOnce(secretKeyFile(dataDir), () => `${randomBytes(KEY_BYTES).toString('base64')}\n`));
}

/** What binds a value to its place: the organization and the name. */
function aadOf(organizationId: string, name: string): Buffer {
  return Buffer.from(`${organizationId}\u0000${name}`, 'utf8');
}

/** `value` encrypted for `organizationId`'s secret `name`: `v1.<iv>.<tag>.<ciphertext>`, base64url. */
export function seal(key: Buffer, organizationId: string, name: string, value: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(organizationId, name));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return [FORMAT, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** The value `sealed` holds; throws when the key, the organization or the name is not the one it was sealed with, or it was altered. */
export function open(key: Buffer, organizationId: string, name: string, sealed: string): string {
  const [format, iv, tag, ciphertext, ...rest] = sealed.split('.');
  if (format !== FORMAT || iv === undefined || tag === undefined || ciphertext === undefined || rest.length > 0)
    throw new Error('Not a sealed secret.');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
  decipher.setAAD(aadOf(organizationId, name));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
