// PEFT adapters on the studio's Model screen in headless Chromium (SwiftShader WebGPU, on-disk
// IndexedDB), driven by role and accessible name, one browser for the file:
//   1. a PEFT LoRA adapter for the built-in demo, written here in Node (model/peft.ts
//      encodePeftAdapter: r 4, alpha 16, seeded factors strong enough to change the demo's greedy
//      answer), picked with the demo's "Add a PEFT adapter…" folder picker: listed under the demo with
//      its name, r/alpha, targets and size (= the files' bytes, also what IndexedDB holds under
//      adapter/<demo>/), announced; still listed after a reload;
//   2. Generate offers it as the trained answer: the base answer equals `prefstudio generate` on the
//      demo folder and the adapter's equals `prefstudio generate --adapter DIR`, token for token
//      (greedy, Node on SwiftShader), and the two differ;
//   3. a truncated adapter_model.safetensors: the message under the demo names the file and the
//      tensor, nothing new is stored (IndexedDB's adapter keys as before), the adapter stays listed;
//      then Delete asks first (Escape keeps it, focus back on the button), Delete removes it: no
//      adapter key left in IndexedDB, "… freed" announced, focus on the adapters' heading;
//   4. a one-step LoRA run (Data, Train screens), then the Export screen's "Save adapter to Model
//      screen": listed under the demo as trained in that run, and on Generate the base with that
//      stored adapter answers exactly as the run's own trained weights did.
// Screenshots: e2e/artifacts/adapters-*.png (git-ignored), light and dark. No console error, no CSP
// violation. No adapter or no demo is a failure, never a skip.

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGemma2Config } from '../src/engine/model/config.ts';
import { writeCheckpointDir } from '../src/engine/model/export_node.ts';
import { targetFeatures, type LoraConfig } from '../src/engine/model/lora.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, encodePeftAdapter, type HostLoraAdapter } from '../src/engine/model/peft.ts';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';
import { startRunOnTrainScreen } from './gpu/browser/train_run.ts';

const DEMO = join(repoRoot, 'public/demo/model');
const PROMPT = 'What is 3 times 7?';
const MAX_NEW = 16;
const LORA: LoraConfig = { r: 4, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'], useRslora: false };
/** The run's data: the head of the demo's training set (a short reference pass on SwiftShader). */
const TRAIN_TEXT = `${readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, 8).join('\n')}\n`;
const RUN_SETTINGS = { beta: '0.1', learning_rate: '0.02', max_steps: '1', per_device_train_batch_size: '4', lora_r: '4', lora_alpha: '8', lora_dropout: '0', seed: '7' };

const studio = useStudioPage({ tag: 'adapters', shotPrefix: 'adapters-', onDisk: true });
let page: Page;
const { shots, expectNoProblems } = studio;

let adapterDir = ''; // <tmp>/demo-lora
let corruptDir = ''; // <tmp>/corrupt-lora: the same, adapter_model.safetensors cut short
let adapterBytes = 0; // both files' sizes
const want = { base: '', adapter: '' }; // the CLI's greedy answers

/** `prefstudio generate` on the demo folder in Node (greedy), with `--adapter dir` if given. */
function cliAnswer(adapter?: string): string {
  const args = ['generate', '--model', DEMO, '--prompt', PROMPT, '--max_new_tokens', String(MAX_NEW), ...(adapter ? ['--adapter', adapter] : [])];
  const out = execFileSync(process.execPath, [join(repoRoot, 'bin/prefstudio.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PREFSTUDIO_ADAPTER: process.env.PREFSTUDIO_ADAPTER ?? 'swiftshader' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
  });
  return out.replace(/\n$/, '');
}

beforeAll(async () => {
  page = studio.page;
  const cfg = parseGemma2Config(JSON.parse(readFileSync(join(DEMO, 'config.json'), 'utf8')), 'config.json');
  let s = 2024;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  const host: HostLoraAdapter = {
    config: LORA,
    layers: Array.from({ length: cfg.L }, () => Object.fromEntries(LORA.targets.map((t) => {
      const { inF, outF } = targetFeatures(cfg, t);
      return [t, { A: Float32Array.from({ length: LORA.r * inF }, () => rnd() / Math.sqrt(inF)), B: Float32Array.from({ length: outF * LORA.r }, () => rnd()) }];
    }))),
  };
  adapterDir = join(studio.tmp, 'demo-lora');
  await writeCheckpointDir(adapterDir, encodePeftAdapter(host, { baseModel: 'PrefStudio demo' }));
  adapterBytes = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE].reduce((n, f) => n + statSync(join(adapterDir, f)).size, 0);
  corruptDir = join(studio.tmp, 'corrupt-lora');
  mkdirSync(corruptDir);
  copyFileSync(join(adapterDir, ADAPTER_CONFIG_FILE), join(corruptDir, ADAPTER_CONFIG_FILE));
  const w = readFileSync(join(adapterDir, ADAPTER_WEIGHTS_FILE));
  writeFileSync(join(corruptDir, ADAPTER_WEIGHTS_FILE), w.subarray(0, w.length - 64));
  want.base = cliAnswer();
  want.adapter = cliAnswer(adapterDir);
  console.log(`[adapters] CLI greedy answers: base "${want.base}", with the adapter "${want.adapter}"`);
}, 600_000);

// ------------------------------------------------------------------ helpers

const nav = (name: string) => page.getByRole('link', { name, exact: true }).click();
const announced = (): Promise<string> => page.getByTestId('announcer').evaluate((el) => el.textContent ?? '');
const focused = (): Promise<string> => page.evaluate(() => {
  const a = document.activeElement as HTMLElement | null;
  return a ? `${a.tagName.toLowerCase()}#${a.id}[${a.dataset.testid ?? ''}]${a.getAttribute('aria-label') ?? ''}` : 'none';
});

/** The Model screen is up: the store listed, the demo among the models. */
async function modelsReady(): Promise<void> {
  await page.waitForSelector('[data-testid=model-list][data-listed=true]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=model-row][data-demo=true]', { timeout: 180_000 });
}
const demoId = async (): Promise<string> => (await page.locator('[data-testid=model-row][data-demo=true]').getAttribute('data-model-id'))!;
const demoAdapters = async () => page.locator(`[data-testid=adapters-row][data-model-id="${await demoId()}"]`);

/** Every key of the weight store (IndexedDB prefstudio/weights) under `prefix`, with its value's size in bytes (JSON: -1). */
function storeKeys(prefix: string): Promise<[string, number][]> {
  return page.evaluate(async (prefix) => {
    const req = <T,>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));
    const db = await req(indexedDB.open('prefstudio'));
    try {
      const store = db.transaction('weights', 'readonly').objectStore('weights');
      const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
      const keys = (await req(store.getAllKeys(range))) as string[];
      const values = await req(store.getAll(range));
      return keys.map((k, i) => [k, values[i] instanceof Uint8Array ? (values[i] as Uint8Array).byteLength : -1] as [string, number]);
    } finally {
      db.close();
    }
  }, prefix);
}

/** What the demo's adapter list says: per adapter "name | r … · α … | targets | size". */
async function listedAdapters(): Promise<string[]> {
  const rows = (await demoAdapters()).getByTestId('adapter');
  const out: string[] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const r = rows.nth(i);
    out.push([await r.getByTestId('adapter-name').innerText(), await r.getByTestId('adapter-rank').innerText(), await r.locator('.adapter-targets').innerText(), await r.getByTestId('adapter-size').innerText()].join(' | '));
  }
  return out;
}

/** Runs Generate and returns both answers once they are complete. */
async function generateBoth(): Promise<{ base: string; trained: string; updates: number }> {
  await page.getByLabel('max_new_tokens').fill(String(MAX_NEW));
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.waitForSelector('[data-testid=answer-trained][data-done=true]', { timeout: 300_000 });
  await page.waitForSelector('[data-testid=answer-base][data-done=true]', { timeout: 10_000 });
  return {
    base: await page.getByTestId('answer-base-text').innerText(),
    trained: await page.getByTestId('answer-trained-text').innerText(),
    updates: Number(await page.getByTestId('answer-trained').getAttribute('data-updates')),
  };
}

const fmtMB = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} KB`);

// ------------------------------------------------------------------ the flows

describe('PEFT adapters under their base model (chromium, on-disk IndexedDB)', () => {
  it('an adapter folder picked under the demo is listed with r/alpha, stored as its files, and still listed after a reload', { timeout: 400_000 }, async () => {
    await page.goto(`${studio.url}/`);
    await modelsReady();
    const list = await demoAdapters();
    expect(await list.getByTestId('adapters-heading').innerText()).toBe('PEFT adapters of PrefStudio demo: none yet');
    expect(await storeKeys('adapter/')).toEqual([]);

    // the picker by its accessible name, which contains its visible text
    const picker = page.getByLabel('Add a PEFT adapter… to PrefStudio demo', { exact: true });
    expect(await list.locator('label.button').innerText()).toBe('Add a PEFT adapter…');
    await picker.setInputFiles(adapterDir);
    await page.waitForSelector('[data-testid=adapter-import][data-status=done]', { timeout: 120_000 });
    expect(await page.getByTestId('adapter-import-done').innerText()).toBe('Added demo-lora to PrefStudio demo.');
    expect(await announced()).toBe('Added the PEFT adapter demo-lora to PrefStudio demo.');
    expect(await focused()).toContain('[add-adapter]'); // back on the picker
    await expect.poll(listedAdapters, { timeout: 30_000 }).toEqual([`demo-lora | r 4 · α 16 | q_proj, v_proj, o_proj, up_proj, down_proj | ${fmtMB(adapterBytes)}`]);
    expect(await list.getByTestId('adapters-heading').innerText()).toBe('PEFT adapters of PrefStudio demo');
    expect(await list.getByTestId('adapter').innerText()).toMatch(/imported,/);

    // what IndexedDB holds: the two files' bytes in chunks, and the manifest (written last)
    const keys = await storeKeys(`adapter/${await demoId()}/`);
    const chunkBytes = keys.filter(([k]) => /\/chunk\//.test(k)).reduce((n, [, b]) => n + b, 0);
    expect(chunkBytes).toBe(adapterBytes);
    expect(keys.filter(([k]) => k.endsWith('/manifest')).length).toBe(1);
    expect(keys.some(([k]) => k.endsWith('/pending'))).toBe(false);
    await shots('listed');

    // the same folder again: already there, nothing written
    await picker.setInputFiles(adapterDir);
    await expect.poll(() => page.getByTestId('adapter-import-done').innerText().catch(() => ''), { timeout: 60_000 }).toBe('demo-lora is already stored under PrefStudio demo: nothing new was written.');
    expect(await storeKeys(`adapter/${await demoId()}/`)).toEqual(keys);

    await page.reload();
    await modelsReady();
    await expect.poll(listedAdapters, { timeout: 30_000 }).toEqual([`demo-lora | r 4 · α 16 | q_proj, v_proj, o_proj, up_proj, down_proj | ${fmtMB(adapterBytes)}`]);
    await expectNoProblems('the Model screen');
  });

  it('Generate offers the stored adapter: base and adapter answers equal prefstudio generate with and without --adapter, token for token', { timeout: 400_000 }, async () => {
    expect(want.adapter, 'the adapter does not change the greedy answer: the check would not tell base and adapter apart').not.toBe(want.base);
    await nav('Generate');
    const source = page.getByLabel('Trained answer', { exact: true });
    await source.waitFor({ timeout: 30_000 });
    expect(await source.locator('option:checked').innerText()).toBe('PEFT adapter demo-lora (r 4, α 16)');
    expect(await source.locator('option').allInnerTexts()).toEqual(['PEFT adapter demo-lora (r 4, α 16)', 'none: the base model only']);
    expect(await page.getByTestId('generate-trained-run').innerText()).toBe('Trained model: PrefStudio demo with the PEFT adapter demo-lora (r 4, α 16), stored under it on the Model screen');
    const got = await generateBoth();
    console.log(`[adapters] studio answers: base "${got.base}", with the adapter "${got.trained}" (${got.updates} updates)`);
    expect(got.updates, 'the adapter answer did not stream').toBeGreaterThan(1);
    expect(got.base).toBe(want.base);
    expect(got.trained).toBe(want.adapter);
    expect(await page.getByTestId('answer-trained').locator('h3').innerText()).toBe('Trained model · PEFT adapter demo-lora');
    await shots('generate');
    await expectNoProblems('the Generate screen');
  });

  it('a truncated adapter file is refused naming the file and tensor, nothing stored; Delete asks first and frees every byte', { timeout: 300_000 }, async () => {
    await nav('Model');
    await modelsReady();
    const id = await demoId();
    const before = await storeKeys('adapter/');
    const modelsBefore = await page.locator('[data-testid=model-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model-id')));

    await page.getByLabel('Add a PEFT adapter… to PrefStudio demo', { exact: true }).setInputFiles(corruptDir);
    const box = (await demoAdapters()).getByTestId('adapter-error');
    await box.waitFor({ timeout: 60_000 });
    const text = await box.innerText();
    console.log(`[adapters] corrupt adapter: ${text.replace(/\n/g, ' / ')}`);
    expect(text).toMatch(/^The adapter could not be added/);
    expect(text).toContain(`In corrupt-lora/${ADAPTER_WEIGHTS_FILE}: Its header describes`);
    expect(text).toMatch(/the last tensor 'base_model\.model\.model\.layers\.\d+\.[a-z_]+\.[a-z_]+\.lora_[AB]\.weight' ends at \d+\) but the file holds only \d+: the file is truncated\./);
    expect(text).toMatch(/What to do: /);
    expect(await focused()).toContain('[adapter-error]'); // read first
    expect(await storeKeys('adapter/')).toEqual(before);
    expect(await listedAdapters()).toHaveLength(1);
    expect(await page.locator('[data-testid=model-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model-id')))).toEqual(modelsBefore);
    await shots('corrupt');
    await box.getByRole('button', { name: 'Dismiss this message' }).click();

    // Delete: Escape keeps it (focus back on its button), Delete removes it and every key
    const del = page.getByRole('button', { name: 'Delete adapter demo-lora of PrefStudio demo', exact: true });
    expect(await del.innerText()).toBe('Delete');
    await del.click();
    const dialog = page.getByRole('alertdialog', { name: 'Delete adapter demo-lora?' });
    expect(await dialog.innerText()).toContain(`Delete the adapter demo-lora of PrefStudio demo and free ${fmtMB(adapterBytes)}?`);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(focused).toContain('Delete adapter demo-lora of PrefStudio demo');
    await del.click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(listedAdapters, { timeout: 30_000 }).toEqual([]);
    await expect.poll(announced).toBe(`Deleted the adapter demo-lora of PrefStudio demo; ${fmtMB(adapterBytes)} freed.`);
    expect(await focused()).toContain(`#adapters-${id}[adapters-heading]`);
    expect(await storeKeys('adapter/')).toEqual([]);
    await page.reload();
    await modelsReady();
    expect(await (await demoAdapters()).getByTestId('adapters-heading').innerText()).toBe('PEFT adapters of PrefStudio demo: none yet');
    await expectNoProblems('the Model screen');
  });

  it('a LoRA run saved from the Export screen is listed under the demo and answers as the run did', { timeout: 900_000 }, async () => {
    await startRunOnTrainScreen(page, { file: { name: 'head8.jsonl', text: TRAIN_TEXT }, loss: 'loss:sigmoid', usePeft: true, settings: RUN_SETTINGS });
    await nav('Generate');
    await expect.poll(() => page.getByTestId('generate-trained-run').innerText(), { timeout: 600_000, interval: 500 }).toMatch(/^Trained model: run-\S+ \(sigmoid, LoRA, 1 of 1 steps\)$/);
    const runId = /(run-\S+)/.exec(await page.getByTestId('generate-trained-run').innerText())![1];
    const byRun = await generateBoth();
    expect(byRun.base).toBe(want.base);

    // Export: the run's adapter into the store, under the demo
    await nav('Export');
    const save = page.getByRole('button', { name: 'Save adapter to Model screen', exact: true });
    await save.click();
    await page.waitForSelector('[data-testid=save-adapter-status][data-status=done]', { timeout: 120_000 });
    expect(await page.getByTestId('save-adapter-status').innerText()).toBe(`Saved under PrefStudio demo as ${runId}: listed on the Model screen, and offered on the Generate screen.`);
    await shots('export-saved');

    await nav('Model');
    await expect.poll(listedAdapters, { timeout: 30_000 }).toEqual([expect.stringMatching(new RegExp(`^${runId} \\| r 4 · α 8 \\| q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj \\| [\\d.]+ KB$`))]);
    expect(await (await demoAdapters()).getByTestId('adapter').innerText()).toContain(`trained in ${runId},`);
    const stored = await storeKeys(`adapter/${await demoId()}/`);
    expect(stored.filter(([k]) => k.endsWith('/manifest')).length).toBe(1);

    // Generate with the stored adapter on the base: the run's answer, token for token
    await nav('Generate');
    const source = page.getByLabel('Trained answer', { exact: true });
    expect(await source.locator('option').allInnerTexts()).toEqual([`the run's trained weights (${runId})`, `PEFT adapter ${runId} (r 4, α 8)`, 'none: the base model only']);
    await source.selectOption({ label: `PEFT adapter ${runId} (r 4, α 8)` });
    const byAdapter = await generateBoth();
    console.log(`[adapters] run ${runId}: "${byRun.trained}"; its stored adapter: "${byAdapter.trained}"`);
    expect(byAdapter.base).toBe(want.base);
    expect(byAdapter.trained).toBe(byRun.trained);
    expect(await page.getByTestId('answer-trained').locator('h3').innerText()).toBe(`Trained model · PEFT adapter ${runId}`);
    await shots('generate-run-adapter');
    await nav('Model');
    await shots('run-adapter-listed');
    await expectNoProblems('the studio');
  });
});
