import { chmodSync, mkdirSync } from 'node:fs';

import { loadConfig } from '../app/config.js';
import { readOperatorToken } from '../auth/operator.js';
import type { IssuedToken } from '../client/principals-client.js';
import { PrincipalsClient } from '../client/principals-client.js';
import { PlanError } from '../domain/errors.js';
import type { TokenRequest, TokenView } from '../domain/principals.js';
import { ApiClient } from './api-client.js';

/** What `plans token …` does, wherever it does it. */
export interface TokenAccess {
  /** Where it acts, for the operator's messages. */
  readonly where: string;
  create(request: Omit<TokenRequest, 'organizationId'> & { organizationId?: string }): Promise<IssuedToken>;
  list(organizationId?: string): Promise<TokenView[]>;
  revoke(tokenId: string, organizationId?: string): Promise<TokenView>;
}

function apiAccess(api: ApiClient, where: string): TokenAccess {
  const query = (organizationId?: string) => (organizationId ? `?organizationId=${encodeURIComponent(organizationId)}` : '');
  return {
    where,
    create: (request) => api.request('POST', '/v1/tokens', request),
    list: (organizationId) => api.request('GET', `/v1/tokens${query(organizationId)}`),
    revoke: (tokenId, organizationId) => api.request('DELETE', `/v1/tokens/${encodeURIComponent(tokenId)}${query(organizationId)}`),
  };
}

/** Straight against the data dir's database, as the operator: for a stopped stack. */
async function offline<T>(dataDir: string | undefined, act: (principals: PrincipalsClient) => Promise<T>): Promise<T> {
  const config = loadConfig(dataDir ? { dataDir } : {});
  const url = config.surrealUrl ?? `rocksdb://${config.dataDir}/surreal`;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  // Loaded only here: every other command talks to the API and need not load the database engine.
  const [{ openDatabase }, { PlanStore }] = await Promise.all([import('../storage/database.js'), import('../storage/plan-store.js')]);
  let db;
  try {
    db = await openDatabase({
      url,
      namespace: config.surrealNamespace,
      database: config.surrealDatabase,
      ...(config.surrealUser ? { username: config.surrealUser } : {}),
      ...(config.surrealPass ? { password: config.surrealPass } : {}),
      connectTimeoutMs: 5000,
    });
  } catch (error) {
    throw new PlanError('unavailable', `Neither the API nor the data dir's database is reachable: ${(error as Error).message}`);
  }
  try {
    return await act(new PrincipalsClient(new PlanStore(db)));
  } finally {
    await db.close();
  }
}

function requireOrganization(organizationId: string | undefined): string {
  if (!organizationId) throw new PlanError('invalid-input', 'Name the organization with --org.');
  return organizationId;
}

/** Straight against the data dir's database, as the operator. */
function directAccess(dataDir: string | undefined): TokenAccess {
  const config = loadConfig(dataDir ? { dataDir } : {});
  return {
    where: `the data dir ${config.dataDir}`,
    create: (request) =>
      offline(dataDir, (principals) =>
        principals.issueToken({ ...request, organizationId: requireOrganization(request.organizationId) }, 'operator'),
      ),
    list: (organizationId) => offline(dataDir, (principals) => principals.listTokens(requireOrganization(organizationId))),
    revoke: (tokenId, organizationId) =>
      offline(dataDir, (principals) => principals.revokeToken(requireOrganization(organizationId), tokenId, 'operator')),
  };
}

/** `primary`, or `fallback` when the primary's API does not answer. */
function withFallback(primary: TokenAccess, fallback: TokenAccess): TokenAccess {
  const either = async <T>(first: () => Promise<T>, second: () => Promise<T>): Promise<T> => {
    try {
      return await first();
    } catch (error) {
      if (error instanceof PlanError && error.code === 'unavailable') return second();
      throw error;
    }
  };
  return {
    where: primary.where,
    create: (request) =>
      either(
        () => primary.create(request),
        () => fallback.create(request),
      ),
    list: (organizationId) =>
      either(
        () => primary.list(organizationId),
        () => fallback.list(organizationId),
      ),
    revoke: (tokenId, organizationId) =>
      either(
        () => primary.revoke(tokenId, organizationId),
        () => fallback.revoke(tokenId, organizationId),
      ),
  };
}

/**
 * How `plans token …` reaches the tokens: with `--token`/`PLANS_TOKEN` (an admin's) through the
 * API; otherwise as the operator — through the running stack's API with the data dir's operator
 * token, or, when the stack is stopped, straight against the data dir's database.
 */
export function tokenAccess(options: { api: string; token?: string; dataDir?: string }): TokenAccess {
  if (options.token) return apiAccess(new ApiClient(options.api, options.token), `the API at ${options.api}`);
  const operatorToken = readOperatorToken(loadConfig(options.dataDir ? { dataDir: options.dataDir } : {}).dataDir);
  const direct = directAccess(options.dataDir);
  if (!operatorToken) return direct;
  return withFallback(apiAccess(new ApiClient(options.api, operatorToken), `the API at ${options.api}, as the operator`), direct);
}
