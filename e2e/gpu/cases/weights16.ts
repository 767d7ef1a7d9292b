// 16-bit frozen weights (issue 9): matmul's B operand stored as bf16 or f16 and widened in the
// kernels' loads, for every kernel variant and layout (see SHAPES for what each kind covers), on
// ragged shapes, at aligned offsets (vec4 loads) and odd ones (element loads, the high half of a word first), inside poisoned buffers;
// batched with own and shared B; the autograd op's dA against finite differences (B takes none).
// f16 runs twice: through `shader-f16` where the device has it (lavapipe) and through the core
// unpack2x16float fallback (forced with F16_UNPACK; automatic on SwiftShader, which lacks the feature).
// Every product is checked against the float64 reference on the decoded halves (a misread half is
// off by far more than the tolerance: one bf16 step is 2⁻⁸ relative).
// The vocabulary ops with a 16-bit table, whole and in row parts: embedding's gather (forward only:
// a frozen table has no gradient) and the fused LM-head logprobs (forward, and dh against finite
// differences of the reference on the decoded table), with C % 4 == 0 (vec4 loads) and odd C;
// a 16-bit table that requires a gradient, or parts of mixed dtypes, are refused.
import type { Engine } from '../../../src/engine/engine.ts';
import { EngineError, ShapeError } from '../../../src/engine/errors.ts';
import { embedding } from '../../../src/engine/ops/embedding.ts';
import { logprobs } from '../../../src/engine/ops/logprobs.ts';
import { F16_UNPACK, gemm, matmul, MATMUL_VARIANTS, weightVariant, type MatmulVariant } from '../../../src/engine/ops/matmul.ts';
import { bf16BitsToF32, f16BitsToF32 } from '../../../src/engine/reference/convert.ts';
import { embeddingRef } from '../../../src/engine/reference/embedding.ts';
import { logprobsRef } from '../../../src/engine/reference/logprobs.ts';
import { batchedMatmulRef, matmulRef } from '../../../src/engine/reference/matmul.ts';
import type { RowSplitTensor, VocabTable } from '../../../src/engine/table.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../../../src/engine/util/halfs.ts';
import { checkOp, expectClose, Rng, type GpuCase, type InputSpec, type Tol } from '../harness.ts';

const rng = new Rng(909);
// The halves are widened exactly and products accumulate in f32 as for f32 B: matmul's tolerances.
const fwd = { atol: 1e-4, rtol: 1e-4 };
const bwd = { atol: 2e-4, rtol: 1e-3 };

/** bf16; f16 through shader-f16 where the device has it; f16 through unpack2x16float (forced). */
export type Kind16 = 'bf16' | 'f16' | 'f16_unpack';
export const KINDS16: readonly Kind16[] = ['bf16', 'f16', 'f16_unpack'];
export const dtypeOf = (k: Kind16): 'bf16' | 'f16' => (k === 'bf16' ? 'bf16' : 'f16');

/** f32 values → 16-bit patterns of the kind's dtype (round to nearest even). */
export function encode16(x: Float32Array, k: Kind16): Uint16Array {
  return k === 'bf16' ? f32ToBf16Bits(x) : f32ToF16Bits(x);
}

/** 16-bit patterns → their exact f32 values (the float64 reference's decoders). */
export function decode16(bits: Uint16Array, k: Kind16): Float32Array {
  return k === 'bf16' ? bf16BitsToF32(bits) : f16BitsToF32(bits);
}

/**
 * Runs `fn` with the kind's f16 path selected and checks that weight loads of that dtype really
 * use the expected shader variant on this device: 'f16' needs `shader-f16`; without the feature
 * (SwiftShader) both f16 kinds must fall back to 'f16_unpack' by themselves.
 */
export async function withKind(e: Engine, k: Kind16, fn: () => Promise<void>): Promise<void> {
  if (k === 'f16_unpack') e.tuning.set(F16_UNPACK, true);
  try {
    const probe = e.tensor(new Uint16Array(2), [2], { dtype: dtypeOf(k), label: 'kind.probe' });
    const got = weightVariant(e, probe);
    probe.dispose();
    const want = k === 'f16' && !e.features.has('shader-f16') ? 'f16_unpack' : k;
    if (got !== want) throw new Error(`${k} weights use shader variant '${got}' on this device (shader-f16: ${e.features.has('shader-f16')}), expected '${want}'`);
    await fn();
  } finally {
    e.tuning.delete(F16_UNPACK);
  }
}

const POISON16: Record<'bf16' | 'f16', number> = { bf16: 0x7f7f, f16: 0x7bff }; // the largest finite values

/** A 16-bit tensor holding `vals` (rounded) at element `off` of a poisoned buffer; returns the decoded values too. */
function poisoned16(e: Engine, vals: Float32Array, off: number, k: Kind16, label: string): { t: Tensor; decoded: Float32Array } {
  const bits = new Uint16Array(vals.length + off + 5).fill(POISON16[dtypeOf(k)]);
  const enc = encode16(vals, k);
  bits.set(enc, off);
  return { t: e.tensor(bits, [bits.length], { dtype: dtypeOf(k), label }), decoded: decode16(enc, k) };
}

// A is always at an aligned offset, so these shapes cover B's load paths (vec4 and element, every
// layout) with few pipelines: [1,1,1] and [3,5,7] read A by elements; the others have A's
// contiguous dim (K, or M for Aᵀ) a multiple of 4, B ragged in N (9, 67) or not, and span more
// than one 64-wide tile.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [8, 9, 12],
  [4, 8, 20],
  [68, 67, 36],
];
// NOTE: lavapipe compiles each register-tiled pipeline in seconds on a cold shader cache (f32 alike),
// so the cases are kept to what reaches B's loads. The loads depend on B's layout (TRANS_B) and
// alignment, not on A's: the bigger register tiles (reg4x8, reg8x4, reg8x8: the same block_b as
// reg4x4 with other TM/TN4) run NN and NT on FEW_SHAPES only; the bf16 cases are one per layout.
// f16 (through shader-f16 or unpack2x16float) differs from bf16 only in the include's two loads,
// which every kernel calls with the same indices: one kernel of each family, NN and NT (naive every
// layout), FEW_SHAPES (ragged: element loads; [68, 67, 36]: vec4 loads where the layout allows,
// more than one tile).
const BIG_REG: ReadonlySet<MatmulVariant> = new Set(['reg4x8', 'reg8x4', 'reg8x8']);
const F16_VARIANTS: readonly MatmulVariant[] = ['tiled', 'reg4x4', 'gemv', 'gemv_sg', 'rowvec', 'naive'];
const FEW_SHAPES: [number, number, number][] = [
  [3, 5, 7],
  [68, 67, 36],
];

const layouts: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const lay = (tA: boolean, tB: boolean): string => `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;

function unavailable(e: Engine, v: MatmulVariant): boolean {
  return v === 'gemv_sg' && !e.features.has('subgroups'); // matmul.ts's cases check the refusal
}

/** One product with a 16-bit B at element offset offB, against the reference; accumulate + alpha on top. */
async function gemm16(e: Engine, k: Kind16, variant: MatmulVariant, M: number, N: number, K: number, tA: boolean, tB: boolean, offB: number): Promise<void> {
  const what = `gemm ${variant} ${lay(tA, tB)} ${M}×${N}×${K} ${k} B at offset ${offB}`;
  const pad = 4;
  const A = Float32Array.from(rng.array(M * K));
  const bufA = new Float32Array(M * K + 2 * pad).fill(1e30);
  bufA.set(A, pad);
  const a = e.tensor(bufA, [bufA.length], { label: 'w16.a' });
  const b16 = poisoned16(e, Float32Array.from(rng.array(K * N)), offB, k, 'w16.b');
  const out = e.tensor(new Float32Array(M * N + 2 * pad).fill(NaN), [M * N + 2 * pad], { label: 'w16.out' });
  gemm({ out, a, b: b16.t, M, N, K, transA: tA, transB: tB, offA: pad, offB, offOut: pad, variant });
  const got = await out.readF32();
  expectClose(got.subarray(pad, pad + M * N), matmulRef(A, b16.decoded, M, N, K, tA, tB), fwd, what);
  for (const i of [0, pad - 1, pad + M * N, got.length - 1]) {
    if (!Number.isNaN(got[i])) throw new Error(`${what}: wrote outside the output region at ${i}`);
  }
  // accumulate + alpha on top: out = prev + 0.5·A·B
  gemm({ out, a, b: b16.t, M, N, K, transA: tA, transB: tB, offA: pad, offB, offOut: pad, variant, accumulate: true, alpha: 0.5 });
  const got2 = await out.readF32();
  expectClose(got2.subarray(pad, pad + M * N), Float64Array.from(got.subarray(pad, pad + M * N), (v) => 1.5 * v), fwd, `${what} accumulate+alpha`);
  [a, b16.t, out].forEach((t) => t.dispose());
}

async function batched16(e: Engine, k: Kind16, variant: MatmulVariant, shareB: boolean): Promise<void> {
  const [batch, M, N, K] = [3, 9, 10, 12];
  const A = Float32Array.from(rng.array(batch * M * K));
  const bits = encode16(Float32Array.from(rng.array((shareB ? 1 : batch) * K * N)), k);
  const a = e.tensor(A, [batch, M, K]);
  const b = e.tensor(bits, shareB ? [N, K] : [batch, N, K], { dtype: dtypeOf(k) });
  const out = e.empty([batch, M, N]);
  gemm({ out, a, b, M, N, K, transB: true, batch, strideA: M * K, strideB: shareB ? 0 : K * N, strideOut: M * N, variant });
  const want = batchedMatmulRef(Float64Array.from(A), Float64Array.from(decode16(bits, k)), batch, M, N, K, false, true, M * K, shareB ? 0 : K * N);
  expectClose(await out.readF32(), want, fwd, `gemm ${variant} batched ${k} shareB=${shareB}`);
  [a, b, out].forEach((t) => t.dispose());
}

/** gemm16 over layouts × shapes, B at an aligned (vec4 loads where the layout allows) and an odd offset. */
async function gemmShapes(e: Engine, k: Kind16, v: MatmulVariant, lays: readonly [boolean, boolean][], shapes: readonly [number, number, number][]): Promise<void> {
  if (unavailable(e, v)) return;
  for (const [tA, tB] of lays) {
    for (const [M, N, K] of shapes) {
      await gemm16(e, k, v, M, N, K, tA, tB, 8);
      await gemm16(e, k, v, M, N, K, tA, tB, 5); // element loads, starting at a word's high half
    }
  }
}

async function batchedBoth(e: Engine, k: Kind16, v: MatmulVariant): Promise<void> {
  if (unavailable(e, v)) return;
  await batched16(e, k, v, false);
  await batched16(e, k, v, true);
}

function withVariant(e: Engine, v: MatmulVariant, fn: () => Promise<void>): Promise<void> {
  e.tuning.set('matmul.force', v);
  return fn().finally(() => e.tuning.delete('matmul.force'));
}

/** matmul(x, W16): forward vs the reference, dx vs finite differences; W gets no gradient. */
function autograd16(e: Engine, k: Kind16, tA: boolean, tB: boolean, batchA: number[]): Promise<void> {
  const [M, N, K] = [5, 6, 8];
  const bsz = batchA.reduce((x, y) => x * y, 1);
  const Wbits = Array.from(encode16(Float32Array.from(rng.array(K * N)), k));
  const dtype = dtypeOf(k);
  let W: Tensor | null = null;
  return checkOp(e, {
    name: `matmul 16-bit ${k} ${lay(tA, tB)} a [${[...batchA, ...(tA ? [K, M] : [M, K])].join(', ')}]`,
    inputs: [
      { data: rng.array(bsz * M * K), shape: [...batchA, ...(tA ? [K, M] : [M, K])] },
      { data: Wbits, shape: tB ? [N, K] : [K, N], dtype },
    ],
    gpu: ([a, w]) => {
      W = w;
      return matmul(a, w, { transA: tA, transB: tB });
    },
    cpu: ([a, wBits]) => [batchedMatmulRef(a, Float64Array.from(decode16(Uint16Array.from(wBits), k)), bsz, M, N, K, tA, tB, M * K, 0)],
    fwd,
    bwd,
  }).then(() => {
    if (W?.grad) throw new Error(`matmul with a frozen ${k} weight gave it a gradient ${W.grad.describe()}`);
  });
}


// ---------------------------------------------------------------- vocabulary tables (embedding, logprobs)

/** Row-part inputs of a 16-bit [V, C] table cut at `bounds`, as raw bit patterns (frozen: no gradient). */
function tableInputs(k: Kind16, bounds: number[], C: number, range: number): InputSpec[] {
  return bounds.slice(1).map((end, i) => {
    const rows = end - bounds[i];
    return { data: Array.from(encode16(Float32Array.from(rng.array(rows * C, -range, range)), k)), shape: [rows, C], dtype: dtypeOf(k) };
  });
}

/** The table over the part tensors cut at `bounds`: the tensor itself for one part, else a split table. */
export function tableOf(parts: Tensor[], bounds: number[], C: number): VocabTable {
  if (parts.length === 1) return parts[0];
  const split: RowSplitTensor = { kind: 'row-split', name: 'table16', shape: [bounds[bounds.length - 1], C], dtype: parts[0].dtype, limitBytes: 0, parts: parts.map((tensor, i) => ({ row0: bounds[i], row1: bounds[i + 1], tensor })) };
  return split;
}

/** The decoded [V, C] table (float64) from the parts' bit patterns. */
function decodedTable(k: Kind16, partBits: Float64Array[]): Float64Array {
  return Float64Array.from(partBits.flatMap((bits) => Array.from(decode16(Uint16Array.from(bits), k))));
}

const bstr = (b: number[]): string => (b.length > 2 ? ` split [${b.join(', ')}]` : '');

function embedding16(k: Kind16, bounds: number[], C: number, ids: number[], scale: number): GpuCase {
  const n = bounds.length - 1;
  const V = bounds[n];
  const desc = `${k} V=${V} C=${C}${bstr(bounds)} ids [${ids.length}] scale ${scale}`;
  return {
    name: `embedding: 16-bit table ${desc}`,
    run: (e) =>
      withKind(e, k, () =>
        checkOp(e, {
          name: `embedding 16-bit ${desc}`,
          inputs: [...tableInputs(k, bounds, C, 1), { data: ids, shape: [ids.length], dtype: 'i32' }],
          gpu: (xs) => embedding(tableOf(xs.slice(0, n), bounds, C), Int32Array.from(ids), { scale }),
          cpu: (xs) => [embeddingRef(decodedTable(k, xs.slice(0, n)), xs[n], C, scale)],
          fwd: { atol: 1e-6, rtol: 1e-6 }, // a copy times an f32 scale
          bwd: { atol: 0, rtol: 0 },
          forwardOnly: true, // a 16-bit table is frozen: nothing to differentiate
        }),
      ),
  };
}

// logprobs' tolerances (src/engine/check/cases/logprobs.ts): f32 logits of magnitude ~45.
const lpFwd: Tol = { atol: 3e-5, rtol: 1e-6 };
const lpBwd: Tol = { atol: 3e-5, rtol: 1e-5 };

function logprobs16(k: Kind16, bounds: number[], T: number, C: number, cap: number, slice?: number, chunk?: number): GpuCase {
  const n = bounds.length - 1;
  const V = bounds[n];
  const desc = `${k} T=${T} C=${C} V=${V}${bstr(bounds)} cap=${cap}${slice ? ` slice=${slice}` : ''}${chunk ? ` chunk=${chunk}` : ''}`;
  const labels = Array.from({ length: T }, (_, t) => (t === 2 ? -100 : t === 0 ? V - 1 : t === 1 && n > 1 ? bounds[1] : rng.int(0, V))); // last row, ignored, 2nd part's first row
  return {
    name: `logprobs: 16-bit E ${desc}`,
    run: (e) =>
      withKind(e, k, async () => {
        let parts: Tensor[] = [];
        await checkOp(e, {
          name: `logprobs 16-bit ${desc}`,
          inputs: [{ data: rng.array(T * C, -2, 2), shape: [T, C] }, ...tableInputs(k, bounds, C, 2), { data: labels, shape: [T], dtype: 'i32' }],
          gpu: (xs) => {
            parts = xs.slice(1, 1 + n);
            const r = logprobs(xs[0], tableOf(parts, bounds, C), xs[1 + n], { softcap: cap, sliceSize: slice, chunkSize: chunk });
            return [r.logp, r.lse, r.lsp2];
          },
          cpu: (xs) => {
            const r = logprobsRef(xs[0], decodedTable(k, xs.slice(1, 1 + n)), xs[1 + n], T, C, V, cap);
            return [r.logp, r.lse, r.lsp2];
          },
          detached: [2],
          fwd: lpFwd,
          bwd: lpBwd, // dh only: the harness checks every f32 input, and the table is 16-bit
        });
        const graded = parts.filter((p) => p.grad);
        if (graded.length) throw new Error(`logprobs gave the frozen ${k} table a gradient (${graded.map((p) => p.grad!.describe()).join(', ')})`);
      }),
  };
}

/** 16-bit tables that require a gradient, and split tables with parts of another dtype, are refused. */
async function tableRulesCase(e: Engine): Promise<void> {
  const expectRefusal = (what: string, pattern: RegExp, fn: () => unknown): void => {
    let err: unknown = null;
    try {
      fn();
    } catch (caught) {
      err = caught;
    }
    if (!(err instanceof ShapeError) || !pattern.test(err.message)) throw new Error(`${what}: expected a ShapeError matching ${pattern}, got ${String(err)}`);
  };
  const h = e.zeros([2, 4]);
  const labels = e.tensor([0, 1], [2], { dtype: 'i32' });
  const trainable16 = e.tensor(new Uint16Array(12), [3, 4], { dtype: 'bf16', requiresGrad: true, label: 'embed16' });
  expectRefusal('embedding of a bf16 table requiring a gradient', /requires a gradient[\s\S]*frozen/, () => embedding(trainable16, Int32Array.from([0, 2])));
  expectRefusal('logprobs with a bf16 E requiring a gradient', /requires a gradient[\s\S]*frozen/, () => logprobs(h, trainable16, labels, { softcap: 0 }));
  const p0 = e.tensor(new Uint16Array(8), [2, 4], { dtype: 'f16' });
  const p1 = e.zeros([1, 4]);
  const mixed: RowSplitTensor = { kind: 'row-split', name: 'E', shape: [3, 4], dtype: 'f16', limitBytes: 0, parts: [{ row0: 0, row1: 2, tensor: p0 }, { row0: 2, row1: 3, tensor: p1 }] };
  expectRefusal('a split table with an f32 part in an f16 table', /part 1[\s\S]*every part must have the table's dtype/, () => embedding(mixed, Int32Array.from([0])));
  [h, labels, trainable16, p0, p1].forEach((t) => t.dispose());
}

export const cases: GpuCase[] = [
  ...MATMUL_VARIANTS.flatMap((v) => [
    ...(BIG_REG.has(v) ? layouts.filter(([tA]) => !tA) : layouts).map(
      ([tA, tB]): GpuCase => ({
        name: `matmul: 16-bit B bf16 gemm ${v} ${lay(tA, tB)}, ragged shapes, aligned and odd offsets`,
        run: (e) => withKind(e, 'bf16', () => gemmShapes(e, 'bf16', v, [[tA, tB]], BIG_REG.has(v) ? FEW_SHAPES : SHAPES)),
      }),
    ),
    {
      name: `matmul: 16-bit B bf16 gemm ${v} batched, own and shared B`,
      run: (e) => withKind(e, 'bf16', () => batchedBoth(e, 'bf16', v)),
    } satisfies GpuCase,
  ]),
  ...(['f16', 'f16_unpack'] as const).flatMap((k) =>
    F16_VARIANTS.map(
      (v): GpuCase => ({
        name: `matmul: 16-bit B ${k} gemm ${v}, ${v === 'naive' ? 'every layout' : 'NN and NT'}, ragged and tiled shapes, aligned and odd offsets, batched`,
        run: (e) =>
          withKind(e, k, async () => {
            await gemmShapes(e, k, v, v === 'naive' ? layouts : layouts.filter(([tA]) => !tA), FEW_SHAPES);
            await batchedBoth(e, k, v);
          }),
      }),
    ),
  ),
  // The backward's plumbing (dA only; Aᵀ layouts widen B for dA) with the default kernels; the
  // kernels themselves are covered above.
  ...KINDS16.map(
    (k): GpuCase => ({
      name: `matmul: 16-bit B ${k} autograd, every layout: dA only`,
      run: (e) =>
        withKind(e, k, async () => {
          for (const [tA, tB] of layouts) await autograd16(e, k, tA, tB, []);
        }),
    }),
  ),
  ...(['reg4x4', 'gemv'] as const).map(
    (v): GpuCase => ({
      name: `matmul: 16-bit B bf16 autograd NT with ${v} (x·Wᵀ and its dx = dy·W)`,
      run: (e) => withKind(e, 'bf16', () => withVariant(e, v, () => autograd16(e, 'bf16', false, true, []))),
    }),
  ),
  ...KINDS16.map(
    (k): GpuCase => ({
      name: `matmul: 16-bit B ${k} autograd batched a [2, 3, M, K] · shared W (NT and TN)`,
      run: (e) =>
        withKind(e, k, async () => {
          await autograd16(e, k, false, true, [2, 3]);
          await autograd16(e, k, true, false, [2, 3]);
        }),
    }),
  ),
  {
    name: 'matmul: 16-bit B that requires a gradient is refused, naming it',
    run: async (e) => {
      const a = e.zeros([2, 4]);
      const w = e.tensor(new Uint16Array(12), [3, 4], { dtype: 'bf16', requiresGrad: true, label: 'q_proj.weight' });
      let err: unknown = null;
      try {
        matmul(a, w, { transB: true });
      } catch (caught) {
        err = caught;
      }
      if (!(err instanceof EngineError) || !/16-bit/.test(err.message) || !/q_proj\.weight/.test(err.message)) throw new Error(`expected an EngineError naming the 16-bit weight, got ${String(err)}`);
      [a, w].forEach((t) => t.dispose());
    },
  },
  ...KINDS16.flatMap((k) => [
    embedding16(k, [0, 37], 8, [0, 36, 5, 5, 17, 2, 36], 1),
    embedding16(k, [0, 37], 7, [3, 0, 36, 11, 11], 0.5), // odd C: rows start at odd elements
    embedding16(k, [0, 10, 11, 37], 5, [10, 0, 36, 9, 11, 10, 25], 2),
    logprobs16(k, [0, 150], 9, 12, 30, 64, 64), // vec4 loads of E
    logprobs16(k, [0, 70], 7, 9, 0), // odd C: element loads, odd starts
    logprobs16(k, [0, 64, 65, 150], 9, 12, 30, 32, 48), // split: parts, a single-row part, chunks inside parts
  ]),
  { name: 'embedding: 16-bit tables are frozen; parts must share the table dtype', run: tableRulesCase },
];
