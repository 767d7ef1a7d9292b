// float64 reference of ops/seq_stats.ts: per-row reductions over T (spec preference-losses.md
// §1.1 step 3, §2.2 LD-DPO, §2.3 WPO, §2.5 metrics). Rows are [R, T] row-major.
//   S    = Σ_t tokenWeight·logp        Sraw = Σ_t mask·logp        n = Σ_t mask
//   wpo  = Σ_t mask·(logp − lsp2)      zsum = Σ_t mask·zmean       hits = Σ_t mask·correct
// Positions whose weight (tokenWeight for S, mask for the rest) is 0 add nothing, whatever
// their values: padding may hold anything.
// Written from the spec, independently of seq_stats.wgsl.

import { SEQ_FIELDS } from '../ops/seq_stats.ts';

export interface SeqStatsRefInputs {
  logp: ArrayLike<number>;
  lsp2: ArrayLike<number>;
  tokenWeight: ArrayLike<number>;
  mask: ArrayLike<number>;
  zmean?: ArrayLike<number>;
  correct?: ArrayLike<number>;
}

/** [R, SEQ_FIELDS] statistics of R rows of T positions. */
export function seqStatsRef(x: SeqStatsRefInputs, R: number, T: number): Float64Array {
  const out = new Float64Array(R * SEQ_FIELDS);
  for (let r = 0; r < R; r++) {
    const o = out.subarray(r * SEQ_FIELDS, (r + 1) * SEQ_FIELDS);
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      const w = x.tokenWeight[i];
      const m = x.mask[i];
      if (w !== 0) o[0] += w * x.logp[i];
      if (m === 0) continue;
      o[1] += m * x.logp[i];
      o[2] += m;
      o[3] += m * (x.logp[i] - x.lsp2[i]);
      if (x.zmean) o[4] += m * x.zmean[i];
      if (x.correct) o[5] += m * x.correct[i];
    }
  }
  return out;
}

/**
 * LD-DPO token weights (spec §2.2, TRL HEAD `ld_alpha`) for a [2B, T] mask whose rows [0, B)
 * are chosen and [B, 2B) rejected: 1 on each row's first min(n_w, n_l) completion positions of
 * its pair, α after them, 0 off the mask.
 */
export function ldTokenWeightsRef(mask: ArrayLike<number>, B: number, T: number, alpha: number): Float64Array {
  const n = (r: number): number => {
    let s = 0;
    for (let t = 0; t < T; t++) s += mask[r * T + t];
    return s;
  };
  const w = new Float64Array(2 * B * T);
  for (let r = 0; r < 2 * B; r++) {
    const b = r % B;
    const shared = Math.min(n(b), n(B + b));
    let k = 0; // completion positions seen so far in this row
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      if (mask[i] === 0) continue;
      k++;
      w[i] = k <= shared ? 1 : alpha;
    }
  }
  return w;
}
