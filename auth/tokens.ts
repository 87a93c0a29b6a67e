import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import { z } from 'zod';

import { PRINCIPAL_KINDS, RoleSchema } from '../domain/principals.js';
import { IdSchema } from '../domain/requests.js';

/** SHA-256 of a token, hex: what is stored instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Whether two secrets are equal, in time that does not depend on where they differ. Never throws:
 * both are hashed to 32 bytes first, so inputs of any length or encoding (multibyte characters,
 * where string length and byte length differ) compare, instead of failing with a 500.
 */
export function constantTimeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match?.[1];
}

/** A new random bearer token (192 bits). */
export function newToken(): string {
  return `ept_${randomBytes(24).toString('base64url')}`;
}

/** An entry of the token file earlier versions kept (`<data dir>/tokens.json`); kind and roles may be added by hand before import. */
const LegacyTokenSchema = z
  .object({
    tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
    organizationId: IdSchema,
    actor: IdSchema,
    createdAt: z.string(),
    kind: z.enum(PRINCIPAL_KINDS).optional(),
    roles: z.array(RoleSchema).optional(),
  })
  .strict();
export type LegacyToken = z.infer<typeof LegacyTokenSchema>;

const LegacyTokenFileSchema = z.object({ tokens: z.array(LegacyTokenSchema) }).strict();

/** The tokens of an earlier version's token file, or none when there is no file. A malformed file is an error naming it. */
export function readLegacyTokenFile(file: string): LegacyToken[] {
  if (!existsSync(file)) return [];
  const parsed = LegacyTokenFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`Token file ${file} is malformed: ${parsed.error.issues[0]?.message}`);
  return parsed.data.tokens;
}
