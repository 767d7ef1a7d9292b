import { describe, expect, it } from 'vitest';
import { broadcastToRef, meanRef, sumRef, sumToRef } from './reduce.ts';

// x = sin(arange(105)).reshape(3,5,7) (numpy, float64)
const x = Float64Array.from({ length: 105 }, (_, i) => Math.sin(i));
const shape = [3, 5, 7];

describe('sumRef / meanRef', () => {
  it('match numpy over the first, middle and last axis', () => {
    // python3: x.sum(0)[4,6], x.sum(1)[2,3], x.sum(2)[1,4], x.mean(1)[0,0], x.sum(-1)[2,0]
    expect(sumRef(x, shape, 0)[4 * 7 + 6]).toBeCloseTo(0.09267546917430569, 14);
    expect(sumRef(x, shape, 1)[2 * 7 + 3]).toBeCloseTo(-2.2857046457308092, 14);
    expect(sumRef(x, shape, 2)[1 * 5 + 4]).toBeCloseTo(0.019426790517933556, 14);
    expect(meanRef(x, shape, 1)[0]).toBeCloseTo(0.5510310762515169, 14);
    expect(sumRef(x, shape, -1)[2 * 5 + 0]).toBeCloseTo(0.49517648170749484, 14);
    expect(sumRef(x, shape, 1).length).toBe(21);
  });

  it('axis of length 1 is the identity; length 0 gives 0 (sum) and NaN (mean)', () => {
    expect(Array.from(sumRef(Float64Array.from([1, 2, 3]), [3, 1], 1))).toEqual([1, 2, 3]);
    expect(Array.from(sumRef(new Float64Array(0), [2, 0], 1))).toEqual([0, 0]);
    expect(Number.isNaN(meanRef(new Float64Array(0), [0], 0)[0])).toBe(true);
  });
});

describe('sumToRef / broadcastToRef', () => {
  it('sum over broadcast dims (numpy x.sum(axis=(0,2)))', () => {
    const y = sumToRef(x, shape, [5, 1]);
    expect(y.length).toBe(5);
    expect(y[0]).toBeCloseTo(0.17507743360279415, 14);
    expect(y[4]).toBeCloseTo(-0.015684887804070624, 14);
    expect(Array.from(sumToRef(new Float64Array(60).fill(1), [3, 4, 5], [4, 1]))).toEqual([15, 15, 15, 15]);
  });

  it('broadcastTo repeats (numpy broadcast_to([1,2,3] as [3,1], (2,3,2)))', () => {
    expect(Array.from(broadcastToRef(Float64Array.from([1, 2, 3]), [3, 1], [2, 3, 2]))).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
  });
});
