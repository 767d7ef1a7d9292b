import { describe, expect, it } from 'vitest';
import { ropeRef } from './rope.ts';
import { ropeInvFreq } from '../ops/rope.ts';

describe('ropeRef', () => {
  it('is the identity at position 0', () => {
    const x = Float64Array.from([0.3, -1, 2, 0.5, 7, -3, 1, 1]);
    expect(Array.from(ropeRef(x, [0], 2, 4))).toEqual(Array.from(x));
  });

  it('pairs dim i with i + HD/2 and uses inv_freq[i] = θ^(−2i/HD)', () => {
    // HD = 4, θ = 10000: inv_freq = [1, 0.01]. At p = 100, pair 0 turns by 100 rad, pair 1 by 1 rad.
    const e0 = ropeRef(Float64Array.from([1, 0, 0, 0]), [100], 1, 4);
    expect(e0[0]).toBeCloseTo(Math.cos(100), 14); // 0.8623188722876839
    expect(e0[2]).toBeCloseTo(Math.sin(100), 14); // −0.5063656411097588
    expect(e0[1]).toBe(0);
    expect(e0[3]).toBe(0);
    const e1 = ropeRef(Float64Array.from([0, 1, 0, 0]), [100], 1, 4);
    expect(e1[1]).toBeCloseTo(0.5403023058681398, 12); // cos 1
    expect(e1[3]).toBeCloseTo(0.8414709848078965, 12); // sin 1
    // The second half rotates the other way: x = e_{i+HD/2} → (−sin φ, cos φ).
    const e3 = ropeRef(Float64Array.from([0, 0, 0, 1]), [100], 1, 4);
    expect(e3[1]).toBeCloseTo(-0.8414709848078965, 12);
    expect(e3[3]).toBeCloseTo(0.5403023058681398, 12);
  });

  it('matches HF rotate_half in PyTorch (float64) at positions 5 and 4000', () => {
    // import torch
    // def rotate_half(x): x1, x2 = x[..., :4], x[..., 4:]; return torch.cat((-x2, x1), -1)
    // x = torch.tensor([[0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 0.125, -0.5]] * 2, dtype=torch.float64)
    // pos = torch.tensor([5, 4000], dtype=torch.float64)
    // inv = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    // emb = (pos[:, None] * inv[None, :]).repeat(1, 2)
    // y = x * emb.cos() + rotate_half(x) * emb.sin()
    const want = [
      -0.5773621132657407, -1.5967208697966773, 0.24344016893990678, 2.0024749896354295, -0.6922087764289889, 0.8369483042313561, 0.13733857486704037, -0.4899937916796354,
      -0.8776013251826853, 1.8016753781013009, -0.2598736604729841, -1.6856884893811879, 0.20570832272320627, 0.06297485167537253, 0.10291103241330447, -1.1867831801840505,
    ];
    const row = [0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 0.125, -0.5];
    const y = ropeRef(Float64Array.from([...row, ...row]), [5, 4000], 1, 8);
    want.forEach((v, k) => expect(y[k]).toBeCloseTo(v, 12));
  });

  it('rotates every head of a token alike, uses positions per token, keeps norms', () => {
    // tokens = 2 · 2 (batch flattened), NH = 2, HD = 6; positions [T = 2] shared by both batch rows.
    const x = Float64Array.from({ length: 4 * 2 * 6 }, (_, i) => Math.sin(i + 0.5));
    const y = ropeRef(x, [5, 4000], 2, 6);
    const alone = (t: number, p: number): Float64Array => ropeRef(x.slice(t * 12, t * 12 + 12), [p], 2, 6);
    [5, 4000, 5, 4000].forEach((p, t) => {
      const want = alone(t, p);
      for (let k = 0; k < 12; k++) expect(y[t * 12 + k]).toBeCloseTo(want[k], 14);
    });
    // Each (i, i + HD/2) pair is rotated, so its length is unchanged.
    for (let th = 0; th < 8; th++) {
      for (let i = 0; i < 3; i++) {
        const b = th * 6;
        expect(Math.hypot(y[b + i], y[b + i + 3])).toBeCloseTo(Math.hypot(x[b + i], x[b + i + 3]), 13);
      }
    }
  });
});

describe('ropeInvFreq (the op’s f32 table)', () => {
  it('rounds like HF: 1 / θ^(2i/HD) in f32', () => {
    // θ^0 = 1, θ^(1/2) = 100 exactly, 1/100 rounded to f32.
    expect(Array.from(ropeInvFreq(4, 10000))).toEqual([1, Math.fround(0.01)]);
  });

  it('equals PyTorch’s f32 inv_freq bit for bit (HD = 16) and within 1 ulp (HD = 256)', () => {
    // inv = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    // inv.view(torch.int32).tolist()          (dim = 16; dim = 256 at indices 0 1 2 3 64 111 127)
    const bits = (a: Float32Array): number[] => Array.from(new Int32Array(a.buffer));
    expect(bits(ropeInvFreq(16, 10000))).toEqual([1065353216, 1050798235, 1036831949, 1023510243, 1008981770, 995049016, 981668463, 967166816]);
    const t256 = [1065353216, 1064188408, 1063104471, 1062095789, 1008981770, 967977467, 954293393];
    const mine = bits(ropeInvFreq(256, 10000));
    [0, 1, 2, 3, 64, 111, 127].forEach((i, k) => expect(Math.abs(mine[i] - t256[k])).toBeLessThanOrEqual(1)); // [111] differs by 1 ulp
  });
});
