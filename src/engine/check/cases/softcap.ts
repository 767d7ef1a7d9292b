import { checkOp, Rng, type GpuCase } from '../harness.ts';
import { softcap } from '../../ops/softcap.ts';
import { softcapRef } from '../../reference/softcap.ts';

const rng = new Rng(7);
// Tolerances: f32 tanh is accurate to a few ulp; gradients vs finite differences in f64.
const fwd = { atol: 1e-5, rtol: 1e-5 };
const bwd = { atol: 1e-4, rtol: 1e-3 };

export const cases: GpuCase[] = [
  ...[1, 257, 1000].map((n) => ({
    name: `softcap: n=${n} cap=30`,
    run: (e) => checkOp(e, { name: `softcap n=${n}`, inputs: [{ data: rng.array(n, -80, 80), shape: [n] }], gpu: ([x]) => softcap(x, 30), cpu: ([x]) => [softcapRef(x, 30)], fwd, bwd }),
  }) satisfies GpuCase),
  {
    name: 'softcap: |x| up to 1e4 stays finite (tanh clamp)',
    run: (e) =>
      checkOp(e, {
        name: 'softcap large',
        inputs: [{ data: [1e4, -1e4, 3e3, -5e3, 88.8, -88.8, 0, 1e-3], shape: [8] }],
        gpu: ([x]) => softcap(x, 50),
        cpu: ([x]) => [softcapRef(x, 50)],
        fwd,
        bwd,
      }),
  },
];
