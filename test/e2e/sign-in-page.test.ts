import type { Browser } from 'playwright-core';

import type { Stack } from '../../app/stack.js';
import { VIEWPORTS, accessibilityViolations, launchChromium, pageErrors, screenshots } from '../support/browser.js';
import { crossThread } from '../support/drafts.js';
import { askApi } from '../support/http.js';
import { type IdentityProvider, stackWithSignIn } from '../support/identity-provider.js';
import { tokenFor } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * Signing in to the inbox through the organization's identity provider, in Chromium against a
 * real OpenID provider (oidc-provider): a person opens a plan's page, signs in (login, consent),
 * comes back to that very plan, approves it as themselves, and signs out.
 */

const ORGANIZATION = 'acme-browser';
let stack: Stack;
let idp: IdentityProvider;
let browser: Browser;
let apiUrl: string;

beforeAll(async () => {
  ({ stack, idp, apiUrl } = await stackWithSignIn(ORGANIZATION));
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await idp?.stop();
});

/** The run once someone decided it, with its decision records. */
function decidedBy(token: string, runId: string) {
  return eventually(`a decision on ${runId}`, async () => {
    const stored = await askApi<{
      status: string;
      approvals: Array<{ emittedBy: string; credential: { kind: string; authTime: string } }>;
    }>(apiUrl, token, 'GET', `/v1/plans/${runId}?include=approvals`);
    return stored.body.status !== 'pending-approval' ? stored.body : undefined;
  });
}

it('a person opens a plan, signs in, comes back to it, approves it as themselves, and signs out', async () => {
  const planner = await tokenFor(stack, ORGANIZATION, 'planner', { kind: 'agent', roles: [] });
  const run = (await askApi<{ runId: string; title: string }>(apiUrl, planner, 'POST', '/v1/plans', crossThread())).body;
  idp.groups.set('alice', ['approver']);

  const context = await browser.newContext({ viewport: VIEWPORTS.desktop, timezoneId: 'UTC', locale: 'en-GB' });
  const page = await context.newPage();
  const errors: Error[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${apiUrl}/inbox#/plan/${run.runId}`);
  const signIn = page.getByRole('link', { name: 'Sign in with your organization' });
  await signIn.waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshots(page, 'sign-in');
  await signIn.click();

  // The identity provider's own pages: login, then consent.
  await page.locator('input[name="login"]').fill('alice');
  await page.locator('input[name="password"]').fill('any');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();

  await page.waitForURL(`${apiUrl}/inbox#/plan/${run.runId}`);
  await page.getByRole('heading', { name: run.title }).waitFor();
  await page.locator('#who', { hasText: `alice · ${ORGANIZATION}` }).waitFor();
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  const decided = await decidedBy(planner, run.runId);
  expect(decided.approvals[0]).toMatchObject({ emittedBy: 'alice', credential: { kind: 'sign-in' } });

  await page.getByRole('link', { name: 'Sign out' }).click();
  // The provider asks to confirm the sign-out, then sends the person back to the inbox, signed out.
  await page.getByRole('button', { name: /Yes, sign me out/ }).click();
  await page.getByRole('link', { name: 'Sign in with your organization' }).waitFor();
  expect(errors).toEqual([]);
  await context.close();
}, 90_000);

it('a plan under a freshSignIn rule: an old sign-in is sent through the identity provider again, then the approval is recorded', async () => {
  const admin = await tokenFor(stack, ORGANIZATION, 'ops', { roles: ['admin'] });
  const rule = { name: 'present', when: {}, require: { required: 1 }, freshSignIn: '3s' };
  expect((await askApi(apiUrl, admin, 'PUT', '/v1/policy', { rules: [rule] })).status).toBe(200);
  try {
    const planner = await tokenFor(stack, ORGANIZATION, 'planner', { kind: 'agent', roles: [] });
    const run = (await askApi<{ runId: string; title: string }>(apiUrl, planner, 'POST', '/v1/plans', crossThread())).body;
    idp.groups.set('bob', ['approver']);
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, timezoneId: 'UTC', locale: 'en-GB' });
    const page = await context.newPage();
    await page.goto(`${apiUrl}/inbox#/plan/${run.runId}`);
    await page.getByRole('link', { name: 'Sign in with your organization' }).click();
    await page.locator('input[name="login"]').fill('bob');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: run.title }).waitFor();
    // Longer ago than the rule allows: the approval is refused, and the inbox sends bob to sign in again.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.locator('input[name="login"]').waitFor();
    await page.locator('input[name="login"]').fill('bob');
    await page.locator('input[name="password"]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.waitForURL(`${apiUrl}/inbox#/plan/${run.runId}`);
    await page.getByRole('heading', { name: run.title }).waitFor();
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    const decided = await decidedBy(planner, run.runId);
    expect(decided.approvals[0]!.emittedBy).toBe('bob');
    expect(Date.now() - Date.parse(decided.approvals[0]!.credential.authTime)).toBeLessThan(10_000);
    await context.close();
  } finally {
    await askApi(apiUrl, admin, 'PUT', '/v1/policy', {});
  }
}, 90_000);
