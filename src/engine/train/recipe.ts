// recipe: a PrefStudio run's settings → a TRL recipe that runs the same training on a multi-GPU
// cluster. trlRecipe(run) writes three texts: recipe.yaml (a TrlParser config for `trl dpo`, or for
// the recipe's train_cpo.py when the loss is SimPO), README.md (the accelerate launch line and what
// differs from the PrefStudio run) and, for SimPO, train_cpo.py. datasetJsonl(rows) writes the
// dataset as Hugging Face JSON lines (data.jsonl) in TRL's standard or conversational form.
//
// Source of truth for the names: TRL 1.12's DPOConfig / ScriptArguments / DatasetMixtureConfig,
// TRL 1.10's trl.experimental.cpo.CPOConfig, ModelConfig and transformers 5's TrainingArguments, as
// listed in e2e/fixtures/trl_fields.json (read from TRL's source); recipe.test.ts checks every key
// of every recipe against that list. Facts of TRL 1.x this file relies on:
//   - TRL 1.x has no `trl cpo` command: CPOTrainer lives in trl.experimental.cpo, so a SimPO recipe
//     ships a small train_cpo.py that parses the same YAML (TrlParser) and runs CPOTrainer.
//   - DPOConfig lost rpo_alpha, max_prompt_length, max_completion_length and reference_free in 0.29;
//     transformers 5 lost warmup_ratio (warmup_steps < 1 is a fraction of the steps, rounded up).
//   - TRL ≥ 0.29's `sigmoid` ignores label_smoothing and its use_weighting does not clamp the WPO
//     weight; SPPO (soft labels), sppo_single and GPO are not in TRL (spec preference-losses.md §2).
// A setting with no exact TRL counterpart is never mapped silently: it goes into `warnings`, into
// the YAML header as a comment, and into the README, each time with the nearest TRL setting.
//
// What it is not: a TRL runner (nothing here runs Python) or a dataset validator (examples.ts is
// the one place that decides whether a row is well-formed; datasetJsonl asks it). No Node or DOM
// API: the studio's Export screen and `prefstudio recipe` (src/cli/recipe.ts) both call it.

import { EngineError } from '../errors.ts';
import type { RowNaming } from '../data/dataset.ts';
import { validateRows } from '../data/examples.ts';
import { resolveSequenceOptions, type ResolvedSequenceOptions } from '../data/pairs.ts';
import { LORA_DEFAULTS, type LoraConfig, type LoraTarget } from '../model/lora.ts';
import { lossConfigFromFlags, resolvePreset, sequenceOptionsFromFlags, trainOptionsFromFlags, type Flags } from './config.ts';
import { exoEpsilon, lossWeightsOf, needsReference, validateLossConfig, type LossConfig, type LossType } from './losses.ts';
import { SMALL_MODEL_PARAMS } from './presets.ts';
import type { TrainOptions } from './trainer.ts';

/** The TRL version whose field names the recipe uses (e2e/fixtures/trl_fields.json). */
export const TRL_RECIPE_VERSION = '1.12';

/** A PrefStudio run as the recipe needs it. */
export interface RecipeRun {
  /** The run's settings by TRL name, as `prefstudio train` / the worker's startTraining take them (preset unresolved or resolved). */
  settings: Flags;
  /** The run's LoRA settings; null = full fine-tuning; undefined = read use_peft / lora_* from `settings`. */
  lora?: LoraConfig | null;
  /** model_name_or_path on the cluster: a Hub id (google/gemma-2-2b-it) or a path there. */
  model: string;
  /** Parameter count of the trained model: picks a preset's scaling as the run did (default: the published recipe). */
  parameters?: number;
  /** GPUs (accelerate processes) the recipe is written for (default 8). */
  numProcesses?: number;
  /** output_dir on the cluster (default "output"). */
  outputDir?: string;
  /** The dataset file next to recipe.yaml (default "data.jsonl"). */
  dataFile?: string;
}

export interface TrlRecipe {
  /** `dpo`: `trl dpo` (DPOTrainer); `cpo`: train_cpo.py (trl.experimental.cpo.CPOTrainer, SimPO). */
  trainer: 'dpo' | 'cpo';
  /** File name → text: recipe.yaml, README.md (and train_cpo.py for cpo). The dataset: datasetJsonl. */
  files: Record<string, string>;
  /** What recipe.yaml sets, as values (the YAML parses to this). */
  config: Record<string, unknown>;
  /** Every difference from the PrefStudio run, each naming the nearest TRL setting. */
  warnings: string[];
  /** The multi-GPU launch line. */
  command: string;
}

// ---------------------------------------------------------------------------------------------
// YAML entries

/** A value with the YAML form it is written in (PyYAML, which TrlParser uses, reads YAML 1.1). */
type Value =
  | { t: 'int'; v: number }
  | { t: 'float'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string }
  | { t: 'strs'; v: string[] }
  | { t: 'floats'; v: number[] }
  | { t: 'null' }
  | { t: 'datasets'; v: { path: string; data_files: string; split: string }[] };

interface Entry {
  key: string;
  value: Value;
  /** One short YAML comment after the value. */
  note?: string;
}

const int = (v: number): Value => ({ t: 'int', v });
const float = (v: number): Value => ({ t: 'float', v });
const bool = (v: boolean): Value => ({ t: 'bool', v });
const str = (v: string): Value => ({ t: 'str', v });

/** TRL 1.12's DPO loss types (DPOConfig.loss_type). */
const TRL_DPO_LOSSES: ReadonlySet<LossType> = new Set(['sigmoid', 'hinge', 'ipo', 'exo_pair', 'nca_pair', 'robust', 'bco_pair', 'sppo_hard', 'aot', 'aot_unpaired', 'apo_zero', 'apo_down', 'discopop', 'sft', 'sigmoid_norm']);

/** Our loss types TRL does not have, with the nearest TRL loss and what differs. */
const NOT_IN_TRL: Partial<Record<LossType, { nearest: LossType; what: string }>> = {
  sppo: { nearest: 'sppo_hard', what: "SPPO as its authors train it (½·squared residuals of a, b toward (P̂ − ½)/β, P̂ from the chosen_probs_win / chosen_probs_lose columns) is not in TRL; sppo_hard uses hard labels (P̂_w = 1, P̂_l = 0), has no ½ and ignores the win-rate columns" },
  sppo_single: { nearest: 'sppo_hard', what: 'sppo_single (targets ±(P_wl − ½)/β from chosen_probs, with ½) is not in TRL; sppo_hard uses hard labels, has no ½ and ignores chosen_probs' },
  gpo: { nearest: 'sppo_hard', what: "GPO (regressing a, b onto the GPM scores score_chosen / score_rejected, with ½) is not in TRL; sppo_hard regresses onto ±1/(2β) from hard labels and ignores the score columns" },
};

/** TRL's spelling of our f-divergence names. */
const F_DIVERGENCE: Record<LossConfig['fDivergenceType'], string> = { reverse_kl: 'reverse_kl', forward_kl: 'forward_kl', js: 'js_divergence', alpha: 'alpha_divergence' };
/** Loss types TRL 1.12 accepts a non-default f_divergence_type with (DPOConfig docstring). */
const TRL_F_DIVERGENCE_LOSSES: ReadonlySet<LossType> = new Set(['sigmoid', 'sigmoid_norm', 'hinge', 'ipo', 'exo_pair', 'robust', 'discopop', 'sft']);

/** Collects differences: each one a warning naming the nearest TRL setting. */
class Differences {
  readonly list: string[] = [];
  add(setting: string, what: string, nearest: string): void {
    this.list.push(`${setting}: ${what}. Nearest TRL setting: ${nearest}.`);
  }
}

// ---------------------------------------------------------------------------------------------
// the recipe

/** The TRL recipe of a PrefStudio run (see the file header). Throws an EngineError naming a bad setting. */
export function trlRecipe(run: RecipeRun): TrlRecipe {
  const { flags, note: presetNote } = resolvePreset(run.settings, run.parameters ?? SMALL_MODEL_PARAMS);
  const loss = validateLossConfig(lossConfigFromFlags(flags));
  const train = trainOptionsFromFlags(flags);
  const seq = resolveSequenceOptions(sequenceOptionsFromFlags(flags));
  const lora = run.lora !== undefined ? run.lora : loraFromSettings(flags);
  const numProcesses = run.numProcesses ?? 8;
  if (!(Number.isInteger(numProcesses) && numProcesses >= 1)) throw new EngineError('recipe num_processes', `must be a positive integer, got ${String(numProcesses)}`);
  if (typeof run.model !== 'string' || run.model.trim() === '') {
    throw new EngineError('recipe model_name_or_path', 'is empty', 'give the Hub id (e.g. google/gemma-2-2b-it) or the path of the model on the cluster');
  }
  const trainer: TrlRecipe['trainer'] = loss.lossTypes.includes('simpo') ? 'cpo' : 'dpo';
  const diff = new Differences();
  const dataFile = run.dataFile ?? 'data.jsonl';

  const sections: { title: string; entries: Entry[] }[] = [
    {
      title: 'model and data',
      entries: [
        { key: 'model_name_or_path', value: str(run.model) },
        { key: 'datasets', value: { t: 'datasets', v: [{ path: 'json', data_files: dataFile, split: 'train' }] }, note: `${dataFile} next to this file (prefstudio recipe writes it)` },
        { key: 'output_dir', value: str(run.outputDir ?? 'output') },
      ],
    },
    { title: trainer === 'cpo' ? 'loss (CPOConfig, SimPO)' : 'loss (DPOConfig)', entries: trainer === 'cpo' ? cpoLossEntries(loss, diff) : dpoLossEntries(loss, diff) },
    { title: 'optimizer and schedule (TrainingArguments)', entries: scheduleEntries(train, numProcesses, diff) },
    { title: 'sequences', entries: sequenceEntries(seq, trainer, diff) },
    { title: lora ? 'LoRA (ModelConfig)' : 'full fine-tuning', entries: loraEntries(lora, diff) },
    {
      title: 'cluster',
      entries: [
        { key: 'bf16', value: bool(true), note: 'PrefStudio trains in f32 (LoRA: f32 adapters on a 16-bit base)' },
        { key: 'gradient_checkpointing', value: bool(true) },
      ],
    },
  ];

  const command = trainer === 'dpo'
    ? `trl dpo --config recipe.yaml --num_processes ${numProcesses}`
    : `accelerate launch --num_processes ${numProcesses} train_cpo.py --config recipe.yaml`;
  const config: Record<string, unknown> = {};
  for (const s of sections) for (const e of s.entries) config[e.key] = plainValue(e.value);
  const warnings = diff.list;
  const header = [
    `PrefStudio → TRL ${TRL_RECIPE_VERSION} recipe: ${lossSummary(loss)}${lora ? ', LoRA' : ', full fine-tuning'}, ${numProcesses} GPUs`,
    ...(presetNote ? [presetNote] : []),
    `Run (see README.md): ${command}`,
    ...(warnings.length ? ['', 'Differs from the PrefStudio run:', ...warnings.map((w) => `- ${w}`)] : ['', 'Every setting has an exact TRL counterpart (README.md lists what still differs: precision, data order).']),
  ];
  const files: Record<string, string> = {
    'recipe.yaml': yamlText(header, sections),
    'README.md': recipeReadme({ trainer, command, numProcesses, warnings, presetNote, dataFile, loss, lora }),
  };
  if (trainer === 'cpo') files['train_cpo.py'] = TRAIN_CPO_PY;
  return { trainer, files, config, warnings, command };
}

/** LoRA settings from use_peft / lora_r / lora_alpha / lora_dropout / lora_target_modules / use_rslora (ModelConfig names), or null. */
export function loraFromSettings(f: Flags): LoraConfig | null {
  if (f.use_peft !== true) return null;
  const num = (k: string, d: number): number => (f[k] === undefined ? d : Number(f[k]));
  const targets = f.lora_target_modules === undefined ? LORA_DEFAULTS.targets : (f.lora_target_modules as string[]).map((s) => String(s).trim() as LoraTarget);
  return { r: num('lora_r', LORA_DEFAULTS.r), alpha: num('lora_alpha', LORA_DEFAULTS.alpha), dropout: num('lora_dropout', LORA_DEFAULTS.dropout), targets, useRslora: f.use_rslora === true };
}

function lossSummary(loss: LossConfig): string {
  const w = lossWeightsOf(loss);
  const types = loss.lossTypes.map((t, i) => (loss.lossTypes.length > 1 ? `${w[i]}·${t}` : t)).join(' + ');
  return `${types}${loss.useWeighting ? ' with WPO weights' : ''}, β ${loss.beta}`;
}

// ---- loss

function dpoLossEntries(loss: LossConfig, diff: Differences): Entry[] {
  const weights = lossWeightsOf(loss);
  // our loss type → TRL's (or its nearest), summing the weights of types that map to the same one
  const mapped = new Map<LossType, number>();
  loss.lossTypes.forEach((t, i) => {
    const missing = NOT_IN_TRL[t];
    if (missing) diff.add(`loss_type ${t}`, missing.what, `loss_type ${missing.nearest}`);
    else if (!TRL_DPO_LOSSES.has(t)) throw new EngineError('recipe loss_type', `'${t}' has no DPOTrainer counterpart`); // simpo goes to the CPO recipe
    const trl = missing ? missing.nearest : t;
    mapped.set(trl, (mapped.get(trl) ?? 0) + weights[i]);
  });
  const types = [...mapped.keys()];
  const out: Entry[] = [{ key: 'loss_type', value: { t: 'strs', v: types }, note: types.some((t, i) => t !== loss.lossTypes[i]) || types.length !== loss.lossTypes.length ? 'NOT the same loss: see the header' : undefined }];
  const w = [...mapped.values()];
  if (w.length > 1 || w[0] !== 1) out.push({ key: 'loss_weights', value: { t: 'floats', v: w } });
  out.push({ key: 'beta', value: float(loss.beta) });

  const eps = loss.labelSmoothing;
  if (types.includes('exo_pair')) {
    out.push({ key: 'label_smoothing', value: float(exoEpsilon(loss)), note: eps > 0 ? undefined : 'exo_pair ε: PrefStudio uses 1e-3 when label_smoothing is 0 (classic TRL); TRL 1.x needs it > 0' });
  } else if (eps > 0) {
    out.push({ key: 'label_smoothing', value: float(eps) });
  }
  if (eps > 0 && types.includes('sigmoid')) {
    diff.add('label_smoothing', `PrefStudio applies cDPO smoothing −(1−ε)logσ(βh) − ε·logσ(−βh) with ε = ${eps} to sigmoid (classic TRL, the WPO/SimPO authors); TRL ≥ 0.29's sigmoid ignores label_smoothing`, `loss_type robust with the same label_smoothing (unbiased noise-robust DPO, a different formula), or train PrefStudio with label_smoothing 0`);
  }
  if (loss.useWeighting) {
    out.push({ key: 'use_weighting', value: bool(true), note: loss.wpoClamp ? 'unclamped in TRL: see the header' : undefined });
    if (loss.wpoClamp) {
      diff.add('use_weighting', 'PrefStudio clamps the WPO pair weight at 1 (min(w, 1), as the WPO authors and TRL ≤ 0.28); TRL 1.x\'s use_weighting does not clamp it', 'use_weighting: true (unclamped weights); to compare like with like, train PrefStudio with --wpo_no_clamp');
    }
  }
  if (loss.ldAlpha !== null) out.push({ key: 'ld_alpha', value: float(loss.ldAlpha) });
  if (loss.fDivergenceType !== 'reverse_kl') {
    const rejected = types.filter((t) => !TRL_F_DIVERGENCE_LOSSES.has(t));
    if (rejected.length > 0) {
      diff.add('f_divergence_type', `TRL 1.x refuses f_divergence_type ${F_DIVERGENCE[loss.fDivergenceType]} with loss_type ${rejected.join(', ')} (PrefStudio applies it); the recipe leaves it out`, `reverse_kl (TRL's default), or a loss type among ${[...TRL_F_DIVERGENCE_LOSSES].join(', ')}`);
    } else {
      out.push({ key: 'f_divergence_type', value: str(F_DIVERGENCE[loss.fDivergenceType]) });
      if (loss.fDivergenceType === 'alpha') out.push({ key: 'f_alpha_divergence_coef', value: float(loss.fAlphaDivergenceCoef) });
    }
  }
  if (types.includes('discopop')) out.push({ key: 'discopop_tau', value: float(loss.discopopTau) });
  if (loss.referenceFree) {
    diff.add('reference_free', 'TRL 1.x\'s DPOConfig has no reference_free (removed in 0.29): the recipe trains against the reference model', 'none in DPOTrainer; reference-free preference losses are CPOTrainer\'s (trl.experimental.cpo, loss_type sigmoid or simpo)');
  } else if (needsReference(loss)) {
    out.push({ key: 'precompute_ref_log_probs', value: bool(true), note: 'as PrefStudio: reference log-probs computed once before training' });
  }
  return out;
}

function cpoLossEntries(loss: LossConfig, diff: Differences): Entry[] {
  const w = lossWeightsOf(loss);
  const simpoWeight = w[loss.lossTypes.indexOf('simpo')];
  const sftIndex = loss.lossTypes.indexOf('sft');
  const sftWeight = sftIndex >= 0 ? w[sftIndex] : 0;
  // ours: simpoWeight·(ℓ_simpo + cpo_alpha·NLL) + sftWeight·NLL; CPO: ℓ_simpo + cpo_alpha'·NLL
  const cpoAlpha = loss.cpoAlpha + sftWeight / simpoWeight;
  if (simpoWeight !== 1) {
    diff.add('loss_weights', `PrefStudio weighs the SimPO loss by ${simpoWeight}; CPOTrainer has no weight on it (the recipe's loss is PrefStudio's divided by ${simpoWeight}, cpo_alpha adjusted to keep the NLL share)`, `learning_rate × ${simpoWeight} for plain SGD; with AdamW the scale mostly cancels`);
  }
  const out: Entry[] = [
    { key: 'loss_type', value: str('simpo') },
    { key: 'beta', value: float(loss.beta) },
    { key: 'simpo_gamma', value: float(loss.simpoGamma), note: `absolute γ (γ/β = ${round(loss.simpoGamma / loss.beta)})` },
    { key: 'cpo_alpha', value: float(cpoAlpha), note: cpoAlpha === 0 ? 'pure SimPO (CPOConfig\'s default 1.0 adds an NLL term)' : 'NLL weight' },
  ];
  if (loss.labelSmoothing > 0) out.push({ key: 'label_smoothing', value: float(loss.labelSmoothing) });
  if (loss.useWeighting) diff.add('use_weighting', 'CPOConfig has no WPO weighting: the recipe trains unweighted SimPO', 'none (SimPO without weights)');
  return out;
}

// ---- optimizer, schedule, batch

function scheduleEntries(train: Omit<TrainOptions, 'loss'>, numProcesses: number, diff: Differences): Entry[] {
  const out: Entry[] = [
    { key: 'learning_rate', value: float(train.learningRate) },
    { key: 'lr_scheduler_type', value: str(train.lrSchedulerType) },
  ];
  if (train.warmupSteps > 0) out.push({ key: 'warmup_steps', value: int(train.warmupSteps) });
  else if (train.warmupRatio > 0 && train.warmupRatio < 1) {
    out.push({ key: 'warmup_steps', value: float(train.warmupRatio), note: `warmup_ratio ${train.warmupRatio}: below 1 it is a fraction of the steps (transformers 5 has no warmup_ratio)` });
  } else if (train.warmupRatio >= 1) {
    out.push({ key: 'warmup_steps', value: int(0) });
    diff.add('warmup_ratio', `${train.warmupRatio} (the whole run) cannot be written as warmup_steps, where 1 means one step`, 'warmup_steps: N with N the run\'s step count');
  }
  if (train.maxSteps !== null) out.push({ key: 'max_steps', value: int(train.maxSteps) });
  else out.push({ key: 'num_train_epochs', value: float(train.numTrainEpochs) });

  // Same pairs per optimizer step: per_device · accumulation · GPUs = ours (batch · accumulation).
  const pairs = train.batchSize * train.gradientAccumulationSteps;
  let perDevice = train.batchSize;
  let accumulation = train.gradientAccumulationSteps;
  if (pairs % numProcesses === 0) {
    const perGpu = pairs / numProcesses;
    perDevice = Math.max(...divisors(perGpu).filter((d) => d <= train.batchSize));
    accumulation = perGpu / perDevice;
  } else {
    diff.add('per_device_train_batch_size', `the run's ${pairs} pairs per optimizer step (batch ${train.batchSize} × accumulation ${train.gradientAccumulationSteps}) do not split over ${numProcesses} GPUs; the recipe keeps batch and accumulation per GPU, so each step sees ${pairs * numProcesses} pairs`, `a GPU count that divides ${pairs}, or learning_rate scaled to the larger batch`);
  }
  out.push(
    { key: 'per_device_train_batch_size', value: int(perDevice) },
    { key: 'gradient_accumulation_steps', value: int(accumulation), note: `${perDevice} × ${accumulation} × ${numProcesses} GPUs = ${perDevice * accumulation * numProcesses} pairs per step` },
    { key: 'optim', value: str(train.optim) },
    { key: 'weight_decay', value: float(train.weightDecay) },
  );
  if (train.optim === 'adamw_torch') {
    out.push({ key: 'adam_beta1', value: float(train.adamBeta1) }, { key: 'adam_beta2', value: float(train.adamBeta2) }, { key: 'adam_epsilon', value: float(train.adamEpsilon) });
  }
  out.push(
    { key: 'max_grad_norm', value: float(train.maxGradNorm ?? 0), note: train.maxGradNorm === null ? 'no clipping' : undefined },
    { key: 'seed', value: int(train.seed), note: 'same seed, not the same data order (a different sampler)' },
  );
  return out;
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

// ---- sequences

function sequenceEntries(seq: ResolvedSequenceOptions, trainer: TrlRecipe['trainer'], diff: Differences): Entry[] {
  const out: Entry[] = [{ key: 'max_length', value: seq.maxLength === null ? { t: 'null' } : int(seq.maxLength) }];
  if (trainer === 'dpo') out.push({ key: 'truncation_mode', value: str('keep_start'), note: 'the only mode TRL 1.x supports' });
  if (seq.style !== 'trl-1.x') {
    const prompt = seq.maxPromptLength !== null ? `, max_prompt_length ${seq.maxPromptLength}` : '';
    const completion = seq.maxCompletionLength !== null ? `, max_completion_length ${seq.maxCompletionLength}` : '';
    diff.add('sequence_style', `the run used PrefStudio's sequence style ${seq.style} (${seq.style === 'trl-0.9' ? 'TRL 0.9.6: <bos> prompt, <eos> appended, the prompt cut first' : 'TRL 0.12–0.28: <eos> appended, prompt and completion cut separately'}${prompt}${completion}, truncation ${seq.truncationMode}); TRL ${TRL_RECIPE_VERSION} keeps the first max_length tokens of prompt + completion and drops rows whose prompt alone fills it`, 'max_length as here; train PrefStudio with --sequence_style trl-1.x to get TRL 1.x\'s token sequences');
  }
  if (trainer === 'cpo' && seq.maxCompletionLength !== null) out.push({ key: 'max_completion_length', value: int(seq.maxCompletionLength) });
  return out;
}

// ---- LoRA

function loraEntries(lora: LoraConfig | null, diff: Differences): Entry[] {
  if (!lora) return [{ key: 'use_peft', value: bool(false), note: 'every parameter trains, as in PrefStudio' }];
  let alpha = lora.alpha;
  if (!Number.isInteger(alpha)) {
    alpha = Math.round(alpha);
    diff.add('lora_alpha', `${lora.alpha} is not an integer and ModelConfig.lora_alpha is an int: the recipe uses ${alpha}, so the LoRA scale is ${round(alpha / (lora.useRslora ? Math.sqrt(lora.r) : lora.r))} instead of ${round(lora.alpha / (lora.useRslora ? Math.sqrt(lora.r) : lora.r))}`, `lora_alpha ${alpha}`);
  }
  const out: Entry[] = [
    { key: 'use_peft', value: bool(true) },
    { key: 'lora_r', value: int(lora.r) },
    { key: 'lora_alpha', value: int(alpha) },
    { key: 'lora_dropout', value: float(lora.dropout) },
    { key: 'lora_target_modules', value: { t: 'strs', v: [...lora.targets] } },
  ];
  if (lora.useRslora) out.push({ key: 'use_rslora', value: bool(true) });
  if (lora.dropout > 0) out.push({ key: 'disable_dropout', value: bool(false), note: 'keeps lora_dropout on (Gemma-2 has no other dropout)' });
  return out;
}

function round(x: number): number {
  return Number(x.toPrecision(6));
}

// ---------------------------------------------------------------------------------------------
// YAML text (block mappings, flow lists, JSON-quoted strings: read the same by PyYAML and YAML 1.2)

/** A float as PyYAML reads a float: a dot, and a signed exponent (PyYAML reads `1e-6` as a string). */
export function yamlFloat(x: number): string {
  if (!Number.isFinite(x)) throw new EngineError('recipe', `cannot write the non-finite number ${x} into recipe.yaml`);
  const s = String(x);
  const e = s.indexOf('e');
  if (e < 0) return s.includes('.') ? s : `${s}.0`;
  const mantissa = s.slice(0, e);
  const exponent = s.slice(e + 1);
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}e${/^[+-]/.test(exponent) ? exponent : `+${exponent}`}`;
}

function yamlValue(v: Value): string {
  switch (v.t) {
    case 'int':
      if (!Number.isSafeInteger(v.v)) throw new EngineError('recipe', `expected an integer, got ${v.v}`);
      return String(v.v);
    case 'float':
      return yamlFloat(v.v);
    case 'bool':
      return v.v ? 'true' : 'false';
    case 'str':
      return JSON.stringify(v.v);
    case 'strs':
      return `[${v.v.map((s) => JSON.stringify(s)).join(', ')}]`;
    case 'floats':
      return `[${v.v.map(yamlFloat).join(', ')}]`;
    case 'null':
      return 'null';
    case 'datasets':
      return v.v.map((d) => `\n  - path: ${JSON.stringify(d.path)}\n    data_files: ${JSON.stringify(d.data_files)}\n    split: ${JSON.stringify(d.split)}`).join('');
  }
}

function plainValue(v: Value): unknown {
  return v.t === 'null' ? null : v.t === 'datasets' ? v.v.map((d) => ({ ...d })) : Array.isArray(v.v) ? [...v.v] : v.v;
}

function yamlText(header: string[], sections: { title: string; entries: Entry[] }[]): string {
  const lines = header.map((h) => (h === '' ? '#' : `# ${h}`));
  for (const s of sections) {
    lines.push('', `# ${s.title}`);
    for (const e of s.entries) {
      const value = yamlValue(e.value);
      const note = e.note ? `  # ${e.note}` : '';
      lines.push(e.value.t === 'datasets' ? `${e.key}:${note}${value}` : `${e.key}: ${value}${note}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// README.md and train_cpo.py

function recipeReadme(o: { trainer: TrlRecipe['trainer']; command: string; numProcesses: number; warnings: string[]; presetNote: string | null; dataFile: string; loss: LossConfig; lora: LoraConfig | null }): string {
  const cpo = o.trainer === 'cpo';
  const lines = [
    '# PrefStudio → TRL recipe',
    '',
    `The same training as the PrefStudio run — ${lossSummary(o.loss)}, ${o.lora ? `LoRA r ${o.lora.r}` : 'full fine-tuning'} — with Hugging Face TRL ${TRL_RECIPE_VERSION} on ${o.numProcesses} GPUs.`,
    ...(o.presetNote ? ['', `Settings: ${o.presetNote}.`] : []),
    '',
    '| file | what |',
    '|---|---|',
    `| \`recipe.yaml\` | every setting, with ${cpo ? 'CPOConfig' : 'DPOConfig'} / ModelConfig / TrainingArguments names |`,
    `| \`${o.dataFile}\` | the preference pairs as the run loaded them: one \`{"prompt", "chosen", "rejected"}\` per line (TRL's standard or conversational form) |`,
    ...(cpo ? ['| `train_cpo.py` | runs `trl.experimental.cpo.CPOTrainer` on `recipe.yaml` (TRL 1.x has no `trl cpo` command) |'] : []),
    '',
    '## Run',
    '',
    '```sh',
    `pip install "trl[peft]>=${TRL_RECIPE_VERSION}" accelerate`,
    'cd THIS_FOLDER        # data_files in recipe.yaml is relative',
    o.command,
    ...(cpo ? [] : [`# the same, through accelerate directly:\naccelerate launch --num_processes ${o.numProcesses} -m trl.scripts.dpo --config recipe.yaml`]),
    '```',
    '',
    `More machines: add \`--num_machines M --machine_rank R --main_process_ip HOST\` (accelerate's flags) on each.${cpo ? '' : ' DeepSpeed ZeRO-3 or FSDP: `trl dpo --config recipe.yaml --accelerate_config zero3` (or `fsdp2`).'}`,
    `Flags after the config override it (\`--learning_rate 1.0e-6\`). The pairs per optimizer step stay the run's: per_device_train_batch_size × gradient_accumulation_steps × ${o.numProcesses} GPUs; with another GPU count, adjust gradient_accumulation_steps.`,
    '',
    '## What differs from the PrefStudio run',
    '',
    ...(o.warnings.length ? o.warnings.map((w) => `- ${w}`) : ['- Every loss and optimizer setting has an exact TRL counterpart.']),
    '- Precision: PrefStudio computes in f32 (LoRA: f32 adapters over a 16-bit base); the recipe trains in bf16 mixed precision. Expect the same curves, not the same bits.',
    '- Data order: the same seed, a different sampler, so batches differ; over an epoch every pair is seen once in both.',
    '',
    `Field names: TRL ${TRL_RECIPE_VERSION}'s sources, listed in PrefStudio's e2e/fixtures/trl_fields.json; its test parses every recipe and checks each key against that list.`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The SimPO / CPO launcher shipped with a CPO recipe (TRL 1.x has no `trl cpo`). */
const TRAIN_CPO_PY = `# SimPO / CPO training for a PrefStudio recipe: TRL 1.x has no \`trl cpo\` command (CPOTrainer lives in
# trl.experimental.cpo), so this script reads recipe.yaml the way \`trl dpo\` reads its config (TrlParser)
# and runs CPOTrainer on the datasets it names.
#
#   accelerate launch --num_processes 8 train_cpo.py --config recipe.yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, TrlParser, get_dataset, get_peft_config
from trl.experimental.cpo import CPOConfig, CPOTrainer


def main():
    parser = TrlParser((ScriptArguments, CPOConfig, ModelConfig, DatasetMixtureConfig))
    script_args, training_args, model_args, dataset_args, _ = parser.parse_args_and_config(return_remaining_strings=True)
    model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = get_dataset(dataset_args)
    trainer = CPOTrainer(
        model,
        args=training_args,
        train_dataset=dataset[script_args.dataset_train_split],
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    trainer.train()
    trainer.save_model(training_args.output_dir)


if __name__ == "__main__":
    main()
`;

// ---------------------------------------------------------------------------------------------
// the dataset as Hugging Face JSON lines

/**
 * The rows of a read dataset as TRL JSON lines: each well-formed row → one
 * {"prompt", "chosen", "rejected"} line, with the prompt as PrefStudio extracted it (implicit-prompt
 * and UltraFeedback-style rows get an explicit prompt, which TRL reads the same way). Text rows give
 * TRL's standard form, message rows its conversational form; extra columns (SPPO / GPO targets) are
 * not written, since no TRL loss reads them. Throws the DatasetError of examples.ts for malformed
 * rows, and an EngineError for token-id rows or a mix of text and message rows (a JSON-lines dataset
 * has one type per column).
 */
export function datasetJsonl(ds: RowNaming & { rows: readonly unknown[] }): { text: string; rows: number; form: 'standard' | 'conversational' } {
  const valid = validateRows(ds.rows, { file: ds.file, lines: ds.lines, key: ds.key, vocabSize: Number.MAX_SAFE_INTEGER, hasTokenizer: true });
  const ids = valid.find((v) => v.content.form === 'ids');
  if (ids) {
    throw new EngineError(ds.file, 'holds token-id rows; a TRL recipe needs the text (TRL tokenizes it with the model\'s own tokenizer and chat template)', 'export the dataset as text or chat-message rows');
  }
  const forms = new Set(valid.map((v) => v.content.form));
  if (forms.size > 1) {
    const first = (f: string): number => valid.find((v) => v.content.form === f)!.row;
    throw new EngineError(ds.file, `mixes text rows (e.g. row index ${first('text')}) and chat-message rows (e.g. row index ${first('messages')}); a JSON-lines dataset needs one form for every row`, 'convert the text rows to [{"role": "user", …}] / [{"role": "assistant", …}] message lists, or the other way round');
  }
  const lines = valid.map((v) => {
    const c = v.content as Exclude<typeof v.content, { form: 'ids' }>;
    return JSON.stringify({ prompt: c.prompt, chosen: c.chosen, rejected: c.rejected });
  });
  return { text: `${lines.join('\n')}\n`, rows: lines.length, form: forms.has('messages') ? 'conversational' : 'standard' };
}
