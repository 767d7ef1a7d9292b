// The studio's Train and Runs screens in headless Chromium (SwiftShader WebGPU), driven by role and
// accessible name as a screen reader user would:
//   1. one click on the demo: the Data screen's file picker takes a 24-pair head of the demo set;
//      Train: the select "Loss" on wpo-hb (the default), max_steps 8 and batches of 4 typed into the
//      fields named by their TRL names, "Start training" — the reference pass and the steps show
//      progress; the charts' pictures and the "Pairs" table fill in; the weights change between
//      steps (step 1's policy is the reference, so its pairs' margins are exactly 0; a later step's
//      pairs have margins ≠ 0); a pair clicked shows its prompt and answers as the file holds them;
//   2. "Pause" (a checkpoint of the last step, then stop), "Step" (exactly one more step, paused
//      again, and it stays there), a reload: the run is listed on the Runs screen as paused,
//      "Resume" there continues on the Train screen; the GPU device is lost mid-run (the worker's
//      test-only loseDevice): the Run panel names DeviceLostError and offers Resume, which acquires
//      the device again and goes on from the newest checkpoint to the end, with every step 1…8 in
//      the charts once;
//   3. a second run with another loss (simpo), reloaded mid-run without a Pause: listed as
//      interrupted, "Resume" goes on from its last checkpoint (save_steps 3) to the end, and the
//      steps computed again after the checkpoint equal those the page had stored before the
//      reload (IndexedDB 'prefstudio-ui-runs'), every metric and pair value bit for bit; both runs
//      ticked "Compare": every overlaid chart draws both, the settings side by side mark loss_type
//      as differing, the pairs learned by each; deleting a run frees its records and its
//      checkpoints in IndexedDB;
//   4. light and dark, 1280 and 1024 px without sideways scroll; no console error or CSP violation.
// Screenshots: e2e/artifacts/train-*.png and runs-*.png (git-ignored).
// No adapter or no demo is a failure, never a skip.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';

/** The first PAIRS lines of the demo set: a reference pass and steps short enough for SwiftShader. */
const PAIRS = 24;
const HEAD = readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, PAIRS);
const MAX_STEPS = 8;

const studio = useStudioPage({ tag: 'train' });
const vite = studio; // the dev server, as the tests below name it (vite!.url)
let page: Page;
let tmp = '';
beforeAll(() => {
  page = studio.page;
  tmp = studio.tmp;
  writeFileSync(join(tmp, 'head24.jsonl'), `${HEAD.join('\n')}\n`);
});
const { shot, until } = studio;
const expectNoProblems = (): Promise<void> => studio.expectNoProblems('the Train and Runs screens');

const button = (name: string) => page.getByRole('button', { name, exact: true });
/** The run line's "Step N of M" (the step counter). */
const stepText = () => page.getByText(/^Step \d+ of \d+$/).first();
const stepNow = async (): Promise<number> => Number(/^Step (\d+)/.exec(await stepText().innerText())![1]);
const runStatus = () => page.getByRole('region', { name: 'Run' }).innerText();

/** The Pairs table's body rows as {pair, margin, step} (margin NaN for "—"). */
async function pairRows(): Promise<{ pair: string; margin: number; step: number }[]> {
  const table = page.getByRole('table', { name: 'Pairs' });
  const headers = await table.getByRole('columnheader').allInnerTexts();
  const mi = headers.findIndex((h) => h.startsWith('Margin'));
  const si = headers.findIndex((h) => h === 'Step');
  const rows = await table.locator('tbody tr').all();
  const out = [];
  for (const r of rows) {
    const cells = await r.getByRole('cell').allInnerTexts(); // td cells (the row header is th)
    const pair = await r.getByRole('rowheader').innerText();
    const get = (i: number): number => Number(cells[i - 1]); // cells lack the rowheader column
    out.push({ pair, margin: cells[mi - 1] === '—' ? NaN : get(mi), step: cells[si - 1] === '—' ? NaN : get(si) });
  }
  return out;
}

/** One step of a run's history as the page stores it (runStore.ts: SeriesChunks in 'prefstudio-ui-runs'). */
interface StoredStep {
  step: number;
  /** TRL's metrics by name (the page's timings step_ms and tokens_per_s left out: they are measured). */
  metrics: Record<string, number>;
  /** The step's pairs: dataset row and each PAIR_KEYS value. */
  pairs: { row: number; values: Record<string, number> }[];
}

/** Run `runId`'s history as stored in IndexedDB, decoded with the key lists each chunk was written with. */
function storedSteps(runId: string): Promise<StoredStep[]> {
  return page.evaluate(
    (id) =>
      new Promise<StoredStep[]>((resolve, reject) => {
        const open = indexedDB.open('prefstudio-ui-runs');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('runs', 'readonly').objectStore('runs').getAll(IDBKeyRange.bound(`steps/${id}/`, `steps/${id}/\uffff`));
          req.onerror = () => reject(req.error);
          req.onsuccess = () => {
            type Chunk = { steps: Int32Array; metrics: Float64Array; counts: Int32Array; rows: Int32Array; values: Float32Array; metricKeys: string[]; pairKeys: string[] };
            const out: StoredStep[] = [];
            for (const c of req.result as Chunk[]) {
              const M = c.metricKeys.length;
              const K = c.pairKeys.length;
              let p = 0;
              c.steps.forEach((step, i) => {
                const metrics: Record<string, number> = {};
                c.metricKeys.forEach((k, j) => {
                  if (k !== 'step_ms' && k !== 'tokens_per_s') metrics[k] = c.metrics[i * M + j];
                });
                const pairs = [];
                for (let b = 0; b < c.counts[i]; b++, p++) pairs.push({ row: c.rows[p], values: Object.fromEntries(c.pairKeys.map((k, j) => [k, c.values[p * K + j]])) });
                out.push({ step, metrics, pairs });
              });
            }
            open.result.close();
            resolve(out);
          };
        };
      }),
    runId,
  );
}

describe('Train and Runs screens (chromium)', () => {
  it('one click: WPO on the demo trains; charts and Pairs update; weights change between steps', { timeout: 300_000 }, async () => {
    // the Data screen picks the 24-pair head (its picker's name is its visible text)
    await page.goto(`${vite!.url}/#/data`);
    await page.getByLabel('Choose a preference file…').setInputFiles(join(tmp, 'head24.jsonl'));
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    await expect.poll(() => page.getByTestId('train-data').innerText(), { timeout: 60_000 }).toMatch(/^head24\.jsonl · .* · 24 pairs/);
    expect(await page.getByRole('heading', { name: 'Train', level: 2 }).count()).toBe(1);

    // the select "Loss": wpo-hb is the one-click default; presets and TRL's loss types are offered
    const loss = page.getByLabel('Loss', { exact: true });
    expect(await loss.inputValue()).toBe('preset:wpo-hb');
    const options = await loss.locator('option').allInnerTexts();
    expect(options.slice(0, 4).map((o) => o.split(' ')[0])).toEqual(['wpo-hb', 'simpo', 'sppo', 'dpo']);
    expect(options).toContain('sigmoid');
    // settings by TRL name, with the preset's values as placeholders and the CLI's help
    const lr = page.getByLabel(/^learning_rate/);
    expect(await lr.getAttribute('placeholder')).toBe('0.0002'); // wpo-hb scaled for the demo
    expect(await page.getByText('peak learning rate (default 1e-6, TRL\'s)').count()).toBe(1);
    await page.getByLabel(/^max_steps/).fill(String(MAX_STEPS));
    await page.getByLabel(/^per_device_train_batch_size/).fill('4');
    await page.getByLabel(/^save_steps/).fill('2');
    // the memory estimate before starting
    expect(await page.getByRole('table', { name: 'Memory estimate by category' }).innerText()).toMatch(/weights[\s\S]*optimizer[\s\S]*activations[\s\S]*total/);
    await shot('train-ready-light');

    await until('Start training to be enabled', async () => button('Start training').isEnabled(), 120_000);
    await button('Start training').click();
    // the reference pass shows its progress (pairs/s, time left) before the steps
    await until('the reference pass or the first step', async () => /Reference log-probs|Step [1-9]/.test(await runStatus()));
    await until('step 2', async () => (await stepNow()) >= 2);

    // charts: their pictures name the metric, the steps and the last values
    const lossChart = page.getByRole('img', { name: /^loss over \d+ steps; last: loss / });
    await expect.poll(() => lossChart.count(), { timeout: 30_000 }).toBe(1);
    for (const name of [/^rewards\/chosen and rewards\/rejected over/, /^rewards\/margins over/, /^rewards\/accuracies over/, /^logps\/chosen and logps\/rejected over/, /^grad_norm over/, /^learning_rate over/, /^tokens\/s over/]) {
      expect(await page.getByRole('img', { name }).count(), String(name)).toBe(1);
    }
    const latest = page.getByRole('table', { name: 'Latest metrics' });
    expect(await latest.innerText()).toMatch(/loss\s+0\.\d+/);

    // The Pairs table: the weights change between steps. wpo-hb warms up over 10 % of the steps, so
    // step 1 takes learning_rate 0: steps 1 and 2 run the reference policy itself (every margin
    // exactly 0), and a pair of step 3 or later has a margin ≠ 0.
    await until('pairs of step 3 in the table', async () => (await pairRows()).some((r) => r.step >= 3));
    const rows = await pairRows();
    expect(rows.length).toBe(20); // a page of 20 of the 24 pairs
    const first = rows.filter((r) => r.step <= 2);
    const later = rows.filter((r) => r.step >= 3);
    expect(first.length + later.length).toBeGreaterThan(0);
    for (const r of first) expect(r.margin, `${r.pair} at step ${r.step}`).toBe(0);
    expect(later.length).toBeGreaterThan(0);
    expect(later.some((r) => r.margin !== 0), 'a pair trained after step 2 has a non-zero margin: the weights changed').toBe(true);
    // sorting by WPO weight (descending first)
    await page.getByRole('button', { name: 'WPO weight' }).click();
    expect(await page.getByRole('columnheader', { name: /WPO weight/ }).getAttribute('aria-sort')).toBe('descending');
    const weights = (await pairRows()).length;
    expect(weights).toBe(20);
    // a pair's text, as the file holds it ("line N" is line N of head24.jsonl)
    const pairButton = page.getByRole('table', { name: 'Pairs' }).getByRole('rowheader').first().getByRole('button');
    const name = await pairButton.innerText();
    await pairButton.click();
    await expect.poll(() => page.getByRole('heading', { name: `Pair ${name}` }).count()).toBe(1);
    const line = JSON.parse(HEAD[Number(/^line (\d+)$/.exec(name)![1]) - 1]) as { prompt: { content: string }[]; chosen: { content: string }[]; rejected: { content: string }[] };
    expect(await page.getByTestId('pair-prompt').innerText()).toBe(`user: ${line.prompt[0].content}`);
    expect(await page.getByTestId('pair-chosen').innerText()).toBe(`assistant: ${line.chosen[0].content}`);
    expect(await page.getByTestId('pair-rejected').innerText()).toBe(`assistant: ${line.rejected[0].content}`);
    expect(await page.getByRole('table', { name: `Pair ${name} by step` }).count() + (await page.getByText('Not trained on yet.', { exact: true }).count())).toBe(1);
    // its answers token by token (the worker's pairTokens, between two steps): one span per
    // completion token — as many as the engine's own example builder makes of the line, here in
    // Node — whose log-probs add up to the pair's chosen_logp / rejected_logp of the same forward
    // (the per-step table's "now" row) and whose WPO terms give its weight (wpo-hb clamps at 1)
    {
      const { loadTokenizer } = await import('../src/engine/data/tokenizer.ts');
      const { loadDataset } = await import('../src/engine/data/dataset.ts');
      const { examplesFromDataset } = await import('../src/engine/train/config.ts');
      const { defaultLossConfig } = await import('../src/engine/train/losses.ts');
      const json = (f: string): object => JSON.parse(readFileSync(join(repoRoot, 'public/demo/model', f), 'utf8')) as object;
      const ds = await loadDataset('head24.jsonl', new TextEncoder().encode(`${HEAD.join('\n')}\n`));
      const { examples } = examplesFromDataset(ds, { vocabSize: 512, tokenizer: loadTokenizer(json('tokenizer.json'), json('tokenizer_config.json')) }, defaultLossConfig(), {});
      const ex = examples.find((x) => x.row === Number(/^line (\d+)$/.exec(name)![1]) - 1)!;
      const tokens = (side: string) => page.getByTestId(`pair-tokens-${side}`).getByRole('listitem');
      await expect.poll(() => tokens('chosen').count(), { timeout: 120_000 }).toBe(ex.chosenIds.length);
      expect(await tokens('rejected').count()).toBe(ex.rejectedIds.length);
      expect(await page.getByTestId('pair-now').count()).toBe(1);
      // one snapshot of the spans and the "now" row (the run goes on: both move together each step)
      const snap = await page.evaluate(() => {
        const spans = (side: string) => [...document.querySelectorAll<HTMLElement>(`[data-testid="pair-tokens-${side}"] [role="listitem"]`)].map((el) => ({ logp: Number(el.dataset.logp), wpo: Number(el.dataset.wpo), ref: el.dataset.ref ?? '', text: el.textContent ?? '' }));
        const heads = [...document.querySelectorAll('.pair-history thead th')].map((th) => th.textContent);
        const cells = [...document.querySelectorAll<HTMLElement>('[data-testid="pair-now"] td')];
        const now = (k: string) => Number(cells[heads.indexOf(k)].dataset.value);
        return { chosen: spans('chosen'), rejected: spans('rejected'), chosenLogp: now('chosen_logp'), rejectedLogp: now('rejected_logp'), weight: now('weight') };
      });
      const sum = (xs: { logp: number }[]) => xs.reduce((a, t) => a + t.logp, 0);
      const meanWpo = (xs: { wpo: number }[]) => xs.reduce((a, t) => a + t.wpo, 0) / xs.length;
      expect(Math.abs(sum(snap.chosen) - snap.chosenLogp), `Σ chosen token log-probs ${sum(snap.chosen)} vs chosen_logp ${snap.chosenLogp}`).toBeLessThan(1e-3);
      expect(Math.abs(sum(snap.rejected) - snap.rejectedLogp), `Σ rejected token log-probs ${sum(snap.rejected)} vs rejected_logp ${snap.rejectedLogp}`).toBeLessThan(1e-3);
      expect(Math.abs(Math.min(1, Math.exp(meanWpo(snap.chosen) + meanWpo(snap.rejected))) - snap.weight)).toBeLessThan(1e-3);
      expect(snap.chosen.map((t) => t.text).join('')).toBe(`${line.chosen[0].content}<end_of_turn>\n<eos>`); // the texts join to the answer as the model reads it
      // full fine-tuning keeps the reference's sums only: no per-token reference, its colouring off
      expect(snap.chosen.every((t) => t.ref === '')).toBe(true);
      expect(await page.getByRole('radio', { name: 'policy − reference' }).isDisabled()).toBe(true);
      await page.getByRole('radio', { name: 'WPO term' }).check();
      expect(await page.getByLabel(/^Legend: WPO term/).count()).toBe(1);
      await page.emulateMedia({ colorScheme: 'dark' });
      await shot('train-running-dark');
      await page.emulateMedia({ colorScheme: 'light' });
      await page.getByRole('radio', { name: 'log-prob' }).check();
      // by keyboard: the answer is one tab stop; End reads its last token in the readout line
      await page.getByRole('list', { name: /^Chosen answer: \d+ tokens/ }).focus();
      await page.keyboard.press('End');
      expect(await page.getByTestId('pair-token-readout-chosen').innerText()).toMatch(new RegExp(`^Token ${ex.chosenIds.length} of ${ex.chosenIds.length}: "<eos>": log-prob `));
      await page.keyboard.press('ArrowLeft');
      expect(await page.getByTestId('pair-token-readout-chosen').innerText()).toMatch(new RegExp(`^Token ${ex.chosenIds.length - 1} of `));
    }
    expect(await page.getByRole('img', { name: /^WPO weights at step \d+: \d+ pairs from / }).count()).toBe(1);
    expect(await page.getByRole('img', { name: /^Heatmap of margin for 24 pairs over \d+ steps, from / }).count()).toBe(1);
    await shot('train-running-light');

    // Pause: a checkpoint of the last step, then stopped; Resume and Step are offered
    await button('Pause').click();
    await until('the run to pause', async () => /· paused/.test(await runStatus()));
    const paused = await stepNow();
    expect(paused).toBeGreaterThanOrEqual(2);
    expect(paused).toBeLessThan(MAX_STEPS);
    expect(await page.getByRole('list', { name: 'Checkpoints' }).innerText()).toContain(`step ${paused}`);
    expect(await button('Resume').isEnabled()).toBe(true);

    // Step: exactly one more optimizer step (startTraining stopAfter), paused again with its checkpoint
    await button('Step').click();
    await until('the step to pause', async () => (await stepNow()) > paused && /· paused/.test(await runStatus()));
    expect(await stepNow()).toBe(paused + 1);
    expect(await page.getByRole('list', { name: 'Checkpoints' }).innerText()).toContain(`step ${paused + 1}`);
    // one step, not two: the charts and the latest values end at it, and nothing follows
    await page.waitForTimeout(3000); // longer than a step of this run on SwiftShader
    expect(await stepNow()).toBe(paused + 1);
    expect(await runStatus()).toMatch(/· paused/);
    expect(await page.getByRole('img', { name: new RegExp(`^loss over ${paused + 1} steps;`) }).count()).toBe(1);
    expect(await page.getByRole('table', { name: 'Latest metrics' }).getByRole('caption').innerText()).toBe(`Step ${paused + 1}`);
    const runId = (await page.getByTestId('train-run').getAttribute('data-run-id'))!;
    await expect.poll(async () => (await storedSteps(runId)).map((s) => s.step), { timeout: 10_000 }).toEqual(Array.from({ length: paused + 1 }, (_, i) => i + 1));
    await expectNoProblems();
  });

  it('reload: the run is listed on Runs; Resume continues the step counter to the end, also after a lost device', { timeout: 300_000 }, async () => {
    const before = await stepNow();
    await page.reload();
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    const table = page.getByRole('table', { name: /^Runs: 1 kept in this browser/ });
    await expect.poll(() => table.count(), { timeout: 30_000 }).toBe(1);
    const row = table.getByRole('row', { name: /wpo-hb · head24\.jsonl/ });
    expect(await row.innerText()).toMatch(new RegExp(`${before} of ${MAX_STEPS}\\s+paused`));
    await shot('runs-listed-light');
    await row.getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Train', level: 2 }).count()).toBe(1);
    // the counter continues from the checkpoint, never from 1
    const seen: number[] = [];
    await until('a step of the resumed run', async () => {
      seen.push(await stepNow());
      return seen[seen.length - 1] > before;
    });
    // the GPU device is lost mid-run (test-only: the worker's loseDevice, as WEBGL_lose_context)
    await page.evaluate(() => (window as unknown as { __prefstudioTest: { loseDevice(): void } }).__prefstudioTest.loseDevice());
    await until('the lost device to stop the run', async () => /· failed/.test(await runStatus()));
    const problem = page.getByTestId('train-error');
    expect(await problem.getAttribute('data-error-name')).toBe('DeviceLostError');
    expect(await problem.innerText()).toMatch(/GPU device was lost \(destroyed[^)]*\); the run stopped after step \d+\.\s+What to do: Press Resume: the studio acquires the GPU again and the run continues from its checkpoint at step \d/);
    expect(await problem.innerText()).toContain(`the run stopped after step ${await stepNow()}.`);
    expect(await button('Resume').isEnabled()).toBe(true);
    // Chromium's GPU process takes seconds after a destroyed device before the page's next frame
    // (~12 s on SwiftShader, measured): wait for one, then take the picture
    await page.screenshot({ timeout: 120_000 });
    await shot('train-device-lost-light');
    studio.problems.splice(0); // what the destroyed device logged on its way out
    await button('Resume').click();
    await until('the run resumed on a new device to finish', async () => {
      seen.push(await stepNow());
      return /· finished/.test(await runStatus());
    });
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(before);
    expect(await stepNow()).toBe(MAX_STEPS);
    expect(await page.getByTestId('train-error').count()).toBe(0);
    expect(await page.getByTestId('gpu-memory').innerText()).toMatch(/^GPU memory: [\d.]+ [KMG]?B held by the engine \([\d.]+ [KMG]?B in live tensors\), peak [\d.]+ [KMG]?B\.$/);
    // every step once in the charts: 1…8
    expect(await page.getByRole('img', { name: new RegExp(`^loss over ${MAX_STEPS} steps;`) }).count()).toBe(1);
    expect(await page.getByRole('table', { name: 'Latest metrics' }).getByRole('caption').innerText()).toBe(`Step ${MAX_STEPS}`);
    await shot('train-done-light');
    await expectNoProblems();
  });

  it('a second run with another loss, reloaded mid-run and resumed, the curve matching; overlaid with the first; delete frees its storage', { timeout: 600_000 }, async () => {
    // the reload reset the Data screen to the demo set: the same 24 pairs again
    await page.getByRole('link', { name: 'Data', exact: true }).click();
    await page.getByLabel('Choose a preference file…').setInputFiles(join(tmp, 'head24.jsonl'));
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    await expect.poll(() => page.getByTestId('train-data').innerText(), { timeout: 60_000 }).toMatch(/^head24\.jsonl · .* · 24 pairs/);
    await page.getByLabel('Loss', { exact: true }).selectOption('preset:simpo');
    await page.getByLabel(/^max_steps/).fill(String(MAX_STEPS));
    await page.getByLabel(/^save_steps/).fill('3');
    await until('Start training to be enabled', async () => button('Start training').isEnabled(), 60_000);
    await button('Start training').click();
    // a reload mid-run (no Pause) once step 4 is stored: the checkpoint is step 3's (the next one
    // comes at the end), so step 4 (and 5, were it done) is computed again after the resume
    await until('the simpo run to start', async () => /simpo · head24\.jsonl/.test(await runStatus()));
    const simpoRunId = (await page.getByTestId('train-run').getAttribute('data-run-id'))!;
    await until('step 4 of the simpo run in IndexedDB', async () => (await storedSteps(simpoRunId)).some((s) => s.step === 4));
    const recorded = await storedSteps(simpoRunId);
    expect(await runStatus()).toMatch(/· running/);
    await page.reload();
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    const simpoRow = page.getByRole('row', { name: /simpo · head24\.jsonl/ });
    await expect.poll(async () => (await simpoRow.count()) === 1 && (await simpoRow.innerText()), { timeout: 30_000 }).toMatch(new RegExp(`\\d of ${MAX_STEPS}\\s+interrupted\\s+step 3`));
    const checkpoint = Math.max(...[...(await simpoRow.innerText()).matchAll(/step (\d+)/g)].map((m) => Number(m[1])));
    expect(checkpoint).toBe(3);
    await simpoRow.getByRole('button', { name: 'Resume', exact: true }).click();
    const seen: number[] = [];
    await until('the resumed simpo run to finish', async () => {
      seen.push(await stepNow());
      return /simpo · head24\.jsonl/.test(await runStatus()) && /· finished/.test(await runStatus());
    });
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(checkpoint);
    expect(await stepNow()).toBe(MAX_STEPS);
    // the curve matches: every step once, and the steps recomputed after the checkpoint are the
    // ones stored before the reload, bit for bit (every TRL metric, every pair's values)
    await expect.poll(async () => (await storedSteps(simpoRunId)).map((s) => s.step), { timeout: 10_000 }).toEqual(Array.from({ length: MAX_STEPS }, (_, i) => i + 1));
    const resumed = await storedSteps(simpoRunId);
    const again = recorded.filter((s) => s.step > checkpoint);
    expect(again.length).toBeGreaterThan(0);
    for (const s of recorded) expect(resumed[s.step - 1], `step ${s.step}`).toEqual(s);

    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    const table = page.getByRole('table', { name: /^Runs: 2 kept in this browser/ });
    await expect.poll(() => table.count(), { timeout: 30_000 }).toBe(1);
    await page.getByRole('checkbox', { name: /^Compare wpo-hb/ }).check();
    await page.getByRole('checkbox', { name: /^Compare simpo/ }).check();
    await expect.poll(() => page.getByRole('heading', { name: 'Compare 2 runs' }).count()).toBe(1);
    // every overlaid chart draws both runs (its picture's name gives each run's last value)
    const pictures = page.getByRole('region', { name: 'Compare 2 runs' }).getByRole('img');
    for (const metric of ['loss', 'rewards/margins', 'rewards/accuracies', 'grad_norm', 'learning_rate']) {
      const want = new RegExp(`^${metric.replace('/', '\\/')} over ${MAX_STEPS} steps; last: wpo-hb · head24\\.jsonl -?[\\d.e-]+, simpo · head24\\.jsonl -?[\\d.e-]+$`);
      await expect.poll(async () => (await pictures.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))).filter((n) => want.test(n ?? '')), { timeout: 30_000, message: `the ${metric} chart draws both runs` }).toHaveLength(1);
    }
    const settings = page.getByRole('table', { name: 'Settings of the compared runs' });
    expect(await settings.getByRole('row', { name: /loss_type \(differs\)/ }).innerText()).toMatch(/sigmoid\s+simpo/);
    expect(await page.getByTestId('pair-diff-summary').innerText()).toMatch(/^Of \d+ pairs both runs trained on/);
    await shot('runs-compare-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    await shot('runs-compare-dark');
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    await page.waitForTimeout(500);
    await shot('train-done-dark');
    await page.setViewportSize({ width: 1024, height: 900 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll at 1024 px on Train').toBe(true);
    await shot('train-done-dark-1024');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll at 1024 px on Runs').toBe(true);
    await shot('runs-compare-light-1024');
    await page.setViewportSize({ width: 1280, height: 900 });

    // delete the simpo run: its records and its checkpoints leave IndexedDB
    const simpoId = await page.getByRole('table', { name: /^Runs: 2/ }).getByRole('row', { name: /simpo · head24/ }).getAttribute('data-run-id');
    const keysOf = (id: string) =>
      page.evaluate(async (runId) => {
        const all = async (db: string, store: string): Promise<string[]> =>
          new Promise((resolve, reject) => {
            const open = indexedDB.open(db);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              const tx = open.result.transaction(store, 'readonly');
              const req = tx.objectStore(store).getAllKeys();
              req.onsuccess = () => resolve((req.result as string[]).filter((k) => k.includes(runId)));
            };
          });
        return { ui: await all('prefstudio-ui-runs', 'runs'), checkpoints: await all('prefstudio-runs', 'checkpoints') };
      }, id);
    const stored = await keysOf(simpoId!);
    expect(stored.ui.length).toBeGreaterThan(1);
    expect(stored.checkpoints.length).toBeGreaterThan(0); // save_steps 1: the newest 2 kept
    await page.getByRole('row', { name: /simpo · head24/ }).getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete run', exact: true }).click();
    await expect.poll(() => page.getByRole('status').innerText(), { timeout: 30_000 }).toMatch(/^Deleted run simpo · head24\.jsonl; [\d.]+ [KM]?B freed\.$/);
    expect(await keysOf(simpoId!)).toEqual({ ui: [], checkpoints: [] });
    expect(await page.getByRole('table', { name: /^Runs: 1 kept/ }).count()).toBe(1);
    await expectNoProblems();
  });
});
