// The command-line parser (args.ts) on a small table and on the real command table (commands.ts):
// spellings, types, strict numbers, unknown flags with the closest valid one, required flags,
// exclusions and the generated help. No GPU, no model: parseFlags never runs a handler.
import { describe, expect, it } from 'vitest';
import { closest, commandHelp, editDistance, findCommand, parseFlags, UsageError, type CommandSpec } from './args.ts';
import { COMMANDS } from './commands.ts';

const noop = async (): Promise<void> => undefined;
const TOY: CommandSpec = {
  name: 'toy',
  summary: 'a test command',
  flags: [
    { name: 'model', type: 'string', metavar: 'DIR', required: true, help: 'the model' },
    { name: 'learning_rate', type: 'number', help: 'lr' },
    { name: 'max_steps', type: 'int', help: 'steps' },
    { name: 'num_train_epochs', type: 'number', help: 'epochs' },
    { name: 'use_weighting', type: 'bool', help: 'wpo' },
    { name: 'loss_type', type: 'list', help: 'losses' },
    { name: 'loss_weights', type: 'numlist', help: 'weights' },
    { name: 'optim', type: 'enum', choices: ['adamw_torch', 'rmsprop'], help: 'optimizer' },
    { name: 'save_final', type: 'bool', default: true, help: 'save' },
    { name: 'top_p', type: 'number', default: 1, help: 'nucleus' },
  ],
  exclusive: [{ flags: ['max_steps', 'num_train_epochs'] }],
  run: noop,
};

/** The UsageError message parseFlags throws for `args`, or fails the test. */
function usageError(args: string[], cmd: CommandSpec = TOY): string {
  try {
    parseFlags(cmd, args);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`expected a UsageError for ${args.join(' ')}`);
}

const command = (name: string): CommandSpec => COMMANDS.find((c) => c.name === name)!;

describe('edit distance', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('beta', 'beta')).toBe(0);
    expect(editDistance('lerning_rate', 'learning_rate')).toBe(1);
    expect(closest('lerning_rate', ['beta', 'learning_rate', 'warmup_ratio'])).toBe('learning_rate');
    expect(closest('x', [])).toBeNull();
  });
});

describe('parseFlags', () => {
  it('accepts --flag value, --flag=value, dashed and underscored spellings, and fills table defaults', () => {
    const a = parseFlags(TOY, ['--model', 'm', '--learning-rate', '1e-6', '--max_steps=7', '--loss-type', 'sigmoid, sft', '--loss_weights=1,0.5', '--optim', 'rmsprop']);
    expect(a).toEqual({ model: 'm', learning_rate: 1e-6, max_steps: 7, loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5], optim: 'rmsprop', save_final: true, top_p: 1 });
    const b = parseFlags(TOY, ['--model=m', '--learning_rate=-2.5E-3', '--top-p', '.9']);
    expect(b).toEqual({ model: 'm', learning_rate: -0.0025, save_final: true, top_p: 0.9 });
  });

  it('bool flags: bare is true, and an explicit true / false is taken', () => {
    expect(parseFlags(TOY, ['--model', 'm', '--use_weighting'])).toMatchObject({ use_weighting: true });
    expect(parseFlags(TOY, ['--use-weighting', '--model', 'm'])).toMatchObject({ use_weighting: true, model: 'm' });
    expect(parseFlags(TOY, ['--model', 'm', '--use_weighting', 'false'])).toMatchObject({ use_weighting: false });
    expect(parseFlags(TOY, ['--model', 'm', '--save_final=false'])).toMatchObject({ save_final: false });
    expect(parseFlags(TOY, ['--model', 'm', '--save_final', 'true'])).toMatchObject({ save_final: true });
    expect(usageError(['--model', 'm', '--use_weighting=yes'])).toBe("--use_weighting takes no value, or true / false; got 'yes'");
  });

  it('a flag with a bare value (--resume [DIR]) takes the next argument only when it is not a flag', () => {
    const cmd: CommandSpec = { ...TOY, flags: [...TOY.flags, { name: 'resume', type: 'string', metavar: 'DIR', bareValue: true, help: 'resume' }] };
    expect(parseFlags(cmd, ['--model', 'm', '--resume'])).toMatchObject({ resume: true });
    expect(parseFlags(cmd, ['--resume', '--model', 'm'])).toMatchObject({ resume: true, model: 'm' });
    expect(parseFlags(cmd, ['--resume', 'out/checkpoint-4', '--model', 'm'])).toMatchObject({ resume: 'out/checkpoint-4' });
    expect(parseFlags(cmd, ['--model', 'm', '--resume=x'])).toMatchObject({ resume: 'x' });
    expect(parseFlags(cmd, ['--model', 'm'])).not.toHaveProperty('resume');
    expect(commandHelp('prefstudio', cmd)).toContain('--resume [DIR]');
  });

  it('an unknown flag is named with the closest valid one', () => {
    expect(usageError(['--model', 'm', '--lerning-rate', '1'])).toBe('unknown flag --lerning-rate for toy (did you mean --learning_rate?)');
    expect(usageError(['--model', 'm', '--use_weightin'])).toBe('unknown flag --use_weightin for toy (did you mean --use_weighting?)');
    expect(usageError(['--modle', 'm'])).toContain('did you mean --model?');
  });

  it('numbers are parsed strictly, and the message names the flag', () => {
    for (const bad of ['abc', '', '1e', '0x10', '1.2.3', 'Infinity', 'NaN', '1,5']) {
      expect(usageError(['--model', 'm', `--learning_rate=${bad}`])).toBe(`--learning_rate must be a number (e.g. 0.1 or 1e-6), got '${bad}'`);
    }
    expect(usageError(['--model', 'm', '--max_steps', '2.5'])).toBe("--max_steps must be an integer, got '2.5'");
    expect(usageError(['--model', 'm', '--max_steps', '1e3'])).toBe("--max_steps must be an integer, got '1e3'");
    expect(usageError(['--model', 'm', '--loss_weights', '1,x'])).toBe("--loss_weights is a comma-separated list of numbers, and item 2 is 'x'");
    expect(usageError(['--model', 'm', '--loss_type', 'sigmoid,,sft'])).toContain('item 2');
  });

  it('required flags, missing values, duplicates, positionals, enums and exclusions are usage errors', () => {
    expect(usageError([])).toBe('--model is required (DIR)');
    expect(usageError(['--model'])).toBe('--model needs a value (DIR)');
    expect(usageError(['--model', '--learning_rate', '1'])).toBe('--model needs a value (DIR)');
    expect(usageError(['--model', 'a', '--model=b'])).toBe('--model is given twice');
    expect(usageError(['--model', 'a', '--learning_rate', '1', '--learning-rate', '2'])).toBe('--learning_rate is given twice');
    expect(usageError(['--model', 'a', 'extra'])).toContain("unexpected argument 'extra'");
    expect(usageError(['--model', 'a', '--optim', 'adam'])).toBe("--optim must be one of adamw_torch, rmsprop; got 'adam' (did you mean adamw_torch?)");
    expect(usageError(['--model', 'a', '--max_steps', '3', '--num_train_epochs', '1'])).toBe('--max_steps and --num_train_epochs cannot be given together (give at most one of --max_steps, --num_train_epochs)');
  });

  it('--help / -h anywhere asks for help (before any check)', () => {
    expect(parseFlags(TOY, ['--help'])).toBe('help');
    expect(parseFlags(TOY, ['--model', 'm', '--bogus', '-h'])).toBe('help');
  });
});

describe('the prefstudio command table', () => {
  it('has its commands, every flag in canonical underscore form, no duplicates', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(['logps', 'generate', 'tokenize', 'train', 'recipe', 'step', 'export']);
    for (const c of COMMANDS) {
      const names = c.flags.map((f) => f.name);
      expect(new Set(names).size, `${c.name} declares a flag twice`).toBe(names.length);
      for (const n of names) expect(n, `${c.name} --${n}`).toMatch(/^[a-z][a-z0-9_]*$/);
      for (const ex of c.exclusive ?? []) for (const n of ex.flags) expect(names, `${c.name} exclusion names --${n}`).toContain(n);
    }
  });

  it('train and step take exactly the issue\'s flags; out and report are required', () => {
    const names = (c: string): string[] => command(c).flags.map((f) => f.name).sort();
    expect(names('train')).toEqual(
      ['model', 'data', 'loss_type', 'loss_weights', 'use_weighting', 'wpo_no_clamp', 'beta', 'simpo_gamma', 'gamma_beta_ratio', 'label_smoothing', 'preset', 'learning_rate', 'lr_scheduler_type', 'warmup_ratio', 'optim', 'weight_decay', 'max_grad_norm', 'max_steps', 'num_train_epochs', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'max_length', 'seed', 'logging_steps', 'out',
        'gradient_checkpointing',
        'warmup_steps', 'max_prompt_length', 'max_completion_length', 'truncation_mode', 'sequence_style', 'cpo_alpha', 'rpo_alpha', 'reference_free', 'f_divergence_type', 'f_alpha_divergence_coef', 'ld_alpha', 'discopop_tau', 'adam_beta1', 'adam_beta2', 'adam_epsilon', 'save_final', 'eval_data', 'cache_dir',
        'use_peft', 'lora_r', 'lora_alpha', 'lora_dropout', 'lora_target_modules', 'use_rslora', 'adapter', 'save_steps', 'save_total_limit', 'resume'].sort(),
    );
    expect(names('step')).toEqual(['model', 'pairs', 'loss_type', 'use_weighting', 'wpo_no_clamp', 'beta', 'simpo_gamma', 'gamma_beta_ratio', 'cpo_alpha', 'label_smoothing', 'learning_rate', 'weight_decay', 'optim', 'max_grad_norm', 'report', 'loss_weights', 'adam_beta1', 'adam_beta2', 'adam_epsilon'].sort());
    expect(usageError(['--model', 'm', '--data', 'd'], command('train'))).toBe('--out is required (DIR)');
    expect(usageError(['--model', 'm', '--pairs', 'p'], command('step'))).toBe('--report is required (OUT.json)');
  });

  it('train: typed options as the handler receives them; max_steps and num_train_epochs exclude each other', () => {
    const opts = parseFlags(command('train'), ['--model', 'M', '--data', 'D', '--out', 'O', '--loss-type', 'sigmoid,sft', '--loss_weights', '1,0.25', '--use_weighting', '--beta=0.01', '--learning-rate', '5e-7', '--optim', 'rmsprop', '--max-steps', '20', '--per_device_train_batch_size', '4']);
    expect(opts).toEqual({ model: 'M', data: 'D', out: 'O', loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.25], use_weighting: true, beta: 0.01, learning_rate: 5e-7, optim: 'rmsprop', max_steps: 20, per_device_train_batch_size: 4, save_final: true });
    expect(usageError(['--model', 'M', '--data', 'D', '--out', 'O', '--max_steps', '2', '--num-train-epochs', '1'], command('train'))).toContain('cannot be given together');
    expect(usageError(['--model', 'M', '--data', 'D', '--out', 'O', '--warmup_ratio', 'ten'], command('train'))).toBe("--warmup_ratio must be a number (e.g. 0.1 or 1e-6), got 'ten'");
    expect(usageError(['--model', 'M', '--data', 'D', '--out', 'O', '--learnign_rate', '1'], command('train'))).toBe('unknown flag --learnign_rate for train (did you mean --learning_rate?)');
  });

  it('generate keeps its dashed flags (--max-new-tokens, --top-p) and its defaults', () => {
    expect(parseFlags(command('generate'), ['--model', 'M', '--prompt', 'Hi'])).toEqual({ model: 'M', prompt: 'Hi', max_new_tokens: 64, temperature: 0, top_p: 1, seed: 0 });
    expect(parseFlags(command('generate'), ['--model', 'M', '--prompt', 'Hi', '--max-new-tokens', '24', '--top-p', '0.9', '--temperature', '0.7', '--seed', '3'])).toEqual({ model: 'M', prompt: 'Hi', max_new_tokens: 24, temperature: 0.7, top_p: 0.9, seed: 3 });
  });

  it('tokenize needs exactly one of --text, --chat, --pairs; --add_special_tokens takes true|false', () => {
    expect(usageError(['--model', 'M'], command('tokenize'))).toBe('give one of --text, --chat, --pairs');
    expect(usageError(['--model', 'M', '--text', 'a', '--pairs', 'p'], command('tokenize'))).toContain('--text and --pairs cannot be given together');
    expect(parseFlags(command('tokenize'), ['--model', 'M', '--text', 'Hello', '--add_special_tokens', 'false'])).toEqual({ model: 'M', text: 'Hello', add_special_tokens: false });
  });

  it('unknown commands name the closest; help is generated from the table', () => {
    expect(() => findCommand(COMMANDS, ['trian'])).toThrow("unknown command 'trian' (did you mean train?)");
    expect(() => findCommand(COMMANDS, [])).toThrow('no command given');
    expect(findCommand(COMMANDS, ['--help'])).toBe('help');
    const help = commandHelp('prefstudio', command('train'));
    expect(help.split('\n')[0]).toBe('usage: prefstudio train --model DIR --data FILE --out DIR [flags]');
    for (const f of command('train').flags) expect(help, `train --help lists --${f.name}`).toContain(`--${f.name}`);
    expect(help).toContain('--optim adamw_torch|rmsprop');
    expect(help).toContain('at most one of: --max_steps, --num_train_epochs');
    expect(commandHelp('prefstudio', command('tokenize')).split('\n')[0]).toBe('usage: prefstudio tokenize --model DIR (--text TEXT | --chat FILE | --pairs FILE) [flags]');
  });
});
