// The planner sizes real Gemma-2 checkpoints from their config alone (spec §1.3 numbers).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGemma2Config } from './config.ts';
import { activationFloatsPerTokenLayer, planMemory } from './planner.ts';

const cfgOf = (name: string) => parseGemma2Config(JSON.parse(readFileSync(join(import.meta.dirname, '../../../e2e/fixtures/configs', `${name}.config.json`), 'utf8')), name);

describe('planMemory', () => {
  it('gemma-2-2b: parameters, f32/16-bit weights, full fine-tuning state (spec §1.3)', () => {
    const cfg = cfgOf('gemma-2-2b-it');
    const logps = planMemory(cfg, { mode: 'logps', B: 1, T: 1024 });
    expect(logps.parameters).toBe(2_614_341_888);
    expect(logps.weights).toBe(10_457_367_552); // f32 on the GPU
    expect(planMemory(cfg, { mode: 'logps', B: 1, T: 1024, weights16: true }).weights).toBe(5_228_683_776);
    expect(logps.gradients + logps.optimizer).toBe(0);
    // The embedding is the largest tensor: 256000 × 2304 f32 = 2,359,296,000 B (> 2 GiB binding limits).
    expect(logps.largestTensor).toEqual({ name: 'model.embed_tokens.weight', bytes: 2_359_296_000 });
    const full = planMemory(cfg, { mode: 'full-finetune', B: 1, T: 1024 });
    // weights + grads + 2 moments = 16 B/param ≈ 41.8 GB (spec §1.3), plus activations.
    expect(full.weights + full.gradients + full.optimizer).toBe(16 * 2_614_341_888);
    // Activations: 26 layers × 1024 tokens × (8C + 3·NH·HD + 3·KVH·HD + 3·FF + NH + 4) floats.
    expect(activationFloatsPerTokenLayer(cfg)).toBe(8 * 2304 + 3 * 2048 + 3 * 1024 + 3 * 9216 + 8 + 4);
    expect(full.activations).toBe(1024 * 26 * activationFloatsPerTokenLayer(cfg) * 4 + 1024 * 2304 * 4 * 2);
    expect(full.total).toBe(full.weights + full.gradients + full.optimizer + full.activations + full.logprobs);
  });

  it('gemma-2-9b-it (legacy and new-style config) sizes the same', () => {
    for (const name of ['gemma-2-9b-it', 'gemma-2-9b-it.v5']) {
      const p = planMemory(cfgOf(name), { mode: 'logps', B: 2, T: 512, weights16: true });
      expect(p.parameters).toBe(9_241_705_984);
      expect(p.weights).toBe(18_483_411_968);
      expect(p.largestTensor.bytes).toBe(1_835_008_000); // embedding in bf16
    }
  });

  it('activations scale with batch × tokens, and logps mode holds one layer', () => {
    const cfg = cfgOf('gemma-2-2b');
    const a = planMemory(cfg, { mode: 'logps', B: 1, T: 256 }).activations;
    const b = planMemory(cfg, { mode: 'logps', B: 2, T: 256 }).activations;
    expect(b).toBe(2 * a);
    const f = planMemory(cfg, { mode: 'full-finetune', B: 1, T: 256 }).activations;
    expect(f).toBeGreaterThan(20 * a);
  });
});
