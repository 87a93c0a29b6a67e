import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { context, propagation, trace } from '@opentelemetry/api';

import { loadConfig } from '../../app/config.js';
import { dbSpanName, noteScope, withDbPurpose, withTraceHeaders } from '../../tracing/spans.js';
import { startTracing } from '../../tracing/sdk.js';

describe('tracing is configured by the standard OTEL_* variables (docs/tracing.md)', () => {
  it('is off when no endpoint is set, when the exporter is none, and when the SDK is disabled', () => {
    expect(loadConfig({}, {}).tracing).toBeUndefined();
    expect(loadConfig({}, { OTEL_SERVICE_NAME: 'plans', OTEL_EXPORTER_OTLP_HEADERS: 'a=b' }).tracing).toBeUndefined();
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeUndefined();
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(loadConfig({}, { ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeUndefined();
    expect(loadConfig({}, { ...endpoint, OTEL_SDK_DISABLED: 'true' }).tracing).toBeUndefined();
    expect(loadConfig({}, { ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }).tracing).toBeUndefined();
    expect(loadConfig({}, { ...endpoint, OTEL_SDK_DISABLED: 'false' }).tracing).toBeDefined();
  });

  it('exports OTLP over HTTP, protobuf unless told json, to the traces endpoint, the base one + /v1/traces, or the default', () => {
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      endpoint: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      serviceName: 'execution-plans',
      resourceAttributes: {},
    });
    expect(
      loadConfig(
        {},
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp/v1/traces',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=abc%3D%3D, x-other = 1',
          OTEL_SERVICE_NAME: 'plans-eu',
          OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.namespace=agents',
        },
      ).tracing,
    ).toEqual({
      endpoint: 'https://traces.example.com/otlp/v1/traces',
      protocol: 'http/json',
      headers: { 'x-honeycomb-team': 'abc==', 'x-other': '1' },
      serviceName: 'plans-eu',
      resourceAttributes: { 'deployment.environment.name': 'prod', 'service.namespace': 'agents' },
    });
    expect(loadConfig({}, { OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.endpoint).toBe('http://localhost:4318/v1/traces');
    // The traces-only variables win over the general ones.
    expect(
      loadConfig(
        {},
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
          OTEL_EXPORTER_OTLP_HEADERS: 'a=1',
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=2',
        },
      ).tracing,
    ).toMatchObject({ protocol: 'http/protobuf', headers: { b: '2' } });
  });

  it('refuses what it cannot export, naming the variable', () => {
    expect(() => loadConfig({}, { OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(
      'Invalid configuration: OTEL_TRACES_EXPORTER: zipkin is not supported; use otlp (or none).',
    );
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL \(or OTEL_EXPORTER_OTLP_PROTOCOL\)/,
    );
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \(or OTEL_EXPORTER_OTLP_ENDPOINT\)/,
    );
    expect(() => loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(
      'Invalid configuration: OTEL_EXPORTER_OTLP_HEADERS: an entry is not key=value (write each as key=value, separated by commas).',
    );
  });
});

describe('the tracing helpers', () => {
  it('with tracing off cost nothing visible: no span records, no header is added, no scope is kept', async () => {
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    expect(withTraceHeaders({ 'content-type': 'application/json' })).toEqual({ 'content-type': 'application/json' });
    expect(() => noteScope({ runId: 'r' })).not.toThrow();
  });

  it('name a SurrealDB span by its purpose, else its first keyword', () => {
    expect(dbSpanName('SELECT * FROM plan_run')).toBe('surrealdb SELECT');
    expect(dbSpanName('  BEGIN; UPSERT …; COMMIT;')).toBe('surrealdb transaction');
    // Without a context manager (tracing off) a purpose is not kept: it only matters to spans.
    expect(withDbPurpose('persistTransitions', () => dbSpanName('BEGIN;'))).toBe('surrealdb transaction');
  });

  it('with tracing on send the active trace along, keep a caller’s own traceparent, and name a write by its purpose', async () => {
    const tracing = startTracing({
      endpoint: 'http://127.0.0.1:9/v1/traces',
      protocol: 'http/json',
      headers: {},
      serviceName: 'unit',
      resourceAttributes: {},
    });
    try {
      expect(() =>
        startTracing({
          endpoint: 'http://127.0.0.1:9/v1/traces',
          protocol: 'http/json',
          headers: {},
          serviceName: 'x',
          resourceAttributes: {},
        }),
      ).toThrow('Tracing is already started in this process.');
      const span = trace.getTracer('unit').startSpan('call');
      const { traceId, spanId } = span.spanContext();
      context.with(trace.setSpan(context.active(), span), () => {
        expect(withTraceHeaders({ 'content-type': 'application/json' })).toEqual({
          'content-type': 'application/json',
          traceparent: `00-${traceId}-${spanId}-01`,
        });
        expect(withTraceHeaders({ TraceParent: 'theirs' })).toEqual({ TraceParent: 'theirs' });
        expect(withDbPurpose('persistTransitions', () => dbSpanName('BEGIN;'))).toBe('surrealdb persistTransitions');
      });
      // Not ended: nothing is sent to the collector, which is not there.
      expect(propagation.fields()).toEqual(['traceparent', 'tracestate']);
    } finally {
      await tracing.shutdown();
    }
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    expect(propagation.fields()).toEqual([]);
  });

  it('export OTLP/HTTP protobuf by default, with the configured headers, and flush what is left when stopped', async () => {
    const received: Array<{ path: string; type: string; key: string; body: Buffer }> = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({
          path: request.url ?? '',
          type: String(request.headers['content-type']),
          key: String(request.headers['x-key']),
          body: Buffer.concat(chunks),
        });
        response.end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const config = loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_HEADERS: 'x-key=k1' });
    const tracing = startTracing(config.tracing!);
    trace.getTracer('unit').startSpan('protobuf-span').end();
    await tracing.shutdown();
    collector.close();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ path: '/v1/traces', type: 'application/x-protobuf', key: 'k1' });
    expect(received[0]!.body.includes('protobuf-span')).toBe(true);
    expect(received[0]!.body.includes('execution-plans')).toBe(true); // the service's name
  });
});
