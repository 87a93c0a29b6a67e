import { z } from 'zod';

import { SECRET_NAME_PATTERN } from './secret-refs.js';

/*
 * The schemas of secrets: a name, a reference in a draft, what setting one sends. Secrets are
 * kept per organization and resolved only inside the activity that makes the call: a plan, its
 * history, its snapshots and its events carry the name, never the value. The references
 * themselves, and everything the workflow may read of them, are in secret-refs.ts (no zod).
 */

export const SecretNameSchema = z
  .string()
  .regex(SECRET_NAME_PATTERN, 'must be 1-64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Where a draft sends a stored secret: the value is put in its place just before the call. */
export const SecretRefSchema = z.object({ $secret: SecretNameSchema }).strict().describe('A secret of the organization, by name (plans secret set NAME)');

/** The longest secret value kept (a token, a key, a whole webhook URL). */
export const MAX_SECRET_VALUE = 8192;

/** What setting a secret sends: its value, and nothing else. */
export const SecretValueSchema = z.object({ value: z.string().min(1).max(MAX_SECRET_VALUE) }).strict();
