import { describe, expect, it } from 'vitest';
import { embeddingRef } from './embedding.ts';
import { numericGrads } from './finite_diff.ts';

describe('embeddingRef', () => {
  // table [V = 3, C = 2]: row v = [10v, 10v + 1]
  const table = Float64Array.from([0, 1, 10, 11, 20, 21]);

  it('gathers rows, repeats allowed, times scale', () => {
    expect(Array.from(embeddingRef(table, [2, 0, 2], 2))).toEqual([20, 21, 0, 1, 20, 21]);
    expect(Array.from(embeddingRef(table, [1], 2, 0.5))).toEqual([5, 5.5]);
    expect(Array.from(embeddingRef(Float64Array.from([7, 8]), [0, 0], 2))).toEqual([7, 8, 7, 8]); // V = 1
  });

  it('rejects ids outside [0, V)', () => {
    expect(() => embeddingRef(table, [0, 3], 2)).toThrow(/ids\[1\] = 3/);
    expect(() => embeddingRef(table, [-1], 2)).toThrow(/ids\[0\] = -1/);
  });

  it('its finite-difference gradient is the scatter-add scale·Σ_{t: ids[t] = v} dy[t]', () => {
    const ids = [2, 0, 2, 2];
    const dy = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // [T = 4, C = 2]
    const [dTable] = numericGrads(([tb]) => [embeddingRef(tb, ids, 2, 3)], [Float64Array.from(table)], [dy], [0]);
    // row 0 ← token 1; row 1 unused; row 2 ← tokens 0, 2, 3
    const want = [3 * 3, 3 * 4, 0, 0, 3 * (1 + 5 + 7), 3 * (2 + 6 + 8)];
    want.forEach((v, k) => expect(dTable[k]).toBeCloseTo(v, 6)); // central differences: roundoff ~1e-8
  });
});
