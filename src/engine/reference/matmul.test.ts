import { describe, expect, it } from 'vitest';
import { matmulRef } from './matmul.ts';

describe('matmulRef', () => {
  it('matches a hand-computed product in every layout', () => {
    // A = [[1, 2, 3], [4, 5, 6]] (2×3), B = [[7, 8], [9, 10], [11, 12]] (3×2): A·B = [[58, 64], [139, 154]].
    const A = [1, 2, 3, 4, 5, 6];
    const At = [1, 4, 2, 5, 3, 6];
    const B = [7, 8, 9, 10, 11, 12];
    const Bt = [7, 9, 11, 8, 10, 12];
    const want = [58, 64, 139, 154];
    expect(Array.from(matmulRef(A, B, 2, 2, 3))).toEqual(want);
    expect(Array.from(matmulRef(At, B, 2, 2, 3, true))).toEqual(want);
    expect(Array.from(matmulRef(A, Bt, 2, 2, 3, false, true))).toEqual(want);
    expect(Array.from(matmulRef(At, Bt, 2, 2, 3, true, true))).toEqual(want);
  });
});
