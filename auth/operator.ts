import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Principal } from '../domain/principals.js';
import { fileMadeOnce } from './file-once.js';
import { constantTimeEqual } from './tokens.js';

/**
 * The operator token: a secret in the data dir (mode 0600) that lets whoever can read the data
 * dir — who could read the database anyway — manage any organization's tokens through the API
 * while the stack runs, so the first admin can be made. It does nothing else.
 */

/** Where the operator token is kept. */
export function operatorTokenFile(dataDir: string): string {
  return join(dataDir, 'operator-token');
}

/** The data dir's operator token, made on first use (one for every process sharing the data dir). */
export function ensureOperatorToken(dataDir: string): string {
  return fileMadeOnce(operatorTokenFile(dataDir), () => `ept_operator_${randomBytes(24).toString('base64url')}\n`).trim();
}

/** The data dir's operator token, if the stack made one. */
export function readOperatorToken(dataDir: string): string | undefined {
  const file = operatorTokenFile(dataDir);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** Whether `token` is the operator token (compared in constant time). */
export function isOperatorToken(token: string, operatorToken: string | undefined): boolean {
  return operatorToken !== undefined && operatorToken !== '' && constantTimeEqual(token, operatorToken);
}

/** How the operator acts for the organization it names: an admin service, recorded as `operator`. */
export function operatorOf(organizationId: string): Principal {
  return { organizationId, id: 'operator', kind: 'service', roles: ['admin'] };
}
