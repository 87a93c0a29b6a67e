import { join, resolve } from 'node:path';

import { z } from 'zod';

import { DEFAULT_TASK_QUEUE } from '../temporal/names.js';

const Port = z.coerce.number().int().min(0).max(65535);

/** Everything `plans start` can be told, from flags first, then the environment, then defaults. */
export const StackConfigSchema = z.object({
  dataDir: z.string().min(1),
  apiHost: z.string().min(1),
  apiPort: Port,
  /** An existing Temporal frontend; when absent a dev server is started under the data dir. */
  temporalAddress: z.string().min(1).optional(),
  temporalPort: Port,
  uiPort: Port,
  namespace: z.string().min(1),
  taskQueue: z.string().min(1),
  /** `rocksdb://<dataDir>/surreal` unless given (`mem://`, `ws://host:port`, …). */
  surrealUrl: z.string().min(1).optional(),
  surrealNamespace: z.string().min(1),
  surrealDatabase: z.string().min(1),
  surrealUser: z.string().optional(),
  surrealPass: z.string().optional(),
  /** The API's tokens (hashes), `<dataDir>/tokens.json` unless given. */
  tokensFile: z.string().min(1),
  /** Signs approval links; generated once into `<dataDir>/link-secret` unless given. */
  linkSecret: z.string().min(32).optional(),
  /** Where people reach the API (for links in notifications); the API's own address unless given. */
  publicUrl: z.url().optional(),
});
export type StackConfig = z.infer<typeof StackConfigSchema>;

/** The configuration table of README.md: flag, environment variable, default. */
export function loadConfig(flags: Partial<Record<keyof StackConfig, string | number | undefined>> = {}, env = process.env): StackConfig {
  // An empty variable counts as unset, as in most shells' `VAR= command`.
  const pick = (flag: keyof StackConfig, name: string, fallback?: string | number) => {
    const value = flags[flag] ?? env[name];
    return value === undefined || value === '' ? fallback : value;
  };
  const dataDir = resolve(String(pick('dataDir', 'PLANS_DATA_DIR', '.plans-data')));
  const result = StackConfigSchema.safeParse({
    dataDir,
    tokensFile: resolve(String(pick('tokensFile', 'PLANS_TOKENS_FILE', join(dataDir, 'tokens.json')))),
    linkSecret: pick('linkSecret', 'PLANS_LINK_SECRET'),
    publicUrl: pick('publicUrl', 'PLANS_PUBLIC_URL'),
    apiHost: pick('apiHost', 'PLANS_API_HOST', '127.0.0.1'),
    apiPort: pick('apiPort', 'PLANS_API_PORT', 8787),
    temporalAddress: pick('temporalAddress', 'TEMPORAL_ADDRESS'),
    temporalPort: pick('temporalPort', 'TEMPORAL_PORT', 7233),
    uiPort: pick('uiPort', 'TEMPORAL_UI_PORT', 8233),
    namespace: pick('namespace', 'TEMPORAL_NAMESPACE', 'default'),
    taskQueue: pick('taskQueue', 'PLANS_TASK_QUEUE', DEFAULT_TASK_QUEUE),
    surrealUrl: pick('surrealUrl', 'SURREALDB_URL'),
    surrealNamespace: pick('surrealNamespace', 'SURREALDB_NAMESPACE', 'execution_plans'),
    surrealDatabase: pick('surrealDatabase', 'SURREALDB_DATABASE', 'main'),
    surrealUser: pick('surrealUser', 'SURREALDB_USER'),
    surrealPass: pick('surrealPass', 'SURREALDB_PASS'),
  });
  if (!result.success) {
    throw new Error(`Invalid configuration: ${result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  return result.data;
}
