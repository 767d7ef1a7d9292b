import { describe, expect, it } from 'vitest';
import { addRef, broadcastShapeRef, mulRef, scaleRef, subRef } from './elementwise.ts';

// a = arange(15).reshape(3,1,5)·0.5 − 2 and b = (arange(4).reshape(4,1) + 1)·10, as in numpy.
const a = Float64Array.from({ length: 15 }, (_, i) => i * 0.5 - 2);
const b = Float64Array.from({ length: 4 }, (_, i) => (i + 1) * 10);
const at = (y: Float64Array, i: number, j: number, k: number) => y[(i * 4 + j) * 5 + k];

describe('broadcastShapeRef', () => {
  it('right-aligns and repeats size-1 dims', () => {
    expect(broadcastShapeRef([3, 1, 5], [4, 1])).toEqual([3, 4, 5]);
    expect(broadcastShapeRef([1], [2, 3])).toEqual([2, 3]);
    expect(broadcastShapeRef([], [2])).toEqual([2]);
    expect(broadcastShapeRef([0, 1], [1, 5])).toEqual([0, 5]);
    expect(() => broadcastShapeRef([3], [4])).toThrow(/do not broadcast/);
  });
});

describe('addRef / mulRef / subRef / scaleRef', () => {
  it('match numpy on [3,1,5] ∘ [4,1] → [3,4,5]', () => {
    // python3: y = a + b; y[2,3,4], y[0,1,2], y[1,0,0], y.sum() → 45.0 19.0 10.5 1590.0
    const y = addRef(a, [3, 1, 5], b, [4, 1]);
    expect(y.length).toBe(60);
    expect([at(y, 2, 3, 4), at(y, 0, 1, 2), at(y, 1, 0, 0), y.reduce((s, v) => s + v, 0)]).toEqual([45, 19, 10.5, 1590]);
    // z = a * b; z[2,3,4], z[0,1,2], z.sum() → 200.0 -20.0 2250.0
    const z = mulRef(a, [3, 1, 5], b, [4, 1]);
    expect([at(z, 2, 3, 4), at(z, 0, 1, 2), z.reduce((s, v) => s + v, 0)]).toEqual([200, -20, 2250]);
  });

  it('handles a scalar-shaped operand, rank 0, and zero-size dims', () => {
    expect(Array.from(subRef(Float64Array.from([1, 2, 3]), [3], Float64Array.from([10]), [1]))).toEqual([-9, -8, -7]);
    expect(Array.from(mulRef(Float64Array.from([4]), [], Float64Array.from([1, 2]), [2]))).toEqual([4, 8]);
    expect(addRef(new Float64Array(0), [0, 1], Float64Array.from([1, 2, 3, 4, 5]), [1, 5]).length).toBe(0);
    expect(Array.from(scaleRef(Float64Array.from([1, -2, 0.5]), -3))).toEqual([-3, 6, -1.5]);
  });
});
