// LoRA on the whole model (tiny checkpoint): a fresh adapter is PEFT's init and changes nothing;
// the reference is the base with the adapter off, bit for bit; only A and B get gradients, and they
// match central finite differences of the GPU loss (with and without dropout); dropout touches the
// LoRA branch only, is reproducible from its seed and off outside training steps; same-seed LoRA
// runs are bitwise equal. One step against float64 PyTorch: e2e/step.test.ts (fixtures/step/lora).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/args.ts';
import { lossConfigFromFlags } from '../../src/cli/flags.ts';
import { openModelFolder, uploadModel, type LoadedModel, type OpenedModel } from '../../src/cli/model.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { namedParams } from '../../src/engine/model/gemma2.ts';
import { adapterParams, createAdapter, disposeAdapter, LORA_DEFAULTS, targetFeatures, withAdapterOff, type LoraAdapter, type LoraConfig } from '../../src/engine/model/lora.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { PAIR_FIELD, PAIR_FIELDS, prefLoss } from '../../src/engine/ops/pref_loss.ts';
import { computeReferenceLogps } from '../../src/engine/train/ref_cache.ts';
import { packPairs, sequenceForward } from '../../src/engine/train/sequences.ts';
import { Trainer, TRAIN_DEFAULTS, type StepRecord, type TrainExample, type TrainOptions } from '../../src/engine/train/trainer.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { Rng } from '../../src/engine/util/rng.ts';

const root = join(import.meta.dirname, '..', '..');
const tinyDir = join(root, 'e2e', 'fixtures', 'checkpoints', 'tiny-l3-f32-2shard');
const quiet: CliIO = { stdout: () => {}, log: () => {} };
const SMALL: LoraConfig = { r: 4, alpha: 8, dropout: 0, targets: [...LORA_DEFAULTS.targets], useRslora: false };

let e: Engine;
let opened: OpenedModel;
beforeAll(async () => {
  e = await createNodeEngine();
  opened = await openModelFolder(tinyDir, quiet);
});
afterAll(() => e?.destroy());

const pairs: TrainExample[] = [
  { row: 0, promptIds: [2, 5, 9, 11], chosenIds: [7, 8, 1], rejectedIds: [12, 13, 14, 15, 1] },
  { row: 1, promptIds: [2, 20], chosenIds: [30, 31, 32, 1], rejectedIds: [36, 1] },
];
const ids = (seed: number, n: number): number[] => Array.from({ length: n }, (_, i) => 3 + ((seed * 7 + i * 13) % 40));
const examples: TrainExample[] = Array.from({ length: 7 }, (_, i) => ({ row: i, promptIds: [2, ...ids(i, 2 + (i % 3))], chosenIds: [...ids(i + 20, 1 + (i % 4)), 1], rejectedIds: [...ids(i + 40, 2 + (i % 2)), 1] }));

/** The tiny checkpoint, frozen (as --use_peft loads it). */
const loadFrozen = (): Promise<LoadedModel> => uploadModel(opened, quiet, { trainable: false, engine: e });

/** Overwrites every B (zero at creation) with U(−b, b) values, so A's gradient is not zero either. */
function randomizeB(ad: LoraAdapter, seed: number, b = 0.3): void {
  const rng = new Rng(seed);
  for (const layer of ad.layers) for (const f of Object.values(layer)) f!.B.write(Float32Array.from({ length: f!.B.size }, () => rng.uniform(-b, b)));
}

/** Per-token log-probs of `xs` as packed rows, no gradients. */
async function tokenLogps(m: LoadedModel, xs: TrainExample[]): Promise<Float32Array> {
  const { logp, lsp2, stats } = e.noGrad(() => sequenceForward(e, m.dims, m.params, packPairs(xs)));
  const v = await logp.readF32();
  [logp, lsp2, stats].forEach((t) => t.dispose());
  return v;
}

/** (f(t[idx] + ε) − f(t[idx] − ε)) / 2ε, with t restored after. f32 with ε = 1e-2: ~1e-5 of noise. */
async function centralDifference(t: Tensor, idx: number, f: () => Promise<number>, eps = 1e-2): Promise<number> {
  const w = await t.readF32();
  const at = async (x: number): Promise<number> => {
    t.write(w.map((v, i) => (i === idx ? x : v)));
    return f();
  };
  const diff = ((await at(w[idx] + eps)) - (await at(w[idx] - eps))) / (2 * eps);
  t.write(w);
  return diff;
}

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('LoRA on the tiny Gemma-2', () => {
  it('a fresh adapter is PEFT\'s init (A Kaiming-uniform, B zero, f32, trainable) and leaves the model unchanged bit for bit', async () => {
    const m = await loadFrozen();
    const base = await tokenLogps(m, pairs);
    const ad = createAdapter(e, m.dims, SMALL, 42);
    m.params.adapter = ad;
    expect(same(await tokenLogps(m, pairs), base), 'B = 0: the adapted model is the base').toBe(true);
    const named = adapterParams(ad);
    expect(named.length).toBe(2 * 7 * m.dims.L);
    for (const [name, t] of named) {
      expect(t.dtype).toBe('f32');
      expect(t.requiresGrad, name).toBe(true);
      const v = await t.readF32();
      if (name.includes('lora_B')) expect(v.every((x) => x === 0), `${name} starts at zero`).toBe(true);
      else {
        const inF = t.shape[1];
        const bound = 1 / Math.sqrt(inF);
        expect(v.every((x) => Math.abs(x) <= bound), `${name} within ±1/√${inF}`).toBe(true);
        expect(Math.max(...v.map(Math.abs)), `${name} fills its range`).toBeGreaterThan(0.7 * bound);
      }
    }
    const [, q0] = named[0];
    expect(q0.shape).toEqual([4, targetFeatures(m.dims, 'q_proj').inF]);
    const again = createAdapter(e, m.dims, SMALL, 42);
    const other = createAdapter(e, m.dims, SMALL, 43);
    expect(same(await adapterParams(again)[0][1].readF32(), await q0.readF32()), 'the same seed gives the same A').toBe(true);
    expect(same(await adapterParams(other)[0][1].readF32(), await q0.readF32()), 'another seed gives another A').toBe(false);
    [ad, again, other].forEach(disposeAdapter);
    m.dispose();
  });

  it('the reference is the base with the adapter off, bit for bit (enabled = false, computeReferenceLogps), and the adapter is restored, also after a throw', async () => {
    const m = await loadFrozen();
    const base = await tokenLogps(m, examples);
    const refBase = await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: 4 });
    const ad = createAdapter(e, m.dims, SMALL, 1);
    randomizeB(ad, 2);
    m.params.adapter = ad;
    const policy = await tokenLogps(m, examples);
    expect(same(policy, base), 'with B ≠ 0 the adapter changes the log-probs').toBe(false);
    const ref = await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: 4 });
    expect(same(ref, refBase), 'computeReferenceLogps with an adapter = the base model').toBe(true);
    expect(ad.enabled, 'the adapter is on again after the reference pass').toBe(true);
    ad.enabled = false;
    expect(same(await tokenLogps(m, examples), base), 'enabled = false is the base model').toBe(true);
    ad.enabled = true;
    await expect(withAdapterOff(ad, async () => {
      expect(ad.enabled).toBe(false);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(ad.enabled, 'restored after a throw').toBe(true);
    expect(same(await tokenLogps(m, examples), policy), 'and the policy is as before').toBe(true);
    disposeAdapter(ad);
    m.dispose();
  });

  it('a LoRA step gives gradients to A and B only (base .grad stays null), moves only them, and names them as PEFT', async () => {
    const m = await loadFrozen();
    const ad = createAdapter(e, m.dims, { ...SMALL, dropout: 0.1 }, 3);
    randomizeB(ad, 4);
    m.params.adapter = ad;
    const loss = lossConfigFromFlags({ loss_type: ['sigmoid'] });
    const ref = await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: 4 });
    const baseBefore = await Promise.all(namedParams(m.params).map(([, t]) => t.readF32()));
    const factorsBefore = await Promise.all(adapterParams(ad).map(([, t]) => t.readF32()));
    const t = new Trainer(e, m.dims, m.params, examples, ref, { ...TRAIN_DEFAULTS, loss, learningRate: 1e-2, weightDecay: 0.1, batchSize: 4, maxSteps: 1 });
    expect(t.namedParams.map(([n]) => n)).toEqual(adapterParams(ad).map(([n]) => n));
    expect(t.namedParams[0][0]).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    let checked = false;
    await t.trainStep({
      beforeUpdate: async () => {
        for (const [name, p] of namedParams(m.params)) {
          expect(p.requiresGrad, `${name} is frozen`).toBe(false);
          expect(p.grad, `${name} got a gradient`).toBeNull();
        }
        for (const [name, p] of adapterParams(ad)) {
          expect(p.grad, `${name} got no gradient`).not.toBeNull();
          expect((await p.grad!.readF32()).some((g) => g !== 0), `${name}'s gradient is zero`).toBe(true);
        }
        checked = true;
      },
    });
    expect(checked).toBe(true);
    const baseAfter = await Promise.all(namedParams(m.params).map(([, p]) => p.readF32()));
    baseAfter.forEach((v, i) => expect(same(v, baseBefore[i]), `${namedParams(m.params)[i][0]} moved`).toBe(true));
    const factorsAfter = await Promise.all(adapterParams(ad).map(([, p]) => p.readF32()));
    factorsAfter.forEach((v, i) => expect(same(v, factorsBefore[i]), `${adapterParams(ad)[i][0]} did not move`).toBe(false));
    t.dispose();
    disposeAdapter(ad);
    m.dispose();
  });

  it('dropout changes the LoRA branch only, is reproducible from its seed, and is off outside training steps', async () => {
    const m = await loadFrozen();
    const base = await tokenLogps(m, pairs);
    const ad = createAdapter(e, m.dims, { ...SMALL, dropout: 0.3 }, 5);
    m.params.adapter = ad;
    ad.dropoutSeed = 77;
    expect(same(await tokenLogps(m, pairs), base), 'B = 0: dropout on the branch leaves the output alone').toBe(true);
    randomizeB(ad, 6);
    const a1 = await tokenLogps(m, pairs);
    const a2 = await tokenLogps(m, pairs);
    ad.dropoutSeed = 78;
    const b = await tokenLogps(m, pairs);
    ad.dropoutSeed = null;
    const none = await tokenLogps(m, pairs);
    expect(same(a1, a2), 'the same seed gives the same forward bit for bit').toBe(true);
    expect(same(a1, b), 'another seed drops other elements').toBe(false);
    expect(same(a1, none), 'dropout 0.3 changes the forward').toBe(false);
    // the trainer's evaluation runs without dropout whatever seed was left behind
    const loss = lossConfigFromFlags({ loss_type: ['sigmoid'] });
    const ref = await computeReferenceLogps(e, m.dims, m.params, pairs);
    const t = new Trainer(e, m.dims, m.params, pairs, ref, { ...TRAIN_DEFAULTS, loss, batchSize: 2, maxSteps: 1 });
    const ev1 = await t.evaluate(pairs, ref);
    ad.dropoutSeed = 1234;
    const ev2 = await t.evaluate(pairs, ref);
    expect(ev2).toEqual(ev1);
    expect(ad.dropoutSeed).toBeNull();
    t.dispose();
    disposeAdapter(ad);
    m.dispose();
  });

  it('two LoRA runs with one seed give bitwise-equal metrics (dropout on); another seed does not', async () => {
    const run = async (seed: number, dropout: number): Promise<string> => {
      const m = await loadFrozen();
      m.params.adapter = createAdapter(e, m.dims, { ...SMALL, dropout }, seed);
      const loss = lossConfigFromFlags({ loss_type: ['sigmoid'] });
      const ref = await computeReferenceLogps(e, m.dims, m.params, examples, { batchSize: 4 });
      const opts: TrainOptions = { ...TRAIN_DEFAULTS, loss, seed, learningRate: 1e-2, batchSize: 2, gradientAccumulationSteps: 2, maxSteps: 3 };
      const t = new Trainer(e, m.dims, m.params, examples, ref, opts);
      const recs: StepRecord[] = [];
      while (!t.done) recs.push(await t.trainStep());
      t.dispose();
      disposeAdapter(m.params.adapter);
      m.dispose();
      return JSON.stringify(recs);
    };
    const a = await run(7, 0.2);
    expect(await run(7, 0.2), 'same seed').toBe(a);
    expect(await run(8, 0.2), 'another seed').not.toBe(a);
    expect(await run(7, 0), 'dropout off').not.toBe(a);
  }, 120_000);
});

describe('LoRA gradients of the whole model vs finite differences (tiny checkpoint, f32)', () => {
  // d loss / dA and d loss / dB through the model, seqStats and the DPO loss, against central
  // differences of the same GPU loss (as e2e/gpu/train.test.ts does for the base weights). B is
  // moved away from zero first: at B = 0, A's gradient is exactly 0 and would prove nothing.
  const probes: [number, 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj', 'A' | 'B', number][] = [
    [0, 'q_proj', 'A', 5],
    [0, 'v_proj', 'B', 3],
    [1, 'o_proj', 'A', 17],
    [1, 'down_proj', 'B', 9],
    [2, 'gate_proj', 'A', 30],
    [2, 'up_proj', 'B', 50],
    [2, 'k_proj', 'A', 2],
  ];
  for (const dropout of [0, 0.3]) {
    it(`sigmoid DPO, r = 4, rsLoRA, dropout ${dropout}${dropout ? ' (fixed seed: the mask is the same in every evaluation)' : ''}`, async () => {
      const m = await loadFrozen();
      const ad = createAdapter(e, m.dims, { ...SMALL, dropout, useRslora: true }, 11);
      randomizeB(ad, 12, 0.5);
      m.params.adapter = ad;
      ad.dropoutSeed = dropout ? 99 : null;
      for (const [, t] of namedParams(m.params)) t.requiresGrad = false;
      const cfg = lossConfigFromFlags({ loss_type: ['sigmoid'], beta: 0.5 });
      const ref = (await computeReferenceLogps(e, m.dims, m.params, pairs)).map((x, i) => x + [0.3, -0.2, -0.4, 0.1][i]);
      const packed = packPairs(pairs);
      const refT = e.tensor(Float32Array.from([ref[0], ref[2], ref[1], ref[3]]), [4]);
      const loss = (): ReturnType<typeof prefLoss> => prefLoss(sequenceForward(e, m.dims, m.params, packed).stats, refT, null, cfg);
      const value = async (): Promise<number> => {
        const r = e.noGrad(() => e.tidy(() => loss().pairs));
        const v = await r.readF32();
        r.dispose();
        return (v[PAIR_FIELD.loss] + v[PAIR_FIELDS + PAIR_FIELD.loss]) / 2;
      };
      const out = e.tidy(() => loss().loss);
      e.backward(out);
      out.dispose();
      const got: [string, number, number][] = [];
      for (const [layer, target, which, idx] of probes) {
        const t = ad.layers[layer][target]![which];
        const g = (await t.grad!.readF32())[idx];
        got.push([`layers.${layer}.${target}.lora_${which}[${idx}]`, g, await centralDifference(t, idx, value)]);
      }
      const scale = Math.max(...got.map(([, , fd]) => Math.abs(fd)));
      expect(scale, 'the probes must see real gradients').toBeGreaterThan(1e-3);
      for (const [at, g, fd] of got) expect(Math.abs(g - fd), `d loss / d ${at} = ${g}, finite difference ${fd}`).toBeLessThanOrEqual(2e-2 * Math.abs(fd) + 1e-3 * scale);
      refT.dispose();
      disposeAdapter(ad);
      m.dispose();
    }, 120_000);
  }
});
