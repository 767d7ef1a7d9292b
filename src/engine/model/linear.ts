// The linear seam: every projection of the model goes through linear(x, w, lora?).
//
//   y = x·Wᵀ                                      the base layer; W: (out, in) as HF stores it
//   y = x·Wᵀ + scale · (dropout(x)·Aᵀ)·Bᵀ          with LoRA factors A: (r, in), B: (out, r) (model/lora.ts)
//
// The base weight may be any dtype the matmul reads (f32, or a frozen 16-bit weight): this file never
// looks at it. When W is frozen (requiresGrad false, as under an adapter) the matmul's backward
// computes only the input's gradient. The LoRA branch is computed as PEFT's Linear.forward, with the
// scale applied to the small (rows, r) product: x → dropout → ·Aᵀ → ·scale → ·Bᵀ, added to the base.
// Dropout is counter-based (ops/dropout.ts): `seed` is fixed when the forward runs, and the backward
// recomputes the same mask from it.

import { add, scale } from '../ops/elementwise.ts';
import { dropout } from '../ops/dropout.ts';
import { matmul } from '../ops/matmul.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import type { LoraFactors } from './lora.ts';

/** One forward's LoRA on one linear layer. */
export interface LinearLora {
  factors: LoraFactors;
  /** alpha / r (alpha / √r with rsLoRA). */
  scale: number;
  /** Dropout probability on the branch's input (0 = none: evaluation, the reference, generation). */
  dropout: number;
  /** The dropout mask's seed (ops/dropout.ts mixSeed of run seed, step, micro-batch, layer, module). */
  seed: number;
}

/** x (…, in) → (…, out) through W (out, in), plus the LoRA branch when given. */
export function linear(x: Tensor, w: Tensor, lora?: LinearLora): Tensor {
  if (!lora) return matmul(x, w, { transB: true });
  const { A, B } = lora.factors;
  const [out, inF] = w.shape;
  if (A.rank !== 2 || B.rank !== 2 || A.shape[1] !== inF || B.shape[0] !== out || B.shape[1] !== A.shape[0]) {
    throw new ShapeError('linear', `LoRA factors A ${fmtShape(A.shape)}, B ${fmtShape(B.shape)} do not fit W ${fmtShape(w.shape)}: A must be (r, ${inF}), B (${out}, r)`);
  }
  const e = x.engine;
  return e.tidy(() => {
    const base = matmul(x, w, { transB: true }); // (…, out)
    const xd = dropout(x, lora.dropout, lora.seed); // x itself when dropout is 0
    const down = scale(matmul(xd, A, { transB: true }), lora.scale); // (…, r)
    return add(base, matmul(down, B, { transB: true }));
  });
}
