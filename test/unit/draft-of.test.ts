import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { draftOf } from '../../domain/draft-of.js';
import { compileDraft } from '../../domain/validate.js';
import { diamondDraft, humanFirstDraft, linearDraft } from '../support/drafts.js';

/** A compiled plan written back as a draft compiles to the same plan: what `plans get RUN --draft` prints is editable as is. */

const example = (name: string) =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url)), 'utf8')) as unknown;

const everything = {
  title: 'Everything',
  objective: 'Every field a draft may set.',
  parallelism: 2,
  tags: ['refund', 'eu'],
  parameters: { amountEur: 1200, tier: 'gold', urgent: true },
  approval: { approvers: ['alice', 'role:approver'], required: 2, expiresAfter: '1d', onExpiry: 'reject' },
  schedule: { cron: '0 9 * * 1', timezone: 'Europe/Paris', overlap: 'skip' },
  nodes: [
    {
      id: 'collect',
      title: 'Collect',
      instructions: 'Gather.',
      executor: { type: 'agent', agentId: 'echo' },
      retry: { maxAttempts: 5, initialInterval: '2s', backoffCoefficient: 3, maximumInterval: '5m' },
      timeout: '1h30m',
    },
    {
      id: 'review',
      title: 'Review',
      executor: { type: 'human', assignee: 'role:approver' },
      dependsOn: ['collect'],
      deadline: { after: '4h', warnBefore: '1h', cancel: true },
      optional: true,
    },
    { id: 'pause', title: 'Pause', executor: { type: 'system', action: 'wait', duration: '10m' }, dependsOn: ['review'] },
    {
      id: 'notify',
      title: 'Notify',
      executor: {
        type: 'system',
        action: 'webhook',
        url: 'https://hooks.example.com/x',
        headers: { Authorization: { $secret: 'crm-token' } },
        body: { a: 1 },
      },
      dependsOn: ['pause'],
    },
  ],
};

it.each([
  ['a linear plan', linearDraft(3)],
  ['a diamond', diamondDraft()],
  ["a person's step first", humanFirstDraft()],
  ['examples/weekly-report.json', example('weekly-report.json')],
  ['examples/large-refund.json', example('large-refund.json')],
  ['every field a draft may set', everything],
])('%s: written back, it compiles to the same plan', (_, draft) => {
  const plan = compileDraft(draft);
  expect(compileDraft(draftOf(plan))).toEqual(plan);
});

it('leaves defaults out, as an agent would write the draft', () => {
  const written = draftOf(compileDraft(linearDraft(1)));
  expect(written.nodes[0]).not.toHaveProperty('retry');
  expect(written.nodes[0]).not.toHaveProperty('timeout');
});
