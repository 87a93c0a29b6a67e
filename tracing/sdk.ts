import { type Context, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
  type TimedEvent,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_EXCEPTION_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

import { runIdOf } from '../temporal/names.js';
import { PLANS_ATTRIBUTES, attributesOf, scopeOf } from './spans.js';

/** Where and how spans are exported: the standard `OTEL_*` variables as app/config.ts reads them. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL (`…/v1/traces`). */
  endpoint: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Headers sent with every export (`OTEL_EXPORTER_OTLP_HEADERS`): a collector's credentials. */
  headers: Record<string, string>;
  serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`. */
  resourceAttributes: Record<string, string>;
}

/** The tracing SDK of a process: started once, by the stack, when tracing is configured. */
export interface Tracing {
  readonly resource: Resource;
  /** Every finished span goes here (the workflow spans Temporal's sink hands over too). */
  readonly processor: SpanProcessor;
  /** Exports what has ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and unregisters the SDK: the OpenTelemetry API is a no-op again. */
  shutdown(): Promise<void>;
}

const TEMPORAL_WORKFLOW_ID = 'temporalWorkflowId';

/**
 * Stamps each span with the ids of the request or activity it belongs to, and a Temporal span
 * of a run with the run's id. What a caller sends never becomes an attribute: a `traceparent`
 * only names the parent span.
 */
class PlansScopeProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const scope = scopeOf(parentContext);
    if (scope) span.setAttributes(attributesOf(scope));
  }
  onEnding(span: Span): void {
    const workflowId = span.attributes[TEMPORAL_WORKFLOW_ID];
    if (typeof workflowId === 'string' && span.attributes[PLANS_ATTRIBUTES.runId] === undefined && workflowId.startsWith('plan-run:'))
      span.setAttribute(PLANS_ATTRIBUTES.runId, runIdOf(workflowId));
    // Errors say what failed, not what they read: a failed call's message quotes its answer.
    if (span.status.message !== undefined) span.setStatus({ code: span.status.code });
    const events = span.events as TimedEvent[];
    for (const [index, event] of events.entries()) events[index] = withoutMessage(event);
  }
  onEnd(_span: ReadableSpan): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * An exception event with its type only. Its message and stack (which starts with the message)
 * can quote what a call answered (an agent's or webhook's body) or what a caller sent; the run's
 * record keeps them, and the span names the run.
 */
export function withoutMessage(event: TimedEvent): TimedEvent {
  if (event.name !== 'exception') return event;
  const type = event.attributes?.[ATTR_EXCEPTION_TYPE];
  return { ...event, attributes: type === undefined ? {} : { [ATTR_EXCEPTION_TYPE]: type } };
}

let started: Tracing | undefined;

/** The longest a stop waits for the last spans to be exported. */
const SHUTDOWN_WAIT_MS = 5000;

/**
 * Starts the tracing SDK and registers it with the OpenTelemetry API (tracer provider, context
 * manager, W3C trace-context propagator). Every span is sampled: a caller's `traceparent` that
 * says "not sampled" does not hide its requests. One per process: a second start is refused.
 */
export function startTracing(settings: TracingSettings): Tracing {
  if (started) throw new Error('Tracing is already started in this process.');
  const Exporter = settings.protocol === 'http/json' ? OTLPJsonTraceExporter : OTLPProtobufTraceExporter;
  const exporter = new Exporter({ url: settings.endpoint, headers: settings.headers });
  const batches = new BatchSpanProcessor({ exporter });
  const resource = resourceFromAttributes({ ...settings.resourceAttributes, [ATTR_SERVICE_NAME]: settings.serviceName });
  const provider = new TracerProvider({
    resource,
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new PlansScopeProcessor(), batches],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  if (!trace.setGlobalTracerProvider(provider)) throw new Error('Another OpenTelemetry tracer provider is registered in this process.');
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracing: Tracing = {
    resource,
    processor: batches,
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      if (started !== tracing) return;
      started = undefined;
      // What is left is exported, for as long as a collector that does not answer may keep a stop waiting.
      await Promise.race([provider.shutdown().catch(() => {}), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS).unref())]);
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  started = tracing;
  return tracing;
}
