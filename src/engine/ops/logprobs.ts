// logprobs: the fused LM head + log-softmax gather that turns final hidden states into per-token
// log-probabilities, without ever materialising the [T, V] logits (kernels.md §5; spec
// gemma2-and-formats.md §1.4 steps 3–4, §1.5 "Tied embedding"; WPO term: preference-losses.md §2.3).
//
//   z'     = cap·tanh((h·Eᵀ)/cap)          capped logits, [T, V], never stored (cap 0 = none)
//   logp_t = z'[t, y_t] − lse_t            differentiable
//   lse_t  = logsumexp_v z'[t, v]          differentiable
//   lsp2_t = log Σ_v p_v² = LSE(2z') − 2·lse_t   detached (WPO weights take no gradient)
// Rows whose label is negative (−100 = ignore_index) output 0 for all three and get no gradient.
// A label ≥ V cannot be checked on the host (labels live on the GPU): it yields a NaN logp.
//
// Forward (3 dispatches): logprobs_partials walks vocabulary slices and writes [T, S] partial
// (max, Σe^{z−m}, Σe^{2(z−m)}) triples; logprobs_label_logit does one C-long dot per row;
// logprobs_combine merges the S triples in slice order.
// Backward (kernels.md §5 option A), per vocabulary chunk [v0, v0 + vc):
//   g[T, vc]  = (dlogp·(onehot − p) + dlse·p)·(1 − (z'/cap)²)   logprobs_grad_chunk, bounded scratch
//   dh       += g · E[v0 : v0+vc]        gemm NN, accumulating over chunks in order
//   dE[v0 : v0+vc] = gᵀ · h              gemm TN, written at offOut = v0·C
// Everything has one writer and a fixed order, so the result is deterministic.
// h, E and labels must stay alive until backward (they are read again there).
// Shader: src/gpu/shaders/logprobs.wgsl. Reference: src/engine/reference/logprobs.ts.

import { f32 } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { gemm } from './matmul.ts';
import { expectDtype, rowsOf } from './util.ts';

/** Tile sizes of the kernels (must match BM/BN in logprobs.wgsl). */
const BM = 64;
const BN = 64;
/** Default bound of the backward's g scratch: T·chunk f32 values. */
const SCRATCH_BYTES = 16 * 1024 * 1024;

export interface LogprobsOptions {
  /** Final-logit softcap (Gemma-2: 30); 0 = none. */
  softcap: number;
  /** Vocabulary rows per forward slice (default: V/32 rounded up to a multiple of 64). */
  sliceSize?: number;
  /** Vocabulary rows per backward chunk (default: as many as fit 16 MiB of g scratch). */
  chunkSize?: number;
}

export interface LogprobsResult {
  /** [..., T] log p(label); 0 at ignored rows. */
  logp: Tensor;
  /** [..., T] logsumexp of the capped logits; 0 at ignored rows. */
  lse: Tensor;
  /** [..., T] log Σ_v p_v² (detached); 0 at ignored rows. */
  lsp2: Tensor;
}

/** Default forward slice: ~32 slices (enough workgroups), each a multiple of the 64-wide tile. */
export function defaultSliceSize(V: number): number {
  return Math.max(BN, Math.ceil(Math.ceil(V / 32) / BN) * BN);
}

/** Default backward chunk: the g scratch [T, chunk] stays ≤ 16 MiB (at least one 64-wide tile). */
export function defaultChunkSize(T: number, V: number): number {
  const fit = Math.floor(SCRATCH_BYTES / 4 / Math.max(1, T) / BN) * BN;
  return Math.min(V, Math.max(BN, fit));
}

/**
 * Per-token log-probs of `labels` under logits z' = softcap(h·Eᵀ).
 * h: f32 [..., T, C] final hidden states; E: f32 [V, C] tied embedding; labels: i32 [..., T].
 */
export function logprobs(h: Tensor, E: Tensor, labels: Tensor, opts: LogprobsOptions): LogprobsResult {
  const op = 'logprobs';
  expectDtype(op, 'h', h, 'f32');
  expectDtype(op, 'E', E, 'f32');
  expectDtype(op, 'labels', labels, 'i32');
  if (h.rank < 2) throw new ShapeError(op, `h must be [..., T, C], got ${fmtShape(h.shape)}`);
  if (E.rank !== 2) throw new ShapeError(op, `E must be [V, C], got ${fmtShape(E.shape)}`);
  const C = h.shape[h.rank - 1];
  const [V, CE] = E.shape;
  if (CE !== C) throw new ShapeError(op, `h ${fmtShape(h.shape)} and E ${fmtShape(E.shape)} disagree on C (${C} vs ${CE})`);
  if (V === 0 || C === 0) throw new ShapeError(op, `empty vocabulary or width: E ${fmtShape(E.shape)}`);
  const rowShape = h.shape.slice(0, -1);
  if (labels.shape.length !== rowShape.length || labels.shape.some((d, i) => d !== rowShape[i])) {
    throw new ShapeError(op, `labels ${fmtShape(labels.shape)} must have h's row shape ${fmtShape(rowShape)} (h ${fmtShape(h.shape)})`);
  }
  const cap = opts.softcap;
  if (!(cap >= 0)) throw new ShapeError(op, `softcap must be ≥ 0 (0 = none), got ${cap}`);
  const T = rowsOf(h);
  if (T === 0) throw new ShapeError(op, `h ${fmtShape(h.shape)} has no rows`);
  const e = h.engine;
  const maxWg = e.limits.maxComputeWorkgroupsPerDimension;

  const VS = opts.sliceSize ?? defaultSliceSize(V);
  if (!(Number.isInteger(VS) && VS >= 1)) throw new ShapeError(op, `sliceSize must be a positive integer, got ${VS}`);
  const S = Math.ceil(V / VS);
  if (S > maxWg) throw new ShapeError(op, `${S} vocabulary slices of ${VS} exceed ${maxWg} workgroups per dimension`, 'use a larger sliceSize');
  if (Math.ceil(T / BM) > maxWg) throw new ShapeError(op, `${T} rows need ${Math.ceil(T / BM)} token tiles, over ${maxWg}`, 'split the batch');
  if (opts.chunkSize !== undefined && !(Number.isInteger(opts.chunkSize) && opts.chunkSize >= 1)) {
    throw new ShapeError(op, `chunkSize must be a positive integer, got ${opts.chunkSize}`);
  }
  const VEC = C % 4 === 0 ? 1 : 0;  // vec4 loads of h and E rows
  const capP = f32(cap);

  const logp = e.empty(rowShape, 'f32', 'logprobs.logp');
  const lse = e.empty(rowShape, 'f32', 'logprobs.lse');
  const lsp2 = e.empty(rowShape, 'f32', 'logprobs.lsp2');
  const partials = e.empty([T, S, 3], 'f32', 'logprobs.partials');
  const zlab = e.empty([T], 'f32', 'logprobs.zlab');
  // pass 1: [T, S] triples (max, Σe^{z−m}, Σe^{2(z−m)})
  e.run({ op: 'logprobs.partials', shader: 'logprobs', entry: 'logprobs_partials', inputs: [h, E], outputs: [partials], params: [T, C, V, VS, S, capP], workgroups: [Math.ceil(T / BM), S], overrides: { VEC } });
  // z'[t, y_t] by an indexed dot, one 64-wide workgroup per row
  e.run({ op: 'logprobs.label_logit', shader: 'logprobs', entry: 'logprobs_label_logit', inputs: [h, E, labels], outputs: [zlab], params: [T, C, V, capP], workgroups: e.grid(T * 64, 64) });
  // merge the slices in order
  e.run({ op: 'logprobs.combine', shader: 'logprobs', entry: 'logprobs_combine', inputs: [partials, zlab, labels], outputs: [logp, lse, lsp2], params: [T, S], workgroups: e.grid(T, 64) });
  partials.dispose();
  zlab.dispose();

  // The backward needs lse; keep a private copy so the caller may dispose the returned one.
  const tracking = e.tape.enabled && [h, E, labels].some((t) => t.requiresGrad);
  const lseSaved = tracking ? e.copy(lse, 'logprobs.lse.saved') : null;

  e.tape.record({
    op,
    inputs: [h, E, labels],
    outputs: [logp, lse, lsp2],
    owned: lseSaved ? [lseSaved] : [],
    detached: [2],
    backward: ([dlogpIn, dlseIn]) => {
      // A missing upstream gradient is a zero one (e.g. a loss that uses only logp).
      const dlogp = dlogpIn ?? e.zeros([T], 'logprobs.dlogp.zero');
      const dlse = dlseIn ?? e.zeros([T], 'logprobs.dlse.zero');
      const Vc = Math.min(opts.chunkSize ?? defaultChunkSize(T, V), V, BN * maxWg);
      const g = e.empty([T * Vc], 'f32', 'logprobs.g');
      const dh = h.requiresGrad ? e.empty(h.shape, 'f32', 'logprobs.dh') : null;
      const dE = E.requiresGrad ? e.empty(E.shape, 'f32', 'logprobs.dE') : null;
      for (let v0 = 0; v0 < V; v0 += Vc) {
        const vc = Math.min(Vc, V - v0);
        // g[T, vc] = ∂L/∂z (uncapped logits) for vocabulary rows v0 … v0+vc−1
        e.run({
          op: 'logprobs.grad_chunk',
          shader: 'logprobs',
          entry: 'logprobs_grad_chunk',
          inputs: [h, E, labels, lseSaved!, dlogp, dlse],
          outputs: [g],
          params: [T, C, v0, vc, capP],
          workgroups: [Math.ceil(T / BM), Math.ceil(vc / BN)],
          overrides: { VEC },
        });
        // dh[T, C] (+)= g[T, vc] · E[v0 : v0+vc, C]
        if (dh) gemm({ out: dh, a: g, b: E, M: T, N: C, K: vc, offB: v0 * C, accumulate: v0 > 0 });
        // dE[v0 : v0+vc, C] = gᵀ[vc, T] · h[T, C]
        if (dE) gemm({ out: dE, a: g, b: h, M: vc, N: C, K: T, transA: true, offOut: v0 * C });
      }
      g.dispose();
      if (!dlogpIn) dlogp.dispose();
      if (!dlseIn) dlse.dispose();
      return [dh, dE, null];
    },
  });
  return { logp, lse, lsp2 };
}
