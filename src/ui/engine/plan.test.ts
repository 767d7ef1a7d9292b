// The Train screen's memory estimate on real Gemma-2 configs: the categories add up to the
// planner's live peak, LoRA on a 16-bit base holds far less than full fine-tuning, and a run over
// the adapter's per-buffer limit is refused with what to change, in the screen's setting names.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGemma2Config } from '../../engine/model/config.ts';
import { planMemory } from '../../engine/model/planner.ts';
import { planView } from './plan.ts';

const cfgOf = (name: string) => parseGemma2Config(JSON.parse(readFileSync(join(import.meta.dirname, '../../../e2e/fixtures/configs', `${name}.config.json`), 'utf8')), name);
const GIB = 2 ** 30;
const LIMITS = { maxBufferSize: 4 * GIB, maxStorageBufferBindingSize: 2 * GIB - 4 };
const base = { batch: 1, tokens: 512, lora: null, stored16: true, gradientCheckpointing: false, optim: 'adamw_torch' as const, limits: LIMITS, isSoftware: false };

describe('planView', () => {
  it('the categories are the planner figures and add up to its live peak', () => {
    const cfg = cfgOf('gemma-2-2b-it');
    const v = planView(cfg, 'gemma-2-2b-it', base);
    const p = planMemory(cfg, { mode: 'full-finetune', B: 2, T: 512, weights16: false, gradientCheckpointing: false, optim: 'adamw_torch' });
    expect(v.sequences).toBe(2);
    expect(v.parts.reduce((a, x) => a + x.bytes, 0)).toBe(p.live);
    expect([v.live, v.total, v.trainable]).toEqual([p.live, p.total, p.trainableParameters]);
    expect(v.parts.map((x) => x.name)).toEqual(expect.arrayContaining(['trainable weights', 'gradients', 'optimizer state', 'activations']));
    expect(v.note).toMatch(/^A page cannot see how much memory the GPU has: if it has less than [\d.]+ GB free/);
  });

  it('LoRA on the 16-bit base: weights and optimizer state a fraction of full fine-tuning', () => {
    const cfg = cfgOf('gemma-2-2b-it');
    const state = (v: ReturnType<typeof planView>): number => v.parts.filter((x) => /weights|gradients|optimizer/.test(x.name)).reduce((a, x) => a + x.bytes, 0);
    const full = planView(cfg, 'x', base);
    const lora = planView(cfg, 'x', { ...base, lora: { r: 16 } });
    expect(lora.mode).toBe('lora');
    expect(lora.parts.map((x) => x.name)).toContain('frozen weights');
    expect(state(lora)).toBeLessThan(state(full) / 5); // 2 bytes a frozen parameter vs 16 trained
    expect(lora.total).toBeLessThan(full.total);
    expect(lora.trainable).toBeLessThan(full.trainable / 50);
  });

  it('a run over the per-buffer limit is refused, naming what to change without CLI dashes', () => {
    const cfg = cfgOf('gemma-2-2b-it');
    const small = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    const v = planView(cfg, 'x', { ...base, batch: 8, tokens: 1024, limits: small });
    expect(v.refusal).toMatch(/over this adapter's 128\.0 MiB per buffer/);
    expect(v.refusal).toMatch(/Change, in this order until it fits: .*per_device_train_batch_size \d+/);
    expect(v.refusal).not.toMatch(/--/);
    expect(planView(cfg, 'x', { ...base, tokens: 64, lora: { r: 8 } }).refusal).toBeNull();
  });
});
