// The studio's Check, Generate and Export screens in headless Chromium (WebGPU on SwiftShader),
// driven by role and accessible name, one browser for the file:
//   1. Check: "Run check" runs the quick op suite in the engine worker; every op passes, each row
//      shows the error measured against the float64 reference, and the report (copied with "Copy
//      report") names the browser and the adapter the check ran on.
// Screenshots: e2e/artifacts/check-*.png (git-ignored), light and dark. No console error, no CSP
// violation. No adapter is a failure, never a skip.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_MODULES, checkCases } from '../src/engine/check/suite.ts';
import { forwardConsole, launchChromium, repoRoot, startVite } from './gpu/browser/launch.ts';

const ARTIFACTS = join(repoRoot, 'e2e', 'artifacts');

let vite: { server: ViteDevServer; url: string } | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  vite = await startVite();
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: vite.url });
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI}`));
  });
  page = await context.newPage();
  forwardConsole(page, 'studio');
  page.on('console', (m) => m.type() === 'error' && problems.push(`console.error: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
});

afterAll(async () => {
  await browser?.close();
  await vite?.server.close();
});

/** Full-page screenshots from the top, light and dark. */
async function shots(name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function expectNoProblems(where: string): Promise<void> {
  const csp = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  expect([...problems, ...csp.map((c) => `CSP violation: ${c}`)], `console errors / CSP violations on ${where}`).toEqual([]);
}

describe('Check, Generate and Export screens (chromium)', () => {
  it('Check: every op passes against its float64 reference on SwiftShader, and the report names the adapter', { timeout: 300_000 }, async () => {
    await page.goto(`${vite!.url}/#/check`);
    await page.getByRole('heading', { name: 'Check', level: 2 }).waitFor();
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Run check', exact: true }).click();
    // while it runs: progress, and Stop check has the focus (Run check is disabled)
    await page.getByTestId('check-progress').waitFor({ timeout: 60_000 });
    expect(await page.getByRole('button', { name: 'Run check', exact: true }).isDisabled()).toBe(true);
    await page.waitForSelector('[data-testid=check-runner][data-status=done]', { timeout: 240_000 });
    const seconds = (Date.now() - t0) / 1000;
    console.log(`[check] quick check: ${checkCases('quick').length} cases in ${seconds.toFixed(1)} s`);

    // one row per op, every one "pass" with a measured error
    const ops = [...new Set(CHECK_MODULES.map((m) => m.op))];
    const rows = page.getByTestId('check-ops').locator('tbody tr');
    expect(await rows.count()).toBe(ops.length);
    const table = await rows.evaluateAll((trs) => trs.map((tr) => ({ op: tr.getAttribute('data-op'), result: tr.getAttribute('data-result'), cells: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '') })));
    expect(table.map((r) => r.op)).toEqual(ops);
    const failed = table.filter((r) => r.result !== 'pass');
    expect(failed, `ops that did not pass on this adapter:\n${await page.getByTestId('check-results').innerText()}`).toEqual([]);
    const errors = table.map((r) => r.cells[2]).filter((c) => c !== 'exact').map(Number);
    expect(errors.length, 'ops with a measured error').toBeGreaterThan(ops.length - 2);
    for (const x of errors) expect(x >= 0 && x < 1e-3, `a measured error ${x} out of range`).toBe(true);
    expect(errors.some((x) => x > 0), 'every error exactly 0: the measurement is not reaching the table').toBe(true);
    expect(await page.getByTestId('check-verdict').innerText()).toMatch(new RegExp(`^All ${checkCases('quick').length} cases passed: every op agrees with its reference on this GPU\\.`));
    expect(await page.getByRole('button', { name: 'Run check', exact: true }).isDisabled()).toBe(false);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Run check'); // focus back where it was

    // the report: browser, adapter (SwiftShader here), features, one line per op, no failures
    const report = await page.getByRole('textbox', { name: 'Check report' }).inputValue();
    expect(report).toMatch(new RegExp(`^PrefStudio self-check \\(quick: small shapes per op\\): ${checkCases('quick').length} of ${checkCases('quick').length} cases passed in [\\d.]+ s\\n`));
    expect(report).toMatch(/\nBrowser: Mozilla\/5\.0 .*Chrome\/\d+/);
    expect(report).toMatch(/\nAdapter: [^\n]*google \/ swiftshader[^\n]*software: runs on the CPU\)\n/); // Chromium withholds the description
    expect(report).toMatch(/\nLimits: maxBufferSize=\d+/);
    for (const op of ops) expect(report, `the report has no line for ${op}`).toMatch(new RegExp(`\\n${op.replace(/[()]/g, '\\$&')} +pass `));
    expect(report).not.toMatch(/Failures:/);
    await page.getByRole('button', { name: 'Copy report' }).click();
    await expect.poll(() => page.getByTestId('check-copied').innerText()).toBe('Copied to the clipboard.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(report);

    await shots('check');
    await page.setViewportSize({ width: 1024, height: 900 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'sideways scroll at 1024 px').toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });
    await expectNoProblems('the Check screen');
  });
});
