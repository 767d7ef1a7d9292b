// The studio's "Bad input" flow in headless Chromium (SwiftShader WebGPU, on-disk IndexedDB), driven
// by role and accessible name, one browser for the file:
//   1. with the demo model listed and one short finished run (2 steps on the demo set's 8-pair head),
//      a snapshot of everything the page keeps: the models listed, the runs listed, and every
//      IndexedDB database, store, key and value (binary values by size and checksum);
//   2. the Model screen's folder picker takes two folders whose model.safetensors is corrupt — a
//      header length pointing past the end of the file, and a header that is not JSON: each message
//      names the file and says what to do; nothing new is listed, no unfinished import is left;
//   3. the Data screen's picker takes a malformed JSONL: its bad rows listed by line with their
//      reasons; "Start training" is disabled, and the reason next to it says why;
//   4. a reload: the models and runs listed are the same ids, the run's metrics are still drawn, and
//      IndexedDB is exactly as it was before the bad files (nothing stored, nothing half-written);
//   5. a run whose loss is not finite (learning_rate 1e30 on the demo: step 1 is the reference, so
//      finite; its update sends the weights to ±1e30 and every later loss is NaN): the Run panel
//      says which steps were skipped and what to change, and when three in a row are skipped the
//      run stops with that in the "Training stopped" box.
// Screenshots: e2e/artifacts/bad-input-*.png, light and dark. No console error, no CSP violation.
// No adapter or no demo is a failure, never a skip.

import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';

const FIXTURES = join(repoRoot, 'e2e', 'fixtures', 'checkpoints');
/** The run's data: the first 8 pairs of the demo set (a short reference pass on SwiftShader). */
const HEAD8 = `${readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, 8).join('\n')}\n`;
/** A JSONL with a good pair, a line that is not JSON, a row without "rejected", a good pair. */
const MALFORMED = [
  JSON.stringify({ prompt: 'What is 2 + 2?', chosen: '4.', rejected: '5.' }),
  '{"prompt": "Half a line", "chosen": ',
  JSON.stringify({ prompt: 'Name a colour.', chosen: 'Blue.' }),
  JSON.stringify({ prompt: 'What is 3 + 3?', chosen: '6.', rejected: '7.' }),
].join('\n');

const studio = useStudioPage({ tag: 'bad-input', shotPrefix: 'bad-input-', onDisk: true });
let page: Page;
beforeAll(() => {
  page = studio.page;
});
const { shots, until, expectNoProblems } = studio;

const button = (name: string) => page.getByRole('button', { name, exact: true });
const nav = (name: string) => page.getByRole('link', { name, exact: true }).click();
const runPanel = () => page.getByRole('region', { name: 'Run' });
const stepNow = async (): Promise<number> => Number(/^Step (\d+)/.exec(await page.getByTestId('train-step').innerText())![1]);

/** The Model screen is up: the store listed, the demo among the models. */
async function modelsReady(): Promise<void> {
  await page.waitForSelector('[data-testid=model-list][data-listed=true]', { timeout: 60_000 });
  await page.waitForSelector('[data-testid=model-row][data-demo=true]', { timeout: 120_000 });
}
const modelIds = (): Promise<(string | null)[]> => page.locator('[data-testid=model-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model-id')));

/** The Runs screen's rows as "id status step". */
async function runRows(): Promise<string[]> {
  await nav('Runs');
  await page.getByRole('table', { name: /^Runs: \d+ kept in this browser/ }).waitFor({ timeout: 30_000 });
  return page.locator('tr[data-run-id]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-run-id')} ${r.getAttribute('data-status')} ${r.getAttribute('data-step')}`));
}

/** Every IndexedDB database → store → key → value (JSON; binary data as its size and an FNV-1a checksum). */
function idbSnapshot(): Promise<Record<string, Record<string, Record<string, string>>>> {
  return page.evaluate(async () => {
    const fnv = (b: Uint8Array): string => {
      let h = 0x811c9dc5;
      for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
      return (h >>> 0).toString(16);
    };
    const plain = (v: unknown): unknown => {
      if (v instanceof ArrayBuffer) return `<${v.byteLength} bytes ${fnv(new Uint8Array(v))}>`;
      if (ArrayBuffer.isView(v)) return `<${v.byteLength} bytes ${fnv(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))}>`;
      if (v instanceof Blob) return `<blob ${v.size} bytes>`;
      if (Array.isArray(v)) return v.map(plain);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
      return v;
    };
    const req = <T,>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));
    const out: Record<string, Record<string, Record<string, string>>> = {};
    for (const { name } of await indexedDB.databases()) {
      if (!name) continue;
      const open = indexedDB.open(name);
      const db = await req(open as IDBRequest<IDBDatabase>);
      out[name] = {};
      for (const store of Array.from(db.objectStoreNames)) {
        const tx = db.transaction(store, 'readonly');
        const keys = await req(tx.objectStore(store).getAllKeys());
        const values = await req(tx.objectStore(store).getAll());
        out[name][store] = Object.fromEntries(keys.map((k, i) => [String(k), JSON.stringify(plain(values[i]))]));
      }
      db.close();
    }
    return out;
  });
}

/** A copy of fixture tiny-f32-1shard in folder `folder` with model.safetensors' bytes replaced. */
function corruptCopy(folder: string, tweak: (bytes: Buffer) => Buffer): string {
  const dir = join(studio.tmp, folder);
  mkdirSync(dir, { recursive: true });
  const src = join(FIXTURES, 'tiny-f32-1shard');
  for (const f of readdirSync(src)) {
    if (f === 'model.safetensors') writeFileSync(join(dir, f), tweak(readFileSync(join(src, f))));
    else copyFileSync(join(src, f), join(dir, f));
  }
  return dir;
}

/** The Data screen's picker takes the 8-pair head; the Train screen's fields (by TRL name) get `settings`; Start training. */
async function startOnHead8(settings: Record<string, string>): Promise<void> {
  await nav('Data');
  await page.getByLabel('Choose a preference file…').setInputFiles({ name: 'head8.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(HEAD8) });
  await nav('Train');
  await expect.poll(() => page.getByTestId('train-data').innerText(), { timeout: 60_000 }).toMatch(/^head8\.jsonl · .* · 8 pairs/);
  for (const [name, value] of Object.entries(settings)) await page.getByRole('textbox', { name: new RegExp(`^${name}`) }).fill(value);
  await until('Start training to be enabled', () => button('Start training').isEnabled(), 120_000);
  await button('Start training').click();
}

/** What everything looked like with the run finished, before any bad file. */
const before = { models: [] as (string | null)[], runs: [] as string[], idb: {} as Awaited<ReturnType<typeof idbSnapshot>>, lossChart: '' };

describe('Bad input (chromium)', () => {
  it('a short run on the demo: listed, its metrics drawn; a snapshot of what is stored', { timeout: 600_000 }, async () => {
    await page.goto(`${studio.url}/`);
    await modelsReady();
    await startOnHead8({ max_steps: '2', per_device_train_batch_size: '4' });
    await until('the run to finish', async () => /· finished/.test(await runPanel().innerText()));
    expect(await stepNow()).toBe(2);
    const lossChart = page.getByRole('img', { name: /^loss over 2 steps; last: loss / });
    await expect.poll(() => lossChart.count(), { timeout: 30_000 }).toBe(1);
    before.lossChart = (await lossChart.getAttribute('aria-label'))!;

    await nav('Model');
    await modelsReady();
    before.models = await modelIds();
    expect(before.models).toHaveLength(1); // the demo
    before.runs = await runRows();
    expect(before.runs).toHaveLength(1);
    expect(before.runs[0]).toMatch(/^run-\S+ done 2$/);
    // the run's history reaches IndexedDB within a second of its end; wait until two snapshots agree
    await expect.poll(async () => {
      const a = JSON.stringify(await idbSnapshot());
      await page.waitForTimeout(1500);
      return a === JSON.stringify(await idbSnapshot());
    }, { timeout: 30_000 }).toBe(true);
    before.idb = await idbSnapshot();
    expect(Object.keys(before.idb)).toEqual(expect.arrayContaining(['prefstudio', 'prefstudio-ui-runs']));
    await expectNoProblems('the Train screen');
  });

  it('a corrupt safetensors file through the folder picker: the message names the file and says what to do; nothing is kept', async () => {
    await nav('Model');
    await modelsReady();
    const picker = page.getByRole('button', { name: 'Choose folder…', exact: true });
    const box = page.getByTestId('models-error');
    const cases = [
      {
        folder: 'tiny-header-past-end',
        // the 8-byte little-endian header length points past the end of the file (and stays under
        // the reader's 100 MB header limit, which has a message of its own)
        tweak: (b: Buffer): Buffer => {
          const c = Buffer.from(b);
          c.writeBigUInt64LE(BigInt(b.length + 5000), 0);
          return c;
        },
        want: /Its header is [\d,]+ bytes long but the file has only [\d,]+ bytes after the 8-byte length: the file is truncated\./,
        hint: /^The download is incomplete: download the file again\.$/,
      },
      {
        folder: 'tiny-header-not-json',
        // the header's opening brace becomes a letter: the length is right, the JSON is not
        tweak: (b: Buffer): Buffer => {
          const c = Buffer.from(b);
          c[8] = 'x'.charCodeAt(0);
          return c;
        },
        want: /Its header must be a JSON object/,
        hint: /^The file is damaged or is not a safetensors file: download it again/,
      },
    ];
    for (const c of cases) {
      await picker.setInputFiles(corruptCopy(c.folder, c.tweak));
      await box.waitFor({ timeout: 60_000 });
      const text = await box.innerText();
      console.log(`[bad-input] ${c.folder}:\n${text}`);
      expect(await page.getByTestId('models-error-where').innerText()).toBe('model.safetensors');
      expect(text).toMatch(c.want);
      const hint = await page.getByTestId('models-error-hint').innerText();
      expect(hint, 'the hint says what to do, as a sentence').toMatch(c.hint);
      expect(await page.getByTestId('import-progress').getAttribute('data-status')).toBe('failed');
      if (c.folder === 'tiny-header-past-end') await shots('model-error');
      await box.getByRole('button', { name: 'Dismiss this message' }).click();
      await box.waitFor({ state: 'detached' });
    }
    expect(await modelIds()).toEqual(before.models);
    expect(await page.getByTestId('partials').count(), 'an unfinished import was left by a corrupt file').toBe(0);
    await expectNoProblems('the Model screen');
  });

  it('a malformed JSONL through the Data screen: rows by line with reasons; Start training is disabled with the reason', async () => {
    await nav('Data');
    await page.getByLabel('Choose a preference file…').setInputFiles({ name: 'broken.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(MALFORMED) });
    const counts = page.getByTestId('data-counts');
    await expect.poll(() => counts.getAttribute('data-malformed'), { timeout: 60_000 }).toBe('2');
    const issues = await page.getByTestId('data-issues').innerText();
    console.log(`[bad-input] malformed rows:\n${issues}`);
    expect(issues).toMatch(/line 2\b[^\n]*(JSON|json)/);
    expect(issues).toMatch(/line 3\b[^\n]*rejected/);
    expect(issues).not.toMatch(/line [14]\b/);
    await shots('data-malformed');

    await nav('Train');
    await expect.poll(() => page.getByTestId('train-data').innerText(), { timeout: 60_000 }).toMatch(/^broken\.jsonl/);
    expect(await button('Start training').isDisabled()).toBe(true);
    const reason = await page.locator('#train-blocker').innerText();
    expect(reason).toMatch(/malformed rows.*(fix|pick another)/);
    // the button names its reason for a screen reader too
    expect(await button('Start training').getAttribute('aria-describedby')).toBe('train-blocker');
    await shots('train-refused');
    await expectNoProblems('the Data and Train screens');
  });

  it('after a reload: the same models and runs, the run\'s metrics, IndexedDB exactly as before', async () => {
    await page.reload();
    await nav('Model');
    await modelsReady();
    expect(await modelIds()).toEqual(before.models);
    expect(await runRows()).toEqual(before.runs);
    await nav('Train'); // it shows the newest stored run: the one run, its history read back from IndexedDB
    await expect.poll(() => page.getByRole('img', { name: /^loss over 2 steps; last: loss / }).getAttribute('aria-label'), { timeout: 30_000 }).toBe(before.lossChart);
    const now = await idbSnapshot();
    expect(Object.keys(now).sort()).toEqual(Object.keys(before.idb).sort());
    for (const db of Object.keys(before.idb)) expect(now[db], `IndexedDB database ${db}`).toEqual(before.idb[db]);
    await expectNoProblems('the reloaded studio');
  });

  it('a loss that is not finite (learning_rate 1e30): the Run panel names the skipped steps and what to change; three in a row stop the run', { timeout: 600_000 }, async () => {
    await startOnHead8({ max_steps: '6', per_device_train_batch_size: '4', learning_rate: '1e30' });
    const skippedNote = page.getByTestId('train-skipped');
    await until('a skipped step to be shown', async () => (await skippedNote.count()) > 0 || (await page.getByTestId('train-error').count()) > 0);
    const problem = page.getByTestId('train-error');
    await problem.waitFor({ timeout: 300_000 });
    const panel = await runPanel().innerText();
    console.log(`[bad-input] non-finite run:\n${panel}`);
    expect(await problem.getAttribute('data-error-name')).toBe('NonFiniteError');
    const said = await problem.innerText();
    expect(said).toMatch(/^Training stopped/);
    // wpo-hb warms up over one of the 6 steps: step 1 at learning rate 0, step 2 at 1e30 sends the
    // weights to ±1e30, so steps 3, 4 and 5 are skipped and the trainer stops at step 5
    expect(said).toMatch(/\n3 steps in a row were not finite \(last, step 5: /); // said of the run, not "In trainer: …"

    expect(said).toMatch(/What to do: .*lower learning_rate/);
    expect(said, 'the studio names settings as its fields do (no CLI dashes)').not.toMatch(/--/);
    expect(await page.getByTestId('train-run').getAttribute('data-status')).toBe('failed');
    expect(await page.getByTestId('train-run').getAttribute('data-step')).toBe('4'); // the last step the page saw
    expect(await skippedNote.innerText()).toMatch(/^Steps 3 and 4 were skipped, with no update to the weights: something was not a finite number \(last: .+\)\. Training has most likely diverged: lower learning_rate/);
    await shots('nonfinite');
    // the earlier run is untouched; the failed one is listed with its problem
    const runs = await runRows();
    expect(runs).toContain(before.runs[0]);
    expect(runs).toHaveLength(2);
    await expectNoProblems('the Train screen');
  });
});
