import {
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  SpanKind,
  SpanStatusCode,
  context,
  createContextKey,
  propagation,
  trace,
} from '@opentelemetry/api';

/*
 * What every part of the stack uses to trace, through the OpenTelemetry API only: with tracing
 * off (no OTEL_* endpoint, docs/tracing.md) no SDK is registered, the API's tracer is its no-op
 * one and every call here costs next to nothing. The SDK is started in tracing/sdk.ts.
 */

/** The tracer of the stack's own spans (API requests, SurrealDB, calls out). */
export const TRACER_NAME = 'execution-plans';

export const tracer = () => trace.getTracer(TRACER_NAME);

/**
 * The attributes that say whose work a span is: ids only, never a secret, a token or a payload.
 * Every span started inside a request or an activity carries those known there (tracing/sdk.ts).
 */
export const PLANS_ATTRIBUTES = {
  runId: 'plans.run_id',
  organizationId: 'plans.organization_id',
  principalId: 'plans.principal_id',
} as const;

export type PlansScope = { -readonly [K in keyof typeof PLANS_ATTRIBUTES]?: string };

const SCOPE = createContextKey('execution-plans scope');

/**
 * A context whose spans carry `scope`'s ids. The scope is one object for the request or activity
 * it stands for: ids learnt later (the principal once authenticated, a created run's id) are
 * added to it with `noteScope`, and spans started from then on carry them too.
 */
export function withScope(parent: Context, scope: PlansScope): Context {
  return parent.setValue(SCOPE, scope);
}

/** The ids of the request or activity `ctx` belongs to. */
export function scopeOf(ctx: Context): PlansScope | undefined {
  return ctx.getValue(SCOPE) as PlansScope | undefined;
}

/** The scope's ids as span attributes. */
export function attributesOf(scope: PlansScope): Attributes {
  const attributes: Attributes = {};
  for (const [key, name] of Object.entries(PLANS_ATTRIBUTES)) {
    const value = scope[key as keyof PlansScope];
    if (value) attributes[name] = value;
  }
  return attributes;
}

/**
 * Adds the ids it does not know yet to the active request's or activity's scope, and to its
 * span (a replacement's new run id leaves the replaced one's in place). Nothing outside a scope,
 * so nothing when tracing is off.
 */
export function noteScope(ids: PlansScope): void {
  const active = context.active();
  const scope = scopeOf(active);
  if (!scope) return;
  const learnt: PlansScope = {};
  for (const [key, value] of Object.entries(ids) as Array<[keyof PlansScope, string | undefined]>) {
    if (value && !scope[key]) learnt[key] = scope[key] = value;
  }
  trace.getSpan(active)?.setAttributes(attributesOf(learnt));
}

const DB_PURPOSE = createContextKey('execution-plans SurrealDB purpose');

/** Runs `work` with its SurrealDB queries' spans named for `purpose` (say, `persistTransitions`). */
export function withDbPurpose<T>(purpose: string, work: () => T): T {
  return context.with(context.active().setValue(DB_PURPOSE, purpose), work);
}

/** The name of a SurrealDB query's span: its purpose when one is set, else its first statement's keyword. */
export function dbSpanName(text: string): string {
  const purpose = context.active().getValue(DB_PURPOSE);
  if (typeof purpose === 'string') return `surrealdb ${purpose}`;
  const keyword = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
  return `surrealdb ${keyword === 'BEGIN' ? 'transaction' : keyword}`;
}

/** Whether something traced is under way here (a request, an activity): a background query starts no trace of its own. */
export function inTrace(): boolean {
  return trace.getActiveSpan()?.isRecording() === true;
}

/**
 * Runs `work` in a new span, child of the active one, ending it when `work` settles (an error
 * sets the span's status with the error's name only: messages may name what a caller sent).
 */
export async function inSpan<T>(name: string, options: SpanOptions, work: (span: Span | undefined) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * `headers` with the active trace's `traceparent` (and `tracestate`) for a call out, so its
 * receiver can join the trace. A `traceparent` the caller set itself (a webhook's headers, as
 * approved) is kept.
 */
export function withTraceHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const own = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  if (own.has('traceparent')) return { ...headers };
  return { ...headers, ...Object.fromEntries(Object.entries(carrier).filter(([name]) => !own.has(name.toLowerCase()))) };
}

export { SpanKind, SpanStatusCode };
