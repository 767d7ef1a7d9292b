import { describe, expect, it } from 'vitest';
import { dropoutHashRef, dropoutMaskRef, dropoutRef } from './dropout.ts';

describe('dropoutRef', () => {
  it('hashes (seed, index) to the values computed with Python integers', () => {
    // python3: M = 2**32-1; lb(h): h ^= h>>16; h = h*0x7feb352d & M; h ^= h>>15; h = h*0x846ca68b & M; h ^= h>>16
    //          H(s, i) = lb((lb(i ^ k) + k) & M) with k = lb(s ^ 0x9e3779b9)
    const known: [number, number, number][] = [
      [0, 0, 632013150],
      [0, 1, 1092597679],
      [42, 0, 4073307448],
      [42, 7, 2269788855],
      [123456789, 1000, 1813817195],
      [2 ** 32 - 1, 2 ** 32 - 1, 1693864417],
    ];
    for (const [seed, i, h] of known) expect(dropoutHashRef(seed, i), `hash(${seed}, ${i})`).toBe(h);
  });

  it('keeps a fraction 1 − p, independently for different seeds, and scales by 1/(1 − p)', () => {
    const n = 50_000;
    const p = 0.3;
    const a = dropoutMaskRef(n, p, 7);
    const b = dropoutMaskRef(n, p, 8);
    const kept = a.reduce((s, m) => s + m, 0) / n;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    expect(Math.abs(kept - (1 - p))).toBeLessThan(5 * sigma);
    const both = a.reduce((s, m, i) => s + (m & b[i]), 0) / n; // independent masks: (1 − p)²
    expect(Math.abs(both - (1 - p) ** 2)).toBeLessThan(5 * Math.sqrt(0.49 * 0.51 / n));
    const y = dropoutRef(Float64Array.from({ length: 8 }, (_, i) => i + 1), 0.5, 3);
    const m = dropoutMaskRef(8, 0.5, 3);
    y.forEach((v, i) => expect(v).toBe(m[i] ? 2 * (i + 1) : 0));
    expect(dropoutRef(Float64Array.from([1.5, -2]), 0, 9)).toEqual(Float64Array.from([1.5, -2]));
  });
});
