import { checkOp, expectClose, Rng, type GpuCase, type Tol } from '../harness.ts';
import type { Engine } from '../../../src/engine/engine.ts';
import { logprobs } from '../../../src/engine/ops/logprobs.ts';
import { logprobsRef } from '../../../src/engine/reference/logprobs.ts';
import { numericGrads } from '../../../src/engine/reference/finite_diff.ts';

const rng = new Rng(29);
// Tolerances: logits reach ~±45 in f32 (ulp 4e-6), so logp/lse/lsp2 carry a few e-6 absolute
// error (measured ≤ 6.3e-6 on lavapipe); gradients of magnitude ~3 differ by ≤ 5e-6 from float64
// central differences (h = 1e-5). ~5× headroom for other adapters' FMA contraction and exp.
const fwd: Tol = { atol: 3e-5, rtol: 1e-6 };
const bwd: Tol = { atol: 3e-5, rtol: 1e-5 };

interface LpCase {
  rows: number[]; // h's row shape, e.g. [7] or [2, 3]
  C: number;
  V: number;
  cap: number;
  slice?: number;
  chunk?: number;
  range: number; // h and E uniform in [−range, range]
  ignore?: number[]; // row indices with label −100
}

function labelsFor(T: number, V: number, ignore: number[]): number[] {
  return Array.from({ length: T }, (_, t) => (ignore.includes(t) ? -100 : rng.int(0, V)));
}

function lpCase(c: LpCase): GpuCase {
  const T = c.rows.reduce((a, b) => a * b, 1);
  const desc = `rows=[${c.rows}] C=${c.C} V=${c.V} cap=${c.cap} slice=${c.slice ?? 'default'} chunk=${c.chunk ?? 'default'}`;
  return {
    name: `logprobs: ${desc}`,
    run: (e) =>
      checkOp(e, {
        name: `logprobs ${desc}`,
        inputs: [
          { data: rng.array(T * c.C, -c.range, c.range), shape: [...c.rows, c.C] },
          { data: rng.array(c.V * c.C, -c.range, c.range), shape: [c.V, c.C] },
          { data: labelsFor(T, c.V, c.ignore ?? []), shape: c.rows, dtype: 'i32' },
        ],
        gpu: ([h, E, y]) => {
          const r = logprobs(h, E, y, { softcap: c.cap, sliceSize: c.slice, chunkSize: c.chunk });
          return [r.logp, r.lse, r.lsp2];
        },
        cpu: ([h, E, y]) => {
          const r = logprobsRef(h, E, y, T, c.C, c.V, c.cap);
          return [r.logp, r.lse, r.lsp2];
        },
        detached: [2],
        fwd,
        bwd,
      }),
  };
}

/** Only logp is seeded (lse unused) and only E requires a gradient: the zero-dlse and no-dh paths. */
async function logpOnlyCase(e: Engine): Promise<void> {
  const [T, C, V, cap] = [5, 6, 40, 30];
  const h64 = Float64Array.from(Float32Array.from(rng.array(T * C, -3, 3)));
  const E64 = Float64Array.from(Float32Array.from(rng.array(V * C, -3, 3)));
  const y = [3, -100, 39, 0, 17];
  const h = e.tensor(Float32Array.from(h64), [T, C]);
  const E = e.tensor(Float32Array.from(E64), [V, C], { requiresGrad: true });
  const labels = e.tensor(y, [T], { dtype: 'i32' });
  const r = logprobs(h, E, labels, { softcap: cap, sliceSize: 24, chunkSize: 16 });
  const dy = rng.array(T);
  const seed = e.tensor(Float32Array.from(dy), [T]);
  e.backward([r.logp], { seeds: [seed] });
  const ref = (xs: Float64Array[]): Float64Array[] => [logprobsRef(xs[0], xs[1], y, T, C, V, cap).logp];
  const [dE] = numericGrads(ref, [h64, E64], [dy], [1]);
  if (h.grad) throw new Error('logprobs: h does not require a gradient but received one');
  expectClose(await E.grad!.read(), dE, bwd, 'logprobs logp-only gradient of E');
  [h, E, labels, seed, r.logp, r.lse, r.lsp2].forEach((t) => t.dispose());
}

/** A label ≥ V cannot be checked on the host: it must surface as NaN, not as a plausible value. */
async function badLabelCase(e: Engine): Promise<void> {
  const h = e.tensor(rng.array(2 * 4), [2, 4]);
  const E = e.tensor(rng.array(9 * 4), [9, 4]);
  const labels = e.tensor([9, 2], [2], { dtype: 'i32' });
  const r = logprobs(h, E, labels, { softcap: 30 });
  const lp = await r.logp.read();
  if (!Number.isNaN(lp[0]) || !Number.isFinite(lp[1])) throw new Error(`logprobs: label 9 ≥ V = 9 should give NaN, row 1 a finite value; got ${lp[0]}, ${lp[1]}`);
  [h, E, labels, r.logp, r.lse, r.lsp2].forEach((t) => t.dispose());
}

export const cases: GpuCase[] = [
  lpCase({ rows: [1], C: 5, V: 1, cap: 30, range: 2 }),
  lpCase({ rows: [1], C: 16, V: 37, cap: 0, range: 1 }),
  // cap on, logits up to ~±40 (they bend); 3 slices (16, 16, 5) and 3 chunks; C % 4 == 0 (vec4 loads)
  lpCase({ rows: [7], C: 16, V: 37, cap: 30, slice: 16, chunk: 16, range: 3, ignore: [2] }),
  // cap off; 2 slices (256 = 4 tiles, so the running max rises within a slice; then 44) and
  // 3 chunks (128, 128, 44); C = 5 (scalar loads)
  lpCase({ rows: [7], C: 5, V: 300, cap: 0, slice: 256, chunk: 128, range: 3, ignore: [0, 6] }),
  // cap on; slices of 100 (not a tile multiple: 64 + 36) and 5 chunks (70 × 4 + 20)
  lpCase({ rows: [7], C: 5, V: 300, cap: 30, slice: 100, chunk: 70, range: 4, ignore: [3] }),
  // two token tiles (70 > 64 rows) as a [2, 35] batch; default slice and chunk
  lpCase({ rows: [2, 35], C: 8, V: 37, cap: 30, range: 3, ignore: [0, 34, 69] }),
  { name: 'logprobs: only logp seeded, only E trainable', run: logpOnlyCase },
  { name: 'logprobs: label ≥ V gives NaN', run: badLabelCase },
];
