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
      const flags = presetFlags(preset, 1_050_752).flags; // the whole preset run, as `--preset` gives it
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
      // and the model is not broken on the way: the chosen answers stay likely (a collapsed run
      // drives them from −0.7 to −100 nats while its reward accuracy still reads 100 %)
      expect(after['logps/chosen'], 'held-out chosen log-probs stay near the base model’s').toBeGreaterThan(before['logps/chosen'] - 3);
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

describe('whole-model gradients of each loss family vs finite differences (tiny checkpoint, f32)', () => {
  // d loss / dθ from the tape's backward through the model, seqStats and prefLoss, against central
  // differences of the same GPU loss at a few parameter entries in different tensors. f32 with
  // ε = 1e-2: the differences carry ~1e-5 of rounding noise, far below a wrong derivative.
  const families: Record<string, Record<string, unknown>> = {
    'sigmoid + label smoothing': { loss_type: ['sigmoid'], label_smoothing: 0.1, beta: 0.5 },
    'WPO (weights detached)': { loss_type: ['sigmoid'], use_weighting: true, wpo_no_clamp: true, beta: 0.5 },
    'ipo (length-normalised)': { loss_type: ['ipo'], beta: 0.5 },
    'simpo + cpo_alpha': { loss_type: ['simpo'], beta: 2, simpo_gamma: 0.5, cpo_alpha: 0.3 },
    'sppo (soft targets)': { loss_type: ['sppo'], beta: 2 },
    'hinge + sft, LD-DPO': { loss_type: ['hinge', 'sft'], loss_weights: [1, 0.5], beta: 0.2, ld_alpha: 0.5 },
  };
  const pairs: TrainExample[] = [
    { row: 0, promptIds: [2, 5, 9, 11], chosenIds: [7, 8, 1], rejectedIds: [12, 13, 14, 15, 1], targets: [0.8, 0.3] },
    { row: 1, promptIds: [2, 20], chosenIds: [30, 31, 32, 1], rejectedIds: [36, 1], targets: [0.6, 0.45] },
  ];
  const probes: [string, number][] = [
    ['model.embed_tokens.weight', 1 * 16 + 5], // <eos>, in every completion
    ['model.layers.0.self_attn.q_proj.weight', 5],
    ['model.layers.1.mlp.down_proj.weight', 11],
    ['model.layers.2.post_feedforward_layernorm.weight', 2],
    ['model.norm.weight', 9],
  ];

  /** Pairs whose answers are the model's own greedy continuations (WPO weights of order 1, not 1e-20). */
  async function onPolicy(m: LoadedModel): Promise<TrainExample[]> {
    const r = await generate(e, m.dims, m.params, pairs.map((p) => [...p.promptIds]), { maxNewTokens: 4, temperature: 0, stopIds: [] });
    return pairs.map((p, i) => ({ ...p, chosenIds: r.tokens[i], rejectedIds: [...r.tokens[i].slice(0, 2), (r.tokens[i][2] + 1) % 40] }));
  }

  for (const [name, flags] of Object.entries(families)) {
    it(name, async () => {
      const opened = await openModelFolder(tinyDir, quiet);
      const m = await load(opened);
      const cfg = lossConfigFromFlags(flags);
      const { packPairs, sequenceForward } = await import('../../src/engine/train/sequences.ts');
      const { prefLoss } = await import('../../src/engine/ops/pref_loss.ts');
      const { namedParams } = await import('../../src/engine/model/gemma2.ts');
      // reference sums near the policy's (|loss| stays O(1), so f32 differences resolve it)
      const ref = (await computeReferenceLogps(e, m.dims, m.params, cfg.useWeighting ? await onPolicy(m) : pairs, { ldAlpha: cfg.ldAlpha })).map((x, i) => x + [0.3, -0.2, -0.4, 0.1][i]);
      const packed = packPairs(cfg.useWeighting ? await onPolicy(m) : pairs, { ldAlpha: cfg.ldAlpha });
      const refT = e.tensor(Float32Array.from([ref[0], ref[2], ref[1], ref[3]]), [4]);
      const targets = e.tensor(packed.targets, [2, 2]);
      const loss = (c = cfg): ReturnType<typeof prefLoss> => {
        const { stats } = sequenceForward(e, m.dims, m.params, packed);
        return prefLoss(stats, c.lossTypes.includes('simpo') ? null : refT, targets, c);
      };
      const { PAIR_FIELD, PAIR_FIELDS } = await import('../../src/engine/ops/pref_loss.ts');
      const pairValues = async (c = cfg): Promise<Float32Array> => {
        const r = e.noGrad(() => e.tidy(() => loss(c).pairs));
        const v = await r.readF32();
        r.dispose();
        return v;
      };
      // WPO's weights take no gradient (TRL, the authors): differentiate mean_b(w_b(θ₀)·ℓ_b(θ)) with
      // the weights of the unperturbed model held fixed.
      const w0 = await pairValues();
      const plain = { ...cfg, useWeighting: false };
      const value = async (): Promise<number> => {
        const v = await pairValues(cfg.useWeighting ? plain : cfg);
        let sum = 0;
        for (let b = 0; b < 2; b++) sum += (cfg.useWeighting ? w0[b * PAIR_FIELDS + PAIR_FIELD.weight] : 1) * v[b * PAIR_FIELDS + PAIR_FIELD.loss];
        return sum / 2;
      };
      const named = new Map(namedParams(m.params));
      const got: [string, number, number][] = [];
      const out = e.tidy(() => loss().loss);
      e.backward(out);
      out.dispose();
      for (const [tname, idx] of probes) {
        const t = named.get(tname)!;
        const g = (await t.grad!.readF32())[idx];
        const w = await t.readF32();
        const eps = 1e-2;
        const orig = w[idx];
        w[idx] = orig + eps;
        t.write(w);
        const up = await value();
        w[idx] = orig - eps;
        t.write(w);
        const down = await value();
        w[idx] = orig;
        t.write(w);
        const fd = (up - down) / (2 * eps);
        got.push([`${tname}[${idx}]`, g, fd]);
      }
      // relative to each value, with a floor at 1e-3 of the largest (f32 noise of the differences)
      const scale = Math.max(...got.map(([, , fd]) => Math.abs(fd)));
      expect(scale, `${name}: the probes must see real gradients`).toBeGreaterThan(1e-3);
      for (const [at, g, fd] of got) expect(Math.abs(g - fd), `${name}: d loss / d ${at} = ${g}, finite difference ${fd}`).toBeLessThanOrEqual(2e-2 * Math.abs(fd) + 1e-3 * scale);
      [refT, targets].forEach((x) => x.dispose());
      m.dispose();
    }, 120_000);
  }
});
