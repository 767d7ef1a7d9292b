// From parsed command-line flags (canonical TRL / transformers names, see commands.ts) to the
// engine's typed configurations: LossConfig (train/losses.ts) and TrainOptions (train/trainer.ts).
// Values arrive typed by the command table; semantic checks (ranges, combinations) happen here and
// in the engine, with messages that name the flag.

import { EngineError } from '../engine/errors.ts';
import { defaultLossConfig, type LossConfig, type LossType } from '../engine/train/losses.ts';
import { TRAIN_DEFAULTS, type OptimName, type TrainOptions } from '../engine/train/trainer.ts';
import type { ScheduleName } from '../engine/optim/schedule.ts';

/** Parsed flags: canonical name → value (string, number, boolean or string[]/number[] lists). */
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
    seed: num(f, 'seed') ?? d.seed,
  };
}
