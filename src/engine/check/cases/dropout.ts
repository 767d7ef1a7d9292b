// dropout: the counter-based mask against the float64 reference's hash bit for bit (forward), the
// backward (the mask recomputed from the seed) against finite differences, p = 0 as a no-op, the
// keep rate, and independent masks for different seeds.
import { ShapeError } from '../../errors.ts';
import { dropout, mixSeed } from '../../ops/dropout.ts';
import { dropoutMaskRef, dropoutRef } from '../../reference/dropout.ts';
import { checkOp, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(11);
// f32 multiply by f32(1/(1−p)) against float64 x/(1−p): a few ulp. A wrong mask element is off by |x|/(1−p) ≥ 0.5.
const fwd = { atol: 1e-7, rtol: 2e-7 };
const bwd = { atol: 1e-4, rtol: 1e-3 };
/** Values in ±[0.5, 1.5): a dropped element can never pass for a kept one. */
const awayFromZero = (n: number): Float64Array => rng.array(n, 0.5, 1.5).map((v, i) => (i % 3 === 0 ? -v : v));

/** The positions the GPU zeroed, as a 0/1 keep mask. */
async function gpuMask(y: { readF32(): Promise<Float32Array> }): Promise<Uint8Array> {
  return Uint8Array.from(await y.readF32(), (v) => (v === 0 ? 0 : 1));
}

export const cases: GpuCase[] = [
  ...([
    [1, 0.5, 3],
    [257, 0.1, 12345],
    [601, 0.9, 4_000_000_000],
    [6 * 35, 0.05, 0],
  ] as const).map(([n, p, seed]) => ({
    name: `dropout: n=${n} p=${p} seed=${seed}`,
    run: (e) => checkOp(e, { name: `dropout n=${n} p=${p}`, inputs: [{ data: awayFromZero(n), shape: n === 210 ? [6, 35] : [n] }], gpu: ([x]) => dropout(x, p, seed), cpu: ([x]) => [dropoutRef(x, p, seed)], fwd, bwd }),
  }) satisfies GpuCase),
  {
    name: 'dropout: the mask is the reference hash bit for bit, keeps 1 − p, and differs between seeds',
    run: async (e) => {
      const n = 70_001;
      const p = 0.05;
      const x = e.full([n], 1);
      for (const seed of [mixSeed(42, 0, 0), mixSeed(42, 0, 1)]) {
        const y = dropout(x, p, seed);
        const got = await gpuMask(y);
        y.dispose();
        const want = dropoutMaskRef(n, p, seed);
        const bad = got.findIndex((m, i) => m !== want[i]);
        if (bad >= 0) throw new Error(`dropout seed ${seed}: element ${bad} is ${got[bad] ? 'kept' : 'dropped'} on the GPU, ${want[bad] ? 'kept' : 'dropped'} by the reference hash`);
        const kept = got.reduce((s, m) => s + m, 0) / n;
        if (Math.abs(kept - (1 - p)) > 5 * Math.sqrt((p * (1 - p)) / n)) throw new Error(`dropout p=${p}: kept ${kept} of the elements`);
      }
      const [a, b] = [dropoutMaskRef(n, p, mixSeed(42, 0, 0)), dropoutMaskRef(n, p, mixSeed(42, 1, 0))];
      const same = a.reduce((s, m, i) => s + (m === b[i] ? 1 : 0), 0) / n; // independent: p² + (1 − p)²
      if (Math.abs(same - (p * p + (1 - p) ** 2)) > 0.01) throw new Error(`masks of mixSeed(42,0,0) and mixSeed(42,1,0) agree on ${same} of the elements`);
      x.dispose();
    },
  },
  {
    name: 'dropout: p = 0 is the identity (x itself, no dispatch, no tape); bad p or seed are refused',
    run: async (e) => {
      const x = e.tensor([1, 2, 3], [3], { requiresGrad: true });
      e.flush();
      const before = e.stats.dispatches;
      const y = dropout(x, 0, 7);
      if (y !== x || e.stats.dispatches !== before) throw new Error('dropout p=0 must return its input without a dispatch');
      for (const [p, seed] of [[1, 0], [-0.1, 0], [Number.NaN, 0], [0.5, -1], [0.5, 1.5], [0.5, 2 ** 32]]) {
        let threw = false;
        try {
          dropout(x, p, seed);
        } catch (err) {
          threw = err instanceof ShapeError && /dropout: (p|seed) must be/.test((err as Error).message);
        }
        if (!threw) throw new Error(`dropout(p=${p}, seed=${seed}) was not refused with a ShapeError naming p or the seed`);
      }
      x.dispose();
    },
  },
];
