import { describe, expect, it } from 'vitest';
import { gegluRef, geluTanhGradScalar, geluTanhRef, geluTanhScalar } from './gelu_tanh.ts';

describe('geluTanhRef', () => {
  it('matches independently computed values', () => {
    // Python float64, written from the formula (not from this file):
    //   g = lambda x: 0.5*x*(1+math.tanh(math.sqrt(2/math.pi)*(x+0.044715*x**3)))
    const cases: [number, number][] = [
      [1.0, 0.8411919906082768],
      [-1.0, -0.15880800939172324],
      [0.5, 0.34571400982514394],
      [-3.0, -0.0036373920817729943],
      [3.0, 2.996362607918227],
      [-5.0, -2.2917961972623857e-7],
    ];
    const y = geluTanhRef(Float64Array.from(cases.map((c) => c[0])));
    cases.forEach(([, want], i) => expect(y[i]).toBeCloseTo(want, 14));
  });

  it('is 0 at 0, x for large x, 0 for very negative x', () => {
    expect(geluTanhScalar(0)).toBe(0);
    expect(geluTanhScalar(50)).toBe(50);
    expect(Math.abs(geluTanhScalar(-50))).toBe(0);
  });

  it('matches PyTorch (value and autograd derivative)', () => {
    // /usr/bin/python3, torch 1.13, float64:
    //   x = torch.tensor([1.0, -1.0, 0.5, -3.0, 3.0, -5.0, 2.25], dtype=torch.float64, requires_grad=True)
    //   y = torch.nn.functional.gelu(x, approximate='tanh'); y.sum().backward(); y, x.grad
    const xs = [1.0, -1.0, 0.5, -3.0, 3.0, -5.0, 2.25];
    const ys = [0.8411919906082768, -0.15880800939172324, 0.34571400982514394, -0.0036373920817729943, 2.996362607918227, -2.2917961972623857e-7, 2.222798670102711];
    const gs = [1.0829640838457826, -0.08296408384578252, 0.8673699035346424, -0.011584166630969648, 1.0115841666309695, -1.5463619879596227e-6, 1.0599145345177623];
    xs.forEach((x, i) => {
      expect(geluTanhScalar(x)).toBeCloseTo(ys[i], 14);
      expect(geluTanhGradScalar(x)).toBeCloseTo(gs[i], 13);
    });
  });

  it('has the §1.5 derivative (central differences)', () => {
    for (const x of [-6, -2.5, -1, -0.3, 0, 0.7, 1.9, 4]) {
      const h = 1e-6;
      const fd = (geluTanhScalar(x + h) - geluTanhScalar(x - h)) / (2 * h);
      expect(geluTanhGradScalar(x)).toBeCloseTo(fd, 8);
    }
  });
});

describe('gegluRef', () => {
  it('is gelu(gate)·up', () => {
    const y = gegluRef(Float64Array.from([1, -1, 0.5]), Float64Array.from([2, -3, 0]));
    expect(y[0]).toBeCloseTo(2 * 0.8411919906082768, 14);
    expect(y[1]).toBeCloseTo(3 * 0.15880800939172324, 14);
    expect(y[2]).toBe(0);
  });
});
