// Shape-only checks of gemm's workgroup grid (no device): the few-row kernels used for decoding
// logits cap x at the per-dimension limit and loop over the remaining column groups, so a
// vocabulary above 4 × 65535 = 262,140 no longer overflows the grid; other variants refuse a grid
// they cannot cover with a ShapeError instead of dispatching one that silently drops columns.
import { describe, expect, it } from 'vitest';
import { gemmGrid } from './matmul.ts';
import { ShapeError } from '../errors.ts';

const MAX = 65535;

/** Columns a grid covers when workgroup x takes column groups x, x + X, … of `tileN` columns. */
function coveredColumns(x: number, N: number, tileN: number): number {
  const groups = Math.ceil(N / tileN);
  let covered = 0;
  for (let wx = 0; wx < x; wx++) for (let g = wx; g < groups; g += x) covered += Math.min(tileN, N - g * tileN);
  return covered;
}

describe('gemmGrid', () => {
  it('decoding logits: gemv covers every column of vocabularies up to and beyond 262,140', () => {
    for (const V of [256_000, 262_140, 262_141, 262_145, 300_000, 1_000_003]) {
      for (const v of ['gemv', 'gemv_sg'] as const) {
        const [x, y, z] = gemmGrid(v, 1, V, 2, MAX);
        expect(x).toBeLessThanOrEqual(MAX);
        expect([y, z]).toEqual([1, 2]);
        expect(coveredColumns(x, V, 4)).toBe(V);
      }
    }
    expect(gemmGrid('gemv', 4, 256_000, 1, MAX)).toEqual([64_000, 4, 1]); // Gemma-2: no loop needed
  });

  it('tile variants keep one workgroup per tile and refuse what the grid cannot cover', () => {
    expect(gemmGrid('tiled', 100, 262_147, 1, MAX)).toEqual([Math.ceil(262_147 / 64), 2, 1]);
    expect(gemmGrid('rowvec', 1, 300_000, 3, MAX)).toEqual([Math.ceil(300_000 / 256), 1, 3]);
    expect(() => gemmGrid('tiled', 1, 64 * MAX + 1, 1, MAX)).toThrow(ShapeError);
    expect(() => gemmGrid('gemv', MAX + 1, 4, 1, MAX)).toThrow(/over 65535 workgroups/);
    expect(() => gemmGrid('naive', 16, 16, MAX + 1, MAX)).toThrow(ShapeError);
  });
});
