// LoRA settings without a GPU: PEFT's scaling, the TRL flags (--use_peft, --lora_*) with their
// defaults and 'all-linear', and validation messages that name the flag (and the closest module on a
// typo). GPU behaviour (factors, gradients, dropout, the reference): e2e/gpu/lora.test.ts.
import { describe, expect, it } from 'vitest';
import { loraConfigFromFlags, normalizeTrainConfig } from '../train/config.ts';
import { LORA_DEFAULTS, LORA_TARGETS, loraScale, peftKey, targetFeatures, validateLoraConfig, type LoraConfig } from './lora.ts';

describe('LoRA settings', () => {
  it('scale alpha / r, or alpha / √r with rsLoRA (PEFT)', () => {
    expect(loraScale({ r: 16, alpha: 32, useRslora: false })).toBe(2);
    expect(loraScale({ r: 16, alpha: 32, useRslora: true })).toBe(8);
    expect(loraScale({ r: 8, alpha: 8, useRslora: true })).toBeCloseTo(8 / Math.sqrt(8), 15);
  });

  it('the in/out features of each target (W is (out, in)) and PEFT keys', () => {
    const d = { C: 2304, FF: 9216, NH: 8, KVH: 4, HD: 256 }; // gemma-2-2b
    expect(LORA_TARGETS.map((t) => targetFeatures(d, t))).toEqual([
      { inF: 2304, outF: 2048 },
      { inF: 2304, outF: 1024 },
      { inF: 2304, outF: 1024 },
      { inF: 2048, outF: 2304 },
      { inF: 2304, outF: 9216 },
      { inF: 2304, outF: 9216 },
      { inF: 9216, outF: 2304 },
    ]);
    expect(peftKey(3, 'down_proj', 'B')).toBe('base_model.model.model.layers.3.mlp.down_proj.lora_B.weight');
  });

  it('--use_peft alone gives TRL ModelConfig defaults on all seven modules; all-linear is all of them', () => {
    expect(loraConfigFromFlags({})).toBeNull();
    expect(loraConfigFromFlags({ use_peft: true })).toEqual(LORA_DEFAULTS);
    expect(loraConfigFromFlags({ use_peft: true, lora_target_modules: ['all-linear'] })?.targets).toEqual([...LORA_TARGETS]);
    const c = loraConfigFromFlags({ use_peft: true, lora_r: 4, lora_alpha: 8, lora_dropout: 0, lora_target_modules: ['v_proj', 'q_proj', 'q_proj'], use_rslora: true });
    expect(c).toEqual({ r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'], useRslora: true });
  });

  it('the worker settings type the LoRA flags as the CLI does', () => {
    const s = normalizeTrainConfig({ use_peft: 'true', lora_r: '8', lora_alpha: 16, lora_dropout: '0.1', lora_target_modules: 'q_proj, v_proj', use_rslora: false });
    expect(s).toEqual({ use_peft: true, lora_r: 8, lora_alpha: 16, lora_dropout: 0.1, lora_target_modules: ['q_proj', 'v_proj'], use_rslora: false });
    expect(loraConfigFromFlags(s)).toEqual({ r: 8, alpha: 16, dropout: 0.1, targets: ['q_proj', 'v_proj'], useRslora: false });
    expect(() => normalizeTrainConfig({ lora_r: 2.5 })).toThrow(/lora_r.*an integer, got 2\.5/);
  });

  it.each([
    [{ lora_r: 0 }, /^--lora_r: must be an integer >= 1 \(the LoRA rank\), got 0/],
    [{ lora_r: 2.5 }, /^--lora_r: must be an integer >= 1.*got 2\.5/],
    [{ lora_alpha: 0 }, /^--lora_alpha: must be a number > 0, got 0/],
    [{ lora_alpha: Number.NaN }, /^--lora_alpha: must be a number > 0, got NaN/],
    [{ lora_dropout: 1 }, /^--lora_dropout: must be in \[0, 1\), got 1/],
    [{ lora_dropout: -0.1 }, /^--lora_dropout: must be in \[0, 1\), got -0\.1/],
    [{ lora_target_modules: ['q_prj'] }, /^--lora_target_modules: 'q_prj' is not a linear layer of Gemma-2; did you mean q_proj\?\n---> HINT: use some of q_proj, .*all-linear/],
    [{ lora_target_modules: ['vproj'] }, /did you mean v_proj\?/],
    [{ lora_target_modules: ['gate'] }, /did you mean gate_proj\?/],
    [{ lora_target_modules: ['DOWN_PROJ'] }, /did you mean down_proj\?/],
    [{ lora_target_modules: ['lm_head'] }, /'lm_head' is not a linear layer of Gemma-2/],
    [{ lora_target_modules: ['q_proj', 'all-linear'] }, /'all-linear' is not a linear layer of Gemma-2 \(all-linear stands alone\)/],
  ])('refuses %j naming the flag', (flags, message) => {
    expect(() => loraConfigFromFlags({ use_peft: true, ...flags })).toThrow(message);
  });

  it('a LoRA flag without --use_peft is an error, not silently ignored', () => {
    expect(() => loraConfigFromFlags({ lora_r: 8 })).toThrow(/^--lora_r: has no effect without --use_peft\n---> HINT: add --use_peft/);
    expect(() => loraConfigFromFlags({ use_rslora: true })).toThrow(/--use_rslora: has no effect without --use_peft/);
  });

  it('validateLoraConfig refuses an empty target list', () => {
    const c: LoraConfig = { ...LORA_DEFAULTS, targets: [] };
    expect(() => validateLoraConfig(c)).toThrow(/--lora_target_modules: names no module/);
  });
});
