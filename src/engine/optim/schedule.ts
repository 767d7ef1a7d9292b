// Learning-rate schedules of Hugging Face transformers (optimization.py), as pure functions of the
// step. HF wraps each `lr_lambda` in torch's LambdaLR, so optimizer step k (0-based) runs with
//   lr_k = base_lr · λ(k)
// — the first step uses λ(0), which is 0 for every schedule with warmup. Formulas, exactly:
//
//   constant               λ(k) = 1
//   constant_with_warmup   λ(k) = k / max(1, W)  for k < W, else 1
//   linear                 λ(k) = k / max(1, W)  for k < W, else max(0, (N − k) / max(1, N − W))
//   cosine                 λ(k) = k / max(1, W)  for k < W, else
//                                 max(0, ½·(1 + cos(π · c · 2 · (k − W) / max(1, N − W))))   (c = 0.5)
//
// with N = total optimizer steps and W = warmup steps. W comes from TrainingArguments: warmup_steps
// if > 0, else ceil(N · warmup_ratio) (so ratio 0.07 of N = 100 gives W = 8: 100·0.07 is
// 7.000000000000001 in float64, and HF has the same quirk).
// NOTE: as in HF, cosine is not clamped past N (it rises again for k > N); linear stays at 0.
// Tests: schedule.test.ts (hand-computed values and torch LambdaLR output).

import { EngineError } from '../errors.ts';

export type ScheduleName = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';

export interface ScheduleOptions {
  name: ScheduleName;
  /** N, total optimizer steps (needed by linear and cosine). */
  totalSteps?: number;
  /** W as a step count; takes precedence over warmupRatio when > 0 (HF TrainingArguments). */
  warmupSteps?: number;
  /** W as a fraction of totalSteps: W = ceil(totalSteps · warmupRatio). */
  warmupRatio?: number;
  /** Cosine waves, default 0.5 (a half cosine from 1 down to 0). */
  numCycles?: number;
}

/** HF TrainingArguments.get_warmup_steps: warmupSteps if > 0, else ceil(totalSteps · warmupRatio). */
export function resolveWarmupSteps(totalSteps: number, warmupSteps = 0, warmupRatio = 0): number {
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) throw new EngineError('schedule', `warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  if (!(warmupRatio >= 0 && warmupRatio <= 1)) throw new EngineError('schedule', `warmupRatio must be in [0, 1], got ${warmupRatio}`);
  return warmupSteps > 0 ? warmupSteps : Math.ceil(totalSteps * warmupRatio);
}

// ---------------------------------------------------------------------- the lr_lambdas

export function constantLambda(_step: number): number {
  return 1;
}

export function constantWithWarmupLambda(step: number, warmupSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return 1;
}

/** get_linear_schedule_with_warmup */
export function linearLambda(step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/** get_cosine_schedule_with_warmup */
export function cosineLambda(step: number, warmupSteps: number, totalSteps: number, numCycles = 0.5): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
}

// ---------------------------------------------------------------------- configured schedules

/** The multiplier λ(step) of a configured schedule (validated once, here). */
export function lrLambda(opts: ScheduleOptions): (step: number) => number {
  const total = opts.totalSteps ?? 0;
  if (opts.totalSteps !== undefined && !(Number.isInteger(total) && total >= 0)) {
    throw new EngineError('schedule', `totalSteps must be an integer >= 0, got ${opts.totalSteps}`);
  }
  if ((opts.warmupRatio ?? 0) > 0 && !(opts.warmupSteps! > 0) && opts.totalSteps === undefined) {
    throw new EngineError('schedule', `warmupRatio ${opts.warmupRatio} needs totalSteps`, 'pass totalSteps (optimizer steps of the whole run)');
  }
  const warmup = resolveWarmupSteps(total, opts.warmupSteps, opts.warmupRatio);
  const needTotal = (): void => {
    if (opts.totalSteps === undefined) throw new EngineError('schedule', `the ${opts.name} schedule needs totalSteps`);
  };
  switch (opts.name) {
    case 'constant':
      // HF's get_scheduler ignores warmup for 'constant'; say so instead of silently dropping it.
      if (warmup > 0) throw new EngineError('schedule', `'constant' has no warmup (got ${warmup} warmup steps)`, "use 'constant_with_warmup'");
      return constantLambda;
    case 'constant_with_warmup':
      return (step) => constantWithWarmupLambda(checkStep(step), warmup);
    case 'linear':
      needTotal();
      return (step) => linearLambda(checkStep(step), warmup, total);
    case 'cosine': {
      needTotal();
      const cycles = opts.numCycles ?? 0.5;
      return (step) => cosineLambda(checkStep(step), warmup, total, cycles);
    }
    default:
      throw new EngineError('schedule', `unknown schedule '${String((opts as { name: unknown }).name)}'`, 'use constant, constant_with_warmup, linear or cosine');
  }
}

/** The learning rate of optimizer step `step` (0-based): baseLr · λ(step), as LambdaLR sets it. */
export function lrAt(baseLr: number, opts: ScheduleOptions, step: number): number {
  return baseLr * lrLambda(opts)(step);
}

function checkStep(step: number): number {
  if (!(Number.isInteger(step) && step >= 0)) throw new EngineError('schedule', `step must be an integer >= 0, got ${step}`);
  return step;
}
