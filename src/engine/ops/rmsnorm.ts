// rmsnorm: Gemma-2's RMSNorm over the last dimension (spec gemma2-and-formats.md §1.4, §1.5):
//   y = x · rstd · (1 + w),   rstd = (mean_j x_j² + eps)^−½,   x [..., C], w [C]
// The weight is stored as a zero-initialised offset and applied as (1 + w). Statistics in f32.
// Forward saves rstd per row (owned); backward gives dx (a row reduction per row) and dw (a
// two-stage, fixed-order column reduction over the rows). No float atomics: deterministic.
// Shader: src/gpu/shaders/rmsnorm.wgsl. Reference: src/engine/reference/rmsnorm.ts.

import type { Engine } from '../engine.ts';
import { f32 } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype, expectRank, rowsOf } from './util.ts';

/** Invocations per row workgroup: 64 for Gemma-sized rows, 256 for very wide ones (kernels.md §4). */
function rowWorkgroup(C: number): number {
  return C >= 4096 ? 256 : 64;
}

/** Rows summed per dw stage-1 invocation: ≥ 16, and at most 256 chunks (bounds the partial buffer). */
function dwRowsPerChunk(rows: number): number {
  return Math.max(16, Math.ceil(rows / 256));
}

/** y = x · rsqrt(mean(x²) + eps) · (1 + w) over the last dimension; x [..., C] f32, w [C] f32. */
export function rmsnorm(x: Tensor, w: Tensor, eps = 1e-6): Tensor {
  expectDtype('rmsnorm', 'x', x, 'f32');
  expectDtype('rmsnorm', 'w', w, 'f32');
  expectRank('rmsnorm', 'w', w, 1);
  if (x.rank < 1) throw new ShapeError('rmsnorm', `x must have at least one dimension, got ${fmtShape(x.shape)}`);
  const C = x.shape[x.rank - 1];
  if (w.shape[0] !== C) {
    throw new ShapeError('rmsnorm', `w ${fmtShape(w.shape)} must match the last dimension of x ${fmtShape(x.shape)} (C = ${C})`);
  }
  if (C === 0) throw new ShapeError('rmsnorm', `x ${fmtShape(x.shape)} has an empty last dimension; the mean over 0 features is undefined`);
  if (!(eps >= 0)) throw new ShapeError('rmsnorm', `eps must be >= 0, got ${eps}`);
  const e = x.engine;
  const rows = rowsOf(x);
  const WG = rowWorkgroup(C);

  const y = e.empty(x.shape, 'f32', 'rmsnorm.y'); // [..., C]
  const rstd = e.empty([rows], 'f32', 'rmsnorm.rstd'); // [rows], only kept for the backward
  if (rows > 0) {
    e.run({ op: 'rmsnorm.forward', shader: 'rmsnorm', entry: 'rmsnorm_forward', inputs: [x, w], outputs: [y, rstd], params: [rows, C, f32(eps), 0], workgroups: e.grid(rows, 1), overrides: { WG } });
  }
  e.tape.record({
    op: 'rmsnorm',
    inputs: [x, w],
    outputs: [y],
    owned: [rstd],
    backward: ([dy]) => {
      // dx: one workgroup per row.
      let dx: Tensor | null = null;
      if (x.requiresGrad) {
        dx = e.empty(x.shape, 'f32', 'rmsnorm.dx');
        if (rows > 0) {
          e.run({ op: 'rmsnorm.backward', shader: 'rmsnorm', entry: 'rmsnorm_backward', inputs: [dy!, x, w, rstd], outputs: [dx], params: [rows, C, f32(eps), 0], workgroups: e.grid(rows, 1), overrides: { WG } });
        }
      }
      const dw = w.requiresGrad ? rmsnormDw(e, dy!, x, rstd, rows, C) : null;
      return [dx, dw];
    },
  });
  return y;
}

/** dw_j = Σ_rows dy_j·x_j·rstd_row: stage 1 per chunk of rows, stage 2 over chunks (both in order). */
function rmsnormDw(e: Engine, dy: Tensor, x: Tensor, rstd: Tensor, rows: number, C: number): Tensor {
  const dw = e.empty([C], 'f32', 'rmsnorm.dw');
  if (rows === 0) {
    e.fill(dw, 0);
    return dw;
  }
  const perChunk = dwRowsPerChunk(rows);
  const chunks = Math.ceil(rows / perChunk);
  const colGroups = Math.ceil(C / 64);
  if (chunks === 1) {
    // One chunk: stage 1 already is the full column sum.
    e.run({ op: 'rmsnorm.dw', shader: 'rmsnorm', entry: 'rmsnorm_dw_partial', inputs: [dy, x, rstd], outputs: [dw], params: [rows, C, f32(0), perChunk], workgroups: [colGroups, 1] });
    return dw;
  }
  const partial = e.empty([chunks, C], 'f32', 'rmsnorm.dw.partial'); // [chunks, C]
  e.run({ op: 'rmsnorm.dw.partial', shader: 'rmsnorm', entry: 'rmsnorm_dw_partial', inputs: [dy, x, rstd], outputs: [partial], params: [rows, C, f32(0), perChunk], workgroups: [colGroups, chunks] });
  e.run({ op: 'rmsnorm.dw.reduce', shader: 'rmsnorm', entry: 'rmsnorm_dw_reduce', inputs: [partial], outputs: [dw], params: [rows, C, f32(0), chunks], workgroups: [colGroups, 1] });
  partial.dispose();
  return dw;
}
