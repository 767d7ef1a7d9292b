// Training settings by TRL / transformers flag name → the engine's typed configurations, shared by
// the CLI (`prefstudio train` / `step`, whose command table parses and types the flags) and the
// engine worker (`startTraining`'s plain `config` object, checked and typed here by
// normalizeTrainConfig). No Node or DOM API: it runs in both.
//
//   lossConfigFromFlags(f)        → LossConfig (train/losses.ts)
//   trainOptionsFromFlags(f)      → TrainOptions without the loss (train/trainer.ts)
//   loraConfigFromFlags(f)        → LoraConfig with --use_peft, else null (model/lora.ts; TRL ModelConfig)
//   sequenceOptionsFromFlags(f)   → the sequence rules' options (data/pairs.ts)
//   resolvePreset(f, parameters)  → a preset's flags under the explicit ones (train/presets.ts)
//   examplesFromDataset(ds, …)    → validated training examples with the loss's targets
//   TRAIN_CONFIG, normalizeTrainConfig(obj)   the settings a worker run takes and their types
//
// Semantic checks (ranges, combinations) happen in the engine (validateLossConfig, the Trainer,
// resolveSequenceOptions) with messages that name the flag.

import type { Dataset } from '../data/dataset.ts';
import { prepareExamples, targetsNeededBy, type DroppedRow, type PreferenceExample } from '../data/examples.ts';
import type { SequenceOptions } from '../data/pairs.ts';
import type { Tokenizer } from '../data/tokenizer.ts';
import { EngineError } from '../errors.ts';
import { ALL_LINEAR, LORA_DEFAULTS, LORA_TARGETS, validateLoraConfig, type LoraConfig, type LoraTarget } from '../model/lora.ts';
import type { ScheduleName } from '../optim/schedule.ts';
import { defaultLossConfig, type LossConfig, type LossType } from './losses.ts';
import { presetFlags, PRESETS } from './presets.ts';
import { TRAIN_DEFAULTS, type OptimName, type TrainExample, type TrainOptions } from './trainer.ts';

/** Settings by canonical flag name: string, number, boolean or string[]/number[] lists (as the CLI's parser types them). */
export type Flags = Record<string, unknown>;

const num = (f: Flags, k: string): number | undefined => (f[k] === undefined ? undefined : Number(f[k]));

/** The loss configuration the flags describe (TRL DPOConfig / CPOConfig names). */
export function lossConfigFromFlags(f: Flags): LossConfig {
  const cfg = defaultLossConfig();
  if (f.loss_type !== undefined) cfg.lossTypes = (f.loss_type as string[]).map((s) => s.trim()) as LossType[];
  if (f.loss_weights !== undefined) cfg.lossWeights = (f.loss_weights as number[]).map(Number);
  else cfg.lossWeights = cfg.lossTypes.map(() => 1);
  // rpo_alpha (TRL ≤ 0.28) is the classic spelling of loss_type ["sigmoid", "sft"], weights [1, α].
  const rpo = num(f, 'rpo_alpha');
  if (rpo !== undefined) {
    if (cfg.lossTypes.includes('sft')) throw new EngineError('--rpo_alpha', 'cannot be combined with loss_type sft', 'use --loss_type sigmoid,sft --loss_weights 1,ALPHA or --rpo_alpha ALPHA alone');
    cfg.lossTypes = [...cfg.lossTypes, 'sft'];
    cfg.lossWeights = [...cfg.lossWeights, rpo];
  }
  cfg.beta = num(f, 'beta') ?? cfg.beta;
  cfg.labelSmoothing = num(f, 'label_smoothing') ?? cfg.labelSmoothing;
  cfg.useWeighting = f.use_weighting === true;
  cfg.wpoClamp = f.wpo_no_clamp !== true;
  cfg.simpoGamma = num(f, 'simpo_gamma') ?? cfg.simpoGamma;
  // the SimPO repo's spelling: γ/β
  const ratio = num(f, 'gamma_beta_ratio');
  if (ratio !== undefined) {
    if (f.simpo_gamma !== undefined) throw new EngineError('--gamma_beta_ratio', 'and --simpo_gamma were both given', 'give one: --simpo_gamma G (TRL, absolute) or --gamma_beta_ratio R (SimPO repo, γ = β·R)');
    cfg.simpoGamma = cfg.beta * ratio;
  }
  cfg.cpoAlpha = num(f, 'cpo_alpha') ?? cfg.cpoAlpha;
  cfg.referenceFree = f.reference_free === true;
  if (f.f_divergence_type !== undefined) cfg.fDivergenceType = f.f_divergence_type as LossConfig['fDivergenceType'];
  cfg.fAlphaDivergenceCoef = num(f, 'f_alpha_divergence_coef') ?? cfg.fAlphaDivergenceCoef;
  cfg.discopopTau = num(f, 'discopop_tau') ?? cfg.discopopTau;
  cfg.ldAlpha = num(f, 'ld_alpha') ?? cfg.ldAlpha;
  return cfg;
}

/** The training options the flags describe, TRL / HF defaults for the rest. */
export function trainOptionsFromFlags(f: Flags): Omit<TrainOptions, 'loss'> {
  const d = TRAIN_DEFAULTS;
  const maxSteps = num(f, 'max_steps');
  return {
    optim: (f.optim as OptimName | undefined) ?? d.optim,
    learningRate: num(f, 'learning_rate') ?? d.learningRate,
    weightDecay: num(f, 'weight_decay') ?? d.weightDecay,
    adamBeta1: num(f, 'adam_beta1') ?? d.adamBeta1,
    adamBeta2: num(f, 'adam_beta2') ?? d.adamBeta2,
    adamEpsilon: num(f, 'adam_epsilon') ?? d.adamEpsilon,
    lrSchedulerType: (f.lr_scheduler_type as ScheduleName | undefined) ?? d.lrSchedulerType,
    warmupRatio: num(f, 'warmup_ratio') ?? d.warmupRatio,
    warmupSteps: num(f, 'warmup_steps') ?? d.warmupSteps,
    maxGradNorm: f.max_grad_norm === undefined ? d.maxGradNorm : Number(f.max_grad_norm) > 0 ? Number(f.max_grad_norm) : null,
    maxSteps: maxSteps !== undefined && maxSteps > 0 ? maxSteps : null,
    numTrainEpochs: num(f, 'num_train_epochs') ?? d.numTrainEpochs,
    batchSize: num(f, 'per_device_train_batch_size') ?? d.batchSize,
    gradientAccumulationSteps: num(f, 'gradient_accumulation_steps') ?? d.gradientAccumulationSteps,
    gradientCheckpointing: f.gradient_checkpointing === true,
    seed: num(f, 'seed') ?? d.seed,
  };
}

/** TRL ModelConfig's LoRA flags; they need --use_peft. */
const LORA_FLAGS = ['lora_r', 'lora_alpha', 'lora_dropout', 'lora_target_modules', 'use_rslora'] as const;

/**
 * The LoRA settings of --use_peft (TRL ModelConfig names and defaults: r 16, alpha 32, dropout 0.05;
 * every linear layer unless --lora_target_modules, which also takes PEFT's 'all-linear'), validated;
 * null without --use_peft. A LoRA flag without --use_peft is an error rather than silently ignored.
 */
export function loraConfigFromFlags(f: Flags): LoraConfig | null {
  if (f.use_peft !== true) {
    const stray = LORA_FLAGS.find((k) => f[k] !== undefined && f[k] !== false);
    if (stray) throw new EngineError(`--${stray}`, 'has no effect without --use_peft', 'add --use_peft to train a LoRA adapter, or drop the LoRA flags for full fine-tuning');
    return null;
  }
  const d = LORA_DEFAULTS;
  const listed = f.lora_target_modules === undefined ? null : (f.lora_target_modules as string[]).map((s) => s.trim());
  const targets = listed === null || (listed.length === 1 && listed[0] === ALL_LINEAR) ? [...LORA_TARGETS] : (listed as LoraTarget[]);
  return validateLoraConfig({ r: num(f, 'lora_r') ?? d.r, alpha: num(f, 'lora_alpha') ?? d.alpha, dropout: num(f, 'lora_dropout') ?? d.dropout, targets, useRslora: f.use_rslora === true });
}

/** The sequence-rule flags (max_length, …, sequence_style) as prepareExamples' options. */
export function sequenceOptionsFromFlags(f: Flags): SequenceOptions {
  const n = (k: string): number | undefined => (f[k] === undefined ? undefined : Number(f[k]));
  return {
    style: f.sequence_style as SequenceOptions['style'],
    maxLength: n('max_length'),
    maxPromptLength: n('max_prompt_length'),
    maxCompletionLength: n('max_completion_length'),
    truncationMode: f.truncation_mode as SequenceOptions['truncationMode'],
  };
}

/**
 * The flags with preset `f.preset` (if any) under them: explicit flags win, a model under
 * presets.ts SMALL_MODEL_PARAMS gets the preset's small scaling, and an explicit max_steps drops the
 * preset's num_train_epochs. `note` says which recipe and scaling were used (null without a preset).
 */
export function resolvePreset(given: Flags, parameters: number): { flags: Flags; note: string | null } {
  if (given.max_steps !== undefined && given.num_train_epochs !== undefined) {
    throw new EngineError('--max_steps', 'and --num_train_epochs were both given', 'give one of them (transformers lets max_steps win; we ask)');
  }
  if (given.preset === undefined) return { flags: given, note: null };
  const name = String(given.preset);
  if (!PRESETS[name]) throw new EngineError('--preset', `unknown preset '${name}'`, `use one of: ${Object.keys(PRESETS).join(', ')}`);
  const { flags, note } = presetFlags(name, parameters);
  const merged: Flags = { ...flags, ...given };
  if (given.max_steps !== undefined) delete merged.num_train_epochs;
  if (given.gamma_beta_ratio !== undefined && given.simpo_gamma === undefined) delete merged.simpo_gamma; // the user's γ/β wins over the preset's γ
  return { flags: merged, note };
}

/** The regression targets a loss reads from an example (train/README.md "Targets"), or undefined. */
export function targetsFor(loss: LossConfig, x: PreferenceExample): [number, number] | undefined {
  const t = x.targets;
  if (loss.lossTypes.includes('sppo')) return [t.chosenProbsWin ?? NaN, t.chosenProbsLose ?? NaN];
  if (loss.lossTypes.includes('sppo_single')) return [t.chosenProbs ?? NaN, 0];
  if (loss.lossTypes.includes('gpo')) return [t.scoreChosen ?? NaN, t.scoreRejected ?? NaN];
  return undefined;
}

/**
 * A read dataset's rows → training examples for a model with `vocabSize` tokens (and its tokenizer,
 * for text and message rows) by the flags' sequence rules, with the loss's targets. Throws a
 * DatasetError naming every malformed row; rows truncation leaves empty come back in `dropped`.
 */
export function examplesFromDataset(ds: Dataset, model: { vocabSize: number; tokenizer: Tokenizer | null }, loss: LossConfig, f: Flags): { examples: TrainExample[]; dropped: DroppedRow[] } {
  const needs = targetsNeededBy(loss.lossTypes);
  const { examples, dropped } = prepareExamples(ds.rows, { ...sequenceOptionsFromFlags(f), file: ds.file, lines: ds.lines, key: ds.key, needs, tokenizer: model.tokenizer, vocabSize: model.vocabSize });
  return { examples: examples.map((x) => ({ row: x.row, promptIds: x.promptIds, chosenIds: x.chosenIds, rejectedIds: x.rejectedIds, targets: targetsFor(loss, x) })), dropped };
}

// ---------------------------------------------------------------------------------------------
// the settings of a worker run (startTraining's `config`)

/** A run's settings as the sender writes them: TRL name → value (see TRAIN_CONFIG and normalizeTrainConfig). */
export type TrainSettings = Record<string, string | number | boolean | string[] | number[]>;

/** How a setting's value is typed (the CLI command table's flag types; src/cli/args.ts). */
export type SettingType = 'string' | 'number' | 'int' | 'bool' | 'list' | 'numlist' | 'enum';

/**
 * The settings a training run takes outside the CLI, with their types: `prefstudio train`'s flags
 * without the ones about files and terminal output (model, data, out, eval_data, save_final,
 * cache_dir, logging_steps). src/engine/train/config.test.ts keeps this equal to the command table.
 */
export const TRAIN_CONFIG: Readonly<Record<string, { type: SettingType; choices?: readonly string[] }>> = {
  preset: { type: 'string' },
  seed: { type: 'int' },
  loss_type: { type: 'list' },
  loss_weights: { type: 'numlist' },
  use_weighting: { type: 'bool' },
  wpo_no_clamp: { type: 'bool' },
  beta: { type: 'number' },
  simpo_gamma: { type: 'number' },
  gamma_beta_ratio: { type: 'number' },
  cpo_alpha: { type: 'number' },
  label_smoothing: { type: 'number' },
  rpo_alpha: { type: 'number' },
  reference_free: { type: 'bool' },
  f_divergence_type: { type: 'enum', choices: ['reverse_kl', 'forward_kl', 'js', 'alpha'] },
  f_alpha_divergence_coef: { type: 'number' },
  ld_alpha: { type: 'number' },
  discopop_tau: { type: 'number' },
  learning_rate: { type: 'number' },
  optim: { type: 'enum', choices: ['adamw_torch', 'rmsprop'] },
  weight_decay: { type: 'number' },
  max_grad_norm: { type: 'number' },
  adam_beta1: { type: 'number' },
  adam_beta2: { type: 'number' },
  adam_epsilon: { type: 'number' },
  lr_scheduler_type: { type: 'string' },
  warmup_ratio: { type: 'number' },
  warmup_steps: { type: 'int' },
  max_steps: { type: 'int' },
  num_train_epochs: { type: 'number' },
  per_device_train_batch_size: { type: 'int' },
  gradient_accumulation_steps: { type: 'int' },
  gradient_checkpointing: { type: 'bool' },
  max_length: { type: 'int' },
  max_prompt_length: { type: 'int' },
  max_completion_length: { type: 'int' },
  truncation_mode: { type: 'enum', choices: ['keep_end', 'keep_start'] },
  sequence_style: { type: 'string' },
  use_peft: { type: 'bool' },
  lora_r: { type: 'int' },
  lora_alpha: { type: 'number' },
  lora_dropout: { type: 'number' },
  lora_target_modules: { type: 'list' },
  use_rslora: { type: 'bool' },
  save_steps: { type: 'int' },
  save_total_limit: { type: 'int' },
};

/**
 * A plain settings object (TRL names; numbers may be numeric strings, lists comma-separated
 * strings, booleans "true"/"false") → Flags typed as the CLI's parser types them. Throws an
 * EngineError naming the setting for an unknown name or a value of the wrong type. Dashed names
 * (learning-rate) are accepted as the CLI accepts them.
 */
export function normalizeTrainConfig(config: unknown): TrainSettings {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new EngineError('training config', `must be an object of TRL settings (e.g. {"loss_type": "sigmoid", "learning_rate": 1e-3}), got ${config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config}`);
  }
  const out: TrainSettings = {};
  for (const [typed, value] of Object.entries(config)) {
    const key = typed.replace(/-/g, '_');
    const spec = TRAIN_CONFIG[key];
    if (!spec) {
      throw new EngineError(`training config '${typed}'`, 'is not a setting the trainer knows', `use TRL / transformers names: ${Object.keys(TRAIN_CONFIG).join(', ')}`);
    }
    if (value === undefined || value === null) continue; // not given
    if (key in out) throw new EngineError(`training config '${typed}'`, `is given twice (as '${key}' too)`);
    out[key] = settingValue(key, spec, value);
  }
  return out;
}

function settingValue(key: string, spec: { type: SettingType; choices?: readonly string[] }, v: unknown): TrainSettings[string] {
  const where = `training config '${key}'`;
  const shown = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
  const number = (x: unknown, int: boolean, item = ''): number => {
    const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN;
    if (!Number.isFinite(n) || (int && !Number.isSafeInteger(n))) {
      throw new EngineError(where, item ? `must be a list of finite numbers, and ${item} is ${typeof x === 'string' ? `'${x}'` : String(x)}` : `must be ${int ? 'an integer' : 'a finite number'}, got ${shown}`);
    }
    return n;
  };
  const list = (x: unknown): unknown[] => {
    const items = typeof x === 'string' ? x.split(',').map((s) => s.trim()) : Array.isArray(x) ? x : null;
    if (!items || items.length === 0 || items.some((s) => s === '')) throw new EngineError(where, `must be a non-empty list (an array, or a comma-separated string), got ${shown}`);
    return items;
  };
  switch (spec.type) {
    case 'number':
    case 'int':
      return number(v, spec.type === 'int');
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw new EngineError(where, `must be true or false, got ${shown}`);
    case 'list':
      return list(v).map((s) => {
        if (typeof s !== 'string') throw new EngineError(where, `must be a list of names, got ${shown}`);
        return s.trim();
      });
    case 'numlist':
      return list(v).map((s, i) => number(s, false, `item ${i + 1}`));
    case 'enum':
      if (typeof v === 'string' && spec.choices!.includes(v)) return v;
      throw new EngineError(where, `must be one of ${spec.choices!.join(', ')}; got ${shown}`);
    case 'string':
      if (typeof v === 'string') return v;
      throw new EngineError(where, `must be a string, got ${shown}`);
  }
}
