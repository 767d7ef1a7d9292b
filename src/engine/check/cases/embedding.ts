// embedding: row gather (times an optional scale) and the deterministic CSR scatter-add backward.
// Repeated ids, unused rows (their gradient must be exactly 0), V = 1, T = 1, [B, T] ids, tensor
// ids with a host copy, C ≥ 4096 (256-invocation workgroups), and the error paths.
// Split tables (row parts, engine/table.ts): ragged parts, single-row parts, a part no id falls in
// (zero gradient), ids in the last part, a part that needs no gradient, and NaN rows from the
// last part for out-of-range GPU ids; checked against the same reference on the joined table.
import { checkOp, expectClose, Rng, type GpuCase, type InputSpec } from '../harness.ts';
import { embedding, buildCsr } from '../../ops/embedding.ts';
import { splitRowsFromHost, type RowSplitTensor } from '../../table.ts';
import type { Tensor } from '../../tensor.ts';
import { embeddingRef } from '../../reference/embedding.ts';
import { ShapeError } from '../../errors.ts';

const rng = new Rng(31);
// Tolerances: the forward is a copy times an f32 scale (≤ 1 rounding); dTable sums ≤ 9 dy rows in
// f32 against f64 central differences of a linear function (exact to ~1e-10).
const fwd = { atol: 1e-6, rtol: 1e-6 };
const bwd = { atol: 1e-5, rtol: 1e-5 };

function embCase(name: string, V: number, C: number, ids: number[], idsShape: number[], scale = 1, asTensor = false): GpuCase {
  return {
    name: `embedding: ${name} (V=${V}, C=${C}, ids [${idsShape.join(', ')}]${scale !== 1 ? `, scale ${scale}` : ''}${asTensor ? ', tensor ids + hostIds' : ''})`,
    run: (e) =>
      checkOp(e, {
        name: `embedding ${name}`,
        inputs: [
          { data: rng.array(V * C, -1, 1), shape: [V, C] },
          { data: ids, shape: idsShape, dtype: 'i32' },
        ],
        // Host ids by default; with asTensor the i32 tensor the harness built, plus its host copy.
        gpu: ([table, idsT]) => (asTensor ? embedding(table, idsT, { hostIds: Int32Array.from(ids), scale }) : embedding(table, Int32Array.from(ids), { shape: idsShape, scale })),
        cpu: ([table, idsF]) => [embeddingRef(table, idsF, C, scale)],
        fwd,
        bwd,
      }),
  };
}

/** A split table over the part tensors `xs` cut at `bounds` (no copy: the parts are the inputs). */
function splitOf(xs: Tensor[], bounds: number[], C: number): RowSplitTensor {
  const parts = xs.map((tensor, i) => ({ row0: bounds[i], row1: bounds[i + 1], tensor }));
  return { kind: 'row-split', name: 'table', shape: [bounds[bounds.length - 1], C], dtype: 'f32', limitBytes: 0, parts };
}

/** Concatenates part inputs (float64, row-major) into the whole table. */
function joinParts(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The table split at `bounds` = [0, …, V]: each part is its own input (its gradient is checked
 * against finite differences of the reference on the joined table), then the ids. `frozen` parts
 * do not require a gradient.
 */
function splitCase(name: string, bounds: number[], C: number, ids: number[], idsShape: number[], opts: { scale?: number; asTensor?: boolean; frozen?: number[] } = {}): GpuCase {
  const scale = opts.scale ?? 1;
  const nParts = bounds.length - 1;
  const desc = `split ${name} (parts [${bounds.join(', ')}], C=${C}, ids [${idsShape.join(', ')}]${scale !== 1 ? `, scale ${scale}` : ''}${opts.asTensor ? ', tensor ids + hostIds' : ''})`;
  return {
    name: `embedding: ${desc}`,
    run: (e) =>
      checkOp(e, {
        name: `embedding ${desc}`,
        inputs: [
          ...Array.from({ length: nParts }, (_, i): InputSpec => ({ data: rng.array((bounds[i + 1] - bounds[i]) * C, -1, 1), shape: [bounds[i + 1] - bounds[i], C], grad: !opts.frozen?.includes(i) })),
          { data: ids, shape: idsShape, dtype: 'i32' },
        ],
        gpu: (xs) => {
          const table = splitOf(xs.slice(0, nParts), bounds, C);
          const idsT = xs[nParts];
          return opts.asTensor ? embedding(table, idsT, { hostIds: Int32Array.from(ids), scale }) : embedding(table, Int32Array.from(ids), { shape: idsShape, scale });
        },
        cpu: (xs) => [embeddingRef(joinParts(xs.slice(0, nParts)), xs[nParts], C, scale)],
        fwd,
        bwd,
      }),
  };
}

// Expects `fn` to throw a ShapeError whose message contains every string in `parts`.
function expectShapeError(fn: () => unknown, parts: string[], what: string): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ShapeError)) throw new Error(`${what}: expected a ShapeError, got ${String(err)}`);
    for (const p of parts) if (!err.message.includes(p)) throw new Error(`${what}: message lacks "${p}": ${err.message}`);
    return;
  }
  throw new Error(`${what}: expected a ShapeError, nothing was thrown`);
}

export const cases: GpuCase[] = [
  // ids 3, 1, 7 repeat; rows 2, 4, 5, 6, 8 are never used and must get a zero gradient.
  embCase('repeats and unused rows', 10, 33, [3, 1, 3, 7, 0, 3, 9, 1, 7], [9]),
  embCase('V=1 T=1', 1, 5, [0], [1]),
  embCase('T=1', 7, 300, [6], [1]),
  embCase('[B, T] ids', 6, 300, [5, 0, 5, 2, 2, 2, 0, 5], [2, 4]),
  embCase('scale sqrt(C)', 5, 64, [4, 4, 1, 0, 4], [5], Math.sqrt(64)),
  embCase('scale sqrt(3584) in f32', 4, 9, [1, 3, 1], [3], Math.fround(Math.sqrt(3584))),
  embCase('tensor ids', 8, 33, [7, 0, 7, 7, 2], [5], 2, true),
  embCase('C >= 4096', 1, 4100, [0, 0], [2]),
  // 3 ragged parts (3, 1, 6 rows; the middle one a single row); ids in every part, repeated,
  // the last id of the table (9) and the single-row part's id (3); rows 2, 4, 5, 6, 8 unused.
  splitCase('ragged, a single-row part', [0, 3, 4, 10], 33, [3, 1, 3, 7, 0, 3, 9, 1, 7], [9], { scale: Math.fround(Math.sqrt(33)) }),
  // V = 37: parts of 1, 19, 17 rows; no id falls in the middle part (its gradient must be all 0).
  splitCase('a part without ids', [0, 1, 20, 37], 5, [36, 0, 20, 36, 0, 25, 36, 31], [2, 4]),
  // every row its own part (V = 4), tensor ids with their host copy
  splitCase('one row per part', [0, 1, 2, 3, 4], 9, [3, 3, 1, 0, 2, 3], [6], { scale: 2, asTensor: true }),
  // the first part needs no gradient (only the others get one)
  splitCase('a frozen part', [0, 5, 8, 12], 7, [2, 11, 6, 2, 9, 4], [6], { frozen: [0] }),
  {
    name: 'embedding: split table equals the whole table bit for bit (forward and gradient)',
    run: async (e) => {
      const [V, C] = [37, 13];
      const data = Float32Array.from(rng.array(V * C, -1, 1));
      const ids = Int32Array.from([36, 0, 17, 18, 36, 5, 17, 20, 36, 1, 2]);
      const dy = e.tensor(Float32Array.from(rng.array(ids.length * C)), [ids.length, C]);
      const whole = e.tensor(data, [V, C], { requiresGrad: true });
      const split = splitRowsFromHost(e, data, [V, C], [0, 17, 18, 37], { requiresGrad: true, name: 'emb' });
      const scale = Math.fround(Math.sqrt(C));
      const a = embedding(whole, ids, { scale });
      const b = embedding(split, ids, { scale });
      e.backward([a], { seeds: [dy] });
      e.backward([b], { seeds: [dy] });
      expectClose(await b.read(), await a.read(), { atol: 0, rtol: 0 }, 'split forward');
      const dWhole = await whole.grad!.readF32();
      for (const p of split.parts) expectClose(await p.tensor.grad!.read(), dWhole.subarray(p.row0 * C, p.row1 * C), { atol: 0, rtol: 0 }, `split gradient of rows [${p.row0}, ${p.row1})`);
      [dy, whole, a, b, ...split.parts.map((p) => p.tensor)].forEach((t) => t.dispose());
    },
  },
  {
    name: 'embedding: CSR plan groups tokens by id in token order',
    run: async () => {
      const { unique, data } = buildCsr(Int32Array.from([3, 1, 3, 7, 0, 3, 9, 1, 7]));
      // uniq = 0 1 3 7 9; start = 0 1 3 6 8 9; order = tokens of 0 | 1 | 3 | 7 | 9.
      const want = [0, 1, 3, 7, 9, 0, 1, 3, 6, 8, 9, 4, 1, 7, 0, 2, 5, 3, 8, 6];
      if (unique !== 5 || data.join(' ') !== want.join(' ')) throw new Error(`buildCsr: U=${unique} data=${data.join(' ')}, want U=5 data=${want.join(' ')}`);
    },
  },
  {
    name: 'embedding: out-of-range ids and GPU-only ids for a trained table are rejected',
    run: async (e) => {
      const table = e.tensor(new Float32Array(4 * 3), [4, 3], { requiresGrad: true });
      expectShapeError(() => embedding(table, Int32Array.from([0, 1, 4])), ['ids[2] = 4', '[0, 4)'], 'id = V');
      expectShapeError(() => embedding(table, Int32Array.from([0, 1, 2, -1]), { shape: [2, 2] }), ['ids[1, 1] = -1'], 'negative id');
      const idsT = e.tensor([0, 1], [2], { dtype: 'i32' });
      expectShapeError(() => embedding(table, idsT), ['requires a gradient', 'only on the GPU'], 'tensor ids without hostIds');
      expectShapeError(() => embedding(table, idsT, { hostIds: Int32Array.from([0, 9]) }), ['ids[1] = 9'], 'bad hostIds');
      [table, idsT].forEach((t) => t.dispose());
    },
  },
  {
    name: 'embedding: frozen table with GPU-only ids; an out-of-range id gives NaN, not zeros',
    run: async (e) => {
      const tableData = Float32Array.from({ length: 4 * 3 }, (_, i) => i);
      const table = e.tensor(tableData, [4, 3]);
      const idsT = e.tensor([2, 4, 0], [3], { dtype: 'i32' }); // 4 is out of range
      const out = embedding(table, idsT, { scale: 0.5 });
      const got = await out.readF32();
      expectClose(got.subarray(0, 3), [3, 3.5, 4], { atol: 0, rtol: 0 }, 'row 2');
      expectClose(got.subarray(6, 9), [0, 0.5, 1], { atol: 0, rtol: 0 }, 'row 0');
      if (!got.subarray(3, 6).every(Number.isNaN)) throw new Error(`out-of-range id: expected NaN row, got ${Array.from(got.subarray(3, 6))}`);
      [table, idsT, out].forEach((t) => t.dispose());
    },
  },
  {
    name: 'embedding: split table with GPU-only ids: each row from its part, an out-of-range id gives NaN',
    run: async (e) => {
      const tableData = Float32Array.from({ length: 5 * 2 }, (_, i) => i);
      const table = splitRowsFromHost(e, tableData, [5, 2], [0, 2, 3, 5]);
      const idsT = e.tensor([4, 5, 0, 2, -1, 3], [6], { dtype: 'i32' }); // 5 and −1 are out of range
      const out = embedding(table, idsT);
      const got = await out.readF32();
      expectClose([...got.subarray(0, 2), ...got.subarray(4, 8), ...got.subarray(10, 12)], [8, 9, 0, 1, 4, 5, 6, 7], { atol: 0, rtol: 0 }, 'rows 4, 0, 2, 3');
      if (![...got.subarray(2, 4), ...got.subarray(8, 10)].every(Number.isNaN)) throw new Error(`out-of-range ids: expected NaN rows, got ${Array.from(got)}`);
      [idsT, out, ...table.parts.map((p) => p.tensor)].forEach((t) => t.dispose());
    },
  },
  {
    name: 'embedding: a split table whose parts leave a gap or mis-shape a part is rejected',
    run: async (e) => {
      const t = splitRowsFromHost(e, new Float32Array(6 * 2), [6, 2], [0, 2, 4, 6]);
      const gap: RowSplitTensor = { ...t, parts: [t.parts[0], t.parts[2]] };
      expectShapeError(() => embedding(gap, Int32Array.from([0])), ['part 1 (rows [4, 6))', 'should start at row 2'], 'gap');
      const short: RowSplitTensor = { ...t, shape: [7, 2] };
      expectShapeError(() => embedding(short, Int32Array.from([0])), ['end at row 6, not at V = 7'], 'short');
      const wide: RowSplitTensor = { ...t, shape: [6, 3] };
      expectShapeError(() => embedding(wide, Int32Array.from([0])), ['part 0 (rows [0, 2)) must have shape [2, 3], got [2, 2]'], 'wrong C');
      t.parts.forEach((p) => p.tensor.dispose());
    },
  },
];
