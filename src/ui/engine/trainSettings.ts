// The Train screen's settings, by TRL / transformers name as startTraining's `config` takes them
// (src/engine/train/config.ts TRAIN_CONFIG): which ones the screen shows, their types, the value a
// run gets when the user leaves one empty (the preset's, scaled for the model's size as the trainer
// scales it, else the trainer's default), and the config a start sends.
//
// The trainer's defaults are written out here rather than imported (trainer.ts and lora.ts pull the
// whole engine into the page); trainSettings.test.ts keeps them equal to TRAIN_DEFAULTS,
// defaultLossConfig() and LORA_DEFAULTS. Presets and loss types come from the engine's own light
// modules (train/presets.ts, train/losses.ts).

import { LOSS_TYPES } from '../../engine/train/losses.ts';
import { presetFlags, PRESETS } from '../../engine/train/presets.ts';
import type { DataSettings } from '../store/slices/data/initialState.ts';
import type { LossChoice } from '../store/slices/train/initialState.ts';

export type SettingType = 'number' | 'int' | 'bool' | 'enum';
export type SettingGroup = 'loss' | 'schedule' | 'optimizer' | 'lora' | 'checkpoints';

export interface SettingField {
  /** TRL name: the field's label and the config key. */
  name: string;
  type: SettingType;
  group: SettingGroup;
  choices?: readonly string[];
  /** Shown only for these losses (default: always). */
  when?: (lossTypes: readonly string[]) => boolean;
  /** In the "More settings" part (closed by default). */
  more?: boolean;
}

const isSimpo = (t: readonly string[]): boolean => t.includes('simpo');

/** The settings the screen shows, in order. max_length / max_prompt_length are the Data screen's (data slice). */
export const FIELDS: readonly SettingField[] = [
  { name: 'learning_rate', type: 'number', group: 'optimizer' },
  { name: 'beta', type: 'number', group: 'loss' },
  { name: 'use_weighting', type: 'bool', group: 'loss', when: (t) => !isSimpo(t) },
  { name: 'simpo_gamma', type: 'number', group: 'loss', when: isSimpo },
  { name: 'num_train_epochs', type: 'number', group: 'schedule' },
  { name: 'max_steps', type: 'int', group: 'schedule' },
  { name: 'per_device_train_batch_size', type: 'int', group: 'schedule' },
  { name: 'gradient_accumulation_steps', type: 'int', group: 'schedule' },
  { name: 'use_peft', type: 'bool', group: 'lora' },
  { name: 'lora_r', type: 'int', group: 'lora' },
  { name: 'lora_alpha', type: 'number', group: 'lora' },
  { name: 'lora_dropout', type: 'number', group: 'lora' },
  { name: 'save_steps', type: 'int', group: 'checkpoints' },
  { name: 'save_total_limit', type: 'int', group: 'checkpoints' },
  { name: 'lr_scheduler_type', type: 'enum', group: 'optimizer', choices: ['linear', 'cosine', 'constant', 'constant_with_warmup'], more: true },
  { name: 'warmup_ratio', type: 'number', group: 'optimizer', more: true },
  { name: 'optim', type: 'enum', group: 'optimizer', choices: ['adamw_torch', 'rmsprop'], more: true },
  { name: 'weight_decay', type: 'number', group: 'optimizer', more: true },
  { name: 'max_grad_norm', type: 'number', group: 'optimizer', more: true },
  { name: 'label_smoothing', type: 'number', group: 'loss', more: true, when: (t) => !isSimpo(t) },
  { name: 'cpo_alpha', type: 'number', group: 'loss', more: true, when: isSimpo },
  { name: 'seed', type: 'int', group: 'schedule', more: true },
  { name: 'gradient_checkpointing', type: 'bool', group: 'schedule', more: true },
];

/** The trainer's value for a setting nobody gave (TRL / transformers defaults; null: none). */
export const TRAINER_DEFAULTS: Readonly<Record<string, number | string | boolean | null>> = {
  learning_rate: 1e-6,
  beta: 0.1,
  use_weighting: false,
  simpo_gamma: 0.5,
  num_train_epochs: 3,
  max_steps: null,
  per_device_train_batch_size: 8,
  gradient_accumulation_steps: 1,
  use_peft: false,
  lora_r: 16,
  lora_alpha: 32,
  lora_dropout: 0.05,
  save_steps: null,
  save_total_limit: null,
  lr_scheduler_type: 'linear',
  warmup_ratio: 0,
  optim: 'adamw_torch',
  weight_decay: 0,
  max_grad_norm: 1,
  label_smoothing: 0,
  cpo_alpha: 0,
  seed: 42,
  gradient_checkpointing: false,
};

/** Plain words for each preset's loss (the select's labels). */
const PRESET_TITLES: Readonly<Record<string, string>> = {
  'wpo-hb': 'WPO (weighted DPO)',
  simpo: 'SimPO (no reference model)',
  sppo: 'SPPO (needs win-rate columns)',
  dpo: 'DPO',
};

/** The "Loss" select's options: the presets (published recipes), then TRL's loss types. */
export const LOSS_OPTIONS: { presets: { value: LossChoice; label: string; source: string }[]; types: { value: LossChoice; label: string; description: string }[] } = {
  presets: Object.values(PRESETS).map((p) => ({ value: `preset:${p.name}` as const, label: `${p.name} — ${PRESET_TITLES[p.name] ?? p.name}`, source: p.source })),
  types: LOSS_TYPES.map((l) => ({ value: `loss:${l.type}` as const, label: l.type, description: l.description })),
};

/** The choice's kind and name: {preset: 'wpo-hb'} or {loss: 'sigmoid'}. */
export function parseLoss(choice: LossChoice): { preset: string | null; lossType: string | null } {
  const [kind, name] = [choice.slice(0, choice.indexOf(':')), choice.slice(choice.indexOf(':') + 1)];
  return kind === 'preset' ? { preset: name, lossType: null } : { preset: null, lossType: name };
}

/** The preset's settings for a model of `parameters` parameters (the trainer's small-model scaling included). */
export function presetValues(choice: LossChoice, parameters: number): { values: Record<string, unknown>; note: string | null } {
  const { preset } = parseLoss(choice);
  if (!preset || !PRESETS[preset]) return { values: {}, note: null };
  const p = presetFlags(preset, parameters);
  return { values: p.flags, note: p.note };
}

/** The loss types a choice trains with. */
export function lossTypesOf(choice: LossChoice, parameters: number): string[] {
  const { lossType } = parseLoss(choice);
  if (lossType) return [lossType];
  const lt = presetValues(choice, parameters).values.loss_type;
  return Array.isArray(lt) ? lt.map(String) : ['sigmoid'];
}

/** Where a setting's value comes from. */
export type ValueSource = 'given' | 'preset' | 'default';

/**
 * The value a run gets for `name`: what the user typed, else the preset's, else the trainer's
 * default (null: none). A given max_steps drops the preset's num_train_epochs, as resolvePreset does.
 */
export function effectiveValue(name: string, values: Readonly<Record<string, string>>, choice: LossChoice, parameters: number): { value: string | number | boolean | null; source: ValueSource } {
  const given = values[name]?.trim() ?? '';
  if (given !== '') return { value: FIELD_BY_NAME.get(name)?.type === 'bool' ? given === 'true' : given, source: 'given' };
  const preset = presetValues(choice, parameters).values;
  const fromMaxSteps = name === 'num_train_epochs' && (values.max_steps?.trim() ?? '') !== '';
  if (name in preset && !fromMaxSteps) return { value: preset[name] as string | number | boolean, source: 'preset' };
  return { value: TRAINER_DEFAULTS[name] ?? null, source: 'default' };
}

const FIELD_BY_NAME = new Map(FIELDS.map((f) => [f.name, f]));

/** A problem with one typed setting. */
export interface SettingProblem {
  name: string;
  message: string;
}

/** Checks what the user typed for `field` (empty is fine: the preset's or default value). */
export function checkValue(field: SettingField, text: string): string | null {
  const t = text.trim();
  if (t === '' || field.type === 'bool') return null;
  if (field.type === 'enum') return field.choices!.includes(t) ? null : `must be one of ${field.choices!.join(', ')}`;
  const n = Number(t);
  if (!Number.isFinite(n)) return `must be a number (e.g. ${field.name === 'learning_rate' ? '2e-4' : '8'}), not "${t}"`;
  if (field.type === 'int' && !Number.isInteger(n)) return 'must be a whole number';
  if (n < 0) return 'must not be negative';
  return null;
}

/**
 * startTraining's `config`: the preset (or loss_type), every setting the user typed, the Data
 * screen's sequence settings, LoRA settings only with use_peft (the trainer refuses them without).
 * Problems name the setting; with any, there is no config.
 */
export function buildConfig(values: Readonly<Record<string, string>>, choice: LossChoice, data: DataSettings, parameters: number): { config: Record<string, string | string[]> | null; problems: SettingProblem[] } {
  const { preset, lossType } = parseLoss(choice);
  const config: Record<string, string | string[]> = preset ? { preset } : { loss_type: [lossType!] };
  const types = lossTypesOf(choice, parameters);
  const peft = effectiveValue('use_peft', values, choice, parameters).value === true;
  const problems: SettingProblem[] = [];
  for (const f of FIELDS) {
    const text = values[f.name]?.trim() ?? '';
    if (text === '') continue;
    if (f.when && !f.when(types)) continue;
    if (f.group === 'lora' && f.name !== 'use_peft' && !peft) continue;
    const bad = checkValue(f, text);
    if (bad) problems.push({ name: f.name, message: `${f.name} ${bad}` });
    else config[f.name] = text;
  }
  if (config.max_steps !== undefined && config.num_train_epochs !== undefined) {
    problems.push({ name: 'max_steps', message: 'max_steps and num_train_epochs are both set: clear one of them (max_steps counts optimizer steps, num_train_epochs passes over the data)' });
  }
  config.sequence_style = data.sequence_style;
  if (data.max_length !== null) config.max_length = String(data.max_length);
  if (data.max_prompt_length !== null) config.max_prompt_length = String(data.max_prompt_length);
  return problems.length > 0 ? { config: null, problems } : { config, problems };
}

/** A run's loss in a few characters: the preset's name, or the loss types. */
export function lossLabel(config: Readonly<Record<string, unknown>>): string {
  if (typeof config.preset === 'string') return config.preset;
  const lt = config.loss_type;
  return Array.isArray(lt) ? lt.join('+') : typeof lt === 'string' ? lt : 'sigmoid';
}
