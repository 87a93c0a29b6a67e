import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { type Browser, type Page, chromium } from 'playwright-core';

/** Debian's headless Chromium (installed by `.ci/run`), or CHROMIUM_PATH. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The two sizes every page is shown at: a laptop and a phone. */
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (\`.ci/run\` does) or set CHROMIUM_PATH.`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Script errors each page threw, to be checked as empty at the end of a test. */
export const pageErrors = new WeakMap<Page, Error[]>();

/** The inbox signed in with `token`, in a browser whose clock reads UTC (so times on the page are predictable). */
export async function openInbox(browser: Browser, apiUrl: string, token: string, path = '#/'): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop, timezoneId: 'UTC', locale: 'en-GB' });
  const page = await context.newPage();
  const errors: Error[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${apiUrl}/inbox#token=${encodeURIComponent(token)}`);
  await page.locator('#who', { hasText: ' · ' }).waitFor();
  if (path !== '#/') await page.goto(`${apiUrl}/inbox${path}`);
  return page;
}

/** Full-page screenshots at both sizes, saved as `<name>-desktop.png` and `<name>-phone.png`, checked to fit without sideways scrolling; the page is left at desktop size. */
export async function screenshots(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: `${SHOTS}${name}-${size}.png`, fullPage: true });
    // Nothing may need sideways scrolling, a phone included.
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    if (width > viewport.width)
      throw new Error(`${name} is ${width}px wide at ${size} size (${viewport.width}px): something does not wrap.`);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** Runs axe-core (WCAG 2.1 A and AA: labels, contrast, landmarks, focus order) in the page; answers its violations. */
export async function accessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE });
  // A string, evaluated in the page: this project compiles without the DOM's types.
  const violations = (await page.evaluate(`axe
    .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    .then((result) => result.violations.map(({ id, impact, help, nodes }) => ({ id, impact: impact ?? null, help, nodes: nodes.map((node) => ({ target: node.target })) })))`)) as AxeViolation[];
  return violations;
}
