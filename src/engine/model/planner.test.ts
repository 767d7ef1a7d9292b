// The planner sizes real Gemma-2 checkpoints from their config alone (spec §1.3 numbers), counts
// what the tape holds the way blockForward and linear.ts record it, and says what to change when a
// run does not fit. Its agreement with the pool's measured peak is e2e/gpu/planner.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultChunkSize, defaultSliceSize } from '../ops/logprobs.ts';
import { sizeClass } from '../pool.ts';
import { parseGemma2Config } from './config.ts';
import { LORA_TARGETS, targetFeatures } from './lora.ts';
import { activationFloatsPerTokenLayer, CATEGORIES, fits, headSlices, planMemory, type PlanOptions } from './planner.ts';

const cfgOf = (name: string) => parseGemma2Config(JSON.parse(readFileSync(join(import.meta.dirname, '../../../e2e/fixtures/configs', `${name}.config.json`), 'utf8')), name);
const GiB = 2 ** 30;
const P2B = 2_614_341_888;
/** gemma-2-2b's norm weights: 4 per layer and the final one, C = 2304 each (stay f32 when the base is 16-bit). */
const NORMS_2B = (26 * 4 + 1) * 2304;

describe('planMemory', () => {
  const cfg = cfgOf('gemma-2-2b-it');

  it('gemma-2-2b: parameters, f32 and 16-bit weights, the largest tensors (spec §1.3)', () => {
    const logps = planMemory(cfg, { mode: 'logps', B: 1, T: 1024 });
    expect(logps.parameters).toBe(P2B);
    expect(logps.frozenWeights).toBe(10_457_367_552); // f32 on the GPU
    expect(logps.trainableWeights + logps.gradients + logps.optimizer).toBe(0);
    // 16-bit: 2 bytes per matrix parameter, norms widened to f32 (load.ts FROZEN_16BIT)
    expect(planMemory(cfg, { mode: 'logps', B: 1, T: 1024, weights16: true }).frozenWeights).toBe(2 * P2B + 2 * NORMS_2B);
    // The embedding is the largest tensor: 256000 × 2304 f32 = 2,359,296,000 B (over 2 GiB binding limits: split by rows).
    expect(logps.largestTensor).toEqual({ name: 'model.embed_tokens.weight', bytes: 2_359_296_000 });
    expect(logps.largestMatrix).toEqual({ name: 'model.layers.0.mlp.gate_proj.weight', bytes: 9216 * 2304 * 4 });
  });

  it('full fine-tuning: f32 weights, AdamW m and v (RMSProp: one), every gradient; 16 B/param at least (spec §1.3)', () => {
    const full = planMemory(cfg, { mode: 'full-finetune', B: 2, T: 1024 });
    expect(full.trainableWeights).toBe(4 * P2B);
    expect(full.optimizer).toBe(8 * P2B);
    expect(full.trainableParameters).toBe(P2B);
    expect(full.total).toBeGreaterThan(16 * P2B); // weights + grads + 2 moments ≈ 41.8 GB, plus activations
    expect(planMemory(cfg, { mode: 'full-finetune', B: 2, T: 1024, optim: 'rmsprop' }).optimizer).toBe(4 * P2B);
    expect(CATEGORIES.reduce((s, c) => s + full[c], 0)).toBe(full.live);
    expect(full.total).toBeGreaterThanOrEqual(full.live);
  });

  it('saved activations: blockForward\'s recorded tensors per token and layer, plus the embedding output and the LM head\'s inputs', () => {
    expect(activationFloatsPerTokenLayer(cfg)).toBe(8 * 2304 + 3 * 2048 + 3 * 1024 + 3 * 9216 + 8 + 4);
    for (const [B, T] of [[2, 1024], [4, 300]]) {
      const N = B * T;
      const full = planMemory(cfg, { mode: 'full-finetune', B, T });
      // embedding output C, L layers, final norm C + rstd, logp/lse/lsp2/saved lse/zmean/correct
      expect(full.savedActivations).toBe(4 * N * (2304 + 26 * activationFloatsPerTokenLayer(cfg) + 2304 + 1 + 6));
    }
  });

  it('LoRA: each targeted projection adds its dropout output, x·Aᵀ and its scaled copy, the branch and the sum', () => {
    const N = 2 * 512;
    const base = planMemory(cfg, { mode: 'full-finetune', B: 2, T: 512 });
    for (const [targets, dropout] of [[[...LORA_TARGETS], 0.05], [['q_proj', 'v_proj'], 0.05], [['down_proj'], 0]] as const) {
      const lora = planMemory(cfg, { mode: 'lora', B: 2, T: 512, weights16: true, lora: { r: 8, targets: [...targets], dropout } });
      let extra = 0;
      let params = 0;
      for (const t of targets) {
        const { inF, outF } = targetFeatures(cfg, t);
        extra += (dropout > 0 ? inF : 0) + 2 * 8 + 2 * outF;
        params += 8 * (inF + outF);
      }
      expect(lora.savedActivations - base.savedActivations).toBe(4 * N * 26 * extra);
      expect(lora.trainableParameters).toBe(26 * params);
      expect(lora.trainableWeights).toBe(4 * 26 * params);
      expect(lora.optimizer).toBe(8 * 26 * params);
    }
    // PEFT's count for r 16 on every projection of gemma-2-2b
    expect(planMemory(cfg, { mode: 'lora', B: 2, T: 1024, lora: { r: 16 } }).trainableParameters).toBe(20_766_720);
  });

  it('gemma-2-2b-it, LoRA r 16 on q/k/v/o/gate/up/down, 1 pair, T 1024, bf16 base, gradient checkpointing: at most 8 GiB (the README figure)', () => {
    const opts: PlanOptions = { mode: 'lora', B: 2, T: 1024, weights16: true, lora: { r: 16, targets: [...LORA_TARGETS], dropout: 0.05 } };
    const ckpt = planMemory(cfg, { ...opts, gradientCheckpointing: true });
    const plain = planMemory(cfg, opts);
    expect(ckpt.total).toBeLessThanOrEqual(8 * GiB);
    expect(plain.total).toBeGreaterThan(8 * GiB); // the LoRA branches' activations: checkpointing is what makes it fit
    expect(ckpt.frozenWeights).toBe(2 * P2B + 2 * NORMS_2B);
    expect(ckpt.gradients).toBeLessThanOrEqual(4 * 20_766_720);
    // with checkpointing the tape keeps every layer's input (27 × B·T·C) plus one layer re-run
    expect(ckpt.activations).toBeGreaterThan(27 * 2048 * 2304 * 4);
    expect(ckpt.activations).toBeLessThan(plain.activations / 10);
    // README.md "Memory" table (rounded to 0.01 GiB there)
    expect((ckpt.total / GiB).toFixed(2)).toBe('7.28');
  });

  it('total = Σ over size classes of the most tensors of that class live in any phase (what the pool keeps)', () => {
    const p = planMemory(cfgOf('gemma-2-2b'), { mode: 'lora', B: 2, T: 100, weights16: true, gradientCheckpointing: true });
    expect(p.total).toBeGreaterThanOrEqual(p.live);
    expect(p.total).toBeLessThan(p.live * 1.25);
    expect(sizeClass(p.largestActivation.bytes)).toBeLessThanOrEqual(1.125 * p.largestActivation.bytes);
  });

  it('the LM head\'s slices and chunk are ops/logprobs.ts\'s', () => {
    for (const V of [512, 2048, 256000, 1000]) {
      for (const N of [1, 90, 2048, 70000]) {
        const h = headSlices(V, N);
        expect(h.slices).toBe(Math.ceil(V / defaultSliceSize(V)));
        expect(h.chunk).toBe(defaultChunkSize(N, V));
      }
    }
  });

  it('logps mode holds one layer at a time; batch × tokens scale the activations', () => {
    const c = cfgOf('gemma-2-2b');
    const a = planMemory(c, { mode: 'logps', B: 1, T: 256 });
    const b = planMemory(c, { mode: 'logps', B: 2, T: 256 });
    expect(b.activations - 2 * a.activations).toBe(-4 * 256); // everything but the [T] RoPE positions doubles
    expect(planMemory(c, { mode: 'full-finetune', B: 1, T: 256 }).savedActivations).toBeGreaterThan(20 * a.activations);
  });

  it('gemma-2-9b-it (legacy and new-style config) sizes the same', () => {
    for (const name of ['gemma-2-9b-it', 'gemma-2-9b-it.v5']) {
      const p = planMemory(cfgOf(name), { mode: 'logps', B: 2, T: 512, weights16: true });
      expect(p.parameters).toBe(9_241_705_984);
      expect(p.largestTensor.bytes).toBe(1_835_008_000); // embedding in bf16
    }
  });
});

describe('fits', () => {
  const cfg = cfgOf('gemma-2-2b-it');
  const limits = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB - 4 };

  it('full fine-tuning of gemma-2-2b in 8 GiB: LoRA on the 16-bit base, then gradient checkpointing, with the totals', () => {
    const r = fits(planMemory(cfg, { mode: 'full-finetune', B: 2, T: 1024 }), { ...limits, memoryBytes: 8 * GiB });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/needs about 51\.\d\d GiB .* more than the 8\.00 GiB available/);
    expect(r.advice).toEqual([expect.stringMatching(/^LoRA \(--use_peft.*: 32\.\d\d GiB$/), '--gradient_checkpointing: 7.28 GiB']);
    expect(fits(planMemory(cfg, { mode: 'lora', B: 2, T: 1024, weights16: true, gradientCheckpointing: true }), { ...limits, memoryBytes: 8 * GiB })).toEqual({ ok: true, problems: [], advice: [] });
  });

  it('shorter sequences, then smaller batches, until it fits; a base that cannot fit is said so', () => {
    const r = fits(planMemory(cfg, { mode: 'lora', B: 8, T: 2048, weights16: true, gradientCheckpointing: true }), { ...limits, memoryBytes: 6 * GiB });
    expect(r.advice[0]).toMatch(/^--max_length 1024: \d+\.\d\d GiB$/);
    const last = r.advice.at(-1)!;
    const gibOf = (s: string): number => Number(/([\d.]+) GiB$/.exec(s)![1]);
    expect(gibOf(last)).toBeLessThanOrEqual(6);
    expect(r.advice.slice(0, -1).every((a) => gibOf(a) > 6)).toBe(true);
    const hopeless = fits(planMemory(cfg, { mode: 'lora', B: 2, T: 256, weights16: true, gradientCheckpointing: true }), { ...limits, memoryBytes: 3 * GiB });
    expect(hopeless.advice.at(-1)).toMatch(/even then it needs .* the weights alone take 4\.9\d GiB/);
  });

  it('a tensor over the binding limit: the matrix (LoRA halves it) or an activation (how many tokens fit)', () => {
    const small = { maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 32 * 2 ** 20 };
    const full = fits(planMemory(cfg, { mode: 'full-finetune', B: 2, T: 64 }), small);
    expect(full.problems[0]).toBe("model.layers.0.mlp.gate_proj.weight takes 81.0 MiB, over this adapter's 32.0 MiB per buffer (maxStorageBufferBindingSize / maxBufferSize), and cannot be split");
    expect(full.advice[0]).toMatch(/LoRA \(--use_peft\) on a bf16\/f16 checkpoint/);
    const act = fits(planMemory(cfg, { mode: 'lora', B: 16, T: 1024, weights16: true }), { maxBufferSize: 2 * GiB, maxStorageBufferBindingSize: 256 * 2 ** 20 });
    // [16·1024, 9216] f32 = 576 MiB; 256 MiB holds 7281 tokens of it
    expect(act.problems[0]).toBe("gate_proj.base of 16 sequences × 1024 tokens takes 576.0 MiB, over this adapter's 256.0 MiB per buffer");
    expect(act.advice[0]).toBe('at most 7281 tokens per micro-batch: --per_device_train_batch_size 3 (raise --gradient_accumulation_steps to keep the pairs per step) or --max_length 455');
  });
});
