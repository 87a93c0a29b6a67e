import { formatInterval, parseInterval } from '../../domain/duration.js';
import { diffPlans, isUnchanged } from '../../domain/plan-diff.js';
import { MASK, completionOutlook, decisionOutlook, maskUrl, stepsOf } from '../../domain/plan-review.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import type { Executor } from '../../domain/draft.js';
import type { CompiledPlan } from '../../domain/plan.js';
import { compileDraft } from '../../domain/validate.js';

const KNOWN_AGENTS = { knownAgents: new Set(['echo', 'crm']) };

/**
 * A plan as runs stored it before drafts sent credentials by name: webhooks with credentials
 * written in, which `compileDraft` now refuses (so they are put back after compiling).
 */
function storedBefore(input: { nodes: Array<{ id: string; executor: Record<string, unknown> }> } & Record<string, unknown>): CompiledPlan {
  const written = new Map(input.nodes.map((node) => [node.id, node.executor]));
  const plain = input.nodes.map((node) =>
    node.executor.action === 'webhook'
      ? { ...node, executor: { type: 'system', action: 'webhook', url: 'https://hooks.example.com/' } }
      : node,
  );
  const plan = compileDraft({ ...input, nodes: plain }, KNOWN_AGENTS);
  return { ...plan, nodes: plan.nodes.map((node) => ({ ...node, executor: written.get(node.nodeId) as Executor })) };
}

const draft = {
  title: 'Weekly digest',
  objective: 'Collect, review, send.',
  schedule: { cron: '0 9 * * 1', timezone: 'Europe/Paris' },
  nodes: [
    { id: 'collect', title: 'Collect', executor: { type: 'agent', agentId: 'crm' }, instructions: 'Pull last week’s deals.' },
    { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'role:reviewer' }, dependsOn: ['collect'] },
    {
      id: 'send',
      title: 'Send',
      dependsOn: ['review'],
      timeout: '30s',
      retry: { maxAttempts: 5, initialInterval: '2s' },
      deadline: { after: '1h', warnBefore: '10m', cancel: true },
      optional: true,
      executor: {
        type: 'system',
        action: 'webhook',
        url: 'https://bot:hunter2@hooks.example.com/send?channel=sales&token=abc123',
        headers: { Authorization: 'Bearer s3cret', 'X-Team': 'sales' },
      },
    },
  ],
};

describe('durations in the draft’s notation', () => {
  it('round-trips with parseInterval', () => {
    for (const text of ['0s', '500ms', '2s', '1m30s', '1h', '1d2h3m4s5ms']) expect(formatInterval(parseInterval(text)!)).toBe(text);
  });
});

describe('steps in full', () => {
  const { steps, externalCalls } = stepsOf(storedBefore(draft), { crm: 'https://crm.example.com/agent?api_key=k1' });

  it('shows policies with defaults resolved, and the deadline counted from the start', () => {
    expect(steps.find((step) => step.nodeId === 'send')).toMatchObject({
      optional: true,
      timeout: '30s',
      retry: { maxAttempts: 5, initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
      deadline: { after: '1h', warnAt: '50m', cancel: true },
      dependsOn: ['review'],
    });
    expect(steps.find((step) => step.nodeId === 'collect')).toMatchObject({
      instructions: 'Pull last week’s deals.',
      timeout: '10m',
      deadline: null,
      optional: false,
    });
  });

  it('masks credentials in webhook URLs and headers, and keeps the rest', () => {
    const send = steps.find((step) => step.nodeId === 'send')!;
    expect(send.executor).toMatchObject({
      url: `https://${MASK}@hooks.example.com/send?channel=sales&token=${MASK}`,
      headers: { Authorization: MASK, 'X-Team': 'sales' },
    });
    expect(JSON.stringify(steps)).not.toMatch(/hunter2|abc123|s3cret|k1/);
  });

  it('names every call leaving the system: webhooks and agents served over HTTP', () => {
    expect(externalCalls).toEqual([
      {
        nodeId: 'collect',
        title: 'Collect',
        kind: 'http-agent',
        method: 'POST',
        url: `https://crm.example.com/agent?api_key=${MASK}`,
        internal: null,
      },
      {
        nodeId: 'send',
        title: 'Send',
        kind: 'webhook',
        method: 'POST',
        url: `https://${MASK}@hooks.example.com/send?channel=sales&token=${MASK}`,
        internal: null,
      },
    ]);
    expect(stepsOf(storedBefore(draft)).externalCalls.map((call) => call.kind)).toEqual(['webhook']);
  });

  it('leaves a URL without secrets as it was', () => {
    expect(maskUrl('http://127.0.0.1:9/hook?x=1#top')).toBe('http://127.0.0.1:9/hook?x=1#top');
  });
});

describe('what changed between revisions', () => {
  const before = storedBefore(draft);

  it('is nothing for the same plan', () => {
    expect(isUnchanged(diffPlans(before, storedBefore(draft)))).toBe(true);
  });

  it('lists steps added, removed and changed field by field, the schedule and the plan’s fields, credentials masked', () => {
    const nodes = [
      { ...draft.nodes[0]!, instructions: 'Pull last month’s deals.' },
      {
        ...draft.nodes[2]!,
        dependsOn: ['collect'],
        timeout: '1m',
        executor: { ...draft.nodes[2]!.executor, headers: { Authorization: 'Bearer other', 'X-Team': 'sales' } },
      },
      { id: 'archive', title: 'Archive', executor: { type: 'system', action: 'noop' }, dependsOn: ['send'] },
    ];
    const after = storedBefore({ ...draft, title: 'Monthly digest', schedule: { cron: '0 9 1 * *', timezone: 'Europe/Paris' }, nodes });
    const diff = diffPlans(before, after);
    expect(diff.plan).toEqual([{ field: 'title', before: 'Weekly digest', after: 'Monthly digest' }]);
    expect(diff.schedule).toEqual([{ field: 'cron', before: '0 9 * * 1', after: '0 9 1 * *' }]);
    expect(diff.added).toEqual([{ nodeId: 'archive', title: 'Archive' }]);
    expect(diff.removed).toEqual([{ nodeId: 'review', title: 'Review' }]);
    expect(diff.changed).toEqual([
      {
        nodeId: 'collect',
        title: 'Collect',
        changes: [{ field: 'instructions', before: 'Pull last week’s deals.', after: 'Pull last month’s deals.' }],
      },
      {
        nodeId: 'send',
        title: 'Send',
        changes: [
          { field: 'executor.headers.Authorization', before: MASK, after: MASK },
          { field: 'dependsOn', before: ['review'], after: ['collect'] },
          { field: 'timeout', before: '30s', after: '1m' },
        ],
      },
    ]);
  });

  it('shows a secret reference that changed by its names: they are not values', () => {
    const sending = (name: string) =>
      compileDraft({
        title: 'T',
        objective: 'O',
        nodes: [
          {
            id: 'send',
            title: 'Send',
            executor: {
              type: 'system',
              action: 'webhook',
              url: { $secret: `${name}-hook` },
              headers: { Authorization: { $secret: name } },
            },
          },
        ],
      });
    expect(diffPlans(sending('old'), sending('new')).changed[0]!.changes).toEqual([
      { field: 'executor.url', before: { $secret: 'old-hook' }, after: { $secret: 'new-hook' } },
      { field: 'executor.headers.Authorization', before: { $secret: 'old' }, after: { $secret: 'new' } },
    ]);
    expect(stepsOf(sending('old')).steps[0]!.executor).toEqual({
      type: 'system',
      action: 'webhook',
      url: { $secret: 'old-hook' },
      headers: { Authorization: { $secret: 'old' } },
    });
  });

  it('reports a step or field that appears as changed from null', () => {
    const after = storedBefore({ ...draft, approval: { required: 2, expiresAfter: '1d' } });
    expect(diffPlans(before, after).plan).toEqual([
      { field: 'approval.required', before: null, after: 2 },
      { field: 'approval.expiresAfter', before: null, after: '1d' },
    ]);
  });
});

describe('whether the viewer may act', () => {
  const run = {
    runId: 'r-1',
    organizationId: 'org-1',
    threadId: 't-1',
    sourceThreadId: 't-9',
    status: 'pending-approval',
    revision: '0123456789abcdef',
    replacedByRunId: null,
    nodes: [{ nodeId: 'review', status: 'awaiting-human' }],
    approval: {
      required: 2,
      approvals: [{ by: 'bob', at: '2026-11-26T10:02:00.000Z', reason: 'fine' }],
      approvers: ['role:approver'],
      narrowedTo: null,
      requesters: ['planner', 'alice'],
    },
  } as unknown as PlanSnapshot;
  const person = (id: string, roles = ['approver']) => ({ id, kind: 'person' as const, roles });

  it('answers the workflow’s own refusal, in a sentence', () => {
    expect(decisionOutlook(run, person('alice'))).toEqual({
      may: false,
      why: 'You cannot approve: the requester of a plan cannot approve it.',
    });
    expect(decisionOutlook(run, { id: 'bot', kind: 'agent', roles: ['approver'] })).toEqual({
      may: false,
      why: 'You cannot approve: agents cannot approve plans.',
    });
    expect(decisionOutlook(run, person('dave', []))).toEqual({
      may: false,
      why: "You cannot approve: dave is not an approver under this organization's policy.",
    });
    expect(decisionOutlook({ ...run, status: 'running' }, person('carol')).may).toBe(false);
  });

  it('lets an approver decide, and tells one who approved that it counts', () => {
    expect(decisionOutlook(run, person('carol'))).toEqual({ may: true, why: null });
    expect(decisionOutlook(run, person('bob'))).toEqual({ may: true, why: 'Your approval is counted (1 of 2); you may still reject.' });
  });

  it('applies a step’s assignee', () => {
    expect(completionOutlook(run, 'review', 'role:reviewer', person('carol'))).toEqual({
      may: false,
      why: 'You cannot complete this step: carol is not the assignee of node "review" (role:reviewer).',
    });
    expect(completionOutlook(run, 'review', 'role:reviewer', person('rita', ['reviewer']))).toEqual({ may: true, why: null });
  });

  it('applies it on a run that needed no approval too, unless the run predates the gate', () => {
    const ungated = { ...run, status: 'awaiting-human', approval: null } as PlanSnapshot;
    expect(completionOutlook(ungated, 'review', 'rita', person('carol')).may).toBe(false);
    expect(completionOutlook(ungated, 'review', 'rita', { id: 'bot', kind: 'agent', roles: [] }).why).toBe(
      'You cannot complete this step: agents cannot complete steps meant for people.',
    );
    expect(completionOutlook({ ...ungated, revision: null }, 'review', 'rita', person('carol'))).toEqual({ may: true, why: null });
  });
});
