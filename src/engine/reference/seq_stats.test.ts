import { describe, expect, it } from 'vitest';
import { SEQ_FIELD, SEQ_FIELDS } from '../ops/seq_stats.ts';
import { ldTokenWeightsRef, seqStatsRef } from './seq_stats.ts';
import { SPEC_LP, SPEC_LQ, SPEC_LSE2, SPEC_MASK, SPEC_T } from './spec_example.ts';

const col = (stats: Float64Array, c: number): number[] => Array.from({ length: stats.length / SEQ_FIELDS }, (_, r) => stats[r * SEQ_FIELDS + c]);
const close = (got: number[], want: number[]): void => got.forEach((g, i) => expect(g, `row ${i}`).toBeCloseTo(want[i], 12));

describe('seqStatsRef', () => {
  // preference-losses.md §9: rows chosen 1, chosen 2, rejected 1, rejected 2.
  const stats = seqStatsRef({ logp: SPEC_LP, lsp2: SPEC_LSE2, tokenWeight: SPEC_MASK, mask: SPEC_MASK }, 4, SPEC_T);

  it('gives the spec §9 sums, lengths and WPO terms', () => {
    close(col(stats, SEQ_FIELD.S), [-2.8, -4.8, -4.2, -2.5]);
    close(col(stats, SEQ_FIELD.Sraw), [-2.8, -4.8, -4.2, -2.5]);
    expect(col(stats, SEQ_FIELD.n)).toEqual([4, 3, 3, 5]);
    // m = wpo / n: 0.35, −0.6666666667 (chosen), −0.06666666667, 0.27 (rejected)
    close(col(stats, SEQ_FIELD.wpo).map((w, r) => w / col(stats, SEQ_FIELD.n)[r]), [0.35, -2 / 3, -0.2 / 3, 0.27]);
    expect(col(stats, SEQ_FIELD.zsum)).toEqual([0, 0, 0, 0]);
    expect(col(stats, SEQ_FIELD.hits)).toEqual([0, 0, 0, 0]);
    const ref = seqStatsRef({ logp: SPEC_LQ, lsp2: SPEC_LQ, tokenWeight: SPEC_MASK, mask: SPEC_MASK }, 4, SPEC_T);
    close(col(ref, SEQ_FIELD.S), [-3.6, -4.4, -3.3, -2.6]);
  });

  it('sums zmean and correct under the mask and skips zero-weight positions whatever they hold', () => {
    const logp = [-1, -2, NaN, Infinity];
    const s = seqStatsRef({ logp, lsp2: [-0.5, -3, NaN, 0], tokenWeight: [1, 0.5, 0, 0], mask: [1, 1, 0, 0], zmean: [2, 4, NaN, 1], correct: [1, 0, 1, 1] }, 1, 4);
    expect(Array.from(s)).toEqual([-1 - 1, -3, 2, -0.5 + 1, 6, 1]);
  });

  it('LD-DPO weights: 1 on the first min(n_w, n_l) completion tokens of the pair, α after', () => {
    // §9 lengths: pair 1 (4, 3) shares 3, pair 2 (3, 5) shares 3.
    const w = ldTokenWeightsRef(SPEC_MASK, 2, SPEC_T, 0.25);
    expect(Array.from(w)).toEqual([1, 1, 1, 0.25, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0.25, 0.25]);
    const ld = seqStatsRef({ logp: SPEC_LP, lsp2: SPEC_LSE2, tokenWeight: w, mask: SPEC_MASK }, 4, SPEC_T);
    close(col(ld, SEQ_FIELD.S), [-2.0 - 0.25 * 0.8, -4.8, -4.2, -1.7 - 0.25 * 0.8]);
    close(col(ld, SEQ_FIELD.Sraw), [-2.8, -4.8, -4.2, -2.5]);
    // Completion tokens need not start at position 0 (the prompt comes first).
    const shifted = ldTokenWeightsRef([0, 1, 1, 1, 0, 0, 1, 0], 1, 4, 0.5);
    expect(Array.from(shifted)).toEqual([0, 1, 0.5, 0.5, 0, 0, 1, 0]);
  });
});
