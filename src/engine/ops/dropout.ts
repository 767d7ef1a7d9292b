// dropout: y = x · m / (1 − p), with a keep mask m ∈ {0, 1} drawn per element (inverted dropout, as
// torch.nn.functional.dropout in training mode). LoRA applies it to its branch's input (model/linear.ts).
//
// Counter-based: m is a hash of (seed, flat element index), so no mask is stored and the backward
// recomputes it from the seed captured in its closure: dx = dy · m / (1 − p). The same seed gives the
// same mask on every adapter and in the float64 reference (reference/dropout.ts), which is what
// makes a resumed run, or a forward recomputed during the backward, bitwise equal.
//
//   key  = lowbias32(seed ^ 0x9e3779b9)
//   h(i) = lowbias32(lowbias32(i ^ key) + key)          (u32 arithmetic, wrapping)
//   m(i) = 1  iff  h(i) ≥ round(p · 2³²)                 (P(keep) = 1 − p to 2⁻³²)
//   lowbias32(x): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
//   (Chris Wellons' integer hash "lowbias32")
//
// p = 0 is the identity: dropout() returns x itself, with no dispatch and nothing on the tape.
// Seeds: mixSeed() folds several integers (run seed, step, micro-batch, layer, module) into one.
// Shader: src/gpu/shaders/dropout.wgsl (one entry; the backward applies it to dy).

import { f32, type Engine } from '../engine.ts';
import { ShapeError } from '../errors.ts';
import { xxh32 } from '../store/checksum.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype } from './util.ts';

/** The u32 threshold a hash must reach for its element to be kept: round(p · 2³²), below 2³². */
export function keepThreshold(p: number): number {
  return Math.min(2 ** 32 - 1, Math.round(p * 2 ** 32));
}

/** One u32 seed from several non-negative integers (order matters): XXH32 of their u32 words. */
export function mixSeed(...parts: number[]): number {
  for (const x of parts) {
    if (!(Number.isInteger(x) && x >= 0 && x < 2 ** 32)) throw new ShapeError('mixSeed', `seed parts must be integers in [0, 2³²), got ${parts.join(', ')}`);
  }
  return xxh32(new Uint8Array(Uint32Array.from(parts).buffer), 0x5eed);
}

/** y = x · m / (1 − p) with the mask of `seed` (see the header). p = 0 returns x itself. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  expectDtype('dropout', 'x', x, 'f32');
  if (!(p >= 0 && p < 1)) throw new ShapeError('dropout', `p must be in [0, 1), got ${p}`);
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new ShapeError('dropout', `seed must be an integer in [0, 2³²), got ${seed}`);
  if (p === 0) return x;
  const e = x.engine;
  const y = e.empty(x.shape, 'f32', 'dropout.y');
  applyMask(e, 'dropout.forward', x, y, p, seed);
  e.tape.record({
    op: 'dropout',
    inputs: [x],
    outputs: [y],
    // y is linear in x with the same mask: dx = dy · m / (1 − p), the mask recomputed from the seed.
    backward: ([dy]) => {
      const dx = e.empty(x.shape, 'f32', 'dropout.dx');
      applyMask(e, 'dropout.backward', dy!, dx, p, seed);
      return [dx];
    },
  });
  return y;
}

function applyMask(e: Engine, op: string, src: Tensor, dst: Tensor, p: number, seed: number): void {
  const n = src.size;
  e.run({ op, shader: 'dropout', entry: 'dropout_forward', inputs: [src], outputs: [dst], params: [n, seed, keepThreshold(p), f32(1 / (1 - p))], workgroups: e.grid(n, 256) });
}
