import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig, temporalConnectionOptions } from '../../app/config.js';
import { startStack } from '../../app/stack.js';
import { openDatabase } from '../../storage/database.js';
import { tempDir } from '../support/stack.js';

describe('configuration: flags, then the environment, then defaults', () => {
  it('reads Temporal’s own environment configuration: address, namespace, API key (TLS on)', () => {
    const config = loadConfig(
      {},
      { TEMPORAL_ADDRESS: 'acme.a1b2c.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'acme.a1b2c', TEMPORAL_API_KEY: 'secret' },
    );
    expect(config).toMatchObject({ temporalAddress: 'acme.a1b2c.tmprl.cloud:7233', namespace: 'acme.a1b2c' });
    expect(temporalConnectionOptions(config, config.temporalAddress!)).toMatchObject({
      address: 'acme.a1b2c.tmprl.cloud:7233',
      apiKey: 'secret',
      tls: true,
    });
    // A dev server the stack starts itself is reached plainly.
    expect(temporalConnectionOptions(config, '127.0.0.1:7233')).toEqual({ address: '127.0.0.1:7233' });
  });

  it('metrics: PLANS_METRICS_ADDRESS is host:port; OTLP from OpenTelemetry’s own variables, only when they name an endpoint', () => {
    expect(loadConfig({}, {})).toMatchObject({ metricsAddress: undefined, otlpMetrics: undefined });
    expect(loadConfig({}, { PLANS_METRICS_ADDRESS: '10.0.0.5:9464' }).metricsAddress).toBe('10.0.0.5:9464');
    expect(() => loadConfig({}, { PLANS_METRICS_ADDRESS: 'http://10.0.0.5' })).toThrow('metricsAddress: is not host:port');
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlpMetrics).toEqual({
      url: 'http://collector:4318/v1/metrics',
      intervalMs: 60_000,
    });
    expect(
      loadConfig({}, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:4318/m', OTEL_METRIC_EXPORT_INTERVAL: '5000' }).otlpMetrics,
    ).toEqual({ url: 'http://collector:4318/m', intervalMs: 5000 });
    expect(
      loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_METRICS_EXPORTER: 'none' }).otlpMetrics,
    ).toBeUndefined();
  });

  it('reads a profile of a temporal.toml file', () => {
    const file = join(tempDir('plans-config-'), 'temporal.toml');
    writeFileSync(file, '[profile.cloud]\naddress = "prod.tmprl.cloud:7233"\nnamespace = "prod.x"\napi_key = "k"\n');
    const config = loadConfig({}, { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
    expect(config).toMatchObject({ temporalAddress: 'prod.tmprl.cloud:7233', namespace: 'prod.x' });
  });

  it('starts a dev server when no Temporal is configured; empty variables count as unset; flags win', () => {
    const config = loadConfig({ apiPort: 9000 }, { TEMPORAL_ADDRESS: '', PLANS_API_PORT: '8000', PLANS_TASK_QUEUE: '' });
    expect(config).toMatchObject({
      temporalAddress: undefined,
      namespace: 'default',
      apiPort: 9000,
      taskQueue: 'execution-plans',
      logLevel: 'WARN',
    });
  });

  it('parses HTTP agents and refuses what it cannot use, naming it', () => {
    expect(loadConfig({}, { PLANS_HTTP_AGENTS: 'writer=http://127.0.0.1:9/w, critic=http://127.0.0.1:9/c' }).httpAgents).toEqual([
      { name: 'writer', url: 'http://127.0.0.1:9/w' },
      { name: 'critic', url: 'http://127.0.0.1:9/c' },
    ]);
    expect(() => loadConfig({}, { PLANS_HTTP_AGENTS: 'writer' })).toThrow(
      'Invalid configuration: httpAgents: entry "writer" is not name=url',
    );
    expect(() => loadConfig({}, { PLANS_LOG_LEVEL: 'LOUD' })).toThrow(/logLevel/);
    expect(() => loadConfig({}, { PLANS_API_PORT: 'eighty' })).toThrow(/apiPort/);
    expect(() => loadConfig({}, { PLANS_WORKFLOW_CACHE_SIZE: '-1' })).toThrow(/workflowCacheSize/);
  });

  it('bounds the workflow cache by default, and lets it be set', () => {
    expect(loadConfig({}, {}).workflowCacheSize).toBe(64);
    expect(loadConfig({}, { PLANS_WORKFLOW_CACHE_SIZE: '32' }).workflowCacheSize).toBe(32);
  });
});

describe('a part alone (plans worker, plans api) shares its engines', () => {
  const base = { PLANS_DATA_DIR: tempDir('plans-role-') };
  it('refuses, naming what is missing, before it starts anything: a Temporal address, a SurrealDB server, the public URL for links', async () => {
    await expect(startStack(loadConfig({}, base), { role: 'api' })).rejects.toThrow(/plans api .*set TEMPORAL_ADDRESS/);
    const onTemporal = { ...base, TEMPORAL_ADDRESS: '127.0.0.1:7233' };
    await expect(startStack(loadConfig({}, onTemporal), { role: 'worker' })).rejects.toThrow(
      /plans worker shares SurrealDB .*SURREALDB_URL/,
    );
    await expect(
      startStack(loadConfig({}, { ...onTemporal, SURREALDB_URL: `rocksdb://${base.PLANS_DATA_DIR}/s` }), { role: 'api' }),
    ).rejects.toThrow(/an embedded engine belongs to one process/);
    await expect(startStack(loadConfig({}, { ...onTemporal, SURREALDB_URL: 'ws://127.0.0.1:1' }), { role: 'worker' })).rejects.toThrow(
      /PLANS_PUBLIC_URL/,
    );
  });
});

describe('sign-in through an identity provider (PLANS_OIDC_*)', () => {
  const all = {
    PLANS_OIDC_ISSUER: 'https://id.example.com',
    PLANS_OIDC_CLIENT_ID: 'plans',
    PLANS_OIDC_CLIENT_SECRET: 'secret',
    PLANS_OIDC_ORGANIZATION: 'acme',
  };
  it('none set: no sign-in; all four: the defaults for the rest; some: a refusal naming those missing; a bad value named', () => {
    expect(loadConfig({}, {}).oidc).toBeUndefined();
    expect(loadConfig({}, all).oidc).toEqual({
      issuer: 'https://id.example.com',
      clientId: 'plans',
      clientSecret: 'secret',
      organizationId: 'acme',
      principalClaim: 'preferred_username',
      rolesClaim: 'groups',
      sessionHours: 8,
    });
    const { PLANS_OIDC_CLIENT_SECRET: _secret, PLANS_OIDC_ORGANIZATION: _org, ...partial } = all;
    expect(() => loadConfig({}, partial)).toThrow(
      'Invalid configuration: OpenID Connect sign-in needs PLANS_OIDC_ISSUER, PLANS_OIDC_CLIENT_ID, PLANS_OIDC_CLIENT_SECRET, PLANS_OIDC_ORGANIZATION; PLANS_OIDC_CLIENT_SECRET, PLANS_OIDC_ORGANIZATION are not set.',
    );
    expect(() => loadConfig({}, { ...all, PLANS_OIDC_ISSUER: 'not a url' })).toThrow(/^Invalid configuration: PLANS_OIDC_ISSUER: /);
  });
});

describe('SurrealDB storage', () => {
  it('refuses SurrealKV, saying why, before opening anything', async () => {
    await expect(openDatabase({ url: `surrealkv://${tempDir('plans-skv-')}/s` })).rejects.toThrow(
      /SurrealKV loses concurrent updates .*rocksdb:\/\//,
    );
  });
});
