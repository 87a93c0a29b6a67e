import { randomUUID } from 'node:crypto';

import type { Browser, Page } from 'playwright-core';

import { echoAgent } from '../../agents/echo.js';
import type { Stack } from '../../app/stack.js';
import { accessibilityViolations, launchChromium, openInbox, screenshots } from '../support/browser.js';
import { askApi } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';

/**
 * Deciding in the inbox (issue 22, in Chromium, checked by axe-core): a person edits a plan in
 * place, sees what their edit changes, and approves it as edited; the requester sees who changed
 * what; a person approves a plan step by step and another decides the held step later.
 */

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack({}, { echo: echoAgent });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function organization() {
  const organizationId = `org-${randomUUID()}`;
  const tokens: Record<string, string> = {};
  for (const id of ['alice', 'bob']) tokens[id] = await tokenFor(stack, organizationId, id, { roles: ['approver'] });
  tokens.planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  return tokens;
}

const call = <T = Record<string, unknown>>(token: string, method: string, path: string, body?: unknown) =>
  askApi<T>(stack.apiUrl, token, method, path, body);

const DRAFT = {
  title: 'Refund order 4411',
  objective: 'Refund the customer and tell them.',
  nodes: [
    { id: 'collect', title: 'Collect the order', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Fetch order 4411.' },
    { id: 'refund', title: 'Refund the payment', executor: { type: 'system', action: 'noop' }, dependsOn: ['collect'] },
    { id: 'notify', title: 'Tell the customer', executor: { type: 'agent', agentId: 'echo' }, dependsOn: ['refund'], optional: true },
  ],
};

async function created(planner: string): Promise<{ runId: string; revision: string }> {
  const answer = await call<{ runId: string; revision: string }>(planner, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    draft: DRAFT,
  });
  expect(answer.status).toBe(201);
  return answer.body;
}

async function statusOf(token: string, runId: string): Promise<string> {
  return (await call<{ status: string }>(token, 'GET', `/v1/plans/${runId}`)).body.status;
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await accessibilityViolations(page)).toEqual([]);
}

it('edit in place, see the changes, approve as edited; the requester sees who changed what', async () => {
  const tokens = await organization();
  const plan = await created(tokens.planner);
  const page = await openInbox(browser, stack.apiUrl, tokens.alice, `#/plan/${plan.runId}`);
  await page.getByRole('heading', { name: DRAFT.title }).waitFor();
  await page.getByText('Edit the plan before approving').click();
  const instructions = page.getByLabel('Instructions').first();
  await instructions.fill('Fetch order 4411 and its refund policy.');
  await page.getByRole('button', { name: 'Show changes' }).click();
  const preview = page.locator('#edit-preview');
  await preview.getByRole('heading', { name: new RegExp(`Your changes: revision ${plan.revision} → [0-9a-f]{16}`) }).waitFor();
  expect(await preview.innerText()).toContain('instructions\tFetch order 4411.\tFetch order 4411 and its refund policy.');
  await screenshots(page, 'edit-before-approving');
  await expectAccessible(page);

  await page.getByRole('button', { name: 'Approve with these changes' }).click();
  await eventually('the edited plan to run', async () => ((await statusOf(tokens.alice, plan.runId)) === 'completed' ? true : undefined));
  const records = await call<{ proposed: { instructions: string }; approved: { step: { instructions: string } } }>(
    tokens.planner,
    'GET',
    `/v1/plans/${plan.runId}/steps/collect`,
  );
  expect(records.body.proposed.instructions).toBe('Fetch order 4411.');
  expect(records.body.approved.step.instructions).toBe('Fetch order 4411 and its refund policy.');
  await page.context().close();

  // The requester opens the plan: what changed, by whom, before anything else.
  const theirs = await openInbox(browser, stack.apiUrl, tokens.planner, `#/plan/${plan.runId}`);
  const changes = theirs.locator('#plan-diff');
  await changes.getByRole('heading', { name: /What changed: revision 2 \([0-9a-f]{16}\), changed by alice/ }).waitFor();
  expect(await changes.innerText()).toContain('Fetch order 4411 and its refund policy.');
  // The three records of a step, side by side, for an auditor.
  const step = theirs.locator('#plan-steps li[data-node-id="collect"]');
  await step.getByText('Proposed, approved, effective').click();
  const shown = step.locator('details.records dl');
  await shown.waitFor();
  const text = await shown.innerText();
  expect(text).toContain('Proposed\nagent echo — “Fetch order 4411.”');
  expect(text).toMatch(/Approved\nagent echo — “Fetch order 4411 and its refund policy\.” \(revision 2, approved by alice\)/);
  expect(text).toContain('Effective, attempt 1\nagent echo — “Fetch order 4411 and its refund policy.”');
  await screenshots(theirs, 'step-records');
  await expectAccessible(theirs);
  await theirs.context().close();
}, 90_000);

it('step by step: hold one step and skip an optional one with the approval; another approver decides the held step later', async () => {
  const tokens = await organization();
  const plan = await created(tokens.planner);
  const page = await openInbox(browser, stack.apiUrl, tokens.alice, `#/plan/${plan.runId}`);
  await page.getByRole('heading', { name: DRAFT.title }).waitFor();
  // Only an optional step offers a skip.
  await expect(page.locator('#verdict-refund option[value="skip"]').count()).resolves.toBe(0);
  await page.locator('#verdict-refund').selectOption('hold');
  await page.locator('#verdict-notify').selectOption('skip');
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  await eventually('refund to wait for a decision', async () =>
    (await statusOf(tokens.alice, plan.runId)) === 'awaiting-human' ? true : undefined,
  );
  await page.context().close();

  const bobs = await openInbox(browser, stack.apiUrl, tokens.bob, `#/plan/${plan.runId}`);
  const form = bobs.getByRole('form', { name: 'Decide Refund the payment' });
  await form.waitFor();
  expect(await form.innerText()).toContain('Held by alice');
  expect(await bobs.locator('#plan-steps li[data-node-id="notify"]').innerText()).toContain('skipped by alice');
  await screenshots(bobs, 'held-step');
  await expectAccessible(bobs);
  await form.getByRole('button', { name: 'Approve Refund the payment' }).click();
  await eventually('the plan to complete', async () => ((await statusOf(tokens.bob, plan.runId)) === 'completed' ? true : undefined));
  await bobs.context().close();
}, 90_000);
