// Trainer: full fine-tuning of a Gemma-2 on preference pairs with any loss of ops/pref_loss.ts.
// One optimizer step (HF Trainer's inner loop, as TRL's DPOTrainer runs it):
//
//   for each of the K micro-batches of the step (gradient_accumulation_steps):
//     pack B pairs as 2B right-padded rows            train/sequences.ts
//     policy forward → per-token log-probs → per-row sums (GPU, kept per row)
//     per-pair loss (GPU) with the cached reference sums, scaled by 1/K; backward (grads accumulate)
//   one readback: per-pair records, per-row sums, the loss, the global grad norm and the
//     non-finite flags (e.readMany: one mapAsync for the step)
//   non-finite anything → the step is skipped (no update, no optimizer step count), the pair and the
//     tensor are named, several in a row stop the run
//   else clip (max_grad_norm, on the GPU) and AdamW / RMSProp at the scheduled learning rate
//
// Data order: a seeded permutation per epoch (`seed`, epoch), consecutive micro-batches of
// per_device_train_batch_size pairs; the last micro-batch of an epoch may be smaller (TRL's
// dataloader_drop_last is False) and an epoch's last step may hold fewer micro-batches (HF steps at
// the end of each epoch). The same seed and data give the same steps bit for bit (every kernel
// sums in a fixed order; the tuner's kernel choices are part of the run, see kernelChoices()).
//
// Weight decay as the HF Trainer applies it: not on biases or norm weights (Gemma-2 has no biases;
// every `*norm.weight` gets 0).
//
// LoRA: with `params.adapter` the trainable tensors are the adapter's factors (PEFT names; every
// lora_A/lora_B is decayed, as get_decay_parameter_names leaves them) and every base tensor is
// frozen. Each training forward's dropout seed is mixSeed(seed, step, micro-batch) (model/lora.ts);
// evaluation runs without dropout, and the reference is the base with the adapter off (ref_cache.ts).

import type { Engine } from '../engine.ts';
import { EngineError } from '../errors.ts';
import { namedParams, type Gemma2Dims, type Gemma2Params } from '../model/gemma2.ts';
import { adapterParams } from '../model/lora.ts';
import { mixSeed } from '../ops/dropout.ts';
import { prefLoss } from '../ops/pref_loss.ts';
import { AdamW } from '../optim/adamw.ts';
import { clipGradNorm } from '../optim/clip.ts';
import type { Optimizer } from '../optim/optimizer.ts';
import { RMSProp } from '../optim/rmsprop.ts';
import { lrLambda, type ScheduleName } from '../optim/schedule.ts';
import type { Tensor } from '../tensor.ts';
import { Rng } from '../util/rng.ts';
import { exportTrainerState, restoreTrainerState, type TrainerState } from './checkpoint_state.ts';
import { needsReference, needsTargets, validateLossConfig, type LossConfig } from './losses.ts';
import { batchMetrics, pairRecords, type PairRecord, type StepMetrics } from './metrics.ts';
import { packPairs, sequenceForward, type PackedPairs, type PairSequenceIds } from './sequences.ts';

export type OptimName = 'adamw_torch' | 'rmsprop';

/** Training hyper-parameters, with TRL / transformers names in the comments. */
export interface TrainOptions {
  loss: LossConfig;
  optim: OptimName; // optim
  learningRate: number; // learning_rate
  weightDecay: number; // weight_decay
  adamBeta1: number; // adam_beta1
  adamBeta2: number; // adam_beta2
  adamEpsilon: number; // adam_epsilon
  lrSchedulerType: ScheduleName; // lr_scheduler_type
  warmupRatio: number; // warmup_ratio
  warmupSteps: number; // warmup_steps (wins over warmup_ratio when > 0)
  maxGradNorm: number | null; // max_grad_norm (null = no clipping)
  maxSteps: number | null; // max_steps (wins over num_train_epochs)
  numTrainEpochs: number; // num_train_epochs
  batchSize: number; // per_device_train_batch_size (pairs per micro-batch)
  gradientAccumulationSteps: number; // gradient_accumulation_steps
  /** Recompute each layer's activations in the backward (default false; same results bitwise). */
  gradientCheckpointing?: boolean; // gradient_checkpointing
  seed: number; // seed
  /** Consecutive non-finite steps that stop the run (default 3). */
  maxNonFiniteSteps?: number;
  /** Shuffle the examples every epoch (default true; `prefstudio step` keeps file order). */
  shuffle?: boolean;
}

/** HF TrainingArguments / TRL DPOConfig defaults for what TrainOptions holds (besides the loss). */
export const TRAIN_DEFAULTS: Omit<TrainOptions, 'loss'> = {
  optim: 'adamw_torch',
  learningRate: 1e-6,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  lrSchedulerType: 'linear',
  warmupRatio: 0,
  warmupSteps: 0,
  maxGradNorm: 1.0,
  maxSteps: null,
  numTrainEpochs: 3,
  batchSize: 8,
  gradientAccumulationSteps: 1,
  seed: 42,
};

/** A training example: the pair's ids, its dataset row, and (SPPO/GPO) its regression targets. */
export type TrainExample = PairSequenceIds;

/** Reference sums per example, [N, 2] = (R_chosen, R_rejected) in example order. */
export type ReferenceLogps = Float32Array;

/** Raised when the guard stops a run (several non-finite steps in a row). */
export class NonFiniteError extends EngineError {}

/** What a step did (the metrics line of metrics.jsonl). */
export interface StepRecord extends StepMetrics {
  step: number;
  epoch: number;
  learning_rate: number;
  grad_norm: number;
  /** Steps skipped so far because something was not finite. */
  nonfinite_steps: number;
  /** Set when THIS step was skipped: what was not finite, naming the pair(s) and tensor(s). */
  skipped?: string;
  pairs: PairRecord[];
}

export class Trainer {
  readonly opt: Optimizer<unknown>;
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
  /** Optimizer steps taken or skipped so far. */
  step = 0;
  nonFiniteSteps = 0;
  private consecutiveNonFinite = 0;
  private numTokens = 0;
  private readonly lambda: (step: number) => number;
  private readonly microPerEpoch: number;
  private order: number[] = [];
  private orderEpoch = -1;
  private readonly named: [string, Tensor][];

  constructor(
    readonly e: Engine,
    readonly d: Gemma2Dims,
    readonly params: Gemma2Params,
    readonly examples: readonly TrainExample[],
    readonly reference: ReferenceLogps | null,
    readonly opts: TrainOptions,
  ) {
    if (examples.length === 0) throw new EngineError('trainer', 'the training set is empty', 'give at least one preference pair');
    if (needsReference(opts.loss) && (!reference || reference.length !== 2 * examples.length)) {
      throw new EngineError('trainer', `the loss needs reference log-probs for all ${examples.length} examples, got ${reference ? reference.length / 2 : 'none'}`, 'compute them with train/ref_cache.ts referenceLogps');
    }
    if (needsTargets(opts.loss)) {
      const bad = examples.find((x) => !x.targets);
      if (bad) throw new EngineError('trainer', `dataset row ${bad.row} has no regression targets, which loss ${opts.loss.lossTypes.join(',')} needs`, 'add the SPPO probability or GPO score columns');
    }
    if (params.adapter) for (const [, t] of namedParams(params)) t.requiresGrad = false; // the frozen base
    this.named = params.adapter ? adapterParams(params.adapter) : namedParams(params);
    params.gradientCheckpointing = opts.gradientCheckpointing ?? false; // forwardHidden recomputes layers (recompute.ts)
    for (const [, t] of this.named) t.requiresGrad = true;
    const isNorm = (name: string): boolean => /norm\.weight$/.test(name);
    const decay = this.named.filter(([n]) => !isNorm(n)).map(([, t]) => t);
    const noDecay = this.named.filter(([n]) => isNorm(n)).map(([, t]) => t);
    const groups = [{ params: decay, weightDecay: opts.weightDecay }, { params: noDecay, weightDecay: 0 }].filter((g) => g.params.length > 0);
    this.opt =
      opts.optim === 'rmsprop'
        ? (new RMSProp(groups, { lr: opts.learningRate, eps: opts.adamEpsilon }) as Optimizer<unknown>)
        : (new AdamW(groups, { lr: opts.learningRate, betas: [opts.adamBeta1, opts.adamBeta2], eps: opts.adamEpsilon }) as Optimizer<unknown>);
    this.microPerEpoch = Math.ceil(examples.length / opts.batchSize);
    ({ stepsPerEpoch: this.stepsPerEpoch, totalSteps: this.totalSteps } = planRun(opts, examples.length));
    this.lambda = lrLambda({ name: opts.lrSchedulerType, totalSteps: this.totalSteps, warmupSteps: opts.warmupSteps, warmupRatio: opts.warmupRatio });
  }

  /** Every trainable tensor with its HF name (a split embedding lists its row parts; PEFT names with an adapter). */
  get namedParams(): readonly [string, Tensor][] {
    return this.named;
  }

  get done(): boolean {
    return this.step >= this.totalSteps;
  }

  /** The learning rate of optimizer step `step` (0-based). */
  learningRate(step = this.step): number {
    return this.opts.learningRate * this.lambda(step);
  }

  /** The example indices of each micro-batch of optimizer step `step` (0-based). */
  microBatches(step: number): number[][] {
    const { batchSize: bs, gradientAccumulationSteps: K } = this.opts;
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const first = (step % this.stepsPerEpoch) * K;
    const order = this.epochOrder(epoch);
    const out: number[][] = [];
    for (let m = first; m < Math.min(first + K, this.microPerEpoch); m++) out.push(order.slice(m * bs, (m + 1) * bs));
    return out;
  }

  /**
   * One optimizer step (or a skipped one); resolves with its metrics after the step's one readback.
   * `beforeUpdate` runs after the gradients are complete and before the update (tests, `step`).
   */
  async trainStep(hooks: { beforeUpdate?: () => Promise<void> } = {}): Promise<StepRecord> {
    if (this.done) throw new EngineError('trainer', `the run is complete (${this.totalSteps} steps)`);
    const { e, opts } = this;
    const step = this.step;
    const micro = this.microBatches(step);
    const lr = this.learningRate(step);
    const kept: Tensor[] = [];
    const packs: { packed: PackedPairs; pairs: Tensor; stats: Tensor; loss: Tensor }[] = [];
    for (const [mb, idx] of micro.entries()) {
      const packed = this.pack(idx);
      if (this.params.adapter) this.params.adapter.dropoutSeed = mixSeed(opts.seed >>> 0, step, mb); // this forward's LoRA dropout
      const out = e.tidy(() => {
        const { stats } = sequenceForward(e, this.d, this.params, packed, { metrics: true });
        const { loss, pairs } = prefLoss(stats, this.refTensor(idx), this.targetTensor(packed), opts.loss, { scale: 1 / micro.length });
        return { stats, loss, pairs };
      });
      e.backward(out.loss); // outside tidy: the parameters' .grad tensors it creates must live on
      kept.push(out.stats, out.loss, out.pairs);
      packs.push({ packed, ...out });
    }
    if (this.params.adapter) this.params.adapter.dropoutSeed = null; // forwards outside a step: no dropout
    const clip = clipGradNorm(this.opt.params, opts.maxGradNorm ?? Infinity);
    let host: Float32Array[];
    try {
      host = (await e.readMany([...kept, clip.norm, clip.nonFinite])).map((a) => (a instanceof Float32Array ? a : Float32Array.from(a)));
    } catch (err) {
      clip.dispose();
      kept.forEach((t) => t.dispose());
      this.opt.zeroGrad();
      throw err;
    }
    const gradNorm = host[host.length - 2][0];
    const gradNonFinite = host[host.length - 1][0] !== 0;
    const pairs: PairRecord[] = [];
    const statsRows: { stats: Float32Array; B: number }[] = [];
    let loss = 0;
    packs.forEach((p, i) => {
      const [stats, l, pr] = host.slice(3 * i, 3 * i + 3);
      loss += l[0];
      pairs.push(...pairRecords(pr, p.packed.rows));
      statsRows.push({ stats, B: p.packed.B });
    });
    const badPairs = pairs.filter((p) => p.nonfinite || !Number.isFinite(p.loss));
    let skipped: string | undefined;
    if (gradNonFinite || badPairs.length > 0 || !Number.isFinite(loss)) {
      skipped = await this.diagnose(badPairs, gradNonFinite, loss);
    } else {
      await hooks.beforeUpdate?.();
      this.opt.step({ lr, clip });
    }
    this.opt.zeroGrad();
    clip.dispose();
    kept.forEach((t) => t.dispose());
    this.step += 1;
    const tokens = packs.reduce((s, p) => s + p.packed.tokens, 0);
    this.numTokens += tokens;
    if (skipped) {
      this.nonFiniteSteps += 1;
      this.consecutiveNonFinite += 1;
      const limit = opts.maxNonFiniteSteps ?? 3;
      if (this.consecutiveNonFinite >= limit) {
        throw new NonFiniteError(
          'trainer',
          `${this.consecutiveNonFinite} steps in a row were not finite (last, step ${step + 1}: ${skipped})`,
          'the weights or the data hold NaN/Inf, or training diverged: lower --learning_rate, set --max_grad_norm (e.g. 1.0), lower --beta, or check the named rows',
        );
      }
    } else this.consecutiveNonFinite = 0;
    return {
      step: step + 1,
      epoch: (step + 1) / this.stepsPerEpoch,
      ...batchMetrics(pairs, statsRows, opts.loss, loss),
      grad_norm: gradNorm,
      learning_rate: lr,
      num_tokens: this.numTokens,
      nonfinite_steps: this.nonFiniteSteps,
      ...(skipped ? { skipped } : {}),
      pairs,
    };
  }

  /**
   * Loss and metrics over `examples` without updating anything (TRL's evaluation loop; keys get
   * the `eval_` prefix from the caller). `reference` as for training.
   */
  async evaluate(examples: readonly TrainExample[], reference: ReferenceLogps | null, batchSize = this.opts.batchSize): Promise<StepMetrics & { pairs: PairRecord[] }> {
    const { e, opts } = this;
    if (needsReference(opts.loss) && (!reference || reference.length !== 2 * examples.length)) {
      throw new EngineError('trainer.evaluate', `the loss needs reference log-probs for all ${examples.length} evaluation examples`);
    }
    const pairs: PairRecord[] = [];
    const statsRows: { stats: Float32Array; B: number }[] = [];
    let lossSum = 0;
    if (this.params.adapter) this.params.adapter.dropoutSeed = null; // evaluation: no LoRA dropout
    for (let s = 0; s < examples.length; s += batchSize) {
      const idx = Array.from({ length: Math.min(batchSize, examples.length - s) }, (_, i) => s + i);
      const packed = packPairs(idx.map((i) => examples[i]), { ldAlpha: opts.loss.ldAlpha });
      const ref = this.refTensor(idx, reference);
      const out = e.noGrad(() =>
        e.tidy(() => {
          const { stats } = sequenceForward(e, this.d, this.params, packed, { metrics: true });
          const { loss, pairs: pr } = prefLoss(stats, ref, this.targetTensor(packed), opts.loss, { scale: 1 });
          return { stats, loss, pr };
        }),
      );
      ref?.dispose();
      const [st, l, pr] = (await e.readMany([out.stats, out.loss, out.pr])) as Float32Array[];
      [out.stats, out.loss, out.pr].forEach((t) => t.dispose());
      lossSum += l[0] * idx.length;
      pairs.push(...pairRecords(pr, packed.rows));
      statsRows.push({ stats: st, B: packed.B });
    }
    return { ...batchMetrics(pairs, statsRows, opts.loss, lossSum / examples.length), pairs };
  }

  /**
   * Everything a resumed run needs to continue this one bit for bit (train/checkpoint_state.ts):
   * trainable tensors, optimizer state, counters, data-order and kernel checks, settings, reference.
   * Call between steps; train/checkpoint.ts stores it.
   */
  async exportState(): Promise<TrainerState> {
    return exportTrainerState(this, { step: this.step, nonFiniteSteps: this.nonFiniteSteps, consecutiveNonFinite: this.consecutiveNonFinite, numTokens: this.numTokens });
  }

  /**
   * Continues the run `s` was exported from, on this trainer's (freshly loaded) model: refuses,
   * naming what differs, when the settings, data, reference or trainable tensors are not the run's.
   */
  async restoreState(s: TrainerState): Promise<void> {
    ({ step: this.step, nonFiniteSteps: this.nonFiniteSteps, consecutiveNonFinite: this.consecutiveNonFinite, numTokens: this.numTokens } = await restoreTrainerState(this, s));
  }

  /** Frees the optimizer state (the parameters belong to the caller). */
  dispose(): void {
    this.opt.dispose();
  }

  // ------------------------------------------------------------------------------- internals

  private epochOrder(epoch: number): number[] {
    if (epoch !== this.orderEpoch) {
      const n = this.examples.length;
      const order = Array.from({ length: n }, (_, i) => i);
      if (this.opts.shuffle === false) {
        this.order = order;
        this.orderEpoch = epoch;
        return order;
      }
      const rng = new Rng((this.opts.seed * 1_000_003 + epoch) >>> 0);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      this.order = order;
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private pack(idx: number[]): PackedPairs {
    return packPairs(
      idx.map((i) => this.examples[i]),
      { ldAlpha: this.opts.loss.ldAlpha },
    );
  }

  /** The reference sums of examples `idx` in packed-row order (null when the loss needs none). */
  private refTensor(idx: number[], reference = this.reference): Tensor | null {
    if (!reference || !needsReference(this.opts.loss)) return null;
    return this.e.tensor(Float32Array.from(packedRef(reference, idx)), [2 * idx.length], { label: 'trainer.ref' });
  }

  private targetTensor(packed: PackedPairs): Tensor | null {
    if (!needsTargets(this.opts.loss)) return null;
    return this.e.tensor(packed.targets, [packed.B, 2], { label: 'trainer.targets' });
  }

  /** Names what was not finite: the pairs (dataset rows) and the first tensors whose gradient is. */
  private async diagnose(badPairs: PairRecord[], gradNonFinite: boolean, loss: number): Promise<string> {
    const parts: string[] = [];
    if (badPairs.length > 0) parts.push(`non-finite loss inputs for dataset row${badPairs.length > 1 ? 's' : ''} ${badPairs.map((p) => p.row).join(', ')}`);
    else if (!Number.isFinite(loss)) parts.push(`the loss is ${loss}`);
    if (gradNonFinite) {
      const bad: string[] = [];
      for (const [name, t] of this.named) {
        if (!t.grad) continue;
        const g = (await t.grad.read()) as Float32Array;
        if (g.some((x) => !Number.isFinite(x))) bad.push(name);
        if (bad.length >= 5) break;
      }
      parts.push(`non-finite gradient in ${bad.join(', ') || '(not found)'}`);
    }
    return parts.join('; ');
  }
}

/** [R_w of each idx…, R_l of each idx…] — the row layout of a packed batch. */
function packedRef(reference: ReferenceLogps, idx: readonly number[]): number[] {
  return [...idx.map((i) => reference[2 * i]), ...idx.map((i) => reference[2 * i + 1])];
}

/**
 * Checks every training option against a dataset of `examples` pairs, without a GPU (so a command
 * can refuse bad settings before any weights load). Returns the run's step counts.
 */
export function planRun(o: TrainOptions, examples: number): { stepsPerEpoch: number; totalSteps: number } {
  validateLossConfig(o.loss);
  checkOptions(o);
  const stepsPerEpoch = Math.ceil(Math.ceil(examples / o.batchSize) / o.gradientAccumulationSteps);
  const totalSteps = o.maxSteps ?? Math.ceil(o.numTrainEpochs * stepsPerEpoch);
  lrLambda({ name: o.lrSchedulerType, totalSteps, warmupSteps: o.warmupSteps, warmupRatio: o.warmupRatio })(0);
  return { stepsPerEpoch, totalSteps };
}

function checkOptions(o: TrainOptions): void {
  const pos = (name: string, v: number | null, int = false): void => {
    if (v === null) return;
    if (!(Number.isFinite(v) && v > 0) || (int && !Number.isInteger(v))) throw new EngineError('trainer', `--${name} must be a ${int ? 'positive integer' : 'positive number'}, got ${v}`);
  };
  const nonneg = (name: string, v: number): void => {
    if (!(Number.isFinite(v) && v >= 0)) throw new EngineError('trainer', `--${name} must be a number >= 0, got ${v}`);
  };
  pos('per_device_train_batch_size', o.batchSize, true);
  pos('gradient_accumulation_steps', o.gradientAccumulationSteps, true);
  pos('max_steps', o.maxSteps, true);
  if (o.maxSteps === null) pos('num_train_epochs', o.numTrainEpochs);
  nonneg('learning_rate', o.learningRate);
  nonneg('weight_decay', o.weightDecay);
  if (o.maxGradNorm !== null) nonneg('max_grad_norm', o.maxGradNorm);
  if (!['adamw_torch', 'rmsprop'].includes(o.optim)) throw new EngineError('trainer', `unknown --optim '${o.optim}'`, 'use adamw_torch or rmsprop');
}
