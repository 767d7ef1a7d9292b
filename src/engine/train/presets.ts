// Presets: the published recipes of the seed models, with TRL's names (spec preference-losses.md
// §3.3, §4, §5), and how each is scaled for a small model such as the built-in demo.
//
// The paper recipes train 9B models with an effective batch of 64–128 pairs over tens of thousands
// of pairs at learning rates around 1e-6. A 1M-parameter model on a few hundred pairs learns
// nothing in minutes at those rates, so `small` keeps the loss, the γ/β ratio, schedule shape,
// warmup and optimizer, raises the learning rate and β (the demo's log-ratios are small) and
// shrinks the batch to 8 pairs, one epoch (42 steps on the demo). The rates are the largest that
// keep the demo's chosen log-probs and greedy answers intact over a whole run (2e-3 learns faster
// and then collapses the model: chosen log-probs −0.7 → −128, garbage generations); held-out
// reward accuracy reaches 100 % for dpo, wpo-hb and simpo. Explicit flags override either.

/** The settings a preset fixes, as CLI flag names (canonical underscore form) → values. */
export type PresetFlags = Record<string, string | number | boolean | string[]>;

export interface Preset {
  name: string;
  /** Where the recipe comes from. */
  source: string;
  /** The recipe as published. */
  paper: PresetFlags;
  /** Changes applied on top of `paper` for small models (under SMALL_MODEL_PARAMS parameters). */
  small: PresetFlags;
  /** Why `small` differs, one line. */
  smallNote: string;
}

/** Models below this many parameters get a preset's `small` scaling. */
export const SMALL_MODEL_PARAMS = 50_000_000;

export const PRESETS: Record<string, Preset> = {
  'wpo-hb': {
    name: 'wpo-hb',
    source: 'wzhouad/gemma-2-9b-it-WPO-HB (model card; WPO repo scripts/run_wpo.py)',
    paper: {
      loss_type: ['sigmoid'],
      use_weighting: true,
      beta: 0.01,
      learning_rate: 1e-6,
      lr_scheduler_type: 'cosine',
      warmup_ratio: 0.1,
      num_train_epochs: 2,
      per_device_train_batch_size: 1,
      gradient_accumulation_steps: 128,
      optim: 'adamw_torch',
      max_length: 2048,
      max_prompt_length: 1800,
      seed: 1,
    },
    small: { learning_rate: 2e-4, beta: 0.1, per_device_train_batch_size: 8, gradient_accumulation_steps: 1, num_train_epochs: 1 },
    smallNote: 'lr 1e-6 → 2e-4, β 0.01 → 0.1, batch 128 → 8, 2 epochs → 1',
  },
  simpo: {
    name: 'simpo',
    source: 'princeton-nlp/gemma-2-9b-it-SimPO (SimPO repo training_configs/gemma-2-9b-it-simpo.yaml)',
    paper: {
      loss_type: ['simpo'],
      beta: 10,
      simpo_gamma: 5,
      cpo_alpha: 0,
      learning_rate: 8e-7,
      lr_scheduler_type: 'cosine',
      warmup_ratio: 0.1,
      num_train_epochs: 1,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 64,
      optim: 'adamw_torch',
      max_length: 2048,
      max_prompt_length: 1800,
      seed: 42,
    },
    small: { learning_rate: 2e-4, beta: 2.5, simpo_gamma: 1.25, per_device_train_batch_size: 8, gradient_accumulation_steps: 1 },
    smallNote: 'lr 8e-7 → 2e-4, β 10 → 2.5 (γ/β stays 0.5), batch 128 → 8',
  },
  sppo: {
    name: 'sppo',
    source: 'UCLA-AGI/Gemma-2-9B-It-SPPO-Iter1 (SPPO repo scripts/pipeline.sh, recipes/uclaml-sppo)',
    paper: {
      loss_type: ['sppo'],
      beta: 0.001,
      learning_rate: 5e-7,
      optim: 'rmsprop',
      lr_scheduler_type: 'linear',
      warmup_ratio: 0.1,
      num_train_epochs: 1,
      per_device_train_batch_size: 4,
      gradient_accumulation_steps: 16,
      max_length: 1024,
      max_prompt_length: 512,
      seed: 42,
    },
    small: { learning_rate: 1e-4, beta: 0.1, per_device_train_batch_size: 8, gradient_accumulation_steps: 1 },
    smallNote: 'lr 5e-7 → 1e-4, β 0.001 → 0.1 (targets ±5 nats instead of ±500), batch 64 → 8',
  },
  dpo: {
    name: 'dpo',
    source: 'princeton-nlp/gemma-2-9b-it-DPO (model card) with TRL DPOConfig defaults',
    paper: {
      loss_type: ['sigmoid'],
      beta: 0.01,
      learning_rate: 5e-7,
      lr_scheduler_type: 'cosine',
      warmup_ratio: 0.1,
      num_train_epochs: 1,
      per_device_train_batch_size: 2,
      gradient_accumulation_steps: 64,
      optim: 'adamw_torch',
      max_length: 2048,
      max_prompt_length: 1800,
      seed: 42,
    },
    small: { learning_rate: 2e-4, beta: 0.1, per_device_train_batch_size: 8, gradient_accumulation_steps: 1 },
    smallNote: 'lr 5e-7 → 2e-4, β 0.01 → 0.1, batch 128 → 8',
  },
};

/** The flags of preset `name` for a model of `params` parameters, and which scaling was used. */
export function presetFlags(name: string, params: number): { flags: PresetFlags; scaled: boolean; note: string } {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset '${name}'`);
  const scaled = params < SMALL_MODEL_PARAMS;
  return {
    flags: scaled ? { ...p.paper, ...p.small } : { ...p.paper },
    scaled,
    note: scaled ? `preset ${name} (${p.source}) scaled for a small model (${params.toLocaleString('en-US')} parameters): ${p.smallNote}` : `preset ${name}: ${p.source}`,
  };
}
