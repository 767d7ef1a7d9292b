// The studio's Models screen in headless Chromium on an on-disk profile (IndexedDB persists across
// reloads, as users have it), driven like a user would:
//   1. the built-in demo (public/demo/model/) is listed on first start, marked "demo";
//   2. a checkpoint folder picked with <input webkitdirectory> imports with a progress bar that
//      reaches 100 %, is listed, and both models are still listed after a reload;
//   3. deleting it asks first, and it stays gone after a reload;
//   4. a folder with a shard missing shows the LoadError — message naming the shard, where, what to
//      do — and lists nothing new;
//   5. an 80 MB import cancelled at once lists nothing new and the same folder then imports (resuming);
//      files dropped on the drop zone import under the name typed in the name field.
// Takes e2e/artifacts/models-screen.png and models-error.png along the way. No adapter or no demo is a failure, never a skip.

import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';
import { syntheticCheckpoint, syntheticReaderSource } from '../src/engine/store/synthetic.ts';

const FIXTURES = join(repoRoot, 'e2e', 'fixtures', 'checkpoints');

/** Chromium on a fresh on-disk profile; console errors, uncaught exceptions and CSP violations recorded. */
const studio = useStudioPage({ tag: 'models', shotPrefix: 'models-', onDisk: true });

/** A copy of fixture `name` in a folder called `folder`, leaving out `omit`. */
function fixtureCopy(name: string, folder: string, omit: string[] = []): string {
  const dir = join(studio.tmp, folder);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(join(FIXTURES, name))) if (!omit.includes(f)) copyFileSync(join(FIXTURES, name, f), join(dir, f));
  return dir;
}

/** A synthetic F32 Gemma-2 of about 80 MB in two shards (incompressible values), written to a folder. */
async function syntheticFolder(folder: string): Promise<string> {
  const dir = join(studio.tmp, folder);
  mkdirSync(dir, { recursive: true });
  const c = syntheticCheckpoint({
    name: folder,
    dtype: 'F32',
    values: 'noise',
    maxShardBytes: 48e6,
    config: { vocab_size: 8192, hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 128, query_pre_attn_scalar: 128 },
  });
  for (const f of syntheticReaderSource(c).files) writeFileSync(join(dir, f.name), await f.read(0, f.size));
  return dir;
}

/** Names in the model list, in the order shown. */
async function listedNames(page: Page): Promise<string[]> {
  return page.getByTestId('model-name').allInnerTexts();
}

/** Waits until the studio has listed the store's models and the demo is among them. */
async function studioReady(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid=model-list][data-listed=true]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=model-row][data-demo=true]', { timeout: 120_000 });
}

describe('studio Models screen (chromium, on-disk IndexedDB)', () => {
  it('lists the demo, imports a folder with progress to 100 %, keeps both across a reload, deletes with confirmation', async () => {
    const { page } = studio;

    // --- 1. first start: the demo is imported and listed, marked as the demo
    await page.goto(`${studio.url}/`);
    await studioReady(page);
    const demoRow = page.locator('[data-testid=model-row][data-demo=true]');
    expect(await demoRow.getByTestId('demo-badge').innerText()).toBe('demo');
    expect(await demoRow.getAttribute('data-model-id')).toMatch(/^prefstudio-demo\.[0-9a-f]{8}$/);
    const demoText = await demoRow.innerText();
    expect(demoText).toContain('1.05 M'); // 1,050,752 parameters (public/demo/README.md)
    expect(demoText).toContain('BF16');
    expect(demoText).toContain('4 × 128 · 512');
    expect(await demoRow.getByTestId('delete-model').count()).toBe(0); // built in: no delete
    expect(await listedNames(page)).toEqual(['PrefStudio demo']);

    // --- 2. import a folder picked with <input webkitdirectory>
    const progress: number[] = [];
    const folder = fixtureCopy('tiny-f32-1shard', 'tiny-f32-1shard');
    await page.getByTestId('import-folder').setInputFiles(folder);
    await page.waitForSelector('[data-testid=import-progress][data-status=done]', { timeout: 60_000 });
    const bar = page.getByTestId('import-progress');
    progress.push(Number(await bar.getAttribute('data-percent')));
    expect(progress).toEqual([100]);
    expect(await page.getByTestId('import-percent').innerText()).toBe('100%');
    expect(await bar.innerText()).toMatch(/MB\/s/);
    await expect.poll(() => listedNames(page)).toEqual(['PrefStudio demo', 'tiny-f32-1shard']);
    const row = page.locator('[data-testid=model-row][data-demo=false]');
    expect(await row.getAttribute('data-model-id')).toMatch(/^tiny-f32-1shard-[0-9a-f]{8}$/);
    expect(await row.innerText()).toContain('F32');
    await studio.shot('screen');

    // --- 3. both survive a reload (IndexedDB on disk)
    await page.reload();
    await studioReady(page);
    await expect.poll(() => listedNames(page)).toEqual(['PrefStudio demo', 'tiny-f32-1shard']);

    // --- 4. delete asks first; "Keep" keeps it, "Delete" removes it, and it stays gone after a reload
    const imported = page.locator('[data-testid=model-row][data-demo=false]');
    await imported.getByTestId('delete-model').click();
    await page.getByTestId('confirm-delete-no').click();
    expect(await listedNames(page)).toEqual(['PrefStudio demo', 'tiny-f32-1shard']);
    await imported.getByTestId('delete-model').click();
    expect(await page.getByTestId('confirm-delete').innerText()).toContain('tiny-f32-1shard');
    await page.getByTestId('confirm-delete-yes').click();
    await expect.poll(() => listedNames(page)).toEqual(['PrefStudio demo']);
    await page.reload();
    await studioReady(page);
    expect(await listedNames(page)).toEqual(['PrefStudio demo']);

    await studio.expectNoProblems('the Models screen');
  });

  it('a folder with a missing shard shows the error naming it and lists nothing new', async () => {
    const { page } = studio;
    await page.reload();
    await studioReady(page);
    const before = await listedNames(page);

    const broken = fixtureCopy('tiny-bf16-3shard', 'tiny-bf16-broken', ['model-00002-of-00003.safetensors']);
    await page.getByTestId('import-folder').setInputFiles(broken);
    await page.waitForSelector('[data-testid=import-progress][data-status=failed]', { state: 'attached', timeout: 60_000 });

    const box = page.getByTestId('models-error');
    expect(await box.getAttribute('data-error-name')).toBe('LoadError');
    expect(await page.getByTestId('models-error-message').innerText()).toContain('model-00002-of-00003.safetensors');
    expect(await page.getByTestId('models-error-where').innerText()).toBe('model.safetensors.index.json');
    expect(await page.getByTestId('models-error-hint').innerText()).toMatch(/add every shard/i); // the studio shows the hint as a sentence
    console.log(`[models] broken import shows:\n${await box.innerText()}`);
    await studio.shot('error');

    // nothing new, now or after a reload
    await page.getByTestId('models-error').getByRole('button', { name: 'Dismiss this message' }).click();
    expect(await box.count()).toBe(0);
    expect(await listedNames(page)).toEqual(before);
    await page.reload();
    await studioReady(page);
    expect(await listedNames(page)).toEqual(before);

    await studio.expectNoProblems('the Models screen');
  });

  it('cancel lists nothing new and the same folder then imports; dropped files import under the typed name', async () => {
    const { page } = studio;
    await page.reload();
    await studioReady(page);
    const before = await listedNames(page);

    // --- cancel right away: the worker stops at the next chunk (16 MiB) long before 80 MB are in
    const big = await syntheticFolder('synthetic-80mb');
    await page.getByTestId('import-folder').setInputFiles(big);
    await page.getByTestId('cancel-import').click();
    await page.waitForSelector('[data-testid=import-progress][data-status=cancelled]', { timeout: 60_000 });
    expect(await page.getByTestId('import-progress').innerText()).toMatch(/Import cancelled/);
    expect(await listedNames(page)).toEqual(before);
    await page.reload();
    await studioReady(page);
    expect(await listedNames(page)).toEqual(before);

    // --- the same folder again: imports (skipping whatever the cancelled run had stored)
    await page.getByTestId('import-folder').setInputFiles(big);
    await page.waitForSelector('[data-testid=import-progress][data-status=done]', { timeout: 120_000 });
    console.log(`[models] after the cancel, the same folder imported: ${await page.getByTestId('import-progress').innerText()}`);
    await expect.poll(() => listedNames(page)).toContain('synthetic-80mb');
    const row = page.locator('[data-testid=model-row]', { hasText: 'synthetic-80mb' });
    await row.getByTestId('delete-model').click();
    await page.getByTestId('confirm-delete-yes').click();
    await expect.poll(() => listedNames(page)).toEqual(before);

    // --- a drop of plain files (a synthetic drop: no directory entries, so DataTransfer.files),
    // named in the name field
    await page.getByTestId('import-name').fill('dropped tiny');
    const names = readdirSync(join(FIXTURES, 'tiny-f32-1shard'));
    await page.evaluate(async (files) => {
      const dt = new DataTransfer();
      for (const n of files) {
        const res = await fetch(`/e2e/fixtures/checkpoints/tiny-f32-1shard/${n}`);
        dt.items.add(new File([await res.blob()], n));
      }
      const zone = document.querySelector('[data-testid=dropzone]')!;
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, names);
    await page.waitForSelector('[data-testid=import-progress][data-status=done]', { timeout: 60_000 });
    await expect.poll(() => listedNames(page)).toContain('dropped tiny');
    expect(await page.locator('[data-testid=model-row]', { hasText: 'dropped tiny' }).getAttribute('data-model-id')).toMatch(/^dropped-tiny-[0-9a-f]{8}$/);

    await studio.expectNoProblems('the Models screen');
  });
});
