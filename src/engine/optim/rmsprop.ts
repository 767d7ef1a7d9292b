// RMSProp: PyTorch's torch.optim.RMSprop, one fused GPU kernel per parameter (optim.wgsl
// rmsprop_step). Per parameter p with gradient g:
//
//   (nothing at all when the skip flag is set: clipGradNorm's nonFinite by default)
//   g ← clip·g + λ·p                                 (L2 weight decay, added to the gradient)
//   v ← α·v + (1 − α)·g²
//   centered:  g_ave ← α·g_ave + (1 − α)·g,  ṽ = v − g_ave²   (else ṽ = v)
//   momentum:  b ← μ·b + g/(√ṽ + ε),  p ← p − lr·b
//   else:      p ← p − lr·g/(√ṽ + ε)
//
// Defaults are PyTorch's (lr 0.01, α 0.99, ε 1e-8, no decay, no momentum, not centered), which is
// what HF Trainer's `optim="rmsprop"` gives SPPO. `centered` and `momentum > 0` are compile-time
// switches of the kernel (override constants) and add one state tensor each.
// Reference: src/engine/reference/optim.ts rmspropStepRef.

import { f32 } from '../engine.ts';
import type { Tensor } from '../tensor.ts';
import { Optimizer, checkHyper, type ParamGroup, type ResolvedGroup } from './optimizer.ts';

export interface RMSPropOptions {
  /** Default 0.01. */
  lr?: number;
  /** Smoothing constant α, default 0.99. */
  alpha?: number;
  /** Default 1e-8, added after the square root. */
  eps?: number;
  /** L2 penalty λ added to the gradient, default 0; per group via ParamGroup. */
  weightDecay?: number;
  /** μ, default 0 (no momentum buffer). */
  momentum?: number;
  /** Normalise by the estimated variance v − g_ave² instead of v. Default false. */
  centered?: boolean;
}

/** A parameter's RMSProp state. */
export interface RMSPropState {
  squareAvg: Tensor; // v, same shape as the parameter
  gradAvg: Tensor | null; // g_ave (centered only)
  momentumBuffer: Tensor | null; // b (momentum > 0 only)
}

export class RMSProp extends Optimizer<RMSPropState> {
  readonly alpha: number;
  readonly eps: number;
  readonly momentum: number;
  readonly centered: boolean;
  /** Bound in place of the state tensors this configuration does not keep (never accessed). */
  private placeholders: [Tensor, Tensor] | null = null;

  constructor(params: Tensor[] | ParamGroup[], opts: RMSPropOptions = {}) {
    super('RMSProp', params, opts.lr ?? 0.01, opts.weightDecay ?? 0);
    this.alpha = opts.alpha ?? 0.99;
    this.eps = opts.eps ?? 1e-8;
    this.momentum = opts.momentum ?? 0;
    this.centered = opts.centered ?? false;
    checkHyper('RMSProp', 'alpha', this.alpha);
    checkHyper('RMSProp', 'eps', this.eps);
    checkHyper('RMSProp', 'momentum', this.momentum);
  }

  /** The state of `p`, or undefined before its first step. */
  state(p: Tensor): Readonly<RMSPropState> | undefined {
    return this.states.get(p);
  }

  protected override update(p: Tensor, g: Tensor, group: ResolvedGroup, lr: number, clip: Tensor, skip: Tensor): void {
    const e = this.engine;
    let s = this.states.get(p);
    if (!s) {
      s = this.newState(p);
      this.states.set(p, s);
    }
    // Two distinct placeholders: a buffer may not be bound twice as read_write in one dispatch.
    this.placeholders ??= [e.keep(e.zeros([1], 'rmsprop.placeholder0')), e.keep(e.zeros([1], 'rmsprop.placeholder1'))];
    e.run({
      op: 'rmsprop.step',
      shader: 'optim',
      entry: 'rmsprop_step',
      inputs: [g, clip, skip],
      outputs: [p, s.squareAvg, s.gradAvg ?? this.placeholders[0], s.momentumBuffer ?? this.placeholders[1]],
      params: [p.size, f32(lr), f32(this.alpha), f32(1 - this.alpha), f32(this.eps), f32(group.weightDecay), f32(this.momentum)],
      workgroups: e.grid(p.size, 256),
      overrides: { CENTERED: this.centered ? 1 : 0, MOMENTUM: this.momentum > 0 ? 1 : 0 },
    });
  }

  protected override newState(p: Tensor): RMSPropState {
    const e = this.engine;
    return {
      squareAvg: e.keep(e.zeros(p.shape, `${p.label}.rmsprop.square_avg`)),
      gradAvg: this.centered ? e.keep(e.zeros(p.shape, `${p.label}.rmsprop.grad_avg`)) : null,
      momentumBuffer: this.momentum > 0 ? e.keep(e.zeros(p.shape, `${p.label}.rmsprop.momentum_buffer`)) : null,
    };
  }

  // Checkpoints: PyTorch's state names (square_avg, grad_avg, momentum_buffer; no step count is used).
  protected override slotNames(): string[] {
    return ['square_avg', ...(this.centered ? ['grad_avg'] : []), ...(this.momentum > 0 ? ['momentum_buffer'] : [])];
  }

  protected override stateSlots(s: RMSPropState): { tensors: Record<string, Tensor>; counters: Record<string, number> } {
    const tensors: Record<string, Tensor> = { square_avg: s.squareAvg };
    if (s.gradAvg) tensors.grad_avg = s.gradAvg;
    if (s.momentumBuffer) tensors.momentum_buffer = s.momentumBuffer;
    return { tensors, counters: {} };
  }

  protected override setCounters(): void {}

  protected override hyper(): Record<string, number | boolean> {
    return { alpha: this.alpha, eps: this.eps, momentum: this.momentum, centered: this.centered };
  }

  protected override disposeState(s: RMSPropState): void {
    s.squareAvg.dispose();
    s.gradAvg?.dispose();
    s.momentumBuffer?.dispose();
  }

  override dispose(): void {
    super.dispose();
    this.placeholders?.forEach((t) => t.dispose());
    this.placeholders = null;
  }
}
