import { describe, expect, it } from 'vitest';
import { rmsnormRef } from './rmsnorm.ts';
import { numericGrads } from './finite_diff.ts';

describe('rmsnormRef', () => {
  it('matches closed forms: x = [3, 4] has mean(x²) = 12.5', () => {
    const s = Math.sqrt(12.5);
    // (1 + w) = 1: y = x / √12.5
    const y0 = rmsnormRef(Float64Array.from([3, 4]), Float64Array.from([0, 0]), 0);
    expect(y0[0]).toBeCloseTo(3 / s, 14);
    expect(y0[1]).toBeCloseTo(4 / s, 14);
    // Gemma's (1 + w): w = [1, −0.5] scales by [2, 0.5]
    const y1 = rmsnormRef(Float64Array.from([3, 4]), Float64Array.from([1, -0.5]), 0);
    expect(y1[0]).toBeCloseTo((2 * 3) / s, 14);
    expect(y1[1]).toBeCloseTo((0.5 * 4) / s, 14);
  });

  it('matches Gemma2RMSNorm written in PyTorch (float64)', () => {
    // import torch
    // x = torch.tensor([[0.5, -1.25, 2.0, 0.75, -0.1], [3.0, 0.0, -2.0, 1.0, 4.0]], dtype=torch.float64)
    // w = torch.tensor([0.1, -0.2, 0.0, 0.5, -1.0], dtype=torch.float64)
    // y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * (1.0 + w)
    const want = [0.48670641539042486, -0.8849207552553179, 1.7698415105106358, 0.9955358496622326, -0, 1.3472192462624821, 0, -0.8164965128863527, 0.6123723846647645, 0];
    const y = rmsnormRef(Float64Array.from([0.5, -1.25, 2.0, 0.75, -0.1, 3.0, 0.0, -2.0, 1.0, 4.0]), Float64Array.from([0.1, -0.2, 0.0, 0.5, -1.0]));
    want.forEach((v, k) => expect(y[k]).toBeCloseTo(v, 13));
  });

  it('adds eps inside the rsqrt, per row', () => {
    // Row 0: mean(x²) = 1, eps = 1 → rstd = 1/√2. Row 1: zeros stay zeros.
    const y = rmsnormRef(Float64Array.from([1, -1, 0, 0]), Float64Array.from([0, 0]), 1);
    expect(y[0]).toBeCloseTo(Math.SQRT1_2, 14);
    expect(y[1]).toBeCloseTo(-Math.SQRT1_2, 14);
    expect(y[2]).toBe(0);
    expect(y[3]).toBe(0);
  });

  it('its finite-difference gradients match the closed forms of spec §1.5', () => {
    // dL/dx = r·(dy⊙g) − (r³/C)·x·Σ_k dy_k·g_k·x_k,  dL/dw_j = Σ_rows dy_j·x_j·r,  g = 1 + w
    const C = 5;
    const rows = 3;
    const x = Float64Array.from({ length: rows * C }, (_, i) => Math.sin(1.3 * i + 0.2) * 2);
    const w = Float64Array.from({ length: C }, (_, j) => 0.3 * j - 0.5);
    const dy = Float64Array.from({ length: rows * C }, (_, i) => Math.cos(0.7 * i));
    const eps = 1e-6;
    const [dxNum, dwNum] = numericGrads(([a, b]) => [rmsnormRef(a, b, eps)], [x, w], [dy], [0, 1]);
    const dw = new Float64Array(C);
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let j = 0; j < C; j++) ss += x[r * C + j] ** 2;
      const rs = 1 / Math.sqrt(ss / C + eps);
      let dot = 0;
      for (let k = 0; k < C; k++) dot += dy[r * C + k] * (1 + w[k]) * x[r * C + k];
      for (let j = 0; j < C; j++) {
        const dx = rs * dy[r * C + j] * (1 + w[j]) - ((rs ** 3) / C) * x[r * C + j] * dot;
        expect(dxNum[r * C + j]).toBeCloseTo(dx, 7);
        dw[j] += dy[r * C + j] * x[r * C + j] * rs;
      }
    }
    for (let j = 0; j < C; j++) expect(dwNum[j]).toBeCloseTo(dw[j], 7);
  });
});
