import { randomUUID } from 'node:crypto';

import type { Browser, Page } from 'playwright-core';

import type { Stack } from '../../app/stack.js';
import { launchChromium, openInbox as openInboxAs, screenshots } from '../support/browser.js';
import { startTestStack } from '../support/stack.js';
import { tokenFor } from '../support/principals.js';

/**
 * A person at the approvals inbox, in Debian's headless Chromium (installed by `.ci/run`):
 * plans appear live, get approved or sent back, and another organization's token sees nothing.
 */
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack();
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const draft = {
  schedule: { cron: '0 9 * * 1', timezone: 'Europe/Paris' },
  title: 'Quarterly board pack',
  objective: 'Gather the numbers, draft the pack, have it reviewed.',
  nodes: [
    { id: 'numbers', title: 'Gather numbers', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Export Q3.' },
    { id: 'draft', title: 'Draft the pack', executor: { type: 'system', action: 'wait', duration: '1500ms' }, dependsOn: ['numbers'] },
    { id: 'check', title: 'Check totals', executor: { type: 'system', action: 'noop' }, dependsOn: ['numbers'] },
    { id: 'publish', title: 'Publish', executor: { type: 'system', action: 'noop' }, dependsOn: ['draft', 'check'] },
  ],
};

const openInbox = (token: string): Promise<Page> => openInboxAs(browser, stack.apiUrl, token);

it('a cross-thread plan appears live, is approved, and is seen running then completed', async () => {
  const organizationId = `org-${randomUUID()}`;
  const alice = await tokenFor(stack, organizationId, 'alice');
  const page = await openInbox(alice);
  await page.getByText('alice ·').waitFor();
  await page.getByText('Nothing waits for approval.').waitFor();

  const plan = await stack.plans.runs.create({ organizationId, threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft });
  const item = page.locator(`li[data-run-id="${plan.runId}"]`).first();
  await item.waitFor({ timeout: 10_000 });
  await screenshots(page, 'inbox-live');

  await item.getByRole('link', { name: 'Quarterly board pack' }).click();
  await page.getByRole('heading', { name: 'Quarterly board pack' }).waitFor();
  await page.getByRole('img', { name: /Plan graph: Gather numbers \(pending\)/ }).waitFor();
  await page.getByText('on behalf of thread t-9').waitFor();
  await page.getByText(/^Approving starts this plan now and then at 09:00 AM, only on Monday \(Europe\/Paris\) \(next: /).waitFor();

  await page.getByLabel('Reason (optional)').fill('Looks right.');
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.locator('#plan-status[data-status="running"]').waitFor({ timeout: 10_000 });
  await page.locator('#plan-status[data-status="completed"]').waitFor({ timeout: 15_000 });
  await page.getByText('Approved execution plan "Quarterly board pack".').waitFor();
  const stored = await stack.plans.runs.get(plan.runId, { includeApprovals: true });
  expect(stored.status).toBe('completed');
  expect(stored.approvals).toEqual([expect.objectContaining({ decision: 'approved', emittedBy: 'alice', reason: 'Looks right.' })]);
  await page.context().close();
}, 60_000);

it('requests changes with the keyboard; another organization sees nothing', async () => {
  const organizationId = `org-${randomUUID()}`;
  const bob = await tokenFor(stack, organizationId, 'bob');
  const plan = await stack.plans.runs.create({ organizationId, threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft });

  const outsider = await openInbox(await tokenFor(stack, `org-${randomUUID()}`, 'eve'));
  await outsider.getByText('Nothing waits for approval.').waitFor();
  expect(await outsider.locator(`li[data-run-id="${plan.runId}"]`).count()).toBe(0);
  await outsider.goto(`${stack.apiUrl}/inbox#/plan/${plan.runId}`);
  await outsider.getByRole('alert').filter({ hasText: 'was not found' }).waitFor();
  await outsider.context().close();

  const page = await openInbox(bob);
  await page.locator(`li[data-run-id="${plan.runId}"] a`).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Quarterly board pack' }).waitFor();
  await page.getByLabel('Reason (optional)').waitFor();
  await page.getByLabel('Reason (optional)').focus();
  await page.keyboard.type('Add the cash flow.');
  await page.getByRole('button', { name: 'Request changes' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#plan-status[data-status="aborted"]').waitFor({ timeout: 10_000 });
  await page.getByText('Requested changes for execution plan "Quarterly board pack".').waitFor();
  const stored = await stack.plans.runs.get(plan.runId, { includeApprovals: true });
  expect(stored.approvals).toEqual([
    expect.objectContaining({ decision: 'changes-requested', emittedBy: 'bob', reason: 'Add the cash flow.' }),
  ]);
  await page.context().close();
}, 60_000);

it('a step waiting for this person is listed, and completed from its form', async () => {
  const organizationId = `org-${randomUUID()}`;
  const carol = await tokenFor(stack, organizationId, 'carol');
  const plan = await stack.plans.runs.create({
    organizationId,
    threadId: 't-1',
    leadAgentId: 'planner',
    draft: {
      title: 'Sign-off',
      objective: 'Carol signs off, then it ships.',
      nodes: [
        { id: 'sign', title: 'Sign off', executor: { type: 'human', assignee: 'carol' } },
        { id: 'ship', title: 'Ship', executor: { type: 'system', action: 'noop' } },
      ],
    },
  });
  const page = await openInbox(carol);
  const task = page.locator('#tasks li', { hasText: 'step “Sign off” waits for you' });
  await task.waitFor({ timeout: 10_000 });
  await task.getByRole('link', { name: 'Sign-off' }).click();
  await page.getByLabel('Output (JSON or text)').fill('{"signed": true}');
  await page.getByRole('button', { name: 'Complete Sign off' }).click();
  await page.locator('#plan-status[data-status="completed"]').waitFor({ timeout: 10_000 });
  const stored = await stack.plans.runs.get(plan.runId, { includeArtifacts: true });
  expect(stored.artifacts).toEqual([expect.objectContaining({ nodeId: 'sign', content: { signed: true }, createdBy: 'carol' })]);
  await page.context().close();
}, 60_000);

it('a person delegates from the inbox while away: bob sees he may approve for alice, and does; alice revokes it there', async () => {
  const organizationId = `org-${randomUUID()}`;
  const alice = await tokenFor(stack, organizationId, 'alice');
  const bob = await tokenFor(stack, organizationId, 'bob', { roles: [] });
  const page = await openInbox(alice);
  await page.getByText('No delegation holds now.').waitFor();
  const until = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel('Person').fill('bob');
  await page.getByLabel('Until').fill(until);
  await page.getByLabel('Reason', { exact: true }).fill('holiday');
  await page.getByRole('button', { name: 'Delegate' }).click();
  await page.getByText(/^bob may approve for you until .* \(holiday\)/).waitFor();

  const plan = await stack.plans.runs.create({ organizationId, threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft });
  const bobs = await openInbox(bob);
  await bobs.getByText(/^You may approve for alice until /).waitFor();
  await bobs.goto(`${stack.apiUrl}/inbox#/plan/${encodeURIComponent(plan.runId)}`);
  await bobs.getByRole('button', { name: 'Approve' }).click();
  await bobs.locator('#plan-status[data-status="running"], #plan-status[data-status="completed"]').first().waitFor({ timeout: 10_000 });
  await bobs.getByText(/bob for alice approved/).waitFor();
  await bobs.context().close();

  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('No delegation holds now.').waitFor();
  await page.context().close();
});
