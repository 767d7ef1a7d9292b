import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { defaultLossConfig, exoEpsilon, isLossType, LOSS_TYPES, lossWeightsOf, needsReference, needsTargets, validateLossConfig, type LossConfig } from './losses.ts';

const cfg = (over: Partial<LossConfig>): LossConfig => ({ ...defaultLossConfig(), ...over });

/** validateLossConfig throws an EngineError whose message names `field` and matches `msg`. */
function rejects(over: Partial<LossConfig>, field: string, msg: RegExp): void {
  let err: unknown;
  try {
    validateLossConfig(cfg(over));
  } catch (e) {
    err = e;
  }
  expect(err, `${JSON.stringify(over)} should be rejected`).toBeInstanceOf(EngineError);
  expect((err as EngineError).where).toBe(`loss config ${field}`);
  expect((err as EngineError).message).toMatch(msg);
}

describe('LossConfig', () => {
  it('defaults are TRL DPOConfig and they validate', () => {
    const d = defaultLossConfig();
    expect(d).toMatchObject({ lossTypes: ['sigmoid'], lossWeights: [1], beta: 0.1, labelSmoothing: 0, useWeighting: false, wpoClamp: true, fDivergenceType: 'reverse_kl', fAlphaDivergenceCoef: 0.5, discopopTau: 0.05, ldAlpha: null, cpoAlpha: 0, gpoClamp: 1000 });
    expect(validateLossConfig(d)).toBe(d);
  });

  it('lists every loss type once with a description; gpo is marked unverified', () => {
    const names = LOSS_TYPES.map((t) => t.type);
    expect(new Set(names).size).toBe(19);
    for (const t of LOSS_TYPES) expect(t.description.length).toBeGreaterThan(10);
    expect(LOSS_TYPES.find((t) => t.type === 'gpo')!.description).toMatch(/unverified \(spec §6\)/);
    expect(isLossType('sigmoid')).toBe(true);
    expect(isLossType('kto')).toBe(false);
    // every listed type validates on its own (with targets where needed)
    for (const t of names) expect(() => validateLossConfig(cfg({ lossTypes: [t] })), t).not.toThrow();
  });

  it('needsReference / needsTargets / exoEpsilon / lossWeightsOf', () => {
    expect(needsReference(cfg({}))).toBe(true);
    expect(needsReference(cfg({ referenceFree: true }))).toBe(false);
    expect(needsReference(cfg({ lossTypes: ['simpo'] }))).toBe(false);
    expect(needsReference(cfg({ lossTypes: ['simpo', 'sft'] }))).toBe(false);
    expect(needsReference(cfg({ lossTypes: ['sigmoid', 'sft'] }))).toBe(true);
    expect(needsTargets(cfg({}))).toBe(false);
    for (const t of ['sppo', 'sppo_single', 'gpo'] as const) expect(needsTargets(cfg({ lossTypes: [t] }))).toBe(true);
    expect(needsTargets(cfg({ lossTypes: ['sppo_hard'] }))).toBe(false);
    expect(exoEpsilon(cfg({ lossTypes: ['exo_pair'] }))).toBe(1e-3);
    expect(exoEpsilon(cfg({ lossTypes: ['exo_pair'], labelSmoothing: 0.2 }))).toBe(0.2);
    expect(lossWeightsOf(cfg({ lossTypes: ['sigmoid', 'sft'], lossWeights: [] }))).toEqual([1, 1]);
  });

  it('rejects bad fields by name, saying what to do', () => {
    rejects({ lossTypes: [] }, 'loss_type', /empty/);
    rejects({ lossTypes: ['dpo' as never] }, 'loss_type', /unknown loss type 'dpo'/);
    rejects({ lossTypes: ['sigmoid', 'sigmoid'], lossWeights: [1, 1] }, 'loss_type', /twice/);
    rejects({ lossTypes: ['sigmoid', 'hinge', 'ipo', 'sft', 'robust'], lossWeights: [] }, 'loss_type', /at most 4/);
    rejects({ lossTypes: ['sigmoid', 'sft'], lossWeights: [1] }, 'loss_weights', /1 weights for 2 loss types/);
    rejects({ lossWeights: [NaN] }, 'loss_weights[0]', /finite/);
    rejects({ beta: 0 }, 'beta', /> 0/);
    rejects({ labelSmoothing: 0.6 }, 'label_smoothing', /\[0, 0.5\]/);
    rejects({ lossTypes: ['robust'], labelSmoothing: 0.5 }, 'label_smoothing', /< 0.5/);
    rejects({ lossTypes: ['aot'], useWeighting: true }, 'use_weighting', /aot/);
    rejects({ lossTypes: ['aot_unpaired'], useWeighting: true }, 'use_weighting', /aot/);
    rejects({ lossTypes: ['simpo', 'sigmoid'], lossWeights: [] }, 'loss_type', /only be combined with sft/);
    rejects({ cpoAlpha: 1 }, 'cpo_alpha', /only applies to simpo/);
    rejects({ lossTypes: ['simpo'], cpoAlpha: -1 }, 'cpo_alpha', /≥ 0/);
    rejects({ fDivergenceType: 'kl' as never }, 'f_divergence_type', /unknown/);
    rejects({ lossTypes: ['sppo'], fDivergenceType: 'js' }, 'f_divergence_type', /changes no loss/);
    rejects({ discopopTau: 0 }, 'discopop_tau', /> 0/);
    rejects({ ldAlpha: 1.5 }, 'ld_alpha', /\[0, 1\]/);
    rejects({ lossTypes: ['simpo'], ldAlpha: 0.5 }, 'ld_alpha', /no effect/);
    rejects({ gpoClamp: 0 }, 'gpo_clamp', /> 0/);
    rejects({ simpoGamma: Infinity }, 'simpo_gamma', /finite/);
  });

  it('accepts exo_pair with label_smoothing 0 (ε = 1e-3, classic TRL) and robust just under 0.5', () => {
    expect(() => validateLossConfig(cfg({ lossTypes: ['exo_pair'] }))).not.toThrow();
    expect(() => validateLossConfig(cfg({ lossTypes: ['robust'], labelSmoothing: 0.49 }))).not.toThrow();
    expect(() => validateLossConfig(cfg({ lossTypes: ['simpo', 'sft'], lossWeights: [1, 0.5], cpoAlpha: 0.2 }))).not.toThrow();
  });
});
