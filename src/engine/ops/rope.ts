// rope: rotary position embedding on q or k (spec gemma2-and-formats.md §1.4 "RoPE", §1.5).
// Half-split pairing (dim i with i + HD/2, HF `rotate_half`), inv_freq[i] = θ^(−2i/HD),
// angle φ = p·inv_freq[i] computed in f32 on the GPU, as HF does with autocast disabled.
// inv_freq is built on the host with HF's f32 rounding steps and cached per engine (one small
// tensor per (HD, θ), uploaded once, so later calls never force a flush).
// x is [T, NH, HD] or [B, T, NH, HD]; positions is an i32 tensor [T] (shared by every batch row)
// or [B, T]. Positions are integers and carry no gradient. The backward rotates dy by −φ.
// Shader: src/gpu/shaders/rope.wgsl. Reference: src/engine/reference/rope.ts.

import type { Engine } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype, expectRank } from './util.ts';

/** Rotates every head of x [T, NH, HD] or [B, T, NH, HD] by its token's position (i32 [T] or [B, T]). */
export function rope(x: Tensor, positions: Tensor, theta = 10000): Tensor {
  expectDtype('rope', 'x', x, 'f32');
  expectDtype('rope', 'positions', positions, 'i32');
  expectRank('rope', 'x', x, 3, 4);
  const [NH, HD] = x.shape.slice(-2);
  const T = x.shape[x.rank - 3];
  const B = x.rank === 4 ? x.shape[0] : 1;
  if (HD % 2 !== 0) throw new ShapeError('rope', `head dim HD must be even (dim i pairs with i + HD/2), got x ${fmtShape(x.shape)}`);
  // positions: [T] (any x), or [B, T] matching a 4-D x.
  const okT = positions.rank === 1 && positions.shape[0] === T;
  const okBT = x.rank === 4 && positions.rank === 2 && positions.shape[0] === B && positions.shape[1] === T;
  if (!okT && !okBT) {
    throw new ShapeError('rope', `positions ${fmtShape(positions.shape)} must be [T] = [${T}]${x.rank === 4 ? ` or [B, T] = [${B}, ${T}]` : ''} for x ${fmtShape(x.shape)} ([..., T, NH, HD])`);
  }
  if (positions.requiresGrad) throw new ShapeError('rope', 'positions are integers and cannot require a gradient', 'create the positions tensor with requiresGrad: false');
  if (!(theta > 0)) throw new ShapeError('rope', `theta must be > 0, got ${theta}`);
  const e = x.engine;
  const pairs = x.size / 2; // tokens · NH · HD/2, one invocation each
  const invFreq = invFreqTable(e, HD, theta); // [HD/2], cached
  // Uniform: n, NH, HD, npos (same order as the WGSL Params struct).
  const params = [pairs, NH, HD, positions.size];

  const y = e.empty(x.shape, 'f32', 'rope.y');
  if (pairs > 0) {
    e.run({ op: 'rope.forward', shader: 'rope', entry: 'rope_forward', inputs: [x, positions, invFreq], outputs: [y], params, workgroups: e.grid(pairs, 256) });
  }
  e.tape.record({
    op: 'rope',
    inputs: [x, positions],
    outputs: [y],
    backward: ([dy]) => {
      // positions are i32 and never require a gradient; x gets the inverse rotation of dy.
      if (!x.requiresGrad) return [null, null];
      const dx = e.empty(x.shape, 'f32', 'rope.dx');
      if (pairs > 0) {
        e.run({ op: 'rope.backward', shader: 'rope', entry: 'rope_backward', inputs: [dy!, positions, invFreq], outputs: [dx], params, workgroups: e.grid(pairs, 256) });
      }
      return [dx, null];
    },
  });
  return y;
}

/**
 * inv_freq[i] = θ^(−2i/HD) for i < HD/2, rounded to f32 the way HF builds it:
 * `1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))` — exponent, power and reciprocal each
 * rounded to f32. (WGSL's pow() is only accurate to a few ulp and varies by adapter.)
 */
export function ropeInvFreq(HD: number, theta: number): Float32Array {
  const half = HD / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround((2 * i) / HD);
    const pw = Math.fround(Math.pow(Math.fround(theta), exponent));
    out[i] = Math.fround(1 / pw);
  }
  return out;
}

// Per engine: "HD:θ" → the uploaded inv_freq table. Lives as long as the engine (HD/2 floats).
const invFreqCache = new WeakMap<Engine, Map<string, Tensor>>();

function invFreqTable(e: Engine, HD: number, theta: number): Tensor {
  let m = invFreqCache.get(e);
  if (!m) invFreqCache.set(e, (m = new Map()));
  const key = `${HD}:${theta}`;
  let t = m.get(key);
  if (!t || t.disposed) {
    t = e.keep(e.tensor(ropeInvFreq(HD, theta), [HD / 2], { label: `rope.inv_freq[HD=${HD}, theta=${theta}]` })); // outlives any tidy()
    m.set(key, t);
  }
  return t;
}
