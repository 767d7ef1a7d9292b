// The studio's Check, Generate and Export screens in headless Chromium (WebGPU on SwiftShader),
// driven by role and accessible name, one browser for the file:
//   1. Check: "Run check" runs the quick op suite in the engine worker; every op passes, each row
//      shows the error measured against the float64 reference, and the report (copied with "Copy
//      report") names the browser and the adapter the check ran on.
//   2. Generate on the demo (no run yet): the base answer streams in (more than one update) and
//      equals what `prefstudio generate` answers in Node (greedy); a bad sampling setting is named.
//   3. a one-step LoRA run trained through the studio's own worker (the protocol's startTraining,
//      sent with the page's sendCommand): Generate answers with both models side by side — the
//      base (the run's frozen base, adapter off) exactly as before, the trained one streamed.
// Screenshots: e2e/artifacts/check-*.png (git-ignored), light and dark. No console error, no CSP
// violation. No adapter is a failure, never a skip.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_MODULES, checkCases } from '../src/engine/check/suite.ts';
import { forwardConsole, launchChromium, repoRoot, startVite } from './gpu/browser/launch.ts';

const ARTIFACTS = join(repoRoot, 'e2e', 'artifacts');
const PROMPT = 'What is 3 times 7?';
const MAX_NEW = 24;
/** The run's data: the head of the demo's training set (a short reference pass on SwiftShader). */
const TRAIN_TEXT = readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, 8).join('\n');
const RUN_CONFIG = { loss_type: 'sigmoid', beta: 0.1, learning_rate: 0.02, max_steps: 1, per_device_train_batch_size: 4, use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0, seed: 7 };
let baseAnswer = '';

/** `prefstudio generate` on the demo folder in Node (greedy): the answer the studio must give. */
function cliAnswer(): string {
  const out = execFileSync(process.execPath, [join(repoRoot, 'bin/prefstudio.mjs'), 'generate', '--model', join(repoRoot, 'public/demo/model'), '--prompt', PROMPT, '--max_new_tokens', String(MAX_NEW)], {
    encoding: 'utf8',
    env: { ...process.env, PREFSTUDIO_ADAPTER: process.env.PREFSTUDIO_ADAPTER ?? 'swiftshader' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
  });
  return out.replace(/\n$/, '');
}

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

/**
 * An async function body run in the page with `load(url)`, the page's own modules as the dev
 * server serves them (the instances the studio runs). A string, so Vitest leaves its import() alone.
 */
function pageScript(body: string): string {
  return `(async () => { const load = (path) => import(location.origin + path); ${body} })()`;
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

  it('Generate: the demo base model answers token by token, as prefstudio generate does', { timeout: 400_000 }, async () => {
    const want = cliAnswer();
    expect(want.length, 'prefstudio generate gave an empty answer').toBeGreaterThan(0);
    await page.getByRole('link', { name: 'Generate', exact: true }).click();
    await page.getByRole('heading', { name: 'Generate', level: 2 }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Prompt' }).inputValue()).toBe(PROMPT);
    expect(await page.getByRole('combobox', { name: 'Base model' }).inputValue()).toMatch(/^prefstudio-demo\./);
    expect(await page.getByTestId('generate-trained-run').innerText()).toMatch(/none yet/);

    // a setting out of range is named and keeps Generate off
    const maxNew = page.getByRole('spinbutton', { name: 'max_new_tokens' });
    await maxNew.fill('0');
    expect(await page.getByRole('button', { name: 'Generate', exact: true }).isDisabled()).toBe(true);
    expect(await maxNew.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#gen-max_new_tokens-help').innerText()).toBe('max_new_tokens must be a whole number from 1 to 4096.');
    await maxNew.fill(String(MAX_NEW));
    expect(await page.getByRole('spinbutton', { name: 'temperature' }).inputValue()).toBe('0');

    // streamed: the text is seen growing (sampled while it runs) and the slice counts the updates
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const seen = new Set<string>();
    const answer = page.getByTestId('answer-base');
    const t0 = Date.now();
    while ((await answer.getAttribute('data-done').catch(() => null)) !== 'true') {
      if (Date.now() - t0 > 300_000) throw new Error(`no complete base answer after 300 s; seen: ${[...seen].join(' | ')}`);
      const t = await page.getByTestId('answer-base-text').innerText().catch(() => '');
      if (t && t !== '…') seen.add(t);
      await page.waitForTimeout(50);
    }
    const text = await page.getByTestId('answer-base-text').innerText();
    const updates = Number(await answer.getAttribute('data-updates'));
    console.log(`[generate] base answer "${text}" in ${updates} updates (${seen.size} distinct texts seen while streaming)`);
    expect(updates, 'one update per token: the answer did not stream').toBeGreaterThan(1);
    expect(text).toBe(want);
    expect(await page.getByTestId('answer-base-status').innerText()).toMatch(new RegExp(`^${updates} tokens, (ended at a stop token|reached max_new_tokens) · [\\d.]+ tokens/s$`));
    expect(await page.getByTestId('answer-trained').innerText()).toMatch(/No trained run for this base model yet/);
    expect(await page.getByTestId('generate-template').locator('summary').innerText()).toMatch(/^The prompt as the model reads it \(\d+ tokens\)$/);
    baseAnswer = text;
    await shots('generate-base');
    await expectNoProblems('the Generate screen');
  });

  it('Generate after a one-step LoRA run: base and trained answers side by side', { timeout: 600_000 }, async () => {
    // train through the studio's worker, as the Train screen would (its events reach every screen)
    const requestId = await page.evaluate(pageScript(`
      const demo = (await load('/src/ui/store/index.ts')).getStudioState().models.list.find((m) => m.isDemo);
      if (!demo) throw new Error('the demo model is not listed');
      return (await load('/src/ui/engine/useEngine.ts')).sendCommand({ type: 'startTraining', modelId: demo.id, data: { name: 'head.jsonl', bytes: new TextEncoder().encode(${JSON.stringify(TRAIN_TEXT)}) }, config: ${JSON.stringify(RUN_CONFIG)} });
    `)) as number;
    expect(requestId).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('generate-trained-run').innerText(), { timeout: 500_000, interval: 500 }).toMatch(/^Trained model: run-\S+ \(sigmoid, LoRA, 1 of 1 steps\)$/);

    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    const trained = page.getByTestId('answer-trained');
    await page.waitForSelector('[data-testid=answer-trained][data-done=true]', { timeout: 300_000 });
    expect(await page.getByTestId('answer-base').getAttribute('data-done')).toBe('true');
    // the base is the run's own frozen base with the adapter off: the same weights as before
    expect(await page.getByTestId('answer-base-text').innerText()).toBe(baseAnswer);
    const text = await page.getByTestId('answer-trained-text').innerText();
    const updates = Number(await trained.getAttribute('data-updates'));
    console.log(`[generate] trained answer "${text}" in ${updates} updates`);
    expect(updates, 'the trained answer did not stream').toBeGreaterThan(1);
    expect(text.length).toBeGreaterThan(0);
    // one step at this learning rate teaches the demo its preferred answer (deterministic: seeded run, greedy)
    expect(text, "the trained answer equals the base's: the run's weights did not answer").not.toBe(baseAnswer);
    expect(await trained.locator('h3').innerText()).toMatch(/^Trained model · run-/);
    await shots('generate-both');
    await expectNoProblems('the Generate screen');
  });
});
