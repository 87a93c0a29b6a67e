import type { PlanReview } from '../client/reviews-client.js';
import { IdSchema } from '../domain/id-schema.js';
import { formatPlan, formatPolicy } from '../cli/format.js';
import type { PolicyRecord } from '../domain/policy.js';
import { describeRequire } from '../domain/policy-rules.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { planAnswerOf } from '../tools/plan-answers.js';
import { type PlansApi, pathOf } from '../tools/plans-api.js';

/*
 * The resources: `plan://{runId}` (the run as the API stores it, and its review in Markdown) and
 * `plans://policy` (the organization's approval policy in words). Read through the same API as
 * the tools, so a resource shows exactly what the principal may read.
 */

export const POLICY_URI = 'plans://policy';
export const PLAN_URI_TEMPLATE = 'plan://{runId}';
export const planUri = (runId: string) => `plan://${runId}`;

/** Where people review and decide a run: the inbox's page for it (never a decision link: people decide as themselves). */
export function inboxUrlOf(publicUrl: string, runId: string): string {
  return `${publicUrl.replace(/\/$/, '')}/inbox#/plan/${encodeURIComponent(runId)}`;
}

/** The run id of a `plan://` URI; undefined for any other URI. */
export function runIdOf(uri: string): string | undefined {
  const match = /^plan:\/\/([^/?#]+)$/.exec(uri);
  if (!match) return undefined;
  // A run id as the API takes one (no dot segments, nothing a path would read otherwise); a bad escape is no id.
  let runId: string;
  try {
    runId = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  return IdSchema.safeParse(runId).success ? runId : undefined;
}

interface ResourceContent {
  uri: string;
  mimeType: string;
  text: string;
}

/** A run's review for people, in Markdown: where it stands, then every step in full. */
function planMarkdown(run: PlanSnapshot, review: PlanReview, inboxUrl: string): string {
  const answer = planAnswerOf(run, inboxUrl);
  const lines = [`# ${run.title}`, '', run.objective, '', `**${run.status}** — ${answer.next}`, '', '```', formatPlan(run), '```', ''];
  if (review.externalCalls.length > 0) {
    lines.push('## Calls outside', '');
    for (const call of review.externalCalls)
      lines.push(
        `- ${call.title} (${call.nodeId}): ${call.method} ${call.url}${call.internal ? ` — inside the network: ${call.internal}` : ''}`,
      );
    lines.push('');
  }
  lines.push('## Steps', '');
  for (const step of review.steps) {
    const status = run.nodes.find((node) => node.nodeId === step.nodeId)?.status ?? 'unknown';
    const after = step.dependsOn.length ? `, after ${step.dependsOn.join(', ')}` : '';
    lines.push(`### ${step.title} (\`${step.nodeId}\`, ${status})`, '');
    lines.push(`- executor: \`${JSON.stringify(step.executor)}\`${after}${step.optional ? ', optional' : ''}`);
    if (step.approval) lines.push('- waits for a decision before it runs');
    if (step.instructions) lines.push('', step.instructions);
    lines.push('');
  }
  return lines.join('\n');
}

/** A plan resource: the stored run as JSON, and its review in Markdown. */
export async function readPlan(api: PlansApi, runId: string, inboxUrl: string): Promise<ResourceContent[]> {
  const [{ body: run }, { body: review }] = await Promise.all([
    // With its decision records: what happens next depends on who decided (planAnswerOf).
    api.send<PlanSnapshot>('GET', `${pathOf`/v1/plans/${runId}`}?include=approvals`),
    api.send<PlanReview>('GET', pathOf`/v1/plans/${runId}/review`),
  ]);
  const uri = planUri(run.runId);
  return [
    { uri, mimeType: 'application/json', text: JSON.stringify(run, null, 2) },
    { uri, mimeType: 'text/markdown', text: planMarkdown(run, review, inboxUrl) },
  ];
}

/** The organization's approval policy in words: its defaults, then each rule (what it matches, what it requires). */
export async function readPolicy(api: PlansApi): Promise<ResourceContent[]> {
  const { body: record } = await api.send<PolicyRecord>('GET', '/v1/policy');
  const rules = record.policy.rules.map(
    (rule) => `- rule ${rule.name}: when ${JSON.stringify(rule.when)} → ${describeRequire(rule.require)}`,
  );
  const text = [formatPolicy(record), ...(rules.length ? ['', 'Rules, in order (every matching rule applies):', ...rules] : [])].join('\n');
  return [{ uri: POLICY_URI, mimeType: 'text/plain', text }];
}
