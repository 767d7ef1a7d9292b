// seqStats: per-row reductions over T of per-token log-probs, kept per row (one row per
// sequence: rows [0, B) chosen, [B, 2B) rejected), for the preference losses (spec
// preference-losses.md §1.1 step 3, §2.2 LD-DPO, §2.3 WPO, §2.5 metrics; src/engine/train/README.md).
//
//   col 0 S    = Σ_t tokenWeight·logp     differentiable: dlogp += dS·tokenWeight
//   col 1 Sraw = Σ_t mask·logp            differentiable: dlogp += dSraw·mask (sft / NLL, SimPO)
//   col 2 n    = Σ_t mask                 completion length
//   col 3 wpo  = Σ_t mask·(logp − lsp2)   detached: WPO's m = wpo / n takes no gradient
//   col 4 zsum = Σ_t mask·zmean           detached (0 without extra.zmean): TRL logits/* metric
//   col 5 hits = Σ_t mask·correct         detached (0 without extra.correct): mean_token_accuracy
// Positions whose weight is 0 add nothing (padding may hold anything, even NaN).
// One 64-lane workgroup per row, lanes strided over T, then a fixed-order tree: bitwise
// deterministic. Gradients of columns 2–5 are ignored (detached by contract).
// Shader: src/gpu/shaders/seq_stats.wgsl. Reference: src/engine/reference/seq_stats.ts.

import { ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype, expectRank, expectShape } from './util.ts';

/** Column names of seqStats' output, in order. */
export const SEQ_FIELD_NAMES = ['S', 'Sraw', 'n', 'wpo', 'zsum', 'hits'] as const;
export type SeqField = (typeof SEQ_FIELD_NAMES)[number];
/** Column count of seqStats' output. */
export const SEQ_FIELDS = SEQ_FIELD_NAMES.length;
/** Column of each field: SEQ_FIELD.S = 0, …, SEQ_FIELD.hits = 5. */
export const SEQ_FIELD = Object.fromEntries(SEQ_FIELD_NAMES.map((f, i) => [f, i])) as Readonly<Record<SeqField, number>>;

export interface SeqStatsExtra {
  /** [R, T] vocabulary mean of the raw logits per position (detached). */
  zmean?: Tensor;
  /** [R, T] 1 where argmax(logits) = label, else 0 (detached). */
  correct?: Tensor;
}

/**
 * Per-row statistics [R, SEQ_FIELDS] of `logp` [R, T] (the only input that takes a gradient).
 * lsp2 (log Σp², detached), tokenWeight (mask or LD-DPO weights) and mask (0|1) are [R, T]
 * constants.
 */
export function seqStats(logp: Tensor, lsp2: Tensor, tokenWeight: Tensor, mask: Tensor, extra: SeqStatsExtra = {}): Tensor {
  const op = 'seqStats';
  expectDtype(op, 'logp', logp, 'f32');
  expectRank(op, 'logp', logp, 2);
  const [R, T] = logp.shape;
  if (R === 0 || T === 0) throw new ShapeError(op, `logp ${logp.describe()} is empty`);
  const consts: [string, Tensor | undefined][] = [['lsp2', lsp2], ['tokenWeight', tokenWeight], ['mask', mask], ['extra.zmean', extra.zmean], ['extra.correct', extra.correct]];
  for (const [name, t] of consts) {
    if (!t) continue;
    expectDtype(op, name, t, 'f32');
    expectShape(op, name, t, [R, T]);
    if (t.requiresGrad) throw new ShapeError(op, `${name} ${t.describe()} requires a gradient, but it is a constant of this op (no gradient flows to it)`, 'detach it (requiresGrad: false) or compute it under noGrad()');
  }
  const e = logp.engine;
  const flags = (extra.zmean ? 1 : 0) | (extra.correct ? 2 : 0);
  const out = e.empty([R, SEQ_FIELDS], 'f32', 'seqStats.out');
  // Absent extras bind `mask` in their place; the flags keep the kernel from reading them.
  e.run({
    op: 'seqStats.forward',
    shader: 'seq_stats',
    entry: 'seq_stats_forward',
    inputs: [logp, lsp2, tokenWeight, mask, extra.zmean ?? mask, extra.correct ?? mask],
    outputs: [out],
    params: [R, T, flags],
    workgroups: e.grid(R * 64, 64),
  });
  e.tape.record({
    op,
    inputs: [logp, lsp2, tokenWeight, mask, ...(extra.zmean ? [extra.zmean] : []), ...(extra.correct ? [extra.correct] : [])],
    outputs: [out],
    // Recorded only when logp requires a gradient (the other inputs are refused above).
    backward: ([dout]) => {
      const dlogp = e.empty([R, T], 'f32', 'seqStats.dlogp');
      e.run({ op: 'seqStats.backward', shader: 'seq_stats', entry: 'seq_stats_backward', inputs: [dout!, tokenWeight, mask], outputs: [dlogp], params: [R, T], workgroups: e.grid(R * T, 256) });
      return [dlogp];
    },
  });
  return out;
}
