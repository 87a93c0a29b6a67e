import { randomUUID } from 'node:crypto';

import type { Browser, Page } from 'playwright-core';

import { echoAgent } from '../../agents/echo.js';
import { httpAgent } from '../../agents/http.js';
import type { Stack } from '../../app/stack.js';
import { approveSignal } from '../../workflows/messages.js';
import { accessibilityViolations, launchChromium, openInbox, pageErrors, screenshots } from '../support/browser.js';
import { tokenFor } from '../support/principals.js';
import { eventually, startTestStack } from '../support/stack.js';
import { askApi } from '../support/http.js';

/**
 * People see what they decide (the inbox's plan page, in Chromium): what Approve will do, every
 * step in full with the calls leaving the system, what a replacement changed, where the gate
 * stands for the viewer, the inputs a person's step reviews, a timeline with reasons, and lists
 * that tell plans apart. Each page is screenshotted at 1280×800 and 390×844 and checked by axe-core.
 */

const CRM = 'http://127.0.0.1:9/agent?api_key=k1';
let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  const lister = async () => ({
    output: {
      customers: Array.from({ length: 120 }, (_, index) => ({ id: index + 1, name: `Customer ${index + 1}`, overdue: index % 7 === 0 })),
    },
  });
  stack = await startTestStack({ httpAgents: [{ name: 'crm', url: CRM }] }, { echo: echoAgent, lister, crm: httpAgent(CRM) });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function organization(people: Record<string, string[]> = {}) {
  const organizationId = `org-${randomUUID()}`;
  const roles = [...new Set(Object.values(people).flat())].filter((role) => !['approver', 'admin'].includes(role));
  // Its webhook step posts to a loopback port: listed, as an organization would list an internal service.
  await stack.plans.policies.set(organizationId, { ...(roles.length ? { roles } : {}), egress: { allow: ['127.0.0.1:9'] } }, 'test');
  const tokens: Record<string, string> = {};
  for (const [id, roles] of Object.entries({ alice: ['approver'], bob: ['approver'], carol: ['approver'], admin: ['admin'], ...people })) {
    tokens[id] = await tokenFor(stack, organizationId, id, { roles });
  }
  tokens.planner = await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] });
  await stack.plans.secrets.set(organizationId, 'digest-token', { value: 'Bearer s3cret' }, 'admin');
  return { organizationId, tokens };
}

const call = <T = Record<string, unknown>>(token: string, method: string, path: string, body?: unknown) =>
  askApi<T>(stack.apiUrl, token, method, path, body);

/** A plan an agent wrote, with everything a reviewer must notice: external calls, secrets, markup in its text. */
const weeklyDigest = {
  title: 'Weekly digest',
  objective: 'Collect the week’s deals, have them checked, send the digest.',
  schedule: { cron: '0 9 * * 1', timezone: 'Europe/Paris' },
  nodes: [
    {
      id: 'collect',
      title: 'Collect deals',
      executor: { type: 'agent', agentId: 'crm' },
      instructions: 'Pull deals closed this week.\n<img src=x onerror="window.pwned=1"> <b>not bold</b>',
    },
    {
      id: 'check',
      title: 'Check totals',
      executor: { type: 'human', assignee: 'carol' },
      dependsOn: ['collect'],
      deadline: { after: '4h', warnBefore: '1h' },
    },
    {
      id: 'send',
      title: 'Send digest',
      dependsOn: ['check'],
      timeout: '30s',
      retry: { maxAttempts: 5, initialInterval: '2s' },
      optional: true,
      executor: {
        type: 'system',
        action: 'webhook',
        url: 'http://127.0.0.1:9/hook?channel=sales',
        headers: { Authorization: { $secret: 'digest-token' }, 'X-Team': 'sales' },
      },
    },
  ],
};

async function expectAccessible(page: Page): Promise<void> {
  expect(await accessibilityViolations(page)).toEqual([]);
}

async function createAs(token: string, draft: unknown, extra: Record<string, unknown> = {}) {
  const created = await call<{ runId: string; revision: string }>(token, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    draft,
    ...extra,
  });
  expect(created.status).toBe(201);
  return created.body;
}

it('the plan page says what Approve does, shows every step in full with the calls leaving the system, and where the viewer stands', async () => {
  const { tokens } = await organization();
  const plan = await createAs(tokens.planner, weeklyDigest);

  // The list tells plans apart.
  const page = await openInbox(browser, stack.apiUrl, tokens.alice);
  const item = page.locator(`#pending li[data-run-id="${plan.runId}"]`);
  await item.waitFor();
  await expect(item.innerText()).resolves.toMatch(
    new RegExp(
      `run ${plan.runId.slice(0, 8)} · created (now|\\d+ seconds? ago) · by planner · thread t-1 for t-9 · approvals 0/1 · expires in 7 days`,
    ),
  );
  await screenshots(page, 'inbox');
  await expectAccessible(page);

  await item.getByRole('link', { name: 'Weekly digest' }).click();
  await page.getByRole('heading', { name: 'Weekly digest' }).waitFor();
  // What Approve does, in both zones (the browser's is UTC here).
  await expect(page.locator('#plan-does').innerText()).resolves.toMatch(
    /^Approving starts this plan now and then at 09:00 AM, only on Monday \(Europe\/Paris\) \(next: Mon \d{1,2} \w{3} \d{4}, 09:00 (CET|CEST) — your time (08|07):00 UTC\)\.$/,
  );
  // External calls first, credentials masked everywhere.
  const external = page.locator('#plan-external');
  await expect(external.innerText()).resolves.toContain('This plan calls 2 external endpoints:');
  await expect(external.innerText()).resolves.toContain(
    'POST http://127.0.0.1:9/agent?api_key=•••••• — step “Collect deals” (agent served over HTTP)',
  );
  await expect(external.innerText()).resolves.toContain(
    'POST http://127.0.0.1:9/hook?channel=sales — step “Send digest” (webhook) Inside the organization’s network: 127.0.0.1 is a loopback address.',
  );
  const content = await page.content();
  for (const secret of ['s3cret', 'api_key=k1']) expect(content).not.toContain(secret);
  // Every step in full; an agent's text is text, never markup.
  const collect = page.locator('#plan-steps li[data-node-id="collect"]');
  await expect(collect.locator('.instructions').innerText()).resolves.toBe(
    'Pull deals closed this week.\n<img src=x onerror="window.pwned=1"> <b>not bold</b>',
  );
  expect(await page.locator('#plan-steps img, #plan-steps b').count()).toBe(0);
  expect(await page.evaluate('window.pwned')).toBeUndefined();
  await expect(collect.innerText()).resolves.toContain('calls outside');
  const send = await page.locator('#plan-steps li[data-node-id="send"]').innerText();
  for (const fact of [
    'webhook POST http://127.0.0.1:9/hook?channel=sales',
    'Authorization: secret digest-token; X-Team: sales',
    'After\n“Check totals”',
    'up to 5 attempts, waiting 2s then ×2 (at most 1m)',
    '30s per attempt',
    'yes: the plan goes on if it fails',
  ])
    expect(send).toContain(fact);
  const check = await page.locator('#plan-steps li[data-node-id="check"]').innerText();
  expect(check).toContain('a person: carol');
  expect(check).toContain('4h after it starts, warning at 3h');
  // Where alice stands.
  await expect(page.locator('#plan-you').innerText()).resolves.toBe('You can approve or reject this plan.');
  await expect(page.locator('#plan-approval').innerText()).resolves.toMatch(
    /^0 of 1 approvals\. Approvers: role:approver; never planner\. Expires in 7 days \(.+\), then rejected automatically\. Revision [0-9a-f]{16}\.$/,
  );
  await screenshots(page, 'plan');
  await expectAccessible(page);
  expect(pageErrors.get(page)).toEqual([]);
  await page.context().close();

  // The person who asked cannot decide, and is told why; no decision buttons.
  const mine = await createAs(tokens.alice, { ...weeklyDigest, title: 'Alice’s digest' });
  const own = await openInbox(browser, stack.apiUrl, tokens.alice, `#/plan/${mine.runId}`);
  await own.getByText('You cannot approve: the requester of a plan cannot approve it.').waitFor();
  expect(await own.locator('#decide').isHidden()).toBe(true);
  await own.context().close();
}, 90_000);

it('approvals so far with their reasons, the expiry, and a quorum’s remaining approvals', async () => {
  const { tokens } = await organization();
  expect(
    (await call(tokens.admin, 'PUT', '/v1/policy', { required: 3, expiresAfter: '2d', egress: { allow: ['127.0.0.1:9'] } })).status,
  ).toBe(200);
  const plan = await createAs(tokens.planner, { ...weeklyDigest, schedule: undefined });
  await call(tokens.bob, 'POST', `/v1/plans/${plan.runId}/approve`, { reason: 'looks fine' });
  const page = await openInbox(browser, stack.apiUrl, tokens.carol, `#/plan/${plan.runId}`);
  await page.getByText(/^1 of 3 approvals — bob approved \d\d:\d\d UTC “looks fine”\./).waitFor();
  await expect(page.locator('#plan-approval').innerText()).resolves.toContain('Expires in 2 days');
  await expect(page.locator('#plan-does').innerText()).resolves.toBe(
    'Approving counts as one of the 2 approvals still needed; the last one starts this plan now, once.',
  );
  const bob = await openInbox(browser, stack.apiUrl, tokens.bob, `#/plan/${plan.runId}`);
  await bob.getByText('Your approval is counted (1 of 3); you may still reject.').waitFor();
  await page.context().close();
  await bob.context().close();
}, 60_000);

it('a replacement shows what changed before the decision controls; the API and the page agree', async () => {
  const { tokens } = await organization();
  const plan = await createAs(tokens.planner, weeklyDigest);
  const nodes = [
    { ...weeklyDigest.nodes[0]!, instructions: 'Pull deals closed this month.' },
    { ...weeklyDigest.nodes[2]!, dependsOn: ['collect'], timeout: '1m' },
    { id: 'archive', title: 'Archive', executor: { type: 'system', action: 'noop' }, dependsOn: ['send'] },
  ];
  const replaced = await call<{ runId: string }>(tokens.planner, 'POST', `/v1/plans/${plan.runId}/replace`, {
    threadId: 't-1',
    leadAgentId: 'planner',
    reason: 'Monthly now.',
    draft: { ...weeklyDigest, title: 'Monthly digest', schedule: { cron: '0 9 1 * *', timezone: 'Europe/Paris' }, nodes },
  });
  expect(replaced.status).toBe(201);
  const diff = await call<{ diff: { added: unknown[]; removed: unknown[]; changed: Array<{ nodeId: string; changes: unknown[] }> } }>(
    tokens.alice,
    'GET',
    `/v1/plans/${replaced.body.runId}/diff`,
  );
  expect(diff.body.diff.added).toEqual([{ nodeId: 'archive', title: 'Archive' }]);
  expect(diff.body.diff.removed).toEqual([{ nodeId: 'check', title: 'Check totals' }]);

  const page = await openInbox(browser, stack.apiUrl, tokens.alice, `#/plan/${replaced.body.runId}`);
  const changes = page.locator('#plan-diff');
  await changes
    .getByRole('heading', { name: new RegExp(`What changed since revision ${plan.revision} \\(run ${plan.runId.slice(0, 8)}\\)`) })
    .waitFor();
  const text = await changes.innerText();
  for (const line of [
    'title\tWeekly digest\tMonthly digest',
    'cron\t0 9 * * 1\t0 9 1 * *',
    'Steps added: “Archive” (archive).',
    'Steps removed: “Check totals” (check).',
    'instructions\tPull deals closed this week.',
    'timeout\t30s\t1m',
  ])
    expect(text).toContain(line);
  // Shown before the controls.
  expect(
    await page.evaluate(
      "Boolean(document.getElementById('plan-diff').compareDocumentPosition(document.getElementById('decide')) & Node.DOCUMENT_POSITION_FOLLOWING)",
    ),
  ).toBe(true);
  await screenshots(page, 'plan-diff');
  await expectAccessible(page);
  await page.context().close();
}, 60_000);

it('a person’s step shows its instructions and the outputs it reviews; others see who it waits for', async () => {
  const { tokens } = await organization({ rita: ['reviewer'] });
  const draft = {
    title: 'Overdue check',
    objective: 'List customers, have Rita check the overdue ones.',
    nodes: [
      { id: 'list', title: 'List customers', executor: { type: 'agent', agentId: 'lister' } },
      { id: 'note', title: 'Write a note', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Say hello.' },
      {
        id: 'review',
        title: 'Rita checks the list',
        executor: { type: 'human', assignee: 'role:reviewer' },
        dependsOn: ['list', 'note'],
        instructions: 'Mark every overdue customer.',
      },
    ],
  };
  const plan = await stack.plans.runs.create({
    organizationId: (await call<{ organizationId: string }>(tokens.rita, 'GET', '/v1/me')).body.organizationId,
    threadId: 't-1',
    leadAgentId: 'planner',
    draft,
  });
  await eventually(`node "review" of run ${plan.runId} to be awaiting-human`, async () =>
    (await stack.plans.runs.get(plan.runId)).nodes.find((node) => node.nodeId === 'review')!.status === 'awaiting-human' ? true : undefined,
  );

  // Alice sees it waits for someone else, and for whom.
  const alice = await openInbox(browser, stack.apiUrl, tokens.alice);
  await alice.locator('#stuck li', { hasText: /step “Rita checks the list” waits for role:reviewer since/ }).waitFor();
  await alice.goto(`${stack.apiUrl}/inbox#/plan/${plan.runId}`);
  await alice.getByText('You cannot complete this step: alice is not the assignee of node "review" (role:reviewer).').waitFor();
  expect(await alice.getByLabel('Output (JSON or text)').count()).toBe(0);
  await alice.context().close();

  const page = await openInbox(browser, stack.apiUrl, tokens.rita);
  await page.locator('#tasks li', { hasText: 'step “Rita checks the list” waits for you' }).getByRole('link').click();
  const task = page.getByRole('form', { name: 'Complete Rita checks the list' });
  await task.getByText('Mark every overdue customer.').waitFor();
  // The small output is shown; the large one is collapsed until asked for, and pretty-printed.
  await task.getByText('Output of “Write a note” by echo:').waitFor();
  const large = task.locator('details', { hasText: 'Output of “List customers” by lister' });
  expect(await large.getAttribute('open')).toBeNull();
  await screenshots(page, 'person-step');
  await large.locator('summary').click();
  await expect(large.locator('pre').innerText()).resolves.toContain('{\n  "customers": [\n    {\n      "id": 1,');
  await expectAccessible(page);
  await task.getByLabel('Output (JSON or text)').fill('{"overdue": [1, 8]}');
  await task.getByRole('button', { name: 'Complete Rita checks the list' }).click();
  await page.locator('#plan-status[data-status="completed"]').waitFor({ timeout: 15_000 });
  expect(pageErrors.get(page)).toEqual([]);
  await page.context().close();
}, 90_000);

it('the timeline shows who decided, when and why; refused decisions only to admins', async () => {
  const { tokens } = await organization();
  const plan = await createAs(tokens.planner, { ...weeklyDigest, schedule: undefined });
  const handle = stack.client.workflow.getHandle(`plan-run:${plan.runId}`);
  const organizationId = (await call<{ organizationId: string }>(tokens.alice, 'GET', '/v1/me')).body.organizationId;
  await handle.signal(approveSignal, { organizationId, threadId: 't-9', emittedBy: 'planner' });
  await eventually(`run ${plan.runId} to record the planner's approve signal as refused`, async () =>
    (await stack.plans.runs.get(plan.runId, { includeEvents: true })).events!.some((event) => event.eventType === 'decision-refused')
      ? true
      : undefined,
  );
  await call(tokens.bob, 'POST', `/v1/plans/${plan.runId}/reject`, {
    resolution: 'changes-requested',
    reason: 'Add the totals per region.',
  });

  const admin = await openInbox(browser, stack.apiUrl, tokens.admin, `#/plan/${plan.runId}`);
  const refused = admin.locator('#plan-timeline li[data-event="decision-refused"]');
  await refused.waitFor();
  await expect(refused.innerText()).resolves.toMatch(/Refused approve signal: The requester of a plan cannot approve it\. — planner/);
  const decided = admin.locator('#plan-timeline li[data-event="plan-changes-requested"]');
  await expect(decided.innerText()).resolves.toMatch(
    /^\w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d UTC Requested changes for execution plan "Weekly digest"\. — bob “Add the totals per region\.”$/,
  );
  await screenshots(admin, 'timeline');
  await admin.context().close();

  const person = await openInbox(browser, stack.apiUrl, tokens.alice, `#/plan/${plan.runId}`);
  await person.locator('#plan-timeline li[data-event="plan-changes-requested"]').waitFor();
  expect(await person.locator('#plan-timeline li[data-event="decision-refused"]').count()).toBe(0);
  await person.context().close();
}, 60_000);

it('GET / leads to the inbox', async () => {
  const response = await fetch(`${stack.apiUrl}/`, { redirect: 'manual' });
  expect(response.status).toBe(302);
  expect(response.headers.get('location')).toBe('/inbox');
});
