import { describe, expect, it } from 'vitest';
import { softcapRef } from './softcap.ts';

describe('softcapRef', () => {
  it('is the identity near 0, bounded by cap, odd', () => {
    const y = softcapRef(Float64Array.from([1e-6, 1e4, -1e4, 15, -15]), 30);
    expect(y[0]).toBeCloseTo(1e-6, 15);
    expect(y[1]).toBe(30);
    expect(y[2]).toBe(-30);
    // 30·tanh(15/30) = 30·tanh(0.5) = 13.8635147178 (math.tanh in float64)
    expect(y[3]).toBeCloseTo(13.8635147178, 9);
    expect(y[4]).toBeCloseTo(-y[3], 12);
  });
});
