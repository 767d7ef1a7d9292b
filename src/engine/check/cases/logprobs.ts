// logprobs: the fused LM head + log-softmax gather, whole E and E split into row parts
// (engine/table.ts): ragged parts, a single-row part holding labels, labels in the last part, slices
// and chunks cut at part ends, a frozen part, and split = whole bit for bit when the part ends
// fall on slice and chunk ends. The extras (zmean, correct) against the float64 reference, argmax
// ties across invocations and slices, and the per-row flags (label ≥ V, non-finite results) —
// checked as flags, not only through NaN values.
import { checkOp, expectClose, Rng, type GpuCase, type InputSpec, type Tol } from '../harness.ts';
import type { Engine } from '../../engine.ts';
import { logprobs } from '../../ops/logprobs.ts';
import { splitRowsFromHost, type RowSplitTensor } from '../../table.ts';
import type { Tensor } from '../../tensor.ts';
import { logprobsRef } from '../../reference/logprobs.ts';
import { numericGrads } from '../../reference/finite_diff.ts';

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

interface SplitCase {
  rows: number[];
  C: number;
  bounds: number[]; // part ends [0, …, V]
  cap: number;
  slice?: number;
  chunk?: number;
  range: number;
  labels: number[]; // chosen so that every kind of part holds some
  frozen?: number[]; // parts that require no gradient
}

/** E split at `bounds`: h, then each part as its own input (gradient checked), then labels. */
function splitCase(c: SplitCase): GpuCase {
  const T = c.rows.reduce((a, b) => a * b, 1);
  const V = c.bounds[c.bounds.length - 1];
  const nParts = c.bounds.length - 1;
  const desc = `split E parts [${c.bounds}] rows=[${c.rows}] C=${c.C} cap=${c.cap} slice=${c.slice ?? 'default'} chunk=${c.chunk ?? 'default'}${c.frozen ? ` frozen [${c.frozen}]` : ''}`;
  return {
    name: `logprobs: ${desc}`,
    run: (e) =>
      checkOp(e, {
        name: `logprobs ${desc}`,
        inputs: [
          { data: rng.array(T * c.C, -c.range, c.range), shape: [...c.rows, c.C] },
          ...Array.from({ length: nParts }, (_, i): InputSpec => {
            const n = c.bounds[i + 1] - c.bounds[i];
            return { data: rng.array(n * c.C, -c.range, c.range), shape: [n, c.C], grad: !c.frozen?.includes(i) };
          }),
          { data: c.labels, shape: c.rows, dtype: 'i32' },
        ],
        gpu: (xs) => {
          const parts = xs.slice(1, 1 + nParts).map((tensor, i) => ({ row0: c.bounds[i], row1: c.bounds[i + 1], tensor }));
          const E: RowSplitTensor = { kind: 'row-split', name: 'E', shape: [V, c.C], dtype: 'f32', limitBytes: 0, parts };
          const r = logprobs(xs[0], E, xs[1 + nParts], { softcap: c.cap, sliceSize: c.slice, chunkSize: c.chunk });
          return [r.logp, r.lse, r.lsp2];
        },
        cpu: (xs) => {
          const E = new Float64Array(V * c.C);
          xs.slice(1, 1 + nParts).forEach((p, i) => E.set(p, c.bounds[i] * c.C));
          const r = logprobsRef(xs[0], E, xs[1 + nParts], T, c.C, V, c.cap);
          return [r.logp, r.lse, r.lsp2];
        },
        detached: [2],
        fwd,
        bwd,
      }),
  };
}

/**
 * When the part ends fall on slice and chunk ends, the split op does exactly the unsplit op's
 * arithmetic in the same order: logp, lse, lsp2, dh and dE must be equal bit for bit.
 */
async function splitBitwiseCase(e: Engine): Promise<void> {
  const [T, C, V, cap] = [9, 12, 300, 30];
  const hData = Float32Array.from(rng.array(T * C, -3, 3));
  const EData = Float32Array.from(rng.array(V * C, -3, 3));
  const y = [299, 0, 128, 191, -100, 192, 5, 250, 127];
  const run = async (E: Tensor | RowSplitTensor, Es: Tensor[]): Promise<Float32Array[]> => {
    const h = e.tensor(hData, [T, C], { requiresGrad: true });
    const labels = e.tensor(y, [T], { dtype: 'i32' });
    const r = logprobs(h, E, labels, { softcap: cap, sliceSize: 64, chunkSize: 64 });
    const seeds = [e.tensor(Float32Array.from({ length: T }, (_, t) => 0.5 + t), [T]), e.tensor(Float32Array.from({ length: T }, (_, t) => 0.25 - t / 8), [T])];
    e.backward([r.logp, r.lse], { seeds });
    const out = [await r.logp.readF32(), await r.lse.readF32(), await r.lsp2.readF32(), await h.grad!.readF32()];
    for (const t of Es) out.push(await t.grad!.readF32());
    [h, labels, r.logp, r.lse, r.lsp2, ...seeds].forEach((t) => t.dispose());
    return out;
  };
  const whole = e.tensor(EData, [V, C], { requiresGrad: true });
  const want = await run(whole, [whole]);
  whole.dispose();
  const split = splitRowsFromHost(e, EData, [V, C], [0, 128, 192, 300], { requiresGrad: true, name: 'E' });
  const got = await run(split, split.parts.map((p) => p.tensor));
  const exact = { atol: 0, rtol: 0 };
  ['logp', 'lse', 'lsp2', 'dh'].forEach((what, i) => expectClose(got[i], want[i], exact, `split vs whole ${what}`));
  const dE = new Float32Array(V * C);
  split.parts.forEach((p, i) => dE.set(got[4 + i], p.row0 * C));
  expectClose(dE, want[4], exact, 'split vs whole dE (parts joined)');
  split.parts.forEach((p) => p.tensor.dispose());
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

/**
 * A label ≥ V cannot be checked on the host: it must surface as NaN, not as a plausible value —
 * and, without relying on NaN, as flag bit 0 of its row (the other rows' flags stay 0).
 */
async function badLabelCase(e: Engine): Promise<void> {
  const h = e.tensor(rng.array(3 * 4), [3, 4]);
  const E = e.tensor(rng.array(9 * 4), [9, 4]);
  const labels = e.tensor([9, 2, 1_000_000], [3], { dtype: 'i32' });
  const r = logprobs(h, E, labels, { softcap: 30, flags: true });
  const [lp, flags] = await e.readMany([r.logp, r.flags!]);
  if (!Number.isNaN(lp[0]) || !Number.isFinite(lp[1]) || !Number.isNaN(lp[2])) throw new Error(`logprobs: labels 9, 10⁶ ≥ V = 9 should give NaN, row 1 a finite value; got ${Array.from(lp)}`);
  expectClose(flags, [1, 0, 1], { atol: 0, rtol: 0 }, 'logprobs flags for labels [9 ≥ V, 2, 10⁶ ≥ V]');
  [h, E, labels, r.logp, r.lse, r.lsp2, r.flags!].forEach((t) => t.dispose());
}

/** With a split E, the NaN of a label ≥ V comes from the last part; other rows stay finite. */
async function splitBadLabelCase(e: Engine): Promise<void> {
  const h = e.tensor(rng.array(4 * 4), [4, 4]);
  const E = splitRowsFromHost(e, Float32Array.from(rng.array(9 * 4)), [9, 4], [0, 1, 5, 9]);
  const labels = e.tensor([9, 8, -100, 0], [4], { dtype: 'i32' });
  const r = logprobs(h, E, labels, { softcap: 30, flags: true });
  const [lp, flags] = await e.readMany([r.logp, r.flags!]);
  if (!Number.isNaN(lp[0]) || !Number.isFinite(lp[1]) || lp[2] !== 0 || !Number.isFinite(lp[3])) {
    throw new Error(`logprobs split: want [NaN, finite, 0, finite] for labels [9 ≥ V, 8, ignored, 0]; got ${Array.from(lp)}`);
  }
  expectClose(flags, [1, 0, 0, 0], { atol: 0, rtol: 0 }, 'logprobs split flags for labels [9 ≥ V, 8, ignored, 0]');
  [h, labels, r.logp, r.lse, r.lsp2, r.flags!, ...E.parts.map((p) => p.tensor)].forEach((t) => t.dispose());
}

/** Logits that overflow f32 make lse non-finite: flag bit 1, found by a bit test on the result. */
async function nonFiniteFlagCase(e: Engine): Promise<void> {
  const C = 4;
  const hData = Float32Array.from(rng.array(3 * C));
  hData.fill(3e38, C, 2 * C); // row 1: h·E overflows to ±Inf
  const h = e.tensor(hData, [3, C]);
  const E = e.tensor(Float32Array.from(rng.array(11 * C, 0.5, 2)), [11, C]);
  const labels = e.tensor([3, 4, -100], [3], { dtype: 'i32' });
  const r = logprobs(h, E, labels, { softcap: 0, flags: true });
  const [flags] = await e.readMany([r.flags!]);
  expectClose(flags, [0, 2, 0], { atol: 0, rtol: 0 }, 'logprobs flags for [finite, overflowing logits, ignored]');
  [h, E, labels, r.logp, r.lse, r.lsp2, r.flags!].forEach((t) => t.dispose());
}

/** Capped logits of row t in float64 (for choosing labels and judging near-ties). */
function rowLogits(h: Float64Array, E: Float64Array, t: number, C: number, V: number, cap: number): number[] {
  return Array.from({ length: V }, (_, v) => {
    let d = 0;
    for (let c = 0; c < C; c++) d += h[t * C + c] * E[v * C + c];
    return cap > 0 ? cap * Math.tanh(d / cap) : d;
  });
}

/** zmean and correct against the reference (whole or split E), half the labels set to the argmax. */
async function extrasCase(e: Engine, c: { T: number; C: number; V: number; cap: number; slice?: number; bounds?: number[] }): Promise<void> {
  const h64 = Float64Array.from(Float32Array.from(rng.array(c.T * c.C, -3, 3)));
  const E64 = Float64Array.from(Float32Array.from(rng.array(c.V * c.C, -3, 3)));
  const logits = Array.from({ length: c.T }, (_, t) => rowLogits(h64, E64, t, c.C, c.V, c.cap));
  // Every even row's label is its argmax, odd rows random, row 1 ignored.
  const labels = labelsFor(c.T, c.V, [1]).map((y, t) => (t % 2 || y < 0 ? y : logits[t].indexOf(Math.max(...logits[t]))));
  const want = logprobsRef(h64, E64, labels, c.T, c.C, c.V, c.cap);
  const h = e.tensor(Float32Array.from(h64), [c.T, c.C]);
  const y = e.tensor(labels, [c.T], { dtype: 'i32' });
  const table = c.bounds ? splitRowsFromHost(e, Float32Array.from(E64), [c.V, c.C], c.bounds) : e.tensor(Float32Array.from(E64), [c.V, c.C]);
  const r = logprobs(h, table, y, { softcap: c.cap, sliceSize: c.slice, extras: true, flags: true });
  const [zmean, correct, flags, logp] = await e.readMany([r.zmean!, r.correct!, r.flags!, r.logp]);
  const what = `logprobs extras T=${c.T} C=${c.C} V=${c.V} cap=${c.cap} slice=${c.slice ?? 'default'}${c.bounds ? ` parts [${c.bounds}]` : ''}`;
  // zmean: a sum of V capped logits (|z'| ≤ ~45) in f32 over slices, divided by V.
  expectClose(zmean, want.zmean, { atol: 2e-5, rtol: 1e-5 }, `${what} zmean`);
  // A row whose top two logits are within f32 rounding may pick either: compare the others.
  const gaps = logits.map((z) => {
    const [a, b] = [...z].sort((x, y) => y - x);
    return a - (b ?? -Infinity);
  });
  const clear = Array.from(correct).map((v, t) => (gaps[t] > 1e-3 ? v : want.correct[t]));
  expectClose(clear, want.correct, { atol: 0, rtol: 0 }, `${what} correct`);
  if (!Array.from(want.correct).some((v) => v === 1) || !Array.from(want.correct).some((v, t) => v === 0 && labels[t] >= 0)) throw new Error(`${what}: the labels should make some rows correct and some not`);
  expectClose(flags, new Float64Array(c.T), { atol: 0, rtol: 0 }, `${what} flags`);
  expectClose(logp, want.logp, fwd, `${what} logp`);
  const Es = 'parts' in table ? table.parts.map((p) => p.tensor) : [table];
  [h, y, r.logp, r.lse, r.lsp2, r.zmean!, r.correct!, r.flags!, ...Es].forEach((t) => t.dispose());
}

/**
 * Exact ties: rows 5, 9 (same slice, other invocations) and 20 (next slice) of E are equal and
 * hold every row's maximum; argmax must be 5, the first, as torch.argmax. With E split too.
 */
async function argmaxTieCase(e: Engine, bounds?: number[]): Promise<void> {
  const [C, V] = [8, 37];
  const Ed = Float32Array.from(rng.array(V * C, -0.5, 0.5));
  const top = Float32Array.from({ length: C }, (_, k) => (k % 2 ? 2 : 1.5));
  for (const row of [5, 9, 20]) Ed.set(top, row * C);
  const hData = Float32Array.from({ length: 4 * C }, (_, i) => (i % 2 ? 1 : 0.75));
  const h = e.tensor(hData, [4, C]);
  const y = e.tensor([5, 9, 20, -100], [4], { dtype: 'i32' });
  const table = bounds ? splitRowsFromHost(e, Ed, [V, C], bounds) : e.tensor(Ed, [V, C]);
  const r = logprobs(h, table, y, { softcap: 30, sliceSize: 16, extras: true });
  const [correct] = await e.readMany([r.correct!]);
  expectClose(correct, [1, 0, 0, 0], { atol: 0, rtol: 0 }, `logprobs argmax ties (rows 5 = 9 = 20)${bounds ? ` parts [${bounds}]` : ''}`);
  const Es = 'parts' in table ? table.parts.map((p) => p.tensor) : [table];
  [h, y, r.logp, r.lse, r.lsp2, r.zmean!, r.correct!, ...Es].forEach((t) => t.dispose());
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
  // V = 37 in parts of 16, 1, 20 rows: labels in every part, twice on the single-row part (16),
  // the last row (36); slices and chunks of 16 are cut at the part ends (16 | 1 | 16 + 4).
  splitCase({ rows: [7], C: 16, bounds: [0, 16, 17, 37], cap: 30, slice: 16, chunk: 16, range: 3, labels: [16, 0, -100, 36, 16, 20, 15] }),
  // V = 300 in parts of 100, 1, 199 (C = 5: scalar loads; cap off); slices of 64 and chunks of
  // 70 do not divide the parts; labels in the last part.
  splitCase({ rows: [7], C: 5, bounds: [0, 100, 101, 300], cap: 0, slice: 64, chunk: 70, range: 3, labels: [299, 100, 250, -100, 99, 101, 0] }),
  // 4 parts, default slice and chunk, two token tiles ([2, 35] rows); the middle parts are frozen
  splitCase({
    rows: [2, 35],
    C: 8,
    bounds: [0, 10, 11, 30, 37],
    cap: 30,
    range: 3,
    labels: Array.from({ length: 70 }, (_, t) => (t % 17 === 0 ? -100 : (t * 7) % 37)),
    frozen: [1, 2],
  }),
  { name: 'logprobs: split E at slice and chunk ends equals the whole E bit for bit', run: splitBitwiseCase },
  { name: 'logprobs: split E, label ≥ V gives NaN and flag bit 0', run: splitBadLabelCase },
  { name: 'logprobs: label ≥ V gives NaN and flag bit 0', run: badLabelCase },
  { name: 'logprobs: overflowing logits set flag bit 1', run: nonFiniteFlagCase },
  // 3 slices (16, 16, 5) with cap; V = 300 in slices of 100 without cap; two token tiles; split E
  { name: 'logprobs: extras zmean/correct T=7 V=37 cap=30 slice=16', run: (e) => extrasCase(e, { T: 7, C: 16, V: 37, cap: 30, slice: 16 }) },
  { name: 'logprobs: extras zmean/correct T=70 V=300 cap=0 slice=100 C=5', run: (e) => extrasCase(e, { T: 70, C: 5, V: 300, cap: 0, slice: 100 }) },
  { name: 'logprobs: extras zmean/correct split E [0, 100, 101, 300]', run: (e) => extrasCase(e, { T: 9, C: 8, V: 300, cap: 30, slice: 64, bounds: [0, 100, 101, 300] }) },
  { name: 'logprobs: extras argmax ties take the first index', run: (e) => argmaxTieCase(e) },
  { name: 'logprobs: extras argmax ties take the first index, split E [0, 7, 21, 37]', run: (e) => argmaxTieCase(e, [0, 7, 21, 37]) },
];
