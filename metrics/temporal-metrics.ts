import type { Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';
import { type BufferedMetricUpdate, MetricsBuffer, type RuntimeOptions } from '@temporalio/worker';

/** The process's buffer of the Temporal SDK's metrics, when its runtime was installed with one. */
let buffer: MetricsBuffer | undefined;
/** The one reader that drains it (a process may run several stacks, e.g. in tests: the first takes them). */
let draining = false;

/** How often the SDK's buffered updates are moved into our instruments: a scrape sees them at most this late. */
const DRAIN_EVERY_MS = 1000;

/**
 * What `Runtime.install` needs for the Temporal SDK's own metrics (workflow and activity task
 * latencies, pollers, sticky cache, …) to be exported beside ours: Core buffers them and
 * `bridgeTemporalMetrics` moves them into the same instruments, so `/metrics` and OTLP carry
 * both, named `temporal_…`. Call it once, for the runtime installed before any worker connects.
 */
export function temporalRuntimeTelemetry(): Pick<RuntimeOptions, 'telemetryOptions'> {
  buffer ??= new MetricsBuffer({ maxBufferSize: 100_000, useSecondsForDurations: true });
  return { telemetryOptions: { metrics: { buffer } } };
}

/** The SDK's histograms are latencies, in seconds here: from a millisecond to a minute (OpenTelemetry's default buckets are for milliseconds). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type Instrument = { kind: 'counter'; counter: Counter } | { kind: 'histogram'; histogram: Histogram } | { kind: 'gauge'; gauge: Gauge };

/**
 * Moves the Temporal SDK's buffered metric updates into instruments of `meter`, every second,
 * until the returned function is called. Nothing when the runtime buffers none, or another
 * reader already drains it.
 */
export function bridgeTemporalMetrics(meter: Meter): () => void {
  const source = buffer;
  if (!source || draining) return () => {};
  draining = true;
  const instruments = new Map<string, Instrument>();
  const instrumentOf = ({ metric }: BufferedMetricUpdate): Instrument => {
    const name = metric.name.startsWith('temporal_') ? metric.name : `temporal_${metric.name}`;
    let instrument = instruments.get(name);
    if (!instrument) {
      const options = { ...(metric.description ? { description: metric.description } : {}), ...(metric.unit ? { unit: metric.unit } : {}) };
      instrument =
        metric.kind === 'counter'
          ? { kind: 'counter', counter: meter.createCounter(name.replace(/_total$/, ''), options) }
          : metric.kind === 'histogram'
            ? {
                kind: 'histogram',
                histogram: meter.createHistogram(name, { ...options, advice: { explicitBucketBoundaries: LATENCY_BUCKETS } }),
              }
            : { kind: 'gauge', gauge: meter.createGauge(name, options) };
      instruments.set(name, instrument);
    }
    return instrument;
  };
  const drain = () => {
    for (const update of source.retrieveUpdates()) {
      const instrument = instrumentOf(update);
      if (instrument.kind === 'counter') instrument.counter.add(update.value, update.attributes);
      else if (instrument.kind === 'histogram') instrument.histogram.record(update.value, update.attributes);
      else instrument.gauge.record(update.value, update.attributes);
    }
  };
  const timer = setInterval(drain, DRAIN_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    draining = false;
  };
}
