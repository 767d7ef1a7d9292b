// The studio's Check, Generate and Export screens in headless Chromium (WebGPU on SwiftShader),
// driven by role and accessible name, one browser for the file:
//   1. Check: "Run check" runs the quick op suite in the engine worker; every op passes, each row
//      shows the error measured against the float64 reference, and the report (copied with "Copy
//      report") names the browser and the adapter the check ran on; "Run full suite" then "Stop
//      check" ends after the current case, and the report says how many did not run.
//   2. Generate on the demo (no run yet): the base answer streams in (more than one update) and
//      equals what `prefstudio generate` answers in Node (greedy); a bad sampling setting is named.
//   3. a one-step LoRA run trained on the Train screen (the Data screen's picker takes 8 pairs; the
//      loss and settings by TRL name): Generate answers with both models side by side — the base
//      (the run's frozen base, adapter off) exactly as before, the trained one streamed.
//   4. Export of that run: the TRL recipe shows its loss, learning rate and LoRA settings (parsed
//      with a YAML parser) and downloads as shown, data.jsonl equals datasetJsonl of the run's file
//      in Node, the metrics (JSONL and CSV) hold its one step with loss ln 2 (step 1 of LoRA is the
//      base); "Export" writes the full model into a picked folder (showDirectoryPicker answered with
//      the origin-private file system here): model.safetensors holds every tensor of the demo with
//      its dtype and shape and has exactly the size its header says, the untargeted tensors are the
//      demo's bytes (embedding, norms) and only LoRA-targeted ones changed; the PEFT adapter comes
//      as two downloads.
//   5. after a reload the run is listed from IndexedDB (the Runs screen's store): the same recipe and
//      data.jsonl, the metrics rebuilt from the stored history (the same loss), and Export off with
//      a note that its weights left the GPU.
// Screenshots: e2e/artifacts/check-*.png (git-ignored), light and dark. No console error, no CSP
// violation. No adapter is a failure, never a skip.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Download, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadDataset } from '../src/engine/data/dataset.ts';
import { parseSafetensorsHeader, tensorBytes, type SafetensorsHeader } from '../src/engine/model/safetensors.ts';
import { datasetJsonl } from '../src/engine/train/recipe.ts';
import { CHECK_MODULES, checkCases } from '../src/engine/check/suite.ts';
import { repoRoot } from './gpu/browser/launch.ts';
import { useStudioPage } from './gpu/browser/studio_page.ts';
import { startRunOnTrainScreen } from './gpu/browser/train_run.ts';

const PROMPT = 'What is 3 times 7?';
const MAX_NEW = 24;
/** The run's data: the head of the demo's training set (a short reference pass on SwiftShader). */
const TRAIN_TEXT = `${readFileSync(join(repoRoot, 'public/demo/preferences/train.jsonl'), 'utf8').split('\n').slice(0, 8).join('\n')}\n`;
const TRAIN_FILE = 'head8.jsonl';
/** The run's settings as typed on the Train screen (loss sigmoid, use_peft ticked; the rest by TRL name). */
const RUN_SETTINGS = { beta: '0.1', learning_rate: '0.02', max_steps: '1', per_device_train_batch_size: '4', lora_r: '4', lora_alpha: '8', lora_dropout: '0', seed: '7' };
let baseAnswer = '';
/** What Export showed for the run before the reload. */
const before = { runId: '', yaml: '', metricsLoss: NaN };

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

const studio = useStudioPage({
  tag: 'studio',
  permissions: ['clipboard-read', 'clipboard-write'],
  // No one can click a native folder picker in a headless test: answer it with the origin-private
  // file system, which has the same FileSystemDirectoryHandle API.
  initScript: () => {
    (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = () => navigator.storage.getDirectory();
  },
});
let page: Page;
beforeAll(() => {
  page = studio.page;
});
/** Full-page screenshots from the top, light and dark; the no-problems check (console, CSP). */
const { shots, expectNoProblems } = studio;

/** Clicks something that downloads one file; returns the file's text (and checks its name). */
async function downloadText(click: () => Promise<void>, name: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), click()]);
  expect(d.suggestedFilename()).toBe(name);
  return readFile((await d.path())!, 'utf8');
}

/** A file the Export screen wrote into the picked folder (the origin-private file system here). */
async function readSavedFile(dir: string, name: string): Promise<Uint8Array> {
  const bytes = await page.evaluate(async ([d, n]) => {
    const root = await navigator.storage.getDirectory();
    const file = await (await (await root.getDirectoryHandle(d)).getFileHandle(n)).getFile();
    return Array.from(new Uint8Array(await file.arrayBuffer()));
  }, [dir, name] as const);
  return Uint8Array.from(bytes);
}

/** Every tensor of the demo checkpoint (both shards): dtype, shape and bytes by name. */
async function demoTensors(): Promise<Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>> {
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    const bytes = new Uint8Array(await readFile(join(repoRoot, 'public/demo/model', f)));
    const h: SafetensorsHeader = parseSafetensorsHeader(bytes, bytes.length, f);
    for (const t of h.tensors) out.set(t.name, { dtype: t.dtype, shape: t.shape, bytes: tensorBytes(bytes, h, t) });
  }
  return out;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** At 1024 px wide the screen fits (no sideways scroll); back to 1280 after. */
async function expectNoSidewaysScroll(screen: string): Promise<void> {
  await page.setViewportSize({ width: 1024, height: 900 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `the ${screen} screen scrolls sideways at 1024 px`).toBe(true);
  await page.setViewportSize({ width: 1280, height: 900 });
}

describe('Check, Generate and Export screens (chromium)', () => {
  it('Check: every op passes against its float64 reference on SwiftShader, and the report names the adapter', { timeout: 300_000 }, async () => {
    await page.goto(`${studio.url}/#/check`);
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
    await expectNoSidewaysScroll('Check');

    // the full suite stops after its current case at "Stop check", and the report says so
    await page.getByRole('button', { name: 'Run full suite' }).click();
    await expect.poll(() => page.getByTestId('check-progress').innerText().catch(() => ''), { timeout: 120_000, interval: 200 }).toMatch(/^[2-9]\d* of \d+ cases/);
    const total = Number((await page.getByTestId('check-progress').innerText()).match(/of (\d+) cases/)![1]);
    expect(total).toBeGreaterThan(checkCases('quick').length * 4);
    await page.getByRole('button', { name: 'Stop check' }).click();
    await page.waitForSelector('[data-testid=check-runner][data-status=stopped]', { timeout: 120_000 });
    const stopped = await page.getByRole('textbox', { name: 'Check report' }).inputValue();
    const m = stopped.match(/^PrefStudio self-check \(full suite\): (\d+) of (\d+) cases passed \(stopped; (\d+) not run\)/);
    expect(m, `report head: ${stopped.split('\n')[0]}`).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]));
    expect(Number(m![2]) + Number(m![3])).toBe(total);
    expect(await page.getByTestId('check-verdict').innerText()).toMatch(/passed \(stopped: \d+ not run\)/);
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
    // train on the Train screen, as a user would: the Data screen's picker takes the 8-pair head,
    // then the loss and the settings by their TRL names, then "Start training"
    await startRunOnTrainScreen(page, { file: { name: TRAIN_FILE, text: TRAIN_TEXT }, loss: 'loss:sigmoid', usePeft: true, settings: RUN_SETTINGS });
    await page.getByRole('link', { name: 'Generate', exact: true }).click();
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
    await expectNoSidewaysScroll('Generate');
    await expectNoProblems('the Generate screen');
  });

  it('Export: recipe with the run\'s loss and lr, data.jsonl, metrics, the model into a folder, the adapter as downloads', { timeout: 300_000 }, async () => {
    await page.getByRole('link', { name: 'Export', exact: true }).click();
    await page.getByRole('heading', { name: 'Export', level: 2 }).waitFor();
    const runId = await page.getByRole('combobox', { name: 'Run' }).inputValue();
    expect(runId).toMatch(/^run-/);
    expect(await page.getByTestId('export-run-summary').innerText()).toBe('sigmoid · learning_rate 0.02 · LoRA r 4 · 1 of 1 steps');

    // the TRL recipe: the run's loss, learning rate and LoRA settings, as TRL's field names
    await page.getByTestId('export-recipe-yaml').waitFor();
    const yamlText = await page.getByTestId('export-recipe-yaml').innerText();
    const cfg = parseYaml(yamlText) as Record<string, unknown>;
    expect([cfg.loss_type, cfg.learning_rate, cfg.beta, cfg.use_peft, cfg.lora_r, cfg.lora_alpha, cfg.max_steps, cfg.model_name_or_path]).toEqual([['sigmoid'], 0.02, 0.1, true, 4, 8, 1, 'google/gemma-2-2b-it']);
    expect(yamlText).toMatch(/\nlearning_rate: 0\.02\n/);
    before.runId = runId;
    before.yaml = yamlText;
    expect(await page.getByTestId('export-recipe-command').innerText()).toBe('trl dpo --config recipe.yaml --num_processes 8');
    expect((await downloadText(() => page.getByRole('button', { name: 'Download recipe.yaml' }).click(), 'recipe.yaml')).trimEnd()).toBe(yamlText.trimEnd());
    expect(await downloadText(() => page.getByRole('button', { name: 'Download README.md' }).click(), 'README.md')).toMatch(/trl dpo --config recipe\.yaml --num_processes 8/);
    const want = datasetJsonl(await loadDataset(TRAIN_FILE, new TextEncoder().encode(TRAIN_TEXT)));
    expect(await page.getByTestId('export-data').innerText()).toBe(`data.jsonl: ${want.rows} pairs in TRL's ${want.form} form.`);
    expect(await downloadText(() => page.getByRole('button', { name: 'Download data.jsonl' }).click(), 'data.jsonl')).toBe(want.text);

    // metrics: the run's one step; LoRA's B starts at 0, so step 1's policy is the base: loss ln 2
    const jsonl = await downloadText(() => page.getByRole('button', { name: 'Download metrics.jsonl' }).click(), `${runId}-metrics.jsonl`);
    const records = jsonl.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.step)).toEqual([1]);
    expect(Math.abs((records[0].loss as number) - Math.LN2)).toBeLessThan(1e-5);
    before.metricsLoss = records[0].loss as number;
    expect(Array.isArray(records[0].pairs) && (records[0].pairs as unknown[]).length).toBe(4);
    const csv = (await downloadText(() => page.getByRole('button', { name: 'Download metrics.csv' }).click(), `${runId}-metrics.csv`)).split('\r\n');
    const header = csv[0].split(',');
    expect(header[0]).toBe('step');
    for (const k of ['loss', 'learning_rate', 'grad_norm', 'rewards/margins']) expect(header, `metrics.csv has no ${k} column`).toContain(k);
    expect(header).not.toContain('pairs');
    expect(csv[1].split(',')[header.indexOf('loss')]).toBe(String(records[0].loss));
    expect(csv[2]).toBe('');

    // the full model into a folder (a sub-folder named after the run)
    expect(await page.getByRole('radio', { name: /^Full model/ }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: /^Files in a folder/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.waitForSelector('[data-testid=export-weights][data-status=done]', { timeout: 120_000 });
    const listed = await page.getByTestId('export-files').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-path'), Number(tr.getAttribute('data-size'))] as [string, number]));
    expect(listed.map(([p]) => p).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(await page.getByTestId('export-weights-status').innerText()).toMatch(new RegExp(`^5 files, [\\d.]+ MB, saved to /${runId}-model\\.$`));
    const saved = await readSavedFile(`${runId}-model`, 'model.safetensors');
    expect(saved.length).toBe(listed.find(([p]) => p === 'model.safetensors')![1]);
    const demo = await demoTensors();
    const h = parseSafetensorsHeader(saved, saved.length, 'exported model.safetensors');
    expect(h.dataStart + Math.max(...h.tensors.map((t) => t.end)), 'model.safetensors is not exactly header + tensors').toBe(saved.length);
    expect(h.tensors.map((t) => `${t.name} ${t.dtype} ${t.shape.join('x')}`).sort()).toEqual([...demo.keys()].map((n) => `${n} ${demo.get(n)!.dtype} ${demo.get(n)!.shape.join('x')}`).sort());
    const changed = h.tensors.filter((t) => !sameBytes(tensorBytes(saved, h, t), demo.get(t.name)!.bytes)).map((t) => t.name);
    expect(changed.length, 'no tensor changed: the adapter was not merged').toBeGreaterThan(0);
    // LoRA targets every projection by default (LORA_DEFAULTS): embedding and norms stay the demo's bytes
    expect(changed.filter((n) => !/\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/.test(n)), 'tensors changed that LoRA does not target').toEqual([]);
    expect(JSON.parse(new TextDecoder().decode(await readSavedFile(`${runId}-model`, 'config.json'))).hidden_size).toBe(128);
    await shots('export');
    await expectNoSidewaysScroll('Export');

    // the PEFT adapter as downloads
    await page.getByRole('radio', { name: /^PEFT adapter/ }).check();
    await page.getByRole('radio', { name: /^Downloads/ }).check();
    const downloads: Download[] = [];
    const onDownload = (d: Download): void => void downloads.push(d);
    page.on('download', onDownload);
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    await page.waitForSelector('[data-testid=export-weights][data-status=done]', { timeout: 120_000 });
    await expect.poll(() => downloads.length, { timeout: 30_000 }).toBe(2);
    page.off('download', onDownload);
    expect(downloads.map((d) => d.suggestedFilename()).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const adapterConfig = JSON.parse(await readFile((await downloads.find((d) => d.suggestedFilename() === 'adapter_config.json')!.path())!, 'utf8')) as Record<string, unknown>;
    expect([adapterConfig.peft_type, adapterConfig.r, adapterConfig.lora_alpha]).toEqual(['LORA', 4, 8]);
    const adapter = new Uint8Array(await readFile((await downloads.find((d) => d.suggestedFilename() === 'adapter_model.safetensors')!.path())!));
    const ah = parseSafetensorsHeader(adapter, adapter.length, 'adapter_model.safetensors');
    expect(ah.tensors.length).toBe(4 * 7 * 2); // 4 layers × 7 projections × (A, B)
    expect(ah.tensors.every((t) => t.dtype === 'F32' && /lora_[AB]\.weight$/.test(t.name))).toBe(true);
    expect(await page.getByTestId('export-weights-status').innerText()).toMatch(/^2 files, [\d.]+ KB, downloaded\.$/);
    await expectNoProblems('the Export screen');
  });

  it('Export after a reload: the stored run\'s metrics, recipe and data; its weights are gone from the GPU', { timeout: 120_000 }, async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Export', level: 2 }).waitFor();
    const run = page.getByRole('combobox', { name: 'Run' });
    await expect.poll(() => run.inputValue(), { timeout: 30_000 }).toBe(before.runId);
    expect(await run.locator('option:checked').innerText()).toMatch(/ · 1 of 1 steps \(done\)$/);
    expect(await page.getByTestId('export-weights-note').innerText()).toMatch(/^This run's weights are no longer on the GPU/);
    expect(await page.getByRole('button', { name: 'Export', exact: true }).isDisabled()).toBe(true);
    // the same recipe and data from the stored settings and file
    await page.getByTestId('export-recipe-yaml').waitFor();
    expect(await page.getByTestId('export-recipe-yaml').innerText()).toBe(before.yaml);
    const want = datasetJsonl(await loadDataset(TRAIN_FILE, new TextEncoder().encode(TRAIN_TEXT)));
    expect(await downloadText(() => page.getByRole('button', { name: 'Download data.jsonl' }).click(), 'data.jsonl')).toBe(want.text);
    // metrics from the stored history: TRL's logged values (the same loss) and the studio's per-pair values
    await expect.poll(() => page.getByTestId('export-metrics').getAttribute('data-steps'), { timeout: 30_000 }).toBe('1');
    expect(await page.getByTestId('export-metrics').innerText()).toMatch(/1 optimizer step from the run's stored history/);
    const jsonl = await downloadText(() => page.getByRole('button', { name: 'Download metrics.jsonl' }).click(), `${before.runId}-metrics.jsonl`);
    const records = jsonl.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.step, r.loss])).toEqual([[1, before.metricsLoss]]);
    expect((records[0].pairs as { row: number }[]).map((p) => typeof p.row)).toEqual(['number', 'number', 'number', 'number']);
    await shots('export-stored');
    await expectNoProblems('the Export screen after a reload');
  });
});
