// embedding: row gather (times an optional scale) and the deterministic CSR scatter-add backward.
// Repeated ids, unused rows (their gradient must be exactly 0), V = 1, T = 1, [B, T] ids, tensor
// ids with a host copy, C ≥ 4096 (256-invocation workgroups), and the error paths.
import { checkOp, expectClose, Rng, type GpuCase } from '../harness.ts';
import { embedding, buildCsr } from '../../../src/engine/ops/embedding.ts';
import { embeddingRef } from '../../../src/engine/reference/embedding.ts';
import { ShapeError } from '../../../src/engine/errors.ts';

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
];
