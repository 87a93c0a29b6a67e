import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { z } from 'zod';

import { IdSchema } from '../domain/requests.js';

/** Who calls the API: a token stands for one actor of one organization. */
export interface Principal {
  organizationId: string;
  actor: string;
}

const TokenEntrySchema = z
  .object({
    /** SHA-256 of the token, hex: the token itself is never stored. */
    tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
    organizationId: IdSchema,
    actor: IdSchema,
    createdAt: z.string(),
  })
  .strict();

const TokenFileSchema = z.object({ tokens: z.array(TokenEntrySchema) }).strict();
type TokenFile = z.infer<typeof TokenFileSchema>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new random bearer token (192 bits). */
export function newToken(): string {
  return `ept_${randomBytes(24).toString('base64url')}`;
}

function readTokenFile(file: string): TokenFile {
  if (!existsSync(file)) return { tokens: [] };
  const parsed = TokenFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`Token file ${file} is malformed: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * The API's tokens, kept as hashes in a JSON file (mode 0600). The file is read again when it
 * changes, so `plans token create` takes effect on a running stack.
 */
export class TokenStore {
  private byHash = new Map<string, Principal>();
  private loadedVersion = '';

  constructor(readonly file: string) {}

  /** The principal a bearer token stands for, or undefined for an unknown token. */
  authenticate(token: string): Principal | undefined {
    this.reloadIfChanged();
    return this.byHash.get(hashToken(token));
  }

  get size(): number {
    this.reloadIfChanged();
    return this.byHash.size;
  }

  /** Adds a token for `principal` and returns it; it is shown once and stored only as a hash. */
  create(principal: Principal): string {
    const parsed = z.object({ organizationId: IdSchema, actor: IdSchema }).safeParse(principal);
    if (!parsed.success) throw new Error(`Invalid token owner: ${parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`);
    const token = newToken();
    const current = readTokenFile(this.file);
    current.tokens.push({ tokenHash: hashToken(token), ...parsed.data, createdAt: new Date().toISOString() });
    mkdirSync(dirname(this.file), { recursive: true });
    // Written aside and renamed: a reader never sees a half-written file.
    const temporary = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(temporary, `${JSON.stringify(current, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
    return token;
  }

  private reloadIfChanged(): void {
    const stat = existsSync(this.file) ? statSync(this.file) : undefined;
    const version = stat ? `${stat.mtimeMs}:${stat.size}:${stat.ino}` : 'none';
    if (version === this.loadedVersion) return;
    this.byHash = new Map(readTokenFile(this.file).tokens.map((entry) => [entry.tokenHash, { organizationId: entry.organizationId, actor: entry.actor }]));
    this.loadedVersion = version;
  }
}
