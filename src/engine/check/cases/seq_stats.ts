// seqStats: per-row sums over T — forward vs the float64 reference (with and without zmean /
// correct, LD-DPO token weights, ragged and empty masks, T = 1 and T over the 64 lanes, a
// two-row-per-workgroup-grid R), backward vs finite differences of the reference (detached
// columns seeded but ignored), NaN/Inf in zero-weight positions adding nothing, and bitwise
// determinism across runs.
import type { Engine } from '../../engine.ts';
import { seqStats, SEQ_FIELD, SEQ_FIELDS } from '../../ops/seq_stats.ts';
import { numericGrads } from '../../reference/finite_diff.ts';
import { ldTokenWeightsRef, seqStatsRef } from '../../reference/seq_stats.ts';
import { SPEC_LP, SPEC_LSE2, SPEC_MASK, SPEC_T } from '../../reference/spec_example.ts';
import type { Tensor } from '../../tensor.ts';
import { expectClose, Rng, type GpuCase, type Tol } from '../harness.ts';

const rng = new Rng(41);
// Sums of ≤ 300 terms of magnitude ≤ 6 in f32 (64 lane partials, then a tree): measured errors
// ≤ 4e-6 on SwiftShader and lavapipe; 10× headroom. The backward is one FMA per element and
// the finite differences of a linear function are exact to ~1e-10.
const fwd: Tol = { atol: 5e-5, rtol: 1e-6 };
const bwd: Tol = { atol: 1e-6, rtol: 1e-6 };

interface SsCase {
  R: number;
  T: number;
  /** Completion positions [start, end) per row (the rest is prompt / padding). */
  spans: [number, number][];
  ld?: number;       // LD-DPO α (R even: rows [0, R/2) chosen)
  zmean?: boolean;
  correct?: boolean;
  /** Put NaN / Inf into logp, lsp2, zmean and correct at some masked-out positions. */
  poison?: boolean;
}

const f32 = (x: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(x));

function inputsOf(c: SsCase) {
  const n = c.R * c.T;
  const mask = new Float64Array(n);
  c.spans.forEach(([s, e], r) => mask.fill(1, r * c.T + s, r * c.T + e));
  const logp = f32(rng.array(n, -6, 0));
  const lsp2 = f32(rng.array(n, -3, 0));
  const zmean = c.zmean ? f32(rng.array(n, -2, 2)) : undefined;
  const correct = c.correct ? Float64Array.from({ length: n }, () => (rng.next() < 0.4 ? 1 : 0)) : undefined;
  if (c.poison) {
    for (let i = 0; i < n; i++) {
      if (mask[i] !== 0 || i % 3 !== 0) continue;
      logp[i] = NaN;
      lsp2[i] = Infinity;
      if (zmean) zmean[i] = -Infinity;
      if (correct) correct[i] = NaN;
    }
  }
  const tokenWeight = c.ld === undefined ? Float64Array.from(mask) : ldTokenWeightsRef(mask, c.R / 2, c.T, c.ld);
  return { logp, lsp2, tokenWeight, mask, zmean, correct };
}

async function ssCase(e: Engine, c: SsCase): Promise<void> {
  const what = `seqStats R=${c.R} T=${c.T}${c.ld !== undefined ? ` ld=${c.ld}` : ''}${c.zmean ? ' zmean' : ''}${c.correct ? ' correct' : ''}${c.poison ? ' poisoned padding' : ''}`;
  const x = inputsOf(c);
  const t = (a: Float64Array, label: string, requiresGrad = false): Tensor => e.tensor(Float32Array.from(a), [c.R, c.T], { requiresGrad, label: `${what}.${label}` });
  const logp = t(x.logp, 'logp', true);
  const consts = [t(x.lsp2, 'lsp2'), t(x.tokenWeight, 'tokenWeight'), t(x.mask, 'mask')];
  const extra = { zmean: x.zmean ? t(x.zmean, 'zmean') : undefined, correct: x.correct ? t(x.correct, 'correct') : undefined };
  const stats = seqStats(logp, consts[0], consts[1], consts[2], extra);
  if (stats.shape[0] !== c.R || stats.shape[1] !== SEQ_FIELDS) throw new Error(`${what}: output shape [${stats.shape}]`);
  const ref = (xs: Float64Array[]): Float64Array[] => [seqStatsRef({ ...x, logp: xs[0] }, c.R, c.T)];
  const got = await stats.read();
  expectClose(got, ref([x.logp])[0], fwd, `${what} forward`);

  // The same inputs again give the same bits (fixed summation order).
  const again = seqStats(logp, consts[0], consts[1], consts[2], extra);
  const bits = new Uint32Array((await again.readF32()).buffer);
  const first = new Uint32Array(Float32Array.from(got).buffer);
  if (bits.some((b, i) => b !== first[i])) throw new Error(`${what}: two runs differ bitwise`);
  e.releaseGraph(again);
  again.dispose();

  // Backward: every column seeded on the GPU; the reference's detached columns (n, wpo, zsum,
  // hits) get no seed, so the finite differences see only S and Sraw.
  const dy = rng.array(c.R * SEQ_FIELDS);
  const seed = e.tensor(Float32Array.from(dy), [c.R, SEQ_FIELDS]);
  e.backward(stats, { seeds: [seed] });
  const dyDiff = Float64Array.from(Float32Array.from(dy)).map((v, i) => (i % SEQ_FIELDS <= SEQ_FIELD.Sraw ? v : 0));
  const [want] = numericGrads(ref, [Float64Array.from(x.logp)], [dyDiff], [0], 1e-3);
  expectClose(await logp.grad!.read(), want, bwd, `${what} gradient of logp`);
  [logp, ...consts, seed, stats, ...(extra.zmean ? [extra.zmean] : []), ...(extra.correct ? [extra.correct] : [])].forEach((z) => z.dispose());
}

/** §9: the spec's per-row sums (S_w = −2.8, …) come out of the kernel. */
async function specCase(e: Engine): Promise<void> {
  const t = (a: Float64Array, requiresGrad = false): Tensor => e.tensor(Float32Array.from(a), [4, SPEC_T], { requiresGrad });
  const ins = [t(SPEC_LP), t(SPEC_LSE2), t(SPEC_MASK), t(SPEC_MASK)];
  const stats = seqStats(ins[0], ins[1], ins[2], ins[3]);
  const got = await stats.read();
  const col = (c: number): number[] => [0, 1, 2, 3].map((r) => got[r * SEQ_FIELDS + c]);
  expectClose(col(SEQ_FIELD.S), [-2.8, -4.8, -4.2, -2.5], { atol: 1e-6, rtol: 0 }, 'spec §9 S');
  expectClose(col(SEQ_FIELD.n), [4, 3, 3, 5], { atol: 0, rtol: 0 }, 'spec §9 n');
  expectClose(col(SEQ_FIELD.wpo), [1.4, -2.0, -0.2, 1.35], { atol: 1e-6, rtol: 0 }, 'spec §9 Σ(lp − lse2)');
  [...ins, stats].forEach((z) => z.dispose());
}

export const cases: GpuCase[] = [
  { name: 'seq_stats: R=1 T=1', run: (e) => ssCase(e, { R: 1, T: 1, spans: [[0, 1]] }) },
  { name: 'seq_stats: R=2 T=3, an empty row', run: (e) => ssCase(e, { R: 2, T: 3, spans: [[1, 3], [0, 0]], zmean: true, correct: true }) },
  { name: 'seq_stats: R=6 T=65 LD α=0.25, zmean + correct', run: (e) => ssCase(e, { R: 6, T: 65, spans: [[3, 65], [10, 20], [0, 64], [5, 40], [10, 11], [1, 65]], ld: 0.25, zmean: true, correct: true }) },
  {
    name: 'seq_stats: R=34 T=130 ragged, zmean only, NaN/Inf in the padding',
    run: (e) => ssCase(e, { R: 34, T: 130, spans: Array.from({ length: 34 }, (_, r): [number, number] => [r % 7, Math.min(130, 20 + ((r * 37) % 111))]), zmean: true, poison: true }),
  },
  { name: 'seq_stats: R=3 T=300, correct only', run: (e) => ssCase(e, { R: 3, T: 300, spans: [[0, 300], [100, 299], [250, 300]], correct: true }) },
  { name: 'seq_stats: spec §9 sums', run: specCase },
];
