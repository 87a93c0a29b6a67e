import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

import type { Transition } from '../domain/run-state.js';
import { type ApprovalRecord, DECISION_EVENTS } from '../domain/snapshot.js';
import { conflictRetriesSoFar } from '../storage/database.js';
import type { RunCount } from '../storage/run-counts.js';
import { METRICS } from './names.js';
import { StoredCounts } from './stored-counts.js';
import { bridgeTemporalMetrics } from './temporal-metrics.js';

/** A person's decision on a run, in the metrics' words. */
export type DecisionOutcome = ApprovalRecord['decision'] | 'expired';

/** How a worker's step attempt ended. */
export type StepOutcome = 'completed' | 'failed' | 'cancelled';

export interface PlanMetricsOptions {
  /** Counts runs by organization and status, for the gauges (absent: no gauges, e.g. in unit tests). */
  countRuns?: () => Promise<RunCount[]>;
  /** Push to an OTLP/HTTP endpoint too (`OTEL_EXPORTER_OTLP_*`). */
  otlp?: { url: string; intervalMs: number };
  /** Bring the Temporal SDK's own metrics in, when this process installed the runtime that buffers them. */
  temporal?: boolean;
}

const HOUR = 3600;
/** A decision waits for people: seconds to a week. */
const DECISION_BUCKETS = [1, 10, 30, 60, 300, 900, 1800, HOUR, 4 * HOUR, 12 * HOUR, 24 * HOUR, 72 * HOUR, 168 * HOUR];
/** Reading a plan takes a person seconds to minutes; under a few seconds is the warning sign. */
const READING_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 900, HOUR, 4 * HOUR, 24 * HOUR];
/** A step: a no-op in milliseconds, an agent or webhook in seconds, a person's step in hours. */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, HOUR, 24 * HOUR];

/** How many people's open reviews are remembered, waiting for their decision (the oldest go first). */
const OPEN_REVIEWS_KEPT = 10_000;
/** A review opened longer ago than this is not what the decision was made on. */
const OPEN_REVIEW_MAX_AGE_MS = 7 * 24 * HOUR * 1000;

/** How Prometheus text is served, wherever it is (`GET /metrics`, `PLANS_METRICS_ADDRESS`). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/**
 * The installation's metrics: one set of OpenTelemetry instruments, read as Prometheus text by
 * `/metrics` (a pull reader, no port of its own) and pushed over OTLP when configured. Counters
 * and histograms live in memory: observing costs no storage write. Gauges over stored runs are
 * counted when read, at most every 10 s (`StoredCounts`).
 */
export class PlanMetrics {
  private readonly provider: MeterProvider;
  private readonly prometheus: PrometheusExporter;
  private readonly serializer = new PrometheusSerializer(undefined, false, undefined, false, true);
  private readonly approvals: Counter;
  private readonly decisions: Histogram;
  private readonly reading: Histogram;
  private readonly expiries: Counter;
  private readonly escalations: Counter;
  private readonly steps: Histogram;
  private readonly stepFailures: Counter;
  private readonly deliveryFailures: Counter;
  private readonly divergences: Counter;
  /** When each person first opened each run's review, by `runId \0 principalId`, until they decide. */
  private readonly openReviews = new Map<string, number>();
  private readonly stopTemporal: () => void;

  constructor(options: PlanMetricsOptions = {}) {
    this.prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    const readers: MetricReader[] = [this.prometheus];
    if (options.otlp) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: options.otlp.url }),
          exportIntervalMillis: options.otlp.intervalMs,
        }),
      );
    }
    this.provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'execution-plans' }), readers });
    const meter = this.provider.getMeter('execution-plans');
    const histogram = (metric: { name: string; help: string }, buckets: number[]) =>
      meter.createHistogram(metric.name, { description: metric.help, unit: 's', advice: { explicitBucketBoundaries: buckets } });
    // Counters are named without `_total`: the Prometheus text adds it.
    const counter = (metric: { name: string; help: string }) => meter.createCounter(metric.name, { description: metric.help });
    this.approvals = counter(METRICS.approvals);
    this.decisions = histogram(METRICS.decisionSeconds, DECISION_BUCKETS);
    this.reading = histogram(METRICS.pageOpenToDecisionSeconds, READING_BUCKETS);
    this.expiries = counter(METRICS.expiries);
    this.escalations = counter(METRICS.escalations);
    this.steps = histogram(METRICS.stepSeconds, STEP_BUCKETS);
    this.stepFailures = counter(METRICS.stepFailures);
    this.deliveryFailures = counter(METRICS.webhookDeliveryFailures);
    this.divergences = counter(METRICS.doctorDivergences);
    meter
      .createObservableCounter(METRICS.writeConflictRetries.name, { description: METRICS.writeConflictRetries.help })
      .addCallback((result) => result.observe(conflictRetriesSoFar()));
    if (options.countRuns) this.observeStoredRuns(meter, new StoredCounts(options.countRuns));
    this.stopTemporal = options.temporal ? bridgeTemporalMetrics(meter) : () => {};
  }

  /**
   * What transitions a write applied say: approvals, decisions, expiries, escalations, people's
   * steps. Only what the write applied (`StoredTransitions.applied`) is counted, so a retried or
   * re-sent write counts nothing again; a write whose commit was not heard of is retried and
   * then counted by no one (at most once).
   */
  transitionsStored(organization: string, applied: readonly Transition[], createdAt?: string): void {
    for (const transition of applied) {
      for (const event of transition.events) {
        const decision = DECISION_EVENTS[event.eventType];
        if (decision) {
          if (!createdAt) continue;
          const channel = (event.detail.credential as { kind?: string } | undefined)?.kind ?? 'unknown';
          const outcome = event.detail.expired === true ? 'expired' : decision;
          this.decisions.record(seconds(createdAt, event.createdAt), { organization, outcome, channel });
        } else if (event.eventType === 'plan-approval-recorded') {
          this.approvals.add(1, { organization, approver: event.emittedBy });
        } else if (event.eventType === 'plan-expired') {
          this.expiries.add(1, { organization });
        } else if (event.eventType === 'plan-escalated') {
          this.escalations.add(1, { organization });
        } else if (event.eventType === 'node-completed' && event.detail.credential) {
          // A step a person completed (only theirs carry a credential): from its start to now.
          const node = transition.nodes.find((candidate) => candidate.nodeId === event.nodeId);
          if (node?.startedAt)
            this.steps.record(seconds(node.startedAt, event.createdAt), { organization, executor: 'human', outcome: 'completed' });
        }
      }
    }
  }

  /** One attempt of a step a worker ran, from the call of its executor to its end. */
  stepAttempt(organization: string, executor: string, outcome: StepOutcome, durationSeconds: number): void {
    this.steps.record(durationSeconds, { organization, executor, outcome });
    if (outcome === 'failed') this.stepFailures.add(1, { organization, executor });
  }

  webhookDeliveryFailed(organization: string): void {
    this.deliveryFailures.add(1, { organization });
  }

  /** Runs `plans doctor` found differing (`diverged` ones, and `repaired` ones: they differed before). */
  doctorFound(organization: string, runs: number): void {
    if (runs > 0) this.divergences.add(runs, { organization });
  }

  /** A person opened a run's review: the clock of their decision starts, once. */
  reviewOpened(runId: string, principalId: string, now = Date.now()): void {
    const key = `${runId}\u0000${principalId}`;
    if (this.openReviews.has(key)) return;
    if (this.openReviews.size >= OPEN_REVIEWS_KEPT) this.openReviews.delete(this.openReviews.keys().next().value!);
    this.openReviews.set(key, now);
  }

  /** A person decided a run: how long after they first opened its review, if they did here lately. */
  decidedAfterReview(
    organization: string,
    runId: string,
    principalId: string,
    outcome: DecisionOutcome,
    channel: string,
    now = Date.now(),
  ): void {
    const key = `${runId}\u0000${principalId}`;
    const opened = this.openReviews.get(key);
    this.openReviews.delete(key);
    if (opened === undefined || now - opened > OPEN_REVIEW_MAX_AGE_MS) return;
    this.reading.record((now - opened) / 1000, { organization, outcome, channel });
  }

  /**
   * Everything, as Prometheus text; for `organization`, only its own series (every series
   * labelled with it): an admin reads their organization's metrics, not another's nor the
   * installation's (those are for `PLANS_METRICS_ADDRESS`).
   */
  async prometheusText(organization?: string): Promise<string> {
    const { resourceMetrics } = await this.prometheus.collect();
    return this.serializer.serialize(organization === undefined ? resourceMetrics : onlyOrganization(resourceMetrics, organization));
  }

  async shutdown(): Promise<void> {
    this.stopTemporal();
    await this.provider.shutdown();
  }

  private observeStoredRuns(meter: Meter, counts: StoredCounts): void {
    const runs = meter.createObservableGauge(METRICS.runs.name, { description: METRICS.runs.help });
    const pending = meter.createObservableGauge(METRICS.pendingApprovals.name, { description: METRICS.pendingApprovals.help });
    meter.addBatchObservableCallback(
      async (result) => {
        for (const { organizationId: organization, status, runs: count } of await counts.current()) {
          result.observe(runs, count, { organization, status });
          if (status === 'pending-approval') result.observe(pending, count, { organization });
        }
      },
      [runs, pending],
    );
  }
}

/** The metrics with only `organization`'s data points (the rest dropped, metrics left empty dropped too). */
function onlyOrganization(resourceMetrics: ResourceMetrics, organization: string): ResourceMetrics {
  const mine = (attributes: Attributes) => attributes.organization === organization;
  return {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics
        .map((metric) => ({
          ...metric,
          dataPoints: (metric.dataPoints as Array<{ attributes: Attributes }>).filter((point) => mine(point.attributes)),
        }))
        .filter((metric) => metric.dataPoints.length > 0) as typeof scope.metrics,
    })),
  };
}
