// AdamW: PyTorch's torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter), one fused
// GPU kernel per parameter (optim.wgsl adamw_step). Per parameter p with gradient g, step t:
//
//   (nothing at all when the skip flag is set: clipGradNorm's nonFinite by default)
//   g ← clip·g                                   (clip factor from clipGradNorm, else 1)
//   p ← p·(1 − lr·λ)                             (decay first, on the old p)
//   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
//   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
//
// in the order of torch 1.13's `_single_tensor_adamw`; note ε is added *after* the square root
// of the bias-corrected v. m and v are f32 GPU tensors, zero-initialised on a parameter's first
// step; t counts that parameter's own steps. Reference: src/engine/reference/optim.ts.
//
// Usage (nanoGPT's configure_optimizers: no decay for norms and biases):
//   const opt = new AdamW([{ params: matrices }, { params: norms, weightDecay: 0 }], { lr: 5e-7 });
//   const clip = clipGradNorm(opt.params, 1.0);
//   opt.step({ lr: lrAt(5e-7, schedule, k), clip });  opt.zeroGrad();
//   if ((await clip.read()).nonFinite) opt.rollbackStep();  // the GPU skipped it
//   clip.dispose();

import { f32 } from '../engine.ts';
import { EngineError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { Optimizer, checkHyper, type ParamGroup, type ResolvedGroup } from './optimizer.ts';

export interface AdamWOptions {
  lr: number;
  /** (β1, β2), default (0.9, 0.999). */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled decay λ, default 0.01 (PyTorch's AdamW default); per group via ParamGroup. */
  weightDecay?: number;
}

/** A parameter's AdamW state. */
export interface AdamWState {
  m: Tensor; // first moment (exp_avg), same shape as the parameter
  v: Tensor; // second moment (exp_avg_sq)
  step: number; // t, steps this parameter has taken
}

export class AdamW extends Optimizer<AdamWState> {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroup[], opts: AdamWOptions) {
    super('AdamW', params, opts.lr, opts.weightDecay ?? 0.01);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    checkHyper('AdamW', 'eps', this.eps);
    for (const [i, b] of [this.beta1, this.beta2].entries()) {
      if (!(b >= 0 && b < 1)) throw new EngineError('AdamW', `invalid beta parameter at index ${i}: ${b} (must be in [0, 1))`);
    }
  }

  /** The state of `p`, or undefined before its first step (for checkpoints and tests). */
  state(p: Tensor): Readonly<AdamWState> | undefined {
    return this.states.get(p);
  }

  protected override update(p: Tensor, g: Tensor, group: ResolvedGroup, lr: number, clip: Tensor, skip: Tensor): void {
    const e = this.engine;
    let s = this.states.get(p);
    if (!s) {
      s = this.newState(p);
      this.states.set(p, s);
    }
    s.step += 1;
    // Step scalars in float64 (as PyTorch computes them in Python), rounded to f32 by the uniform.
    const bc1 = 1 - this.beta1 ** s.step;
    const bc2 = 1 - this.beta2 ** s.step;
    e.run({
      op: 'adamw.step',
      shader: 'optim',
      entry: 'adamw_step',
      inputs: [g, clip, skip],
      outputs: [p, s.m, s.v],
      params: [p.size, f32(1 - lr * group.weightDecay), f32(this.beta1), f32(1 - this.beta1), f32(this.beta2), f32(1 - this.beta2), f32(lr / bc1), f32(Math.sqrt(bc2)), f32(this.eps)],
      workgroups: e.grid(p.size, 256),
    });
  }

  protected override newState(p: Tensor): AdamWState {
    const e = this.engine;
    return { m: e.keep(e.zeros(p.shape, `${p.label}.adamw.m`)), v: e.keep(e.zeros(p.shape, `${p.label}.adamw.v`)), step: 0 };
  }

  // Checkpoints: PyTorch's state names (exp_avg, exp_avg_sq, step).
  protected override slotNames(): string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected override stateSlots(s: AdamWState): { tensors: Record<string, Tensor>; counters: Record<string, number> } {
    return { tensors: { exp_avg: s.m, exp_avg_sq: s.v }, counters: { step: s.step } };
  }

  protected override setCounters(s: AdamWState, c: Record<string, number>): void {
    if (!(Number.isSafeInteger(c.step) && c.step >= 0)) throw new EngineError('AdamW.importState', `saved step count ${String(c.step)} is not an integer >= 0`);
    s.step = c.step;
  }

  protected override hyper(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps };
  }

  protected override uncount(p: Tensor): void {
    const s = this.states.get(p);
    if (s) s.step -= 1;
  }

  protected override disposeState(s: AdamWState): void {
    s.m.dispose();
    s.v.dispose();
  }
}
