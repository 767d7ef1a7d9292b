import { describe, expect, it } from 'vitest';
import { logprobsRef } from './logprobs.ts';

// A 2-row, 3-wide, 4-token example computed in PyTorch (torch 1.13, float64):
//   h = torch.tensor([[0.5, -1.0, 2.0], [3.0, 1.5, -2.0]], dtype=torch.float64)
//   E = torch.tensor([[1.0, 0.0, 0.5], [-2.0, 1.0, 3.0], [0.25, -0.5, 1.0], [4.0, 2.0, -1.0]], dtype=torch.float64)
//   z = h @ E.T;  z = cap * torch.tanh(z / cap)   # when cap > 0
//   lp = torch.log_softmax(z, -1); lse = torch.logsumexp(z, -1); lsp2 = torch.logsumexp(2 * lp, -1)
//   logp = lp[[0, 1], [2, 0]]
const h = Float64Array.from([0.5, -1.0, 2.0, 3.0, 1.5, -2.0]);
const E = Float64Array.from([1.0, 0.0, 0.5, -2.0, 1.0, 3.0, 0.25, -0.5, 1.0, 4.0, 2.0, -1.0]);

describe('logprobsRef', () => {
  it('matches PyTorch without a softcap', () => {
    const r = logprobsRef(h, E, [2, 0], 2, 3, 4, 0);
    expect(r.logp[0]).toBeCloseTo(-1.665729932956512, 12);
    expect(r.logp[1]).toBeCloseTo(-15.00000031150621, 12);
    expect(r.lse[0]).toBeCloseTo(4.290729932956512, 12);
    expect(r.lse[1]).toBeCloseTo(17.00000031150621, 12);
    expect(r.lsp2[0]).toBeCloseTo(-0.5131734216300881, 12);
    expect(r.lsp2[1]).toBeCloseTo(-6.230123232837959e-7, 12);
  });

  it('matches PyTorch with softcap 5', () => {
    const r = logprobsRef(h, E, [2, 0], 2, 3, 4, 5);
    expect(r.logp[0]).toBeCloseTo(-1.358442264169355, 12);
    expect(r.logp[1]).toBeCloseTo(-3.1346901184644334, 12);
    expect(r.lse[0]).toBeCloseTo(3.766191255990895, 12);
    expect(r.lse[1]).toBeCloseTo(5.0344349297405575, 12);
    expect(r.lsp2[0]).toBeCloseTo(-0.7219961217027491, 12);
    expect(r.lsp2[1]).toBeCloseTo(-0.08904765404250338, 12);
  });

  it('outputs zeros at ignored (negative) labels', () => {
    const r = logprobsRef(h, E, [2, -100], 2, 3, 4, 30);
    expect([r.logp[1], r.lse[1], r.lsp2[1]]).toEqual([0, 0, 0]);
    expect(r.lse[0]).not.toBe(0);
  });

  it('gives closed forms for V = 1 and for equal logits', () => {
    // V = 1: p = 1, so logp = 0, lse = z, log Σp² = 0.
    const one = logprobsRef(Float64Array.from([2, 3]), Float64Array.from([0.5, -1]), [0], 1, 2, 1, 0);
    expect(one.logp[0]).toBe(0);
    expect(one.lse[0]).toBe(-2);
    expect(one.lsp2[0]).toBeCloseTo(0, 15);
    // V equal rows: p = 1/V, logp = −log V, lse = z + log V, log Σp² = log(V·V⁻²) = −log V.
    const V = 7;
    const Erows = new Float64Array(V * 2).map((_, i) => (i % 2 === 0 ? 1.5 : -0.25));
    const eq = logprobsRef(Float64Array.from([2, 4]), Erows, [3], 1, 2, V, 30);
    const z = 30 * Math.tanh((2 * 1.5 - 4 * 0.25) / 30);
    expect(eq.logp[0]).toBeCloseTo(-Math.log(V), 13);
    expect(eq.lse[0]).toBeCloseTo(z + Math.log(V), 13);
    expect(eq.lsp2[0]).toBeCloseTo(-Math.log(V), 13);
  });

  it('respects 2·logp ≤ log Σp² ≤ log max p ≤ 0 when the label is the argmax', () => {
    // preference-losses.md §2.3 sanity bounds; row 0's label 2 is not the argmax, row 1's label 3 is.
    const r = logprobsRef(h, E, [2, 3], 2, 3, 4, 0);
    expect(r.lsp2[1]).toBeGreaterThanOrEqual(2 * r.logp[1]);
    expect(r.lsp2[1]).toBeLessThanOrEqual(r.logp[1]);
    expect(r.lsp2[0]).toBeLessThanOrEqual(0);
  });

  it('zmean and correct (argmax = label) by hand: z = [[1.5, 4, 2.625, −2], [2, −10.5, −2, 17]]', () => {
    const raw = logprobsRef(h, E, [1, 0], 2, 3, 4, 0);
    expect(raw.zmean[0]).toBeCloseTo(6.125 / 4, 14);
    expect(raw.zmean[1]).toBeCloseTo(6.5 / 4, 14);
    expect(Array.from(raw.correct)).toEqual([1, 0]); // argmaxes 1 and 3
    // softcap 5: mean of 5·tanh(z/5) (computed with Python's math.tanh); the argmax is unchanged.
    const capped = logprobsRef(h, E, [2, 3], 2, 3, 4, 5);
    expect(capped.zmean[0]).toBeCloseTo(1.3211877735356539, 13);
    expect(capped.zmean[1]).toBeCloseTo(0.034153739151031814, 13);
    expect(Array.from(capped.correct)).toEqual([0, 1]);
    const ignored = logprobsRef(h, E, [-100, 3], 2, 3, 4, 0);
    expect([ignored.zmean[0], ignored.correct[0]]).toEqual([0, 0]);
  });

  it('correct takes the first index among equal maxima, as torch.argmax', () => {
    const V = 5;
    const Erows = new Float64Array(V * 2).map((_, i) => (i % 2 === 0 ? 1 : 2)); // every logit equal
    const first = logprobsRef(Float64Array.from([1, 1]), Erows, [0], 1, 2, V, 0);
    const later = logprobsRef(Float64Array.from([1, 1]), Erows, [3], 1, 2, V, 0);
    expect([first.correct[0], later.correct[0]]).toEqual([1, 0]);
    expect(first.zmean[0]).toBe(3);
  });
});
