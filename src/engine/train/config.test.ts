// train/config.ts: the settings a worker run takes are exactly `prefstudio train`'s flags (less the
// CLI's file and output flags) with the same types; plain objects are typed as the CLI parser
// types the same flags, and mistakes name the setting; presets resolve as the CLI resolves them.

import { describe, expect, it } from 'vitest';
import { parseFlags } from '../../cli/args.ts';
import { COMMANDS } from '../../cli/commands.ts';
import { lossConfigFromFlags, normalizeTrainConfig, resolvePreset, TRAIN_CONFIG, trainOptionsFromFlags } from './config.ts';
import { PRESETS, SMALL_MODEL_PARAMS } from './presets.ts';

/** `prefstudio train` flags that are about files and terminal output, not training. */
const CLI_ONLY = ['model', 'data', 'out', 'eval_data', 'save_final', 'cache_dir', 'logging_steps', 'adapter', 'resume'];

const train = COMMANDS.find((c) => c.name === 'train')!;

describe('TRAIN_CONFIG', () => {
  it('is the train command table without the CLI-only flags, with the same types and choices', () => {
    const fromTable = Object.fromEntries(train.flags.filter((f) => !CLI_ONLY.includes(f.name)).map((f) => [f.name, { type: f.type, ...(f.choices ? { choices: [...f.choices] } : {}) }]));
    expect(TRAIN_CONFIG).toEqual(fromTable);
  });
});

describe('normalizeTrainConfig', () => {
  it('types a plain object as the CLI parser types the same flags', () => {
    const argv = ['--model', 'M', '--data', 'D', '--out', 'O', '--loss_type', 'sigmoid,sft', '--loss_weights', '1,0.5', '--use_weighting', '--learning_rate', '1e-3', '--max_steps', '7', '--optim', 'rmsprop', '--max_length', '64', '--max_prompt_length', '32'];
    const parsed = parseFlags(train, argv);
    if (parsed === 'help') throw new Error('parsed as --help');
    const cli = Object.fromEntries(Object.entries(parsed).filter(([k]) => !CLI_ONLY.includes(k)));
    const fromObject = normalizeTrainConfig({ loss_type: 'sigmoid, sft', loss_weights: [1, '0.5'], use_weighting: 'true', 'learning-rate': '1e-3', max_steps: 7, optim: 'rmsprop', max_length: 64, max_prompt_length: '32' });
    expect(fromObject).toEqual(cli);
    expect(lossConfigFromFlags(fromObject)).toEqual(lossConfigFromFlags(cli));
    expect(trainOptionsFromFlags(fromObject)).toEqual(trainOptionsFromFlags(cli));
    expect(trainOptionsFromFlags(fromObject)).toMatchObject({ learningRate: 1e-3, maxSteps: 7, optim: 'rmsprop' });
  });

  it('names an unknown setting and lists the valid names', () => {
    // EngineError messages read "where: what\n---> HINT: what to do"
    expect(() => normalizeTrainConfig({ learnig_rate: 1e-3 })).toThrow(/^training config 'learnig_rate': is not a setting the trainer knows\n---> HINT: .*learning_rate/);
  });

  it.each([
    [{ max_steps: 2.5 }, /max_steps.*an integer, got 2\.5/],
    [{ max_steps: 'two' }, /max_steps.*an integer, got 'two'/],
    [{ beta: Number.NaN }, /beta.*finite number/],
    [{ beta: '' }, /beta.*finite number/],
    [{ use_weighting: 1 }, /use_weighting.*true or false, got 1/],
    [{ optim: 'sgd' }, /optim.*adamw_torch, rmsprop; got 'sgd'/],
    [{ loss_type: [] }, /loss_type.*non-empty list/],
    [{ loss_type: 'sigmoid,' }, /loss_type.*non-empty list/],
    [{ loss_type: [3] }, /loss_type.*list of names/],
    [{ loss_weights: '1,x' }, /loss_weights.*finite numbers, and item 2 is 'x'/],
    [{ sequence_style: 7 }, /sequence_style.*a string/],
    [{ max_steps: 2, 'max-steps': 3 }, /max-steps.*given twice/],
  ])('refuses %j naming the setting', (config, message) => {
    expect(() => normalizeTrainConfig(config)).toThrow(message);
  });

  it('refuses what is not an object, and skips null / undefined values', () => {
    expect(() => normalizeTrainConfig([1])).toThrow(/got an array/);
    expect(() => normalizeTrainConfig(null)).toThrow(/got null/);
    expect(normalizeTrainConfig({ beta: null, seed: undefined, max_steps: 3 })).toEqual({ max_steps: 3 });
  });
});

describe('resolvePreset', () => {
  it('puts the explicit settings over the preset, scaled for small models', () => {
    const small = resolvePreset({ preset: 'wpo-hb', beta: 0.5 }, 1e6);
    expect(small.flags).toMatchObject({ ...PRESETS['wpo-hb'].paper, ...PRESETS['wpo-hb'].small, beta: 0.5 });
    expect(small.note).toContain('scaled for a small model');
    const big = resolvePreset({ preset: 'wpo-hb' }, SMALL_MODEL_PARAMS);
    expect(big.flags).toMatchObject(PRESETS['wpo-hb'].paper);
    expect(resolvePreset({ beta: 0.2 }, 1e6)).toEqual({ flags: { beta: 0.2 }, note: null });
  });

  it('lets an explicit max_steps replace the preset epochs, and refuses both or an unknown preset', () => {
    expect(resolvePreset({ preset: 'dpo', max_steps: 5 }, 1e6).flags.num_train_epochs).toBeUndefined();
    expect(() => resolvePreset({ max_steps: 5, num_train_epochs: 1 }, 1e6)).toThrow(/^--max_steps: and --num_train_epochs were both given/);
    expect(() => resolvePreset({ preset: 'orpo' }, 1e6)).toThrow(/unknown preset 'orpo'\n---> HINT: .*wpo-hb/);
  });
});
