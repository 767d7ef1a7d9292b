// Training in the engine's Web Worker, in headless Chromium (SwiftShader), driven through the
// protocol (src/engine/worker/protocol.ts) from a page of its own (e2e/training/): the built-in
// demo is imported (ensureDemo), then
//   1. startTraining on the head of public/demo/preferences/train.jsonl (max_steps 2, batch 4, eval on the
//      head of test.jsonl): trainingStarted with the run's plan, the reference pass to 100 %, evalResult
//      before and after, two trainStep events whose records check out against known values (the
//      first step's policy IS the reference: log-probs equal, loss ln 2) and against a float64
//      recomputation of each pair's logit and loss, rows that are the dataset's (token counts as
//      the pipeline makes them in Node), then trainingDone; exportModel gives the demo's tensors,
//      trained;
//   2. stopTraining mid-run ends the run with trainingStopped (reference from the IndexedDB cache),
//      and during a reference pass ends it before any step;
//   3. a run at learning_rate 0 exports the demo's weights bit for bit;
//   4. LoRA on the frozen (16-bit) demo with checkpoints in IndexedDB every step: a run resumed from
//      checkpoint 2 repeats step 3 bit for bit; the PEFT adapter and the merged model export;
//   5. an unknown setting, an unknown run and an export of a running run are errors naming them;
//   6. run control and a lost device (LoRA, a checkpoint every step): stopAfter stops after exactly
//      that step with its checkpoint (start, then resume), every trainStep reports the pool's GPU
//      memory; loseDevice (test-only) mid-run ends the run with a DeviceLostError naming it and the
//      checkpoint to resume from; a resume runs on a new device from that checkpoint, and every step
//      of the run equals an uninterrupted run's bit for bit; deleteRun refuses a running run and
//      frees a stopped one's checkpoints (the bytes checkpointSaved reported).
// Each test can run alone (-t): the first one that needs the page opens it and imports the demo.
// No adapter or no demo is a failure, never a skip.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { loadDataset } from '../src/engine/data/dataset.ts';
import { loadTokenizer } from '../src/engine/data/tokenizer.ts';
import { parseSafetensorsHeader, tensorBytes } from '../src/engine/model/safetensors.ts';
import { examplesFromDataset, lossConfigFromFlags } from '../src/engine/train/config.ts';
import type { EngineEvent, ModelsEvent, TrainingStartedEvent, TrainStepEvent } from '../src/engine/worker/protocol.ts';
import { forwardConsole, repoRoot } from './gpu/browser/launch.ts';
import { useViteAndChromium } from './gpu/browser/lifecycle.ts';

const env = useViteAndChromium();
const DEMO = join(repoRoot, 'public', 'demo');
/** Training pairs: the first TRAIN_PAIRS rows of the demo's train set (the reference pass dominates on SwiftShader). */
const TRAIN_PAIRS = 48;
const TRAIN_TEXT = readFileSync(join(DEMO, 'preferences', 'train.jsonl'), 'utf8').split('\n').slice(0, TRAIN_PAIRS).join('\n');
/** Held-out pairs: the first EVAL_PAIRS rows of the demo's test set (a few keep the SwiftShader run short). */
const EVAL_PAIRS = 6;
const EVAL_TEXT = readFileSync(join(DEMO, 'preferences', 'test.jsonl'), 'utf8').split('\n').slice(0, EVAL_PAIRS).join('\n');

interface Driver {
  send(body: unknown): number;
  startTraining(modelId: string, data: FileSpec, config: Record<string, unknown>, evalData?: FileSpec): Promise<number>;
  events(from?: number): EngineEvent[];
  exportedSummary(requestId: number): Promise<{ path: string; size: number; blobSize: number; header?: Record<string, { dtype: string; shape: number[] }>; data?: Record<string, string> }[] | null>;
}

const send = (page: Page, body: unknown): Promise<number> => page.evaluate((b) => (window as unknown as { __engine: Driver }).__engine.send(b), body);
const events = (page: Page): Promise<EngineEvent[]> => page.evaluate(() => (window as unknown as { __engine: Driver }).__engine.events());
type FileSpec = { url: string } | { name: string; text: string };
const start = (page: Page, config: Record<string, unknown>, modelId: string, evalData?: FileSpec): Promise<number> =>
  page.evaluate(([m, d, c, e]) => (window as unknown as { __engine: Driver }).__engine.startTraining(m, d, c, e), [modelId, { name: 'train.jsonl', text: TRAIN_TEXT }, config, evalData] as const);

/** Waits for the first event answering `requestId` that `done` accepts (an error answering it fails the wait). */
async function waitFor(page: Page, requestId: number, done: (ev: EngineEvent) => boolean, timeoutMs = 600_000): Promise<EngineEvent[]> {
  const t0 = Date.now();
  let lastPrint = t0;
  for (;;) {
    const mine = (await events(page)).filter((ev) => ev.requestId === requestId);
    const err = mine.find((ev) => ev.type === 'error');
    if (err && !done(err)) throw new Error(`command ${requestId} failed: ${JSON.stringify(err)}`);
    if (mine.some(done)) return mine;
    if (Date.now() - lastPrint > 15_000) {
      lastPrint = Date.now();
      const last = mine[mine.length - 1];
      console.log(`[training] command ${requestId}: ${mine.length} events, last ${last ? JSON.stringify(last).slice(0, 160) : '(none)'}`);
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`command ${requestId}: no answer in ${timeoutMs / 1000} s; events so far: ${mine.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** The demo's original tensors: name → {dtype, shape, raw bytes as hex}. */
function demoTensors(): Map<string, { dtype: string; shape: number[]; hex: string }> {
  const out = new Map<string, { dtype: string; shape: number[]; hex: string }>();
  const index = JSON.parse(readFileSync(join(DEMO, 'model', 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  for (const file of new Set(Object.values(index.weight_map))) {
    const bytes = new Uint8Array(readFileSync(join(DEMO, 'model', file)));
    const h = parseSafetensorsHeader(bytes, bytes.length, file);
    for (const t of h.tensors) out.set(t.name, { dtype: t.dtype, shape: t.shape, hex: Buffer.from(tensorBytes(bytes, h, t)).toString('hex') });
  }
  return out;
}

describe('training in the engine worker (chromium)', () => {
  let page: Page;
  let modelId = '';
  const pageErrors: string[] = [];
  const BATCH = 4;
  const BETA = 0.1;

  /** Opens the test page and imports the built-in demo (the worker itself, ensureDemo), once. */
  async function ready(): Promise<void> {
    if (page) return;
    page = await env.browser.newPage();
    forwardConsole(page, 'training');
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${env.url}/e2e/training/index.html`);
    await page.waitForFunction(() => 'window' in globalThis && '__engine' in window, null, { timeout: 60_000 });
    const ensure = await send(page, { type: 'ensureDemo', baseUrl: `${env.url}/demo/model/` });
    const models = (await waitFor(page, ensure, (ev) => ev.type === 'models')).find((ev): ev is ModelsEvent => ev.type === 'models')!;
    const demo = models.models.find((m) => m.isDemo);
    expect(demo, `no demo among ${JSON.stringify(models.models)}`).toBeDefined();
    modelId = demo!.id;
  }

  it('imports the demo, trains 2 steps with every event, exports the trained model', async () => {
    await ready();

    // --- the expected examples, made in Node by the same data pipeline (rows → token counts)
    const tok = loadTokenizer(JSON.parse(readFileSync(join(DEMO, 'model', 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(DEMO, 'model', 'tokenizer_config.json'), 'utf8')));
    const ds = await loadDataset('train.jsonl', new TextEncoder().encode(TRAIN_TEXT));
    const expected = examplesFromDataset(ds, { vocabSize: 512, tokenizer: tok }, lossConfigFromFlags({}), {}).examples;
    const byRow = new Map(expected.map((x) => [x.row, x]));
    expect(expected.length).toBe(TRAIN_PAIRS);

    // --- run 1
    const config = { loss_type: 'sigmoid', beta: BETA, learning_rate: 1e-3, max_steps: 2, per_device_train_batch_size: BATCH, seed: 7 };
    const t0 = Date.now();
    const id = await start(page, config, modelId, { name: 'test-head.jsonl', text: EVAL_TEXT });
    const evs = await waitFor(page, id, (ev) => ev.type === 'trainingDone');
    console.log(`[training] run 1 (reference pass over ${expected.length} + ${EVAL_PAIRS} pairs, 2 evaluations, 2 steps): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(evs.filter((ev) => ev.type === 'error')).toEqual([]);

    const started = evs.find((ev): ev is TrainingStartedEvent => ev.type === 'trainingStarted')!;
    expect(started).toBeDefined();
    const runId = started.runId;
    expect(runId).toMatch(/^run-/);
    expect(evs.every((ev) => 'runId' in ev && ev.runId === runId), 'every event of the run names it').toBe(true);
    expect(started).toMatchObject({ modelId, totalSteps: 2, stepsPerEpoch: Math.ceil(expected.length / BATCH), examples: expected.length, evalExamples: EVAL_PAIRS, dropped: [] });
    expect(started.settings).toMatchObject({ loss_type: ['sigmoid'], beta: BETA, max_steps: 2, per_device_train_batch_size: BATCH });
    expect(evs[0], 'trainingStarted is the run\'s first event').toBe(started);
    const weights = evs.filter((ev) => ev.type === 'weightsProgress');
    expect(weights.length).toBeGreaterThan(0);
    expect(weights[weights.length - 1]).toMatchObject({ modelId, percent: 100 });

    // reference pass: after the weights, percent rising to 100 with a rate, train then eval
    const ref = evs.filter((ev) => ev.type === 'referenceProgress');
    const refTrain = ref.filter((ev) => ev.split === 'train');
    expect(refTrain.length).toBeGreaterThan(1);
    expect(evs.indexOf(ref[0])).toBeGreaterThan(evs.indexOf(weights[weights.length - 1]));
    for (let i = 1; i < refTrain.length; i++) expect(refTrain[i].percent).toBeGreaterThanOrEqual(refTrain[i - 1].percent);
    expect(refTrain[refTrain.length - 1]).toMatchObject({ done: expected.length, total: expected.length, percent: 100, cached: false });
    expect(refTrain.every((ev) => Number.isFinite(ev.rate) && ev.rate > 0)).toBe(true);
    expect(ref.filter((ev) => ev.split === 'eval').pop()).toMatchObject({ done: EVAL_PAIRS, total: EVAL_PAIRS, percent: 100 });

    // two steps, after the reference pass
    const steps = evs.filter((ev): ev is TrainStepEvent => ev.type === 'trainStep');
    expect(steps.map((s) => s.record.step)).toEqual([1, 2]);
    expect(evs.indexOf(steps[0])).toBeGreaterThan(evs.indexOf(ref[ref.length - 1]));
    const seen = new Set<number>();
    for (const { record } of steps) {
      expect(Number.isFinite(record.loss), `step ${record.step} loss ${record.loss}`).toBe(true);
      expect(record.skipped).toBeUndefined();
      expect(record.pairs).toHaveLength(BATCH);
      expect(Number.isFinite(record.grad_norm) && record.grad_norm > 0).toBe(true);
      for (const p of record.pairs) {
        const where = `step ${record.step}, row ${p.row}`;
        // a row of the dataset, once per epoch, with its own token counts
        expect(Number.isInteger(p.row) && byRow.has(p.row), where).toBe(true);
        expect(seen.has(p.row), `${where} seen twice in one epoch`).toBe(false);
        seen.add(p.row);
        expect(p.chosen_tokens, where).toBe(byRow.get(p.row)!.chosenIds.length);
        expect(p.rejected_tokens, where).toBe(byRow.get(p.row)!.rejectedIds.length);
        expect(p.nonfinite, where).toBe(false);
        // the reference sums were filled in (a log-prob sum of a real completion is < 0)
        const [S_w, S_l, R_w, R_l] = [p.chosen_logp, p.rejected_logp, p.ref_chosen_logp, p.ref_rejected_logp] as number[];
        expect(R_w < 0 && R_l < 0, `${where}: reference sums ${R_w}, ${R_l}`).toBe(true);
        // float64 recomputation of the pair's DPO logit, rewards and loss from its log-probs
        const h = S_w - R_w - (S_l - R_l);
        expect(p.logit as number, where).toBeCloseTo(BETA * h, 4);
        expect(p.reward_chosen as number, where).toBeCloseTo(BETA * (S_w - R_w), 4);
        expect(p.reward_rejected as number, where).toBeCloseTo(BETA * (S_l - R_l), 4);
        expect(p.loss as number, where).toBeCloseTo(softplus(-BETA * h), 5);
        expect(p.weight, where).toBe(1);
      }
      const meanLoss = record.pairs.reduce((s, p) => s + (p.loss as number), 0) / BATCH;
      expect(record.loss).toBeCloseTo(meanLoss, 6);
      expect(record['rewards/accuracies']).toBeCloseTo(record.pairs.filter((p) => (p.reward_chosen as number) > (p.reward_rejected as number)).length / BATCH, 6);
    }
    // step 1: the policy is the reference, so every margin is 0 and the loss is ln 2
    for (const p of steps[0].record.pairs) {
      expect(Math.abs((p.chosen_logp as number) - (p.ref_chosen_logp as number))).toBeLessThan(1e-4 * Math.abs(p.ref_chosen_logp as number) + 1e-4);
      expect(Math.abs((p.rejected_logp as number) - (p.ref_rejected_logp as number))).toBeLessThan(1e-4 * Math.abs(p.ref_rejected_logp as number) + 1e-4);
    }
    expect(Math.abs(steps[0].record.loss - Math.LN2)).toBeLessThan(1e-4);
    // step 2 runs on updated weights: its policy differs from the reference
    expect(steps[1].record.pairs.some((p) => Math.abs((p.chosen_logp as number) - (p.ref_chosen_logp as number)) > 1e-3)).toBe(true);

    // evaluation before and after, TRL's eval_ names
    const evals = evs.filter((ev) => ev.type === 'evalResult');
    expect(evals.map((ev) => [ev.phase, ev.step])).toEqual([['before', 0], ['after', 2]]);
    expect(Math.abs(evals[0].metrics.eval_loss - Math.LN2)).toBeLessThan(1e-4); // untrained: policy = reference
    expect(evals[1].pairs).toHaveLength(EVAL_PAIRS);
    expect(Number.isFinite(evals[1].metrics['eval_rewards/accuracies'])).toBe(true);
    expect(evs[evs.length - 1]).toMatchObject({ type: 'trainingDone', runId, steps: 2 });

    // --- export: the demo's tensors (names, BF16, shapes), most of them changed by training
    const ex = await send(page, { type: 'exportModel', runId });
    await waitFor(page, ex, (ev) => ev.type === 'exported');
    const files = (await page.evaluate((r) => (window as unknown as { __engine: Driver }).__engine.exportedSummary(r), ex))!;
    expect(files.map((f) => f.path).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    for (const f of files) expect(f.blobSize, f.path).toBe(f.size);
    const st = files.find((f) => f.path === 'model.safetensors')!;
    const original = demoTensors();
    expect(Object.keys(st.header!).sort()).toEqual([...original.keys()].sort());
    let changed = 0;
    for (const [name, t] of original) {
      expect({ dtype: st.header![name].dtype, shape: st.header![name].shape }, name).toEqual({ dtype: t.dtype, shape: t.shape });
      if (st.data![name] !== t.hex) changed++;
    }
    expect(changed, `${changed} of ${original.size} tensors changed after 2 steps at lr 1e-3`).toBeGreaterThan(original.size / 2);
    expect(pageErrors).toEqual([]);
  }, 900_000);

  it('stopTraining mid-run ends it with trainingStopped; the reference comes from the IndexedDB cache', async () => {
    await ready();
    const from = (await events(page)).length;
    const id = await start(page, { loss_type: 'sigmoid', beta: BETA, learning_rate: 1e-3, max_steps: 40, per_device_train_batch_size: BATCH, seed: 7 }, modelId);
    const first = (await waitFor(page, id, (ev) => ev.type === 'trainStep')).find((ev) => ev.type === 'trainStep')!;
    const stop = await send(page, { type: 'stopTraining', runId: first.runId });
    const evs = await waitFor(page, id, (ev) => ev.type === 'trainingStopped' || ev.type === 'trainingDone');
    const stopped = evs.find((ev) => ev.type === 'trainingStopped');
    expect(stopped, `events: ${evs.map((e) => e.type).join(', ')}`).toBeDefined();
    expect(stopped!.runId).toBe(first.runId);
    expect(stopped!.step).toBeGreaterThanOrEqual(1);
    expect(stopped!.step).toBeLessThan(40);
    expect(evs.filter((ev) => ev.type === 'trainStep')).toHaveLength(stopped!.step);
    expect(evs.some((ev) => ev.type === 'trainingDone' || ev.type === 'error')).toBe(false);
    // the same model, data and settings: the reference pass is one cached event
    const ref = evs.filter((ev) => ev.type === 'referenceProgress');
    expect(ref).toEqual([expect.objectContaining({ split: 'train', percent: 100, cached: true })]);
    // nothing answers the stop command itself with an error
    expect((await events(page)).slice(from).filter((ev) => ev.requestId === stop)).toEqual([]);
  }, 300_000);

  it('stopTraining during the reference pass stops it between two batches, before any step', async () => {
    await ready();
    // ld_alpha changes the reference sums, so they are not in the cache yet
    const id = await start(page, { loss_type: 'sigmoid', ld_alpha: 0.5, max_steps: 2, per_device_train_batch_size: BATCH }, modelId);
    const first = (await waitFor(page, id, (ev) => ev.type === 'referenceProgress')).find((ev) => ev.type === 'referenceProgress')!;
    expect(first.cached).toBe(false);
    await send(page, { type: 'stopTraining', runId: first.runId });
    const evs = await waitFor(page, id, (ev) => ev.type === 'trainingStopped' || ev.type === 'trainingDone');
    expect(evs.find((ev) => ev.type === 'trainingStopped')).toMatchObject({ runId: first.runId, step: 0 });
    const ref = evs.filter((ev) => ev.type === 'referenceProgress');
    expect(ref[ref.length - 1].done).toBeLessThan(ref[ref.length - 1].total);
    expect(evs.some((ev) => ev.type === 'trainStep' || ev.type === 'trainingDone')).toBe(false);
  }, 300_000);

  it('a run at learning_rate 0 exports the demo weights bit for bit', async () => {
    await ready();
    const id = await start(page, { learning_rate: 0, max_steps: 1, per_device_train_batch_size: BATCH }, modelId);
    const done = (await waitFor(page, id, (ev) => ev.type === 'trainingDone')).find((ev) => ev.type === 'trainingDone')!;
    const runId = done.runId;
    const ex = await send(page, { type: 'exportModel', runId });
    await waitFor(page, ex, (ev) => ev.type === 'exported');
    const st = (await page.evaluate((r) => (window as unknown as { __engine: Driver }).__engine.exportedSummary(r), ex))!.find((f) => f.path === 'model.safetensors')!;
    const original = demoTensors();
    for (const [name, t] of original) expect(st.data![name] === t.hex, `${name} differs from the demo's bytes`).toBe(true);
  }, 300_000);

  it('LoRA on the frozen 16-bit demo: checkpoints in IndexedDB, a resumed run equals the uninterrupted one, adapter and merged exports', async () => {
    await ready();
    const config = { loss_type: 'sigmoid', beta: BETA, learning_rate: 1e-2, max_steps: 3, per_device_train_batch_size: BATCH, seed: 11, use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0.1, save_steps: 1, save_total_limit: 2 };
    // the uninterrupted run: a checkpoint after every step, the newest two kept
    const id = await start(page, config, modelId);
    const evs = await waitFor(page, id, (ev) => ev.type === 'trainingDone');
    expect(evs.filter((ev) => ev.type === 'error')).toEqual([]);
    const runId = (evs[0] as TrainingStartedEvent).runId;
    expect(evs.find((ev) => ev.type === 'trainingLog' && /LoRA r=4/.test(ev.message)), 'the run says it trains an adapter').toBeDefined();
    // the demo (C 128, FF 512, 4 heads × 32, 2 KV heads, 4 layers): r·(in + out) per module and layer,
    // q 128→128, k/v 128→64, o 128→128, gate/up 128→512, down 512→128
    expect((evs[0] as TrainingStartedEvent).adapterParameters).toBe(4 * 4 * (256 + 192 + 192 + 256 + 3 * 640));
    const steps = evs.filter((ev): ev is TrainStepEvent => ev.type === 'trainStep').map((ev) => ev.record);
    expect(steps.map((r) => r.step)).toEqual([1, 2, 3]);
    expect(steps[2].loss).toBeLessThan(steps[0].loss);
    const saved = evs.filter((ev) => ev.type === 'checkpointSaved');
    expect(saved.map((ev) => ev.step)).toEqual([1, 2, 3]);
    expect(saved[2].removed).toEqual([1]); // save_total_limit 2
    const list = await send(page, { type: 'listCheckpoints', runId });
    expect((await waitFor(page, list, (ev) => ev.type === 'checkpoints')).find((ev) => ev.type === 'checkpoints')).toMatchObject({ steps: [2, 3] });

    // exports: the PEFT adapter, and the model with the adapter merged
    const exA = await send(page, { type: 'exportModel', runId, kind: 'adapter' });
    await waitFor(page, exA, (ev) => ev.type === 'exported');
    const adapterFiles = (await page.evaluate((r) => (window as unknown as { __engine: Driver }).__engine.exportedSummary(r), exA))!;
    expect(adapterFiles.map((f) => f.path).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const keys = Object.keys(adapterFiles.find((f) => f.path === 'adapter_model.safetensors')!.header!);
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(keys).toContain('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight');
    const exM = await send(page, { type: 'exportModel', runId });
    await waitFor(page, exM, (ev) => ev.type === 'exported');
    const merged = (await page.evaluate((r) => (window as unknown as { __engine: Driver }).__engine.exportedSummary(r), exM))!.find((f) => f.path === 'model.safetensors')!;
    const original = demoTensors();
    for (const [name, t] of original) {
      const adapted = /(q|k|v|o|gate|up|down)_proj\.weight$/.test(name);
      expect({ name, dtype: merged.header![name].dtype, changed: merged.data![name] !== t.hex }).toEqual({ name, dtype: t.dtype, changed: adapted });
    }

    // resume from checkpoint 2 (as after a reload): step 3 again, bit for bit
    const re = await page.evaluate(([m, c, r]) => (window as unknown as { __engine: Driver }).__engine.send({ type: 'startTraining', modelId: m, data: { name: 'train.jsonl', bytes: new TextEncoder().encode(c) }, config: r.config, resume: { runId: r.runId, step: 2 } }), [modelId, TRAIN_TEXT, { config, runId }] as const);
    const revs = await waitFor(page, re, (ev) => ev.type === 'trainingDone');
    expect(revs.filter((ev) => ev.type === 'error')).toEqual([]);
    expect(revs.find((ev) => ev.type === 'trainingStarted')).toMatchObject({ runId, resumedFrom: 2 });
    expect(revs.some((ev) => ev.type === 'referenceProgress'), 'a resumed run takes its reference sums from the checkpoint').toBe(false);
    const again = revs.filter((ev): ev is TrainStepEvent => ev.type === 'trainStep').map((ev) => ev.record);
    expect(again.map((r) => r.step)).toEqual([3]);
    expect(again[0]).toEqual(steps[2]);

    // resuming with another setting is refused, naming it
    const bad = await page.evaluate(([m, c, r]) => (window as unknown as { __engine: Driver }).__engine.send({ type: 'startTraining', modelId: m, data: { name: 'train.jsonl', bytes: new TextEncoder().encode(c) }, config: { ...r.config, learning_rate: 2e-2 }, resume: { runId: r.runId } }), [modelId, TRAIN_TEXT, { config, runId }] as const);
    const err = (await waitFor(page, bad, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(`${err.where} ${err.message}`).toContain('learning_rate');
  }, 900_000);

  it('names the unknown setting, the unknown run, and refuses to export a running run', async () => {
    await ready();
    const bad = await start(page, { learnig_rate: 1e-3, max_steps: 1 }, modelId);
    const err = (await waitFor(page, bad, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(err).toMatchObject({ command: 'startTraining', requestId: bad });
    expect(err.runId, 'a run that never started has no id').toBeUndefined();
    expect(`${err.where} ${err.message}`).toContain('learnig_rate');
    expect(err.hint).toContain('learning_rate');

    const typed = await start(page, { max_steps: 'two' }, modelId);
    const err2 = (await waitFor(page, typed, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(`${err2.where} ${err2.message}`).toMatch(/max_steps.*integer.*'two'/);

    const stop = await send(page, { type: 'stopTraining', runId: 'run-nope' });
    const err3 = (await waitFor(page, stop, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(err3).toMatchObject({ command: 'stopTraining' });
    expect(err3.message).toContain('run-nope');

    // a running run cannot be exported (or joined by a second one); then it is stopped
    const id = await start(page, { max_steps: 40, per_device_train_batch_size: BATCH }, modelId);
    const started = (await waitFor(page, id, (ev) => ev.type === 'trainingStarted')).find((ev) => ev.type === 'trainingStarted')!;
    const ex = await send(page, { type: 'exportModel', runId: started.runId });
    const err4 = (await waitFor(page, ex, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(err4.message).toContain('still running');
    const second = await start(page, { max_steps: 1 }, modelId);
    const err5 = (await waitFor(page, second, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(err5.message).toContain(`run ${started.runId} is still running`);
    await send(page, { type: 'stopTraining', runId: started.runId });
    await waitFor(page, id, (ev) => ev.type === 'trainingStopped');
  }, 300_000);

  it('stopAfter, GPU memory, a lost device resumed on a new device bit for bit, deleteRun', async () => {
    await ready();
    const config = { loss_type: 'sigmoid', beta: BETA, learning_rate: 1e-2, max_steps: 6, per_device_train_batch_size: BATCH, seed: 13, use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0.1, save_steps: 1 };
    /** startTraining on the train head with `config`, plus resume / stopAfter. */
    const run = (extra: { resume?: { runId: string; step?: number }; stopAfter?: number } = {}): Promise<number> =>
      page.evaluate(([m, c, body]) => (window as unknown as { __engine: Driver }).__engine.send({ type: 'startTraining', modelId: m, data: { name: 'train.jsonl', bytes: new TextEncoder().encode(c) }, ...body }), [modelId, TRAIN_TEXT, { config, ...extra }] as const);
    const stepsOf = (evs: EngineEvent[]): TrainStepEvent[] => evs.filter((ev): ev is TrainStepEvent => ev.type === 'trainStep');

    // --- the uninterrupted run; deleteRun refuses it while it runs
    const a = await run();
    const aId = ((await waitFor(page, a, (ev) => ev.type === 'trainingStarted'))[0] as TrainingStartedEvent).runId;
    const refuse = await send(page, { type: 'deleteRun', runId: aId });
    const refused = (await waitFor(page, refuse, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(refused).toMatchObject({ command: 'deleteRun' });
    expect(refused.message).toContain(`run ${aId} is still running`);
    const aEvs = await waitFor(page, a, (ev) => ev.type === 'trainingDone');
    const want = stepsOf(aEvs).map((ev) => ev.record);
    expect(want.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // the pool's figures after every step: live tensors within what the pool holds, within its peak
    for (const ev of stepsOf(aEvs)) {
      const m = ev.gpuMemory;
      expect(m.inUse > 0 && m.inUse <= m.held && m.held <= m.peak, `step ${ev.record.step}: ${JSON.stringify(m)}`).toBe(true);
    }
    // the demo's frozen base alone is over 1 MB (bf16 matrices): the pool holds at least that
    expect(stepsOf(aEvs)[5].gpuMemory.inUse).toBeGreaterThan(1e6);

    // --- stopAfter 1: exactly one step, its checkpoint, trainingStopped at 1 (the studio's Step)
    const b1 = await run({ stopAfter: 1 });
    const b1Evs = await waitFor(page, b1, (ev) => ev.type === 'trainingStopped' || ev.type === 'trainingDone');
    const bId = (b1Evs[0] as TrainingStartedEvent).runId;
    expect(b1Evs.filter((ev) => ev.type === 'error')).toEqual([]);
    expect(stepsOf(b1Evs).map((ev) => ev.record)).toEqual(want.slice(0, 1));
    expect(b1Evs.filter((ev) => ev.type === 'checkpointSaved').map((ev) => ev.step)).toEqual([1]);
    expect(b1Evs[b1Evs.length - 1]).toMatchObject({ type: 'trainingStopped', runId: bId, step: 1 });
    // a resume with stopAfter: one more step (2), equal to the uninterrupted run's
    const b2 = await run({ resume: { runId: bId }, stopAfter: 2 });
    const b2Evs = await waitFor(page, b2, (ev) => ev.type === 'trainingStopped' || ev.type === 'trainingDone');
    expect(b2Evs.find((ev) => ev.type === 'trainingStarted')).toMatchObject({ runId: bId, resumedFrom: 1 });
    expect(stepsOf(b2Evs).map((ev) => ev.record)).toEqual(want.slice(1, 2));
    expect(b2Evs[b2Evs.length - 1]).toMatchObject({ type: 'trainingStopped', runId: bId, step: 2 });
    // stopAfter not after the checkpoint is refused before the run starts
    const bad = await run({ resume: { runId: bId }, stopAfter: 2 });
    const badErr = (await waitFor(page, bad, (ev) => ev.type === 'error')).find((ev) => ev.type === 'error')!;
    expect(`${badErr.where} ${badErr.message}`).toMatch(/stopAfter.*checkpoint's step 2.*got 2/);
    expect(badErr.runId).toBeUndefined();

    // --- resumed to the end, the device lost after step 3 (test-only loseDevice)
    const b3 = await run({ resume: { runId: bId } });
    await waitFor(page, b3, (ev) => ev.type === 'trainStep' && ev.record.step === 3);
    await send(page, { type: 'loseDevice' });
    const b3Evs = await waitFor(page, b3, (ev) => ev.type === 'error' || ev.type === 'trainingDone');
    const lost = b3Evs.find((ev) => ev.type === 'error');
    expect(lost, `the run ended with ${b3Evs[b3Evs.length - 1].type}: the device was lost too late (after its last step)`).toBeDefined();
    expect(lost).toMatchObject({ name: 'DeviceLostError', runId: bId, command: 'startTraining', where: `run ${bId}` });
    const saved = b3Evs.filter((ev) => ev.type === 'checkpointSaved').map((ev) => ev.step);
    const from = Math.max(2, ...saved);
    const lastStep = Math.max(2, ...stepsOf(b3Evs).map((ev) => ev.record.step));
    expect(lost!.message).toMatch(new RegExp(`^the GPU device was lost \\(destroyed[^)]*\\); the run stopped after step ${lastStep}$`));
    expect(lost!.hint).toContain(`resume it`);
    expect(lost!.hint).toContain(`newest checkpoint, step ${from}`);
    expect(stepsOf(b3Evs).map((ev) => ev.record)).toEqual(want.slice(2, 2 + stepsOf(b3Evs).length));
    // the device's own report (no command asked for it)
    await expect.poll(async () => (await events(page)).some((ev) => ev.type === 'error' && ev.name === 'DeviceLostError' && ev.requestId === undefined)).toBe(true);

    // --- resume on a new device from the newest checkpoint: the step counter and the numbers continue
    const b4 = await run({ resume: { runId: bId } });
    const b4Evs = await waitFor(page, b4, (ev) => ev.type === 'trainingDone');
    expect(b4Evs.filter((ev) => ev.type === 'error')).toEqual([]);
    expect(b4Evs.find((ev) => ev.type === 'trainingStarted')).toMatchObject({ runId: bId, resumedFrom: from });
    const again = stepsOf(b4Evs).map((ev) => ev.record);
    expect(again.map((r) => r.step)).toEqual(want.slice(from).map((r) => r.step));
    expect(again).toEqual(want.slice(from));
    expect(b4Evs[b4Evs.length - 1]).toMatchObject({ type: 'trainingDone', runId: bId, steps: 6 });

    // --- deleteRun: the checkpoints go, with the bytes checkpointSaved reported for them
    const list = await send(page, { type: 'listCheckpoints', runId: bId });
    const kept = (await waitFor(page, list, (ev) => ev.type === 'checkpoints')).find((ev) => ev.type === 'checkpoints')!.steps;
    expect(kept).toEqual([1, 2, 3, 4, 5, 6].filter((s) => s <= 2 || s >= from)); // save_steps 1, no limit
    const bytesOf = new Map<number, number>();
    for (const ev of [...b1Evs, ...b2Evs, ...b3Evs, ...b4Evs]) if (ev.type === 'checkpointSaved') bytesOf.set(ev.step, ev.bytes);
    const del = await send(page, { type: 'deleteRun', runId: bId });
    const deleted = (await waitFor(page, del, (ev) => ev.type === 'runDeleted')).find((ev) => ev.type === 'runDeleted')!;
    expect(deleted).toMatchObject({ runId: bId, steps: kept, bytes: kept.reduce((s, k) => s + bytesOf.get(k)!, 0) });
    const left = await page.evaluate(
      (prefix) =>
        new Promise<string[]>((resolve, reject) => {
          const open = indexedDB.open('prefstudio-runs');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const req = open.result.transaction('checkpoints', 'readonly').objectStore('checkpoints').getAllKeys();
            req.onsuccess = () => resolve((req.result as string[]).filter((k) => String(k).startsWith(prefix)));
          };
        }),
      `${bId}/`,
    );
    expect(left).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 900_000);
});
