// logprobs: the fused LM head + log-softmax gather that turns final hidden states into per-token
// log-probabilities, without ever materialising the [T, V] logits (kernels.md §5; spec
// gemma2-and-formats.md §1.4 steps 3–4, §1.5 "Tied embedding"; WPO term: preference-losses.md §2.3).
//
//   z'     = cap·tanh((h·Eᵀ)/cap)          capped logits, [T, V], never stored (cap 0 = none)
//   logp_t = z'[t, y_t] − lse_t            differentiable
//   lse_t  = logsumexp_v z'[t, v]          differentiable
//   lsp2_t = log Σ_v p_v² = LSE(2z') − 2·lse_t   detached (WPO weights take no gradient)
//   zmean_t = mean_v z'[t, v]                      detached, optional (extras): TRL's logits/* metric
//   correct_t = 1 if argmax_v z'[t, v] = y_t else 0  detached, optional (extras): mean_token_accuracy
//   flags_t  bit 0: y_t ≥ V; bit 1: logp or lse not finite   u32, optional (flags)
// Rows whose label is negative (−100 = ignore_index) output 0 everywhere and get no gradient.
// A label ≥ V cannot be checked on the host (labels live on the GPU): it sets flags bit 0 (and
// logp = NaN, written from its bit pattern). Nothing relies on NaN arithmetic, which WGSL lets
// drivers assume away: read `flags` (once per step, with readMany) to detect bad rows.
//
// Forward (3 dispatches, 4 with extras): logprobs_partials walks vocabulary slices and writes
// [T, S] partial records (max, Σe^{z−m}, Σe^{2(z−m)}, Σz', argmax); logprobs_label_logit does one
// C-long dot per row; logprobs_combine merges the S records in slice order (and writes the flags);
// logprobs_metrics derives zmean and correct from the same records.
// Backward (kernels.md §5 option A), per vocabulary chunk [v0, v0 + vc):
//   g[T, vc]  = (dlogp·(onehot − p) + dlse·p)·(1 − (z'/cap)²)   logprobs_grad_chunk, bounded scratch
//   dh       += g · E[v0 : v0+vc]        gemm NN, accumulating over chunks in order
//   dE[v0 : v0+vc] (+)= gᵀ · h           gemm TN at offOut = v0·C: added straight into E's .grad
//                                        when E (or its part) is a leaf (tape.ts leafGradTarget), so
//                                        the tied embedding's gradient is one [V, C] buffer shared
//                                        with embedding's scatter; else written to a new dE
// Everything has one writer and a fixed order, so the result is deterministic.
// Split E (engine/table.ts; a table over one storage binding, e.g. gemma-2-2b's 2.36 GB one): each
// row part contributes its own slices to partials (numbered on across parts, so combine merges all
// of them in one fixed order), the part holding y_t writes z'[t, y_t], and the backward's chunks
// lie inside one part (dh accumulates over all chunks of all parts in order; each part gets its dE).
// 16-bit E (a frozen bf16/f16 table, issue 9): the kernels read it through the B-operand loads of
// its storage type (weightVariant, matmul_b_*_common.wgsl), widened to f32; the backward's dh gemm
// takes it as a 16-bit B; it never gets a gradient (checkTable refuses one that requires it).
// h, E and labels must stay alive until backward (they are read again there).
// Shader: src/gpu/shaders/logprobs.wgsl. Reference: src/engine/reference/logprobs.ts.

import { f32 } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import { checkTable, describeTable, type VocabTable } from '../table.ts';
import { leafGradTarget } from '../tape.ts';
import type { Tensor } from '../tensor.ts';
import { gemm, weightVariant } from './matmul.ts';
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
  /** Also return zmean and correct (detached, for TRL's logits/* and mean_token_accuracy). */
  extras?: boolean;
  /** Also return the per-row u32 flags (bit 0: label ≥ V; bit 1: non-finite logp or lse). */
  flags?: boolean;
}

export interface LogprobsResult {
  /** [..., T] log p(label); 0 at ignored rows. */
  logp: Tensor;
  /** [..., T] logsumexp of the capped logits; 0 at ignored rows. */
  lse: Tensor;
  /** [..., T] log Σ_v p_v² (detached); 0 at ignored rows. */
  lsp2: Tensor;
  /** [..., T] mean over the vocabulary of the capped logits z' (detached; `extras` only); 0 at ignored rows. */
  zmean?: Tensor;
  /** [..., T] 1 where argmax_v z' (first of equal maxima) is the label, else 0 (detached; `extras` only). */
  correct?: Tensor;
  /** [..., T] u32: bit 0 = label ≥ V, bit 1 = logp or lse is NaN/±Inf; 0 at ignored rows (`flags` only). */
  flags?: Tensor;
}

/** Floats per partial record (PREC in logprobs.wgsl). */
const PREC = 5;
/** Vocabulary indices travel as f32 in the partial records: exact below 2^24. */
const MAX_V = 2 ** 24;

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
 * h: f32 [..., T, C] final hidden states; E: [V, C] tied embedding (f32, or frozen bf16/f16), one
 * tensor or row parts;
 * labels: i32 [..., T].
 */
export function logprobs(h: Tensor, E: VocabTable, labels: Tensor, opts: LogprobsOptions): LogprobsResult {
  const op = 'logprobs';
  expectDtype(op, 'h', h, 'f32');
  expectDtype(op, 'labels', labels, 'i32');
  if (h.rank < 2) throw new ShapeError(op, `h must be [..., T, C], got ${fmtShape(h.shape)}`);
  const { V, C: CE, parts } = checkTable(op, 'E', E);
  const Es = parts.map((p) => p.tensor);
  const C = h.shape[h.rank - 1];
  if (CE !== C) throw new ShapeError(op, `h ${fmtShape(h.shape)} and E ${describeTable(E)} disagree on C (${C} vs ${CE})`);
  if (V === 0 || C === 0) throw new ShapeError(op, `empty vocabulary or width: E ${describeTable(E)}`);
  if (V > MAX_V) throw new ShapeError(op, `vocabulary ${V} is over ${MAX_V} (argmax indices are carried as exact f32)`);
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
  // Slices are cut inside each part; part i's slices are s0[i] … s0[i] + Sp[i] − 1 of all S.
  const Sp = parts.map((p) => Math.ceil((p.row1 - p.row0) / VS));
  const s0 = Sp.map((_, i) => Sp.slice(0, i).reduce((a, b) => a + b, 0));
  const S = s0[parts.length - 1] + Sp[parts.length - 1];
  if (Math.max(...Sp) > maxWg) throw new ShapeError(op, `${Math.max(...Sp)} vocabulary slices of ${VS} exceed ${maxWg} workgroups per dimension`, 'use a larger sliceSize');
  if (Math.ceil(T / BM) > maxWg) throw new ShapeError(op, `${T} rows need ${Math.ceil(T / BM)} token tiles, over ${maxWg}`, 'split the batch');
  if (opts.chunkSize !== undefined && !(Number.isInteger(opts.chunkSize) && opts.chunkSize >= 1)) {
    throw new ShapeError(op, `chunkSize must be a positive integer, got ${opts.chunkSize}`);
  }
  const VEC = C % 4 === 0 ? 1 : 0;  // vec4 loads of h and E rows
  const capP = f32(cap);

  const logp = e.empty(rowShape, 'f32', 'logprobs.logp');
  const lse = e.empty(rowShape, 'f32', 'logprobs.lse');
  const lsp2 = e.empty(rowShape, 'f32', 'logprobs.lsp2');
  const flags = e.empty(rowShape, 'u32', 'logprobs.flags');
  const partials = e.empty([T, S, PREC], 'f32', 'logprobs.partials');
  const zlab = e.empty([T], 'f32', 'logprobs.zlab');
  parts.forEach((p, i) => {
    // pass 1: this part's [T, Sp] records (max, Σe^{z−m}, Σe^{2(z−m)}, Σz', argmax) at slices s0 …
    const rows = p.row1 - p.row0;
    const variant = weightVariant(e, p.tensor); // E's loads: f32, or widened bf16/f16
    e.run({ op: 'logprobs.partials', shader: 'logprobs', entry: 'logprobs_partials', inputs: [h, p.tensor], outputs: [partials], params: [T, C, rows, VS, S, s0[i], capP, p.row0], workgroups: [Math.ceil(T / BM), Sp[i]], overrides: { VEC }, variant });
    // z'[t, y_t] by an indexed dot, one 64-wide workgroup per row (written by the part holding y_t)
    e.run({ op: 'logprobs.label_logit', shader: 'logprobs', entry: 'logprobs_label_logit', inputs: [h, p.tensor, labels], outputs: [zlab], params: [T, C, V, p.row0, p.row1, capP], workgroups: e.grid(T * 64, 64), variant });
  });
  // merge all slices of all parts in order
  e.run({ op: 'logprobs.combine', shader: 'logprobs', entry: 'logprobs_combine', inputs: [partials, zlab, labels], outputs: [logp, lse, lsp2, flags], params: [T, S, V], workgroups: e.grid(T, 64) });
  const extras: Pick<LogprobsResult, 'zmean' | 'correct' | 'flags'> = {};
  if (opts.extras) {
    extras.zmean = e.empty(rowShape, 'f32', 'logprobs.zmean');
    extras.correct = e.empty(rowShape, 'f32', 'logprobs.correct');
    e.run({ op: 'logprobs.metrics', shader: 'logprobs', entry: 'logprobs_metrics', inputs: [partials, labels], outputs: [extras.zmean, extras.correct], params: [T, S, V], workgroups: e.grid(T, 64) });
  }
  if (opts.flags) extras.flags = flags;
  else flags.dispose();
  partials.dispose();
  zlab.dispose();

  // The backward needs lse; keep a private copy so the caller may dispose the returned one.
  const tracking = e.tape.enabled && [h, ...Es, labels].some((t) => t.requiresGrad);
  const lseSaved = tracking ? e.copy(lse, 'logprobs.lse.saved') : null;

  e.tape.record({
    op,
    inputs: [h, ...Es, labels],
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
      // Per part: its leaf .grad to add into, or a new gradient returned to the tape (null for
      // frozen parts, 16-bit ones included: no [V, C] gradient is computed for them).
      const targets = Es.map((t) => leafGradTarget(e, t));
      const dEs = Es.map((t, i) => (t.requiresGrad && !targets[i] ? e.empty(t.shape, 'f32', 'logprobs.dE') : null));
      let first = true; // the first chunk overall writes dh, later ones accumulate
      parts.forEach((p, i) => {
        const Ep = p.tensor; // rows [row0, row1) of E; v0 below is local to it
        const dE = targets[i] ?? dEs[i];
        const rows = p.row1 - p.row0;
        for (let v0 = 0; v0 < rows; v0 += Vc) {
          const vc = Math.min(Vc, rows - v0);
          // g[T, vc] = ∂L/∂z (uncapped logits) for vocabulary rows row0+v0 … row0+v0+vc−1
          e.run({
            op: 'logprobs.grad_chunk',
            shader: 'logprobs',
            entry: 'logprobs_grad_chunk',
            inputs: [h, Ep, labels, lseSaved!, dlogp, dlse],
            outputs: [g],
            params: [T, C, v0, vc, p.row0, capP],
            workgroups: [Math.ceil(T / BM), Math.ceil(vc / BN)],
            overrides: { VEC },
            variant: weightVariant(e, Ep),
          });
          // dh[T, C] (+)= g[T, vc] · Ep[v0 : v0+vc, C]
          if (dh) gemm({ out: dh, a: g, b: Ep, M: T, N: C, K: vc, offB: v0 * C, accumulate: !first });
          // dEp[v0 : v0+vc, C] (+)= gᵀ[vc, T] · h[T, C]
          if (dE) gemm({ out: dE, a: g, b: h, M: vc, N: C, K: T, transA: true, offOut: v0 * C, accumulate: targets[i] !== null });
          first = false;
        }
      });
      g.dispose();
      if (!dlogpIn) dlogp.dispose();
      if (!dlseIn) dlse.dispose();
      return [dh, ...dEs, null];
    },
  });
  return { logp, lse, lsp2, ...extras };
}
