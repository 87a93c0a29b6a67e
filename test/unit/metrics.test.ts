import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import type { Transition } from '../../domain/run-state.js';
import { METRICS, seriesNamesOf } from '../../metrics/names.js';
import { PlanMetrics } from '../../metrics/plan-metrics.js';

const DASHBOARD = fileURLToPath(new URL('../../../docs/grafana/execution-plans.json', import.meta.url));

/** Every metric name a dashboard's queries (and its variables) name. */
function dashboardMetricNames(): string[] {
  const text = readFileSync(DASHBOARD, 'utf8');
  return [...new Set([...text.matchAll(/\b((?:plans|temporal)_[a-z_]+)\b/g)].map((match) => match[1]!))];
}

const event = (eventType: string, extra: Partial<Transition['events'][number]> = {}): Transition['events'][number] => ({
  sequence: 1,
  eventType,
  message: '',
  emittedBy: 'system',
  detail: {},
  createdAt: '2026-01-01T00:10:00.000Z',
  ...extra,
});
const transition = (events: Transition['events'], nodes: Transition['nodes'] = []): Transition => ({ sequence: 1, run: {}, nodes, events });

/** Every sample of Prometheus text, as `name{labels} value` lines. */
const samples = (text: string) => text.split('\n').filter((line) => line && !line.startsWith('#'));

it('the Grafana dashboard queries only metrics we export, and every one of them', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
  expect(dashboard.panels.length).toBeGreaterThan(0);
  const ours = new Set(Object.values(METRICS).flatMap(seriesNamesOf));
  const named = dashboardMetricNames().filter((name) => name.startsWith('plans_'));
  expect(named.filter((name) => !ours.has(name))).toEqual([]);
  // Temporal's names are checked against a real scrape (test/integration/metrics.test.ts).
  const unused = Object.values(METRICS).filter((metric) => !seriesNamesOf(metric).some((name) => named.includes(name)));
  expect(unused.map((metric) => metric.name)).toEqual([]);
});

it('exports every metric of the table, with its labels, and an organization reads only its own series', async () => {
  const metrics = new PlanMetrics({
    countRuns: async () => [
      { organizationId: 'acme', status: 'pending-approval', runs: 2 },
      { organizationId: 'beta', status: 'running', runs: 1 },
    ],
  });
  const created = '2026-01-01T00:00:00.000Z';
  metrics.transitionsStored(
    'acme',
    [
      transition([
        event('plan-approval-recorded', { emittedBy: 'alice' }),
        event('plan-approved', { emittedBy: 'alice', detail: { credential: { kind: 'link', id: 'l-1' } } }),
      ]),
      transition([
        event('plan-escalated'),
        event('plan-expired'),
        event('plan-rejected', { detail: { expired: true, credential: { kind: 'expiry' } } }),
      ]),
      transition(
        [event('node-completed', { nodeId: 'review', emittedBy: 'alice', detail: { credential: { kind: 'token', id: 't' } } })],
        [{ nodeId: 'review', status: 'completed', startedAt: '2026-01-01T00:09:00.000Z' }],
      ),
    ],
    created,
  );
  metrics.stepAttempt('acme', 'webhook', 'failed', 0.2);
  metrics.webhookDeliveryFailed('acme');
  metrics.doctorFound('acme', 2);
  metrics.reviewOpened('run-1', 'alice', 1_000);
  metrics.decidedAfterReview('acme', 'run-1', 'alice', 'approved', 'token', 4_000);
  // Decided again, or without having opened the review here: nothing to measure.
  metrics.decidedAfterReview('acme', 'run-1', 'alice', 'approved', 'token', 9_000);
  metrics.decidedAfterReview('acme', 'run-2', 'bob', 'rejected', 'token', 9_000);
  metrics.stepAttempt('beta', 'agent', 'completed', 1);

  const all = await metrics.prometheusText();
  for (const metric of Object.values(METRICS)) {
    const lines = samples(all).filter((line) =>
      seriesNamesOf(metric).some((name) => line.startsWith(`${name}{`) || line.startsWith(`${name} `)),
    );
    expect({ metric: metric.name, exported: lines.length > 0 }).toEqual({ metric: metric.name, exported: true });
    const labels = new Set(
      lines.flatMap((line) => [...line.matchAll(/(\w+)="/g)].map((match) => match[1]!)).filter((label) => label !== 'le'),
    );
    expect({ metric: metric.name, labels: [...labels].sort() }).toEqual({ metric: metric.name, labels: [...metric.labels].sort() });
  }
  expect(samples(all)).toEqual(
    expect.arrayContaining([
      'plans_approvals_total{organization="acme",approver="alice"} 1',
      'plans_decision_seconds_count{organization="acme",outcome="approved",channel="link"} 1',
      'plans_decision_seconds_sum{organization="acme",outcome="approved",channel="link"} 600',
      'plans_decision_seconds_count{organization="acme",outcome="expired",channel="expiry"} 1',
      'plans_expiries_total{organization="acme"} 1',
      'plans_escalations_total{organization="acme"} 1',
      'plans_step_seconds_sum{organization="acme",executor="human",outcome="completed"} 60',
      'plans_step_failures_total{organization="acme",executor="webhook"} 1',
      'plans_page_open_to_decision_seconds_count{organization="acme",outcome="approved",channel="token"} 1',
      'plans_page_open_to_decision_seconds_sum{organization="acme",outcome="approved",channel="token"} 3',
      'plans_doctor_divergences_total{organization="acme"} 2',
      'plans_runs{organization="acme",status="pending-approval"} 2',
      'plans_pending_approvals{organization="acme"} 2',
      'plans_runs{organization="beta",status="running"} 1',
    ]),
  );

  const acme = samples(await metrics.prometheusText('acme'));
  expect(acme.length).toBeGreaterThan(0);
  expect(acme.filter((line) => !line.includes('organization="acme"') && !line.startsWith('target_info'))).toEqual([]);
  await metrics.shutdown();
});

it('pushes the same instruments over OTLP/HTTP when an endpoint is configured', async () => {
  const received: Array<{ path: string; type: string; bytes: number }> = [];
  const collector = createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      received.push({ path: request.url ?? '', type: String(request.headers['content-type']), bytes });
      response.end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/metrics`;
  const metrics = new PlanMetrics({ otlp: { url, intervalMs: 100 } });
  metrics.webhookDeliveryFailed('acme');
  try {
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received[0]).toMatchObject({ path: '/v1/metrics', type: 'application/json' });
    expect(received[0]!.bytes).toBeGreaterThan(0);
  } finally {
    await metrics.shutdown();
    collector.close();
  }
});
