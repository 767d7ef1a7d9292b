// The studio's shell and Model screen in headless Chromium (SwiftShader WebGPU) on an on-disk
// profile, driven by role and accessible name as a screen reader user would, in one browser:
//   1. the shell: the navigation's seven links by role and name, keyboard navigation (focus lands
//      on the new screen's heading), the placeholders; the Content-Security-Policy (meta tag and
//      header, also on the worker's script) with no violation while the demo loads, the worker
//      starts and WebGPU runs — and a remote fetch that IS blocked, so the check can fail;
//      light and dark follow prefers-color-scheme; no horizontal scroll at 1024 px on any screen;
//   2. the Model screen: storage used/available and the persist() request; the GPU panel's plain
//      words; the file pickers' accessible names; an import without tokenizer.json (its note, the
//      Name box cleared, focus back on the picker, the status region); the same folder again
//      ("already stored"); an error that reads as a sentence (focus on it); delete with Escape,
//      Keep and Delete by keyboard (focus back on the row's button, then on the list's heading);
//   3. an 80 MB import interrupted by a reload: focus on Cancel while it runs, then after the reload
//      the status region announces it, it is listed with its size, and Discard frees it;
//   4. the built studio (vite build, served by vite preview) under the strict policy — no nonce —
//      loads the demo and runs WebGPU in its worker with no violation.
// Screenshots (light and dark, 1280 and 1024 px) go to e2e/artifacts/studio-*.png (git-ignored).
// No adapter, no demo or any console error is a failure, never a skip.

import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { build, preview } from 'vite';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';
import { syntheticCheckpoint, syntheticReaderSource } from '../src/engine/store/synthetic.ts';

const FIXTURES = join(repoRoot, 'e2e', 'fixtures', 'checkpoints');
const NAV = ['Model', 'Data', 'Train', 'Runs', 'Generate', 'Check', 'Export'];

/** Chromium on a fresh on-disk profile; console errors (page and worker), uncaught exceptions and CSP violations recorded. */
const studio = useStudioPage({ tag: 'studio', shotPrefix: 'studio-', onDisk: true });
let page: Page;
let tmp = '';
const { problems, shot, expectNoProblems } = studio;
/** Content-Security-Policy headers of the responses, by URL. */
const cspHeaders = new Map<string, string>();

beforeAll(() => {
  page = studio.page;
  tmp = studio.tmp;
  studio.context.on('response', (r) => {
    const csp = r.headers()['content-security-policy'];
    if (csp) cspHeaders.set(r.url(), csp);
  });
});

/** The studio is up: models listed with the demo, the device probed. */
async function studioReady(): Promise<void> {
  await page.waitForSelector('[data-testid=model-list][data-listed=true]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=model-row][data-demo=true]', { timeout: 120_000 });
  await page.waitForFunction(() => !['idle', 'probing'].includes(document.querySelector('[data-testid=device]')?.getAttribute('data-status') ?? 'idle'), null, { timeout: 60_000 });
}

const announced = (): Promise<string> => page.getByTestId('announcer').evaluate((el) => el.textContent ?? '');
const focused = (): Promise<string> => page.evaluate(() => {
  const a = document.activeElement as HTMLElement | null;
  return a ? `${a.tagName.toLowerCase()}#${a.id}[${a.dataset.testid ?? ''}]${a.getAttribute('aria-label') ?? ''}` : 'none';
});
const bodyBackground = (): Promise<number> =>
  page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+/g)!.map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; // relative brightness, 0 black … 1 white
  });
const noHorizontalScroll = (): Promise<{ scroll: number; client: number }> =>
  page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));

/** A copy of fixture `name` in a folder called `folder`, with `tweak` applied to each file's bytes (null drops it). */
function fixtureCopy(name: string, folder: string, tweak?: (file: string, bytes: Buffer) => Buffer | null): string {
  const dir = join(tmp, folder);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(FIXTURES, name))) {
    if (!tweak) copyFileSync(join(FIXTURES, name, f), join(dir, f));
    else {
      const b = tweak(f, readFileSync(join(FIXTURES, name, f)));
      if (b) writeFileSync(join(dir, f), b);
    }
  }
  return dir;
}

describe('studio shell and Model screen (chromium, on-disk IndexedDB)', () => {
  it('navigation by role and name, CSP with no violations, WebGPU in the worker, light and dark, 1024 px', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${studio.url}/`);
    await studioReady();

    // --- the navigation: seven links, by role and accessible name, the current one marked
    const nav = page.getByRole('navigation', { name: 'Studio' });
    expect(await nav.getByRole('link').allInnerTexts()).toEqual(NAV);
    for (const name of NAV) expect(await nav.getByRole('link', { name, exact: true }).count(), name).toBe(1);
    expect(await nav.getByRole('link', { name: 'Model', exact: true }).getAttribute('aria-current')).toBe('page');

    // --- the worker runs WebGPU (SwiftShader here) and the demo is listed
    expect(await page.getByTestId('device').getAttribute('data-status'), await page.getByTestId('device').innerText()).toBe('ready');
    expect((await page.getByTestId('device-summary').innerText()).toLowerCase()).toContain('swiftshader');
    expect(page.workers().map((w) => w.url()).some((u) => u.includes('worker.ts'))).toBe(true);

    // --- the policy: meta tag and headers (page and worker script), nothing remote allowed
    const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(meta).toMatch(/default-src 'self'/);
    expect(meta).toMatch(/connect-src 'self'(;|$)/);
    expect(meta).toMatch(/script-src 'self'( 'nonce-[^']+')?(;|$)/);
    expect(meta).not.toMatch(/https?:|\*|unsafe-eval|unsafe-inline/);
    const pageHeader = cspHeaders.get(`${studio.url}/`);
    expect(pageHeader, 'the studio page is sent without a CSP header').toBe(meta);
    const workerHeader = [...cspHeaders].find(([u]) => u.includes('worker.ts'))?.[1];
    expect(workerHeader, "the engine worker's script is sent without a CSP header").toBe(meta);
    await expectNoProblems();

    // ...and it is enforced: a fetch to another origin is refused and reported
    const remote = await page.evaluate(() => fetch('http://127.0.0.2:9/x').then(() => 'fetched', (e: Error) => e.message));
    expect(remote).toMatch(/Failed to fetch/);
    const violations = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp.splice(0));
    expect(violations.join('\n')).toMatch(/connect-src blocked http:\/\/127\.0\.0\.2:9/);
    // the console reports it too (so the listener above would have caught any other violation)
    await expect.poll(() => problems.some((p) => /http:\/\/127\.0\.0\.2:9\/x' violates the following Content Security Policy directive: "connect-src 'self'"/.test(p))).toBe(true);
    problems.splice(0);

    // --- light and dark follow the system
    expect(await bodyBackground()).toBeGreaterThan(0.9);
    await shot('model-light-1280');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await bodyBackground()).toBeLessThan(0.1);
    const darkText = await page.evaluate(() => getComputedStyle(document.querySelector('h2')!).color);
    expect(darkText.match(/\d+/g)!.map(Number)[0]).toBeGreaterThan(200); // light text on the dark page
    await shot('model-dark-1280');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await bodyBackground()).toBeGreaterThan(0.9);

    // --- keyboard: a link by Enter; the new screen's heading takes focus; the placeholder says what comes
    await nav.getByRole('link', { name: 'Data', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=screen-data]');
    expect(new URL(page.url()).hash).toBe('#/data');
    expect(await focused()).toBe('h2#screen-data[]');
    expect(await page.getByRole('heading', { name: 'Data', level: 2 }).count()).toBe(1);
    expect(await nav.getByRole('link', { name: 'Data', exact: true }).getAttribute('aria-current')).toBe('page');
    expect(await nav.getByRole('link', { name: 'Model', exact: true }).getAttribute('aria-current')).toBeNull();
    // a reload stays on the screen
    await page.reload();
    await page.waitForSelector('[data-testid=screen-data]');
    await shot('data-light-1280');

    // --- 1024 px: no horizontal scroll on any screen; screens still to come say what they will do
    await page.setViewportSize({ width: 1024, height: 800 });
    for (const name of NAV) {
      await nav.getByRole('link', { name, exact: true }).click();
      await page.waitForSelector(`[data-testid=screen-${name.toLowerCase()}]`);
      const w = await noHorizontalScroll();
      expect(w.scroll, `${name} screen scrolls sideways at 1024 px`).toBeLessThanOrEqual(w.client);
      const coming = page.getByTestId('coming');
      if ((await coming.count()) > 0) expect(await coming.innerText(), name).toMatch(/^Coming: [^\n]+\.$/);
    }
    await page.goBack(); // back to Export's predecessor, Check
    await page.waitForSelector('[data-testid=screen-check]');
    await nav.getByRole('link', { name: 'Model', exact: true }).click();
    await studioReady();
    await shot('model-light-1024');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('model-dark-1024');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 900 });
    await expectNoProblems();
  });

  it('Model screen: storage, persist, GPU words, pickers by name, import notes, already stored, a sentence error, delete by keyboard', async () => {
    // --- storage used / available and the persist request
    const estimate = page.getByTestId('storage-estimate');
    await page.waitForSelector('[data-testid=storage-estimate][data-usage]');
    expect(await estimate.innerText()).toMatch(/^This site uses [\d.]+ [KMG]?B; [\d.]+ [KMG]?B more is available to it\.$/);
    const persist = page.getByRole('button', { name: 'Make storage persistent' });
    if ((await persist.count()) === 1) {
      expect(await page.locator('#persist-explain').innerText()).toMatch(/^When the disk runs low, browsers may clear a site's data; persistent storage asks the browser to keep/);
      await persist.click();
      await page.waitForSelector('[data-testid=persist-status]');
    }
    expect(await page.getByTestId('persist-status').getAttribute('data-persist')).toMatch(/^(granted|denied)$/);
    console.log(`[studio] storage: ${await estimate.innerText()} · persist: ${await page.getByTestId('persist-status').innerText()}`);

    // --- the GPU panel in plain words
    expect(await page.getByTestId('software-note').innerText()).toMatch(/software adapter: the browser runs WebGPU on the processor \(CPU\) instead of a graphics card/);

    // --- the pickers' accessible names are their visible text
    const folderPicker = page.getByRole('button', { name: 'Choose folder…', exact: true });
    const filesPicker = page.getByRole('button', { name: 'Choose files…', exact: true });
    expect(await folderPicker.getAttribute('data-testid')).toBe('import-folder');
    expect(await filesPicker.getAttribute('data-testid')).toBe('import-files');
    const nameBox = page.getByRole('textbox', { name: 'Name', exact: true });

    // --- an import without tokenizer.json, under a typed name
    const tiny = fixtureCopy('tiny-f32-1shard', 'tiny-f32-1shard');
    await nameBox.fill('tiny one');
    await folderPicker.setInputFiles(tiny);
    await page.waitForSelector('[data-testid=import-progress][data-status=done]', { timeout: 60_000 });
    const row = page.locator('[data-testid=model-row]', { hasText: 'tiny one' });
    await row.waitFor();
    expect(await nameBox.inputValue()).toBe(''); // the next import does not reuse the name
    expect(await page.getByTestId('import-headline').innerText()).toBe('Imported tiny one.');
    expect(await page.getByTestId('import-no-tokenizer').innerText()).toMatch(/^No tokenizer\.json was among the files, so this model can train on token-id data only/);
    expect(await announced()).toMatch(/^Imported tiny one\. It has no tokenizer\.json/);
    expect(await focused()).toContain('[import-folder]');
    expect(await page.locator(`[data-testid=adapters-row][data-model-id="${await row.getAttribute('data-model-id')}"]`).getByTestId('adapters-heading').innerText()).toBe('PEFT adapters of tiny one: none yet');
    await shot('model-imported-light');

    // --- the same folder under the same name again: already there, nothing new listed
    const before = await page.getByTestId('model-name').allInnerTexts();
    await nameBox.fill('tiny one');
    await folderPicker.setInputFiles(tiny);
    await page.waitForFunction(() => /already stored/.test(document.querySelector('[data-testid=import-headline]')?.textContent ?? ''), null, { timeout: 60_000 });
    expect(await page.getByTestId('import-headline').innerText()).toBe('tiny one is already stored: its files were checked and nothing new was copied.');
    expect(await announced()).toMatch(/^tiny one is already stored/);
    expect(await page.getByTestId('model-name').allInnerTexts()).toEqual(before);

    // --- a truncated safetensors file: the message reads as a sentence, and takes focus
    const truncated = fixtureCopy('tiny-f32-1shard', 'tiny-truncated', (f, b) => (f === 'model.safetensors' ? b.subarray(0, b.length - 64) : b));
    await folderPicker.setInputFiles(truncated);
    const box = page.getByTestId('models-error');
    await box.waitFor({ timeout: 60_000 });
    const sentence = await page.getByTestId('models-error-sentence').innerText();
    console.log(`[studio] error sentence: ${sentence}`);
    expect(sentence).toMatch(/^In model\.safetensors: Its header describes \d+ bytes of tensor data .* the file is truncated\.$/);
    expect(await page.getByTestId('models-error-hint').innerText()).toMatch(/^[A-Z].*\.$/);
    expect(await focused()).toContain('[models-error]');
    await shot('model-error-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('model-error-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await box.getByRole('button', { name: 'Dismiss this message' }).click();

    // --- delete: Escape closes the confirmation and gives focus back; Enter, Enter deletes
    const del = page.getByRole('button', { name: 'Delete tiny one', exact: true });
    await del.click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete tiny one?' });
    await dialog.waitFor();
    expect(await focused()).toContain('[confirm-delete-yes]');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(focused).toContain('Delete tiny one');
    await page.keyboard.press('Enter'); // the focused Delete button opens it again
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Keep' }).click();
    await expect.poll(focused).toContain('Delete tiny one');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Enter'); // its Delete button has focus
    expect(await focused()).toBe('h3#models-heading[]');
    await row.waitFor({ state: 'detached' });
    await expect.poll(announced).toMatch(/^Deleted tiny one; [\d.]+ KB freed\.$/);
    await expectNoProblems();
  });

  it('an import interrupted by a reload is announced, listed with its size, and discarded', async () => {
    // ~80 MB of incompressible F32 weights in two shards: five 16 MiB chunks, so a reload lands mid-copy
    const dir = join(tmp, 'synthetic-80mb');
    mkdirSync(dir, { recursive: true });
    const c = syntheticCheckpoint({
      name: 'synthetic-80mb',
      dtype: 'F32',
      values: 'noise',
      maxShardBytes: 48e6,
      config: { vocab_size: 8192, hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 128, query_pre_attn_scalar: 128 },
    });
    for (const f of syntheticReaderSource(c).files) writeFileSync(join(dir, f.name), await f.read(0, f.size));

    await page.getByRole('button', { name: 'Choose folder…', exact: true }).setInputFiles(dir);
    await page.waitForSelector('[data-testid=import-progress][data-status=running]');
    expect(await focused()).toContain('[cancel-import]'); // the pickers are disabled: focus is on Cancel
    // the first copy event comes after the first chunk is stored
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid=import-progress]');
      return el?.getAttribute('data-phase') === 'copy' && Number(el.getAttribute('data-percent')) > 0;
    }, null, { timeout: 60_000, polling: 10 });
    await page.reload();
    await studioReady();
    expect(await page.getByTestId('model-name').allInnerTexts(), 'the import finished before the reload: make the synthetic model larger').not.toContain('synthetic-80mb');

    const partial = page.locator('[data-testid=partial]', { hasText: 'synthetic-80mb' });
    await partial.waitFor({ timeout: 30_000 });
    const size = await partial.getByTestId('partial-size').innerText();
    expect(size).toMatch(/^\d+\.\d MB$/); // at least one 16 MiB chunk
    expect(Number(size.split(' ')[0])).toBeGreaterThanOrEqual(16.7);
    expect(await partial.innerText()).toMatch(/ of 79\.7 MB stored · started /);
    await expect.poll(announced).toMatch(new RegExp(`^An import of synthetic-80mb was interrupted: ${size.replace('.', '\\.')} of 79\\.7 MB are stored\\. Import the same folder again to resume it, or discard it\\.$`));
    await shot('model-partial-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('model-partial-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    await page.getByRole('button', { name: 'Discard the unfinished import of synthetic-80mb', exact: true }).click();
    expect(await focused()).toBe('h3#models-heading[]');
    await partial.waitFor({ state: 'detached' });
    await expect.poll(announced).toBe(`Discarded the unfinished import of synthetic-80mb; ${size} freed.`);
    await page.reload();
    await studioReady();
    await page.waitForTimeout(300); // the partial listing follows the model list
    expect(await page.locator('[data-testid=partial]').count()).toBe(0);
    await expectNoProblems();
  });

  it('the built studio (vite build + preview): the strict policy, the demo and WebGPU, no violation', async () => {
    const outDir = join(tmp, 'dist');
    await build({ configFile: join(repoRoot, 'vite.config.ts'), root: repoRoot, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    const server = await preview({ configFile: join(repoRoot, 'vite.config.ts'), root: repoRoot, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
    try {
      const url = server.resolvedUrls!.local[0];
      const html = readFileSync(join(outDir, 'index.html'), 'utf8');
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|nonce=/); // nothing inline, no nonce
      await page.goto(url); // another origin: its own storage, so the demo is imported again
      await studioReady();
      expect(await page.getByTestId('device').getAttribute('data-status')).toBe('ready');
      const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      expect(meta).toBe("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; worker-src 'self'; img-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'");
      expect(cspHeaders.get(url), 'vite preview sends no CSP header').toBe(meta);
      expect([...cspHeaders].find(([u]) => u.startsWith(url) && /\/assets\/worker-[^/]+\.js$/.test(u))?.[1], "the built worker's script has no CSP header").toBe(meta);
      await shot('built-light-1280');
      await expectNoProblems();
    } finally {
      await server.close();
    }
  });
});
