/**
 * Every metric this installation exports, in one table: its name (Prometheus conventions: a
 * counter's samples end in `_total`, a histogram's in `_bucket`, `_sum`, `_count`), its kind,
 * its labels, and what it says. docs/metrics.md repeats it; the Grafana dashboard
 * (docs/grafana/execution-plans.json) queries only these names (test/unit/metrics.test.ts).
 *
 * Labels never carry a run id, a payload or a secret: an organization, a principal's id, a
 * status, a decision's outcome and channel, an executor kind.
 */
export const METRICS = {
  runs: {
    name: 'plans_runs',
    kind: 'gauge',
    labels: ['organization', 'status'],
    help: 'Runs stored, by organization and status (counted over the status keys at scrape time, cached 10 s).',
  },
  pendingApprovals: {
    name: 'plans_pending_approvals',
    kind: 'gauge',
    labels: ['organization'],
    help: 'Runs waiting in pending-approval, by organization.',
  },
  decisionSeconds: {
    name: 'plans_decision_seconds',
    kind: 'histogram',
    labels: ['organization', 'outcome', 'channel'],
    help: 'Time from a run’s creation to the decision that ended its wait: outcome approved|rejected|changes-requested|expired; channel the credential kind (token, link, sign-in, temporal, expiry, standing).',
  },
  approvals: {
    name: 'plans_approvals',
    kind: 'counter',
    labels: ['organization', 'approver'],
    help: 'Approvals recorded, by the principal who gave them (a delegate, for a delegator).',
  },
  pageOpenToDecisionSeconds: {
    name: 'plans_page_open_to_decision_seconds',
    kind: 'histogram',
    labels: ['organization', 'outcome', 'channel'],
    help: 'Time from a person first opening a plan’s review (the inbox, a link’s page) to their decision through the same API process. A quick decision is a warning sign, not a rule.',
  },
  expiries: { name: 'plans_expiries', kind: 'counter', labels: ['organization'], help: 'Runs that expired without a decision.' },
  escalations: { name: 'plans_escalations', kind: 'counter', labels: ['organization'], help: 'Escalations of an approval stage.' },
  stepSeconds: {
    name: 'plans_step_seconds',
    kind: 'histogram',
    labels: ['organization', 'executor', 'outcome'],
    help: 'Step attempts run by workers (executor agent|webhook|noop; outcome completed|failed|cancelled), and people’s steps from start to completion (executor human).',
  },
  stepFailures: {
    name: 'plans_step_failures',
    kind: 'counter',
    labels: ['organization', 'executor'],
    help: 'Step attempts that failed, by executor kind (a retried step counts each failed attempt).',
  },
  webhookDeliveryFailures: {
    name: 'plans_webhook_delivery_failures',
    kind: 'counter',
    labels: ['organization'],
    help: 'Deliveries of events to webhook subscriptions that failed (each is retried).',
  },
  writeConflictRetries: {
    name: 'plans_write_conflict_retries',
    kind: 'counter',
    labels: [],
    help: 'SurrealDB queries this process tried again after a write conflict.',
  },
  doctorDivergences: {
    name: 'plans_doctor_divergences',
    kind: 'counter',
    labels: ['organization'],
    help: 'Runs `plans doctor` found stored differently from what Temporal committed (before any repair).',
  },
} as const satisfies Record<string, { name: string; kind: 'gauge' | 'counter' | 'histogram'; labels: readonly string[]; help: string }>;

export type MetricDefinition = (typeof METRICS)[keyof typeof METRICS];

/** The series names a metric's samples carry in Prometheus text. */
export function seriesNamesOf(metric: MetricDefinition): string[] {
  if (metric.kind === 'counter') return [`${metric.name}_total`];
  if (metric.kind === 'histogram') return ['_bucket', '_sum', '_count'].map((suffix) => `${metric.name}${suffix}`);
  return [metric.name];
}
