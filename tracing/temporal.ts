import { type Attributes, type SpanContext, context } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { ClientInterceptors } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetrySinks,
  type SerializableSpan,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';

import { runIdOf } from '../temporal/names.js';
import { type Tracing, withoutMessage } from './sdk.js';
import { PLANS_ATTRIBUTES, type PlansScope, withScope } from './spans.js';

/*
 * Temporal's part of a trace (@temporalio/interceptors-opentelemetry): the client's calls
 * (update-with-start, updates, signals, queries) carry the active trace in Temporal headers; the
 * workflow's interceptors (a module of the workflow bundle only when tracing is on: worker/bundle.ts) continue
 * it in the run (RunWorkflow, HandleUpdate, StartActivity) and hand each activity its parent; the
 * activity interceptor starts each activity's span (RunActivity). docs/DESIGN.md §3.
 */

/** The Temporal client's interceptors: each call a span that the workflow continues. */
export function tracingClientInterceptors(): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** The ids an activity works for, from its input (ids only: never its payload). */
function scopeOfActivity(args: unknown[], workflowId: string | undefined): PlansScope {
  const input = (typeof args[0] === 'object' && args[0] !== null ? args[0] : {}) as Record<string, unknown>;
  const run = (typeof input.run === 'object' && input.run !== null ? input.run : {}) as Record<string, unknown>;
  const runId = text(input.runId) ?? text(run.runId) ?? (workflowId?.startsWith('plan-run:') ? runIdOf(workflowId) : undefined);
  const organizationId = text(input.organizationId) ?? text(run.organizationId);
  return { ...(runId ? { runId } : {}), ...(organizationId ? { organizationId } : {}) };
}

/** The worker's activity interceptors: each activity a span, child of the workflow's StartActivity, carrying its run and organization. */
export function tracingActivityInterceptors(): ActivityInterceptorsFactory[] {
  return [
    (ctx) => {
      const spans = new OpenTelemetryActivityInboundInterceptor(ctx);
      const inbound: ActivityInboundCallsInterceptor = {
        execute: (input, next) =>
          context.with(withScope(context.active(), scopeOfActivity(input.args, ctx.info.workflowExecution?.workflowId)), () =>
            spans.execute(input, next),
          ),
      };
      return { inbound, outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) };
    },
  ];
}

/** The attributes a workflow span keeps: the interceptors' own ids, and the run's. */
function workflowSpanAttributes(span: SerializableSpan, info: WorkflowInfo): Attributes {
  const attributes: Attributes = {};
  for (const [name, value] of Object.entries(span.attributes)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') attributes[name] = value;
  }
  attributes.temporalWorkflowId = info.workflowId;
  attributes.temporalWorkflowType = info.workflowType;
  if (info.workflowId.startsWith('plan-run:')) attributes[PLANS_ATTRIBUTES.runId] = runIdOf(info.workflowId);
  const organizationId = (info.searchAttributes?.OrganizationId as unknown[] | undefined)?.[0];
  if (typeof organizationId === 'string') attributes[PLANS_ATTRIBUTES.organizationId] = organizationId;
  return attributes;
}

/**
 * A span made in the workflow sandbox (by the interceptors' own OpenTelemetry SDK, of the 1.x
 * line) as the SDK here reads one. Temporal's own sink (`makeWorkflowExporter`) would add the
 * whole WorkflowInfo as attributes (memo, search attributes, last result): only ids are kept.
 */
function readableSpan(span: SerializableSpan, info: WorkflowInfo, tracing: Tracing): ReadableSpan {
  const { traceState, ...ids } = span.spanContext;
  const spanContext: SpanContext = { ...ids, ...(traceState ? { traceState: new TraceState(traceState) } : {}) };
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => spanContext,
    ...(span.parentSpanId
      ? { parentSpanContext: { traceId: ids.traceId, spanId: span.parentSpanId, traceFlags: ids.traceFlags, isRemote: false } }
      : {}),
    startTime: span.startTime,
    endTime: span.endTime,
    // As every span's (sdk.ts): an error's kind, not its message (a refused update's may quote the request).
    status: { code: span.status.code },
    attributes: workflowSpanAttributes(span, info),
    links: span.links,
    events: span.events.map(withoutMessage),
    duration: span.duration,
    ended: span.ended,
    resource: tracing.resource,
    instrumentationScope: { name: span.instrumentationLibrary?.name ?? '@temporalio/interceptor-workflow' },
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/** The sink the workflow interceptors export their spans through; not called while a run replays. */
export function tracingWorkflowSinks(tracing: Tracing): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: {
      export: {
        fn: (info, spans) => {
          for (const span of spans) tracing.processor.onEnd(readableSpan(span, info, tracing));
        },
        callDuringReplay: false,
      },
    },
  };
}
