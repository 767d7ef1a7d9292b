// The trainer on real data (issue 8 "Tests"): learning on the built-in demo, bitwise determinism,
// and the non-finite guard. Exact per-step numbers are checked elsewhere (e2e/step.test.ts against
// PyTorch, the loss and per-row kernels against float64 references); this file checks what only a
// whole run shows.
//
// Learning: on public/demo (a 1M-parameter Gemma-2 whose answers are sometimes GOOD — a full
// correct sentence — and sometimes BAD — a wrong guess starting "I think"), DPO, WPO and SimPO each
// train a fresh copy for a few steps with the preset's small-model scaling and must raise held-out
// reward accuracy (public/demo/preferences/test.jsonl, 50 questions never trained on) from chance
// to ≥ 90 %. Then the greedy answers to held-out questions must show the preferred style: the
// share of answers that do not open with "I think" must rise to ≥ 80 %.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { generate } from '../../src/engine/model/generate.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { computeReferenceLogps } from '../../src/engine/train/ref_cache.ts';
import { NonFiniteError, Trainer, TRAIN_DEFAULTS, type StepRecord, type TrainExample, type TrainOptions } from '../../src/engine/train/trainer.ts';
import { lossConfigFromFlags, trainOptionsFromFlags } from '../../src/cli/flags.ts';
import { presetFlags } from '../../src/engine/train/presets.ts';
import { loadExamples, openModelFolder, uploadModel, type LoadedModel, type OpenedModel } from '../../src/cli/model.ts';
import type { CliIO } from '../../src/cli/args.ts';

const root = join(import.meta.dirname, '..', '..');
const demoDir = join(root, 'public', 'demo', 'model');
const tinyDir = join(root, 'e2e', 'fixtures', 'checkpoints', 'tiny-l3-f32-2shard');
const quiet: CliIO = { stdout: () => {}, log: () => {} };

let e: Engine;
beforeAll(async () => {
  e = await createNodeEngine();
});
afterAll(() => e?.destroy());

/** A fresh trainable copy of a checkpoint on the suite's engine. */
const load = (m: OpenedModel): Promise<LoadedModel> => uploadModel(m, quiet, { trainable: true, engine: e });

/** Held-out greedy answers that do not open with the BAD style's "I think". */
async function goodStyleShare(m: LoadedModel, prompts: number[][]): Promise<{ share: number; answers: string[] }> {
  const r = await generate(e, m.dims, m.params, prompts, { maxNewTokens: 24, temperature: 0 });
  const answers = r.tokens.map((t) => m.tokenizer!.decode(t, { skipSpecialTokens: true }).trim());
  return { share: answers.filter((a) => !/^I think/.test(a)).length / answers.length, answers };
}

describe('learning on the built-in demo', () => {
  let opened: OpenedModel;
  let train: TrainExample[];
  let test: TrainExample[];
  let refTrain: Float32Array;
  let refTest: Float32Array;
  let prompts: number[][];
  let styleBefore: number;

  beforeAll(async () => {
    opened = await openModelFolder(demoDir, quiet);
    const dpo = lossConfigFromFlags({ loss_type: ['sigmoid'] });
    train = (await loadExamples(opened, join(root, 'public/demo/preferences/train.jsonl'), dpo, {}, quiet)).examples;
    test = (await loadExamples(opened, join(root, 'public/demo/preferences/test.jsonl'), dpo, {}, quiet)).examples;
    const m = await load(opened);
    refTrain = await computeReferenceLogps(e, m.dims, m.params, train, { batchSize: 16 });
    refTest = await computeReferenceLogps(e, m.dims, m.params, test, { batchSize: 16 });
    prompts = test.slice(0, 16).map((x) => [...x.promptIds]);
    styleBefore = (await goodStyleShare(m, prompts)).share;
    m.dispose();
  }, 600_000);

  for (const preset of ['dpo', 'wpo-hb', 'simpo'] as const) {
    it(`${preset}: held-out reward accuracy from chance to ≥ 90 %, and greedy answers in the preferred style`, async () => {
      const flags = { ...presetFlags(preset, 1_050_752).flags, max_steps: 16 };
      delete (flags as Record<string, unknown>).num_train_epochs;
      const loss = lossConfigFromFlags(flags);
      const opts: TrainOptions = { ...trainOptionsFromFlags(flags), loss };
      const m = await load(opened);
      const withRef = preset !== 'simpo';
      const trainer = new Trainer(e, m.dims, m.params, train, withRef ? refTrain : null, opts);
      const before = await trainer.evaluate(test, withRef ? refTest : null, 25);
      const records: StepRecord[] = [];
      while (!trainer.done) records.push(await trainer.trainStep());
      const after = await trainer.evaluate(test, withRef ? refTest : null, 25);
      const style = await goodStyleShare(m, prompts);
      trainer.dispose();
      m.dispose();
      const curve = records.map((r) => r.loss.toFixed(3)).join(' ');
      // With the reference equal to the policy every reward is 0, so TRL's strict accuracy is 0.
      if (withRef) expect(before['rewards/accuracies'], 'before training').toBeLessThanOrEqual(0.6);
      expect(after['rewards/accuracies'], `held-out accuracy after ${records.length} steps (loss curve ${curve})`).toBeGreaterThanOrEqual(0.9);
      expect(after.loss, 'held-out loss').toBeLessThan(before.loss);
      expect(records.every((r) => Number.isFinite(r.loss) && !r.skipped)).toBe(true);
      expect(style.share, `greedy answers after training (before: ${styleBefore}): ${style.answers.join(' | ')}`).toBeGreaterThanOrEqual(0.8);
      expect(style.share).toBeGreaterThan(styleBefore);
    }, 900_000);
  }
});

describe('determinism and the non-finite guard (tiny checkpoint)', () => {
  let opened: OpenedModel;
  let examples: TrainExample[];
  const base: Omit<TrainOptions, 'loss'> = { ...TRAIN_DEFAULTS, learningRate: 1e-3, batchSize: 2, gradientAccumulationSteps: 2, maxSteps: 3, lrSchedulerType: 'cosine', warmupSteps: 1 };
  const ids = (seed: number, n: number): number[] => Array.from({ length: n }, (_, i) => 3 + ((seed * 7 + i * 13) % 40));

  beforeAll(async () => {
    opened = await openModelFolder(tinyDir, quiet);
    examples = Array.from({ length: 7 }, (_, i) => ({ row: i, promptIds: [2, ...ids(i, 2 + (i % 3))], chosenIds: [...ids(i + 20, 1 + (i % 4)), 1], rejectedIds: [...ids(i + 40, 2 + (i % 2)), 1] }));
  });

  async function run(seed: number, lossFlags: Record<string, unknown>): Promise<string> {
    const m = await load(opened);
    const loss = lossConfigFromFlags(lossFlags);
    const ref = await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: 4, ldAlpha: loss.ldAlpha });
    const t = new Trainer(e, m.dims, m.params, examples, ref, { ...base, seed, loss });
    const recs: StepRecord[] = [];
    while (!t.done) recs.push(await t.trainStep());
    t.dispose();
    m.dispose();
    return JSON.stringify(recs);
  }

  it('two runs with one seed give bitwise-equal metrics (and another seed does not)', async () => {
    for (const flags of [{ loss_type: ['sigmoid'], use_weighting: true }, { loss_type: ['ipo', 'sft'], loss_weights: [1, 0.5], ld_alpha: 0.5 }]) {
      const a = await run(7, flags);
      const b = await run(7, flags);
      expect(a === b, `runs with seed 7 differ (${JSON.stringify(flags)})`).toBe(true);
      expect(await run(8, flags)).not.toBe(a);
    }
  });

  it('a NaN produced mid-run skips the step, names the row and the tensors, and several in a row stop the run', async () => {
    const m = await load(opened);
    const loss = lossConfigFromFlags({ loss_type: ['sigmoid'] });
    const ref = await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: 4 });
    const t = new Trainer(e, m.dims, m.params, examples, ref, { ...base, batchSize: 7, gradientAccumulationSteps: 1, maxSteps: 10, loss });
    const first = await t.trainStep();
    expect(first.skipped).toBeUndefined();
    ref[2 * 4] = NaN; // the cached reference of dataset row 4 goes bad mid-run
    const w = t.namedParams.find(([n]) => n.endsWith('mlp.down_proj.weight'))![1];
    const wBefore = await w.read();
    const second = await t.trainStep();
    expect(Buffer.from((await w.read()).buffer).equals(Buffer.from(wBefore.buffer)), 'a skipped step leaves the weights bit for bit').toBe(true);
    expect(second.skipped, 'the guard names the row and the tensors').toMatch(/dataset row 4\b.*non-finite gradient in model\./);
    expect(second.nonfinite_steps).toBe(1);
    const p4 = second.pairs.find((p) => p.row === 4)!;
    expect(p4.nonfinite).toBe(true);
    expect(second.pairs.filter((p) => p.nonfinite).length).toBe(1);
    expect((await t.trainStep()).skipped).toBeDefined();
    await expect(t.trainStep()).rejects.toThrow(NonFiniteError); // the third in a row stops the run
    t.dispose();
    m.dispose();
  });
});
