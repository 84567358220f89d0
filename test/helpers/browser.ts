/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core: no browser is downloaded) for the
 * dashboard tests. Missing, the tests skip with one line naming the package (scripts/outside-tools.mjs).
 * Each page records what must never happen on the dashboard: a CSP violation, a console error, an
 * uncaught exception.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { outsideTool } from './outside-tools.js';

export const chromiumTool = outsideTool('chromium');

/** Where the screenshots go, for a reviewer (gitignored). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-results/dashboard/', import.meta.url));

export async function launchBrowser(): Promise<Browser> {
  if (chromiumTool.path === undefined) throw new Error('chromium is not installed');
  // --no-sandbox: CI and this machine run the tests as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumTool.path, args: ['--no-sandbox'] });
}

export interface WatchedPage {
  readonly page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  readonly problems: string[];
}

export async function openPage(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Init scripts run before the page's own, outside its CSP: a listener that records every violation.
  // (Browser code as text: this project's TypeScript has no DOM types.)
  await page.addInitScript("window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ': ' + e.blockedURI));");
  return { page, problems };
}

/** Opens the dashboard of `apiUrl` and signs in with `key`; resolves when the members are shown. */
export async function signIn(page: Page, apiUrl: string, key: string): Promise<void> {
  await page.goto(`${apiUrl}/dashboard/`);
  await page.fill('#key', key);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#members tr[data-node]', { timeout: 10_000 });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__csp');
}
