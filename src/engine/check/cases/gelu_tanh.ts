import { checkOp, Rng, type GpuCase } from '../harness.ts';
import { geglu, geluTanh } from '../../ops/gelu_tanh.ts';
import { gegluRef, geluTanhRef } from '../../reference/gelu_tanh.ts';

const rng = new Rng(11);
// Tolerances: a handful of f32 ops plus one exp (WGSL allows 3 + 2|x| ulp) per element; the
// gradient is compared with float64 central differences (h = 1e-5), whose own error is ~1e-9.
const fwd = { atol: 1e-6, rtol: 1e-5 };
const bwd = { atol: 1e-5, rtol: 1e-4 };

// Values the MLP actually sees plus the tails: [−12, 12], exact zeros and ±50 / ±1e4 (must stay
// finite, gelu → x or 0; x³ would overflow f32 at 1e13 without the clamp).
const tails = [0, -0, 50, -50, 1e4, -1e4, 12, -12, 5.5, -5.5, 1e-3, -1e-3];

export const cases: GpuCase[] = [
  ...[1, 257, 1000].map((n) => ({
    name: `gelu_tanh: n=${n} in [-12, 12]`,
    run: (e) => checkOp(e, { name: `geluTanh n=${n}`, inputs: [{ data: rng.array(n, -12, 12), shape: [n] }], gpu: ([x]) => geluTanh(x), cpu: ([x]) => [geluTanhRef(x)], fwd, bwd }),
  }) satisfies GpuCase),
  {
    name: 'gelu_tanh: tails ±50, ±1e4, 0 stay finite',
    run: (e) => checkOp(e, { name: 'geluTanh tails', inputs: [{ data: tails, shape: [3, 4] }], gpu: ([x]) => geluTanh(x), cpu: ([x]) => [geluTanhRef(x)], fwd, bwd }),
  },
  ...[
    [1, 1],
    [7, 37],
    [3, 331],
  ].map(([r, c]) => ({
    name: `gelu_tanh: geglu [${r}, ${c}]`,
    run: (e) =>
      checkOp(e, {
        name: `geglu [${r}, ${c}]`,
        inputs: [
          { data: rng.array(r * c, -12, 12), shape: [r, c] },
          { data: rng.array(r * c, -3, 3), shape: [r, c] },
        ],
        gpu: ([g, u]) => geglu(g, u),
        cpu: ([g, u]) => [gegluRef(g, u)],
        fwd,
        bwd,
      }),
  }) satisfies GpuCase),
  {
    name: 'gelu_tanh: geglu with tails and only gate requiring grad',
    run: (e) =>
      checkOp(e, {
        name: 'geglu tails',
        inputs: [
          { data: tails, shape: [12] },
          { data: rng.array(12, -2, 2), shape: [12], grad: false },
        ],
        gpu: ([g, u]) => geglu(g, u),
        cpu: ([g, u]) => [gegluRef(g, u)],
        fwd,
        bwd,
      }),
  },
];
