// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_) without a CPU round trip.
//
// clipGradNorm computes, on the GPU (grad_norm.wgsl, two deterministic stages):
//   norm  = ‖(g₁, g₂, …)‖₂ over every parameter's gradient as one vector
//   scale = min(1, maxNorm / (norm + 1e-6))
//   nonFinite = 1 if any gradient element is NaN or ±Inf (bit test), 2 if every element is finite
//               but Σg² overflows f32; 0 otherwise. When set, norm is NaN (1) or +Inf (2) and
//               scale is 1 — never NaN.
// into 1-element tensors. It does NOT modify the gradients: pass the result to the optimizer
// (`opt.step({ clip })`), whose kernel multiplies each gradient by `scale` as it reads it —
// the same update as PyTorch's clip_grad_norm_ followed by optimizer.step() — and skips the whole
// update when nonFinite is set (parameters and state untouched; then call opt.rollbackStep()).
// Read the values whenever convenient (one readMany per step, with the other metrics), then dispose.
// Reference: src/engine/reference/optim.ts clipGradNormRef.

import { f32 } from '../engine.ts';
import { EngineError, ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';

/** Elements per workgroup of grad_norm_partial (WG 256 × ITEMS 16 in grad_norm.wgsl). */
const CHUNK = 4096;

/** GPU-resident results of clipGradNorm. The caller owns them: dispose() after use. */
export class GradClip {
  constructor(
    /** f32[1]: the total L2 norm (NaN / +Inf when nonFinite is 1 / 2). */
    readonly norm: Tensor,
    /** f32[1]: min(1, maxNorm / (norm + 1e-6)), or 1 without a maxNorm; 1 when nonFinite. */
    readonly scale: Tensor,
    /** u32[1]: 0 = finite; 1 = some gradient element is NaN or ±Inf; 2 = Σg² overflowed f32. */
    readonly nonFinite: Tensor,
  ) {}

  /** Reads the three values back with one readMany (awaits the GPU; once per step at most). */
  async read(): Promise<{ norm: number; scale: number; nonFinite: boolean }> {
    const [n, s, f] = await this.norm.engine.readMany([this.norm, this.scale, this.nonFinite]);
    return { norm: n[0], scale: s[0], nonFinite: f[0] !== 0 };
  }

  dispose(): void {
    this.norm.dispose();
    this.scale.dispose();
    this.nonFinite.dispose();
  }
}

/**
 * Global L2 norm of the gradients of `params` (those whose `.grad` is null are skipped, as in
 * PyTorch), the clip factor for `maxNorm` (Infinity: norm and flag only, scale 1) and the
 * non-finite flag, all on the GPU. Dispatches one kernel per gradient plus one to finish.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): GradClip {
  if (params.length === 0) throw new ShapeError('clipGradNorm', 'got an empty parameter list', 'pass the optimizer\'s parameters (opt.params)');
  if (!(maxNorm >= 0)) throw new EngineError('clipGradNorm', `invalid maxNorm ${maxNorm} (must be >= 0, or Infinity for no clipping)`);
  const e = params[0].engine;
  const grads: Tensor[] = [];
  for (const p of params) {
    if (!p.grad) continue;
    if (p.engine !== e) throw new ShapeError('clipGradNorm', `parameter ${p.label} lives on a different Engine than ${params[0].label}`);
    if (p.grad.dtype !== 'f32') throw new ShapeError('clipGradNorm', `gradient of ${p.label} must be f32, got ${p.grad.describe()}`);
    if (p.grad.size > 0) grads.push(p.grad);
  }

  // Stage 1: every gradient tensor writes ceil(size / CHUNK) (Σg², flag) pairs into `partials`,
  // at consecutive offsets, so stage 2 folds them in one fixed order.
  const slots = grads.map((g) => Math.ceil(g.size / CHUNK));
  const total = slots.reduce((a, b) => a + b, 0);
  const partials = e.empty([Math.max(1, total), 2], 'f32', 'clip.partials'); // [P, 2]
  let offset = 0;
  grads.forEach((g, k) => {
    e.run({
      op: 'clip.partial',
      shader: 'grad_norm',
      entry: 'grad_norm_partial',
      inputs: [g],
      outputs: [partials],
      params: [g.size, offset, slots[k]],
      workgroups: e.grid(slots[k], 1),
    });
    offset += slots[k];
  });

  // Stage 2: one workgroup → norm, scale, flag.
  const norm = e.empty([1], 'f32', 'clip.norm');
  const scale = e.empty([1], 'f32', 'clip.scale');
  const nonFinite = e.empty([1], 'u32', 'clip.non_finite');
  const clip = Number.isFinite(maxNorm);
  e.run({
    op: 'clip.finish',
    shader: 'grad_norm',
    entry: 'grad_norm_finish',
    inputs: [partials],
    outputs: [norm, scale, nonFinite],
    params: [total, clip ? 1 : 0, f32(clip ? maxNorm : 0)],
    workgroups: [1],
  });
  partials.dispose(); // reused only after this batch is submitted (pool.ts)
  return new GradClip(norm, scale, nonFinite);
}
