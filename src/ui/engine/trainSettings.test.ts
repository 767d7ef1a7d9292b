// The Train screen's settings against the engine: every field is a TRAIN_CONFIG setting with the
// CLI's help line (read from commands.ts' text, checked here against COMMANDS itself); the
// defaults written out in trainSettings.ts are the trainer's; a preset's values are what
// resolvePreset gives the trainer; and the config a start sends passes normalizeTrainConfig and
// resolves to the settings the screen showed.

import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands.ts';
import { LORA_DEFAULTS } from '../../engine/model/lora.ts';
import { normalizeTrainConfig, resolvePreset, TRAIN_CONFIG, trainOptionsFromFlags, lossConfigFromFlags, loraConfigFromFlags } from '../../engine/train/config.ts';
import { defaultLossConfig } from '../../engine/train/losses.ts';
import { TRAIN_DEFAULTS } from '../../engine/train/trainer.ts';
import { flagHelp, TRAIN_FLAG_HELP } from '../features/train/flagHelp.ts';
import { DEFAULT_DATA_SETTINGS } from '../store/slices/data/initialState.ts';
import { buildConfig, effectiveValue, FIELDS, LOSS_OPTIONS, lossLabel, lossTypesOf, TRAINER_DEFAULTS } from './trainSettings.ts';

const DEMO_PARAMS = 1_050_752;
const train = COMMANDS.find((c) => c.name === 'train')!;

describe('Train screen settings', () => {
  it('every field is a trainer setting with the CLI help line', () => {
    for (const f of FIELDS) {
      expect(TRAIN_CONFIG[f.name], f.name).toBeDefined();
      const cli = train.flags.find((x) => x.name === f.name);
      expect(cli, `prefstudio train has no --${f.name}`).toBeDefined();
      expect(flagHelp(f.name), `help of ${f.name}`).toBe(cli!.help);
    }
    // the reader finds the train command's own wording over the shared one (max_grad_norm's override)
    expect(flagHelp('max_grad_norm')).toMatch(/default 1\.0/);
    // and every help line it reads for a train flag is that flag's
    for (const [name, help] of TRAIN_FLAG_HELP) {
      const cli = train.flags.find((x) => x.name === name);
      if (cli) expect(help, name).toBe(cli.help);
    }
  });

  it("the defaults written out are the trainer's", () => {
    const t = TRAIN_DEFAULTS;
    const l = defaultLossConfig();
    expect(TRAINER_DEFAULTS).toMatchObject({
      learning_rate: t.learningRate, num_train_epochs: t.numTrainEpochs, per_device_train_batch_size: t.batchSize,
      gradient_accumulation_steps: t.gradientAccumulationSteps, lr_scheduler_type: t.lrSchedulerType, warmup_ratio: t.warmupRatio,
      optim: t.optim, weight_decay: t.weightDecay, max_grad_norm: t.maxGradNorm, seed: t.seed, max_steps: t.maxSteps,
      beta: l.beta, use_weighting: l.useWeighting, simpo_gamma: l.simpoGamma, label_smoothing: l.labelSmoothing, cpo_alpha: l.cpoAlpha,
      lora_r: LORA_DEFAULTS.r, lora_alpha: LORA_DEFAULTS.alpha, lora_dropout: LORA_DEFAULTS.dropout,
    });
    for (const f of FIELDS) expect(f.name in TRAINER_DEFAULTS, f.name).toBe(true);
  });

  it('the Loss options: the four presets, then every TRL loss type', () => {
    expect(LOSS_OPTIONS.presets.map((p) => p.value)).toEqual(['preset:wpo-hb', 'preset:simpo', 'preset:sppo', 'preset:dpo']);
    expect(LOSS_OPTIONS.types.map((p) => p.value)).toContain('loss:sigmoid');
    expect(LOSS_OPTIONS.types.map((p) => p.value)).toContain('loss:simpo');
    expect(lossTypesOf('preset:simpo', DEMO_PARAMS)).toEqual(['simpo']);
    expect(lossTypesOf('loss:ipo', DEMO_PARAMS)).toEqual(['ipo']);
  });

  it("shown values are what the trainer resolves: the preset's scaled for the demo, else the default", () => {
    const values = { learning_rate: '5e-4' };
    const { flags } = resolvePreset(normalizeTrainConfig({ preset: 'wpo-hb', learning_rate: '5e-4' }), DEMO_PARAMS);
    for (const name of ['learning_rate', 'beta', 'per_device_train_batch_size', 'num_train_epochs', 'use_weighting', 'lr_scheduler_type']) {
      const shown = effectiveValue(name, values, 'preset:wpo-hb', DEMO_PARAMS).value;
      expect(typeof flags[name] === 'number' ? Number(shown) : shown, name).toBe(flags[name]);
    }
    expect(effectiveValue('learning_rate', values, 'preset:wpo-hb', DEMO_PARAMS).source).toBe('given');
    expect(effectiveValue('beta', values, 'preset:wpo-hb', DEMO_PARAMS)).toEqual({ value: 0.1, source: 'preset' });
    expect(effectiveValue('beta', {}, 'loss:sigmoid', DEMO_PARAMS)).toEqual({ value: 0.1, source: 'default' });
    // a given max_steps drops the preset's epochs, as resolvePreset does
    expect(effectiveValue('num_train_epochs', { max_steps: '4' }, 'preset:wpo-hb', DEMO_PARAMS).source).toBe('default');
    expect(resolvePreset({ preset: 'wpo-hb', max_steps: 4 }, DEMO_PARAMS).flags.num_train_epochs).toBeUndefined();
  });

  it('the config a start sends is accepted by the trainer and carries the data settings', () => {
    const { config, problems } = buildConfig({ learning_rate: '2e-4', max_steps: '6', use_peft: 'true', lora_r: '4', save_steps: '5', use_weighting: 'false' }, 'preset:wpo-hb', DEFAULT_DATA_SETTINGS, DEMO_PARAMS);
    expect(problems).toEqual([]);
    const flags = resolvePreset(normalizeTrainConfig(config), DEMO_PARAMS).flags;
    expect(trainOptionsFromFlags(flags)).toMatchObject({ learningRate: 2e-4, maxSteps: 6, batchSize: 8 });
    expect(lossConfigFromFlags(flags)).toMatchObject({ lossTypes: ['sigmoid'], useWeighting: false, beta: 0.1 });
    expect(loraConfigFromFlags(flags)).toMatchObject({ r: 4, alpha: LORA_DEFAULTS.alpha });
    expect(flags).toMatchObject({ max_length: 512, max_prompt_length: 128, sequence_style: 'trl-0.9', save_steps: 5 });
    expect(lossLabel(config!)).toBe('wpo-hb');
  });

  it('LoRA settings are left out without use_peft; bad values are named', () => {
    const { config } = buildConfig({ lora_r: '4' }, 'loss:sigmoid', DEFAULT_DATA_SETTINGS, DEMO_PARAMS);
    expect(config!.lora_r).toBeUndefined();
    expect(() => loraConfigFromFlags(normalizeTrainConfig(config))).not.toThrow();
    expect(config!.loss_type).toEqual(['sigmoid']);
    expect(lossLabel(config!)).toBe('sigmoid');
    const bad = buildConfig({ learning_rate: 'fast', per_device_train_batch_size: '2.5', max_steps: '3', num_train_epochs: '1' }, 'preset:dpo', DEFAULT_DATA_SETTINGS, DEMO_PARAMS);
    expect(bad.config).toBeNull();
    expect(bad.problems.map((p) => p.name)).toEqual(['learning_rate', 'per_device_train_batch_size', 'max_steps']);
    expect(bad.problems[0].message).toBe('learning_rate must be a number (e.g. 2e-4), not "fast"');
  });
});
