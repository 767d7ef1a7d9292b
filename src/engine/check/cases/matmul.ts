// matmul: every kernel variant (tiled, reg, naive) in every layout, on ragged shapes, with offsets,
// batches, broadcast operands, accumulate/alpha, NaN- or 1e30-poisoned surroundings; plus the autograd op's
// backward against finite differences, for each variant.
import { Engine } from '../../engine.ts';
import { candidateVariants, chooseVariant, exportTuning, gemm, importTuning, matmul, MATMUL_VARIANTS, probeVariant, shapeClass, tuneMatmul, tuningKey, type MatmulVariant } from '../../ops/matmul.ts';
import { batchedMatmulRef, matmulRef } from '../../reference/matmul.ts';
import { checkOp, expectClose, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(11);
// f32 accumulation over K ≤ 200 of products of values in [-1, 1]: errors ~1e-6; 1e-4 leaves margin.
const fwd = { atol: 1e-4, rtol: 1e-4 };
const bwd = { atol: 2e-4, rtol: 1e-3 };

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [4, 8, 12],
  [63, 65, 17],
  [64, 64, 64],
  [70, 33, 131],
];

/** gemv_sg on a device without subgroups must refuse clearly (and is then never chosen). */
function unavailable(e: Engine, v: MatmulVariant): boolean {
  if (v !== 'gemv_sg' || e.features.has('subgroups')) return false;
  const a = e.zeros([1, 1]);
  let msg = '';
  try {
    gemm({ out: a, a, b: a, M: 1, N: 1, K: 1, variant: v });
  } catch (err) {
    msg = String(err);
  }
  a.dispose();
  if (!msg.includes('subgroups')) throw new Error(`gemv_sg without the subgroups feature should throw naming it, got: ${msg || 'no error'}`);
  return true;
}

async function gemmCase(e: Engine, variant: MatmulVariant, M: number, N: number, K: number, transA: boolean, transB: boolean): Promise<void> {
  if (unavailable(e, variant)) return;
  // Place each operand at a non-zero offset inside a poisoned buffer: reads outside the logical
  // region would poison the result, and the output's surroundings must stay untouched. Half the
  // shapes poison with NaN, half with a huge finite value (1e30): the second kind of check does not
  // depend on NaN propagating, which WGSL lets drivers assume away.
  const poison = (M + N + K) % 2 ? NaN : Math.fround(1e30);
  const poisoned = (x: number): boolean => (Number.isNaN(poison) ? Number.isNaN(x) : x === poison);
  const pad = 4 * ((M + N + K) % 3) + 4; // keeps vec4 alignment possible (offset % 4 == 0)
  const A = rng.array(M * K);
  const B = rng.array(K * N);
  const bufA = new Float32Array(M * K + 2 * pad).fill(poison);
  bufA.set(A, pad);
  const bufB = new Float32Array(K * N + 2 * pad).fill(poison);
  bufB.set(B, pad);
  const a = e.tensor(bufA, [bufA.length]);
  const b = e.tensor(bufB, [bufB.length]);
  const out = e.tensor(new Float32Array(M * N + 2 * pad).fill(poison), [M * N + 2 * pad]);
  gemm({ out, a, b, M, N, K, transA, transB, offA: pad, offB: pad, offOut: pad, variant });
  const got = await out.read();
  const want = matmulRef(Float32Array.from(A), Float32Array.from(B), M, N, K, transA, transB);
  expectClose(got.subarray(pad, pad + M * N), want, fwd, `gemm ${variant} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${M}×${N}×${K}`);
  for (const i of [0, pad - 1, pad + M * N, got.length - 1]) {
    if (!poisoned(got[i])) throw new Error(`gemm ${variant}: wrote outside the output region at ${i}`);
  }
  // Accumulate with alpha on top of the previous result: out = prev + 0.5·A·B.
  gemm({ out, a, b, M, N, K, transA, transB, offA: pad, offB: pad, offOut: pad, variant, accumulate: true, alpha: 0.5 });
  const got2 = await out.read();
  expectClose(got2.subarray(pad, pad + M * N), want.map((v) => 1.5 * v), fwd, `gemm ${variant} accumulate+alpha ${M}×${N}×${K}`);
  [a, b, out].forEach((t) => t.dispose());
}

async function batchedCase(e: Engine, variant: MatmulVariant, shareB: boolean): Promise<void> {
  if (unavailable(e, variant)) return;
  const [batch, M, N, K] = [3, 9, 10, 11];
  const A = Float64Array.from(Float32Array.from(rng.array(batch * M * K)));
  const B = Float64Array.from(Float32Array.from(rng.array((shareB ? 1 : batch) * K * N)));
  const a = e.tensor(Float32Array.from(A), [batch, M, K]);
  const b = e.tensor(Float32Array.from(B), shareB ? [N, K] : [batch, N, K]);
  const out = e.empty([batch, M, N]);
  gemm({ out, a, b, M, N, K, transB: true, batch, strideA: M * K, strideB: shareB ? 0 : K * N, strideOut: M * N, variant });
  expectClose(await out.read(), batchedMatmulRef(A, B, batch, M, N, K, false, true, M * K, shareB ? 0 : K * N), fwd, `gemm ${variant} batched shareB=${shareB}`);
  [a, b, out].forEach((t) => t.dispose());
}

function withVariant(e: Engine, v: MatmulVariant, fn: () => Promise<void>): Promise<void> {
  if (unavailable(e, v)) return Promise.resolve();
  e.tuning.set('matmul.force', v);
  return fn().finally(() => e.tuning.delete('matmul.force'));
}

const layouts: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

export const cases: GpuCase[] = [
  ...MATMUL_VARIANTS.flatMap((v) =>
    layouts.map(([tA, tB]) => ({
      name: `matmul: gemm ${v} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ragged shapes, offsets, accumulate`,
      run: async (e: Engine) => {
        for (const [M, N, K] of SHAPES) await gemmCase(e, v, M, N, K, tA, tB);
      },
    })),
  ),
  ...MATMUL_VARIANTS.map((v) => ({
    name: `matmul: gemm ${v} batched, own and broadcast B`,
    run: async (e: Engine) => {
      await batchedCase(e, v, false);
      await batchedCase(e, v, true);
    },
  })),
  {
    name: 'matmul: the tuner probes every candidate against the naive oracle and times the survivors',
    run: async (e) => {
      for (const [tA, tB] of layouts) {
        for (const v of candidateVariants(e, 2)) {
          if (!(await probeVariant(e, v, tA, tB))) throw new Error(`variant ${v} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} failed its probe on this adapter`);
        }
      }
      const [few] = await tuneMatmul(e, [{ M: 2, N: 40, K: 70, transB: true }], { runs: 1 });
      if (!('gemv' in few.ms)) throw new Error(`few-row shapes must time the gemv kernels: ${JSON.stringify(few.ms)}`);
      const [many] = await tuneMatmul(e, [{ M: 70, N: 40, K: 30 }], { runs: 1 });
      if ('gemv' in many.ms) throw new Error('gemv must not be a candidate for M > 16');
      const saved = exportTuning(e);
      if (Object.keys(saved).length < 2 || (await importTuning(e, saved)) !== Object.keys(saved).length) throw new Error('tuning export/import lost entries');
    },
  },
  {
    name: 'matmul: imported choices are used as recorded and never re-timed; defaults never use an unprobed subgroup kernel',
    run: async (e) => {
      // A fresh engine: nothing probed or tuned yet.
      const f = await Engine.create(e.gpu);
      try {
        if (chooseVariant(f, 2, 300, 64, false, true) === 'gemv_sg') throw new Error('the untuned default chose gemv_sg before any probe');
        // A run's recorded state: another variant than the default for two classes.
        const key = (cls: string): string => tuningKey(f, cls);
        const recorded = { [key(shapeClass(2, 300, 64, false, true))]: 'rowvec', [key(shapeClass(70, 40, 30, false, false))]: 'reg4x8' };
        if ((await importTuning(f, recorded)) !== 2) throw new Error('importTuning did not take both recorded choices');
        if (chooseVariant(f, 2, 300, 64, false, true) !== 'rowvec' || chooseVariant(f, 70, 40, 30, false, false) !== 'reg4x8') throw new Error('gemm does not use the imported choices');
        const compilesBefore = f.stats.pipelineCompiles;
        const res = await tuneMatmul(f, [{ M: 2, N: 300, K: 64, transB: true }, { M: 70, N: 40, K: 30 }], { runs: 1 });
        if (!res.every((r) => r.kept && Object.keys(r.ms).length === 0)) throw new Error(`tuneMatmul re-timed imported classes: ${JSON.stringify(res)}`);
        if (f.stats.pipelineCompiles !== compilesBefore) throw new Error('tuneMatmul compiled kernels for imported classes');
        if (exportTuning(f)[key(shapeClass(2, 300, 64, false, true))] !== 'rowvec') throw new Error('an imported choice changed');
        // A recorded subgroup kernel is probed on import before gemm may use it.
        if (f.features.has('subgroups')) {
          const sg = { [key(shapeClass(3, 20, 20, false, true))]: 'gemv_sg' };
          await importTuning(f, sg);
          if (chooseVariant(f, 3, 20, 20, false, true) !== 'gemv_sg') throw new Error('a probed, imported gemv_sg choice is not used');
          // A gemv_sg choice set without a probe (another layout) is never used.
          f.tuning.set(key(shapeClass(3, 20, 20, true, false)), 'gemv_sg');
          if (chooseVariant(f, 3, 20, 20, true, false) === 'gemv_sg') throw new Error('an unprobed gemv_sg choice was used');
        }
      } finally {
        f.destroy();
      }
    },
  },
  {
    name: 'matmul: few-row kernels loop over column groups beyond the grid limit (limit lowered to 7 groups)',
    run: async (e) => {
      // The real case is N > 4 × 65535 (vocabularies above 262,140; gemmGrid's shape check is in
      // src/engine/ops/matmul_grid.test.ts). Here the same loop runs at a small size: an engine whose
      // per-dimension limit is lowered to 7 takes 26 column groups of N = 103 in 4 rounds.
      const f = await Engine.create(e.gpu);
      try {
        f.limits.maxComputeWorkgroupsPerDimension = 7;
        const [M, N, K] = [3, 103, 70];
        const A = Float64Array.from(Float32Array.from(rng.array(M * K)));
        const B = Float64Array.from(Float32Array.from(rng.array(N * K))); // [N, K]: x·Wᵀ as in decoding logits
        const want = matmulRef(A, B, M, N, K, false, true);
        const a = f.tensor(Float32Array.from(A), [M, K]);
        const b = f.tensor(Float32Array.from(B), [N, K]);
        for (const v of ['gemv', 'gemv_sg'] as const) {
          if (unavailable(f, v)) continue;
          const out = f.tensor(new Float32Array(M * N + 4).fill(NaN), [M * N + 4]);
          gemm({ out, a, b, M, N, K, transB: true, variant: v });
          const got = await out.read();
          expectClose(got.subarray(0, M * N), want, fwd, `gemm ${v} N=${N} over 7 workgroups`);
          if (!got.subarray(M * N).every(Number.isNaN)) throw new Error(`gemm ${v}: wrote past the output`);
          out.dispose();
        }
        [a, b].forEach((t) => t.dispose());
      } finally {
        f.destroy();
      }
    },
  },
  {
    name: 'matmul: K = 0 gives zeros; M = 0 is a no-op',
    run: async (e) => {
      const a = e.zeros([3, 1]);
      const b = e.zeros([1, 2]);
      const out = e.full([3, 2], 7);
      gemm({ out, a, b, M: 3, N: 2, K: 0 });
      expectClose(await out.read(), new Float64Array(6), { atol: 0, rtol: 0 }, 'K=0');
      gemm({ out, a, b, M: 0, N: 2, K: 1 });
      [a, b, out].forEach((t) => t.dispose());
    },
  },
  ...MATMUL_VARIANTS.flatMap((v) =>
    layouts.map(([tA, tB]) => ({
      name: `matmul: autograd ${v} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} 5×6×7`,
      run: (e: Engine) =>
        withVariant(e, v, () => {
          const [M, N, K] = [5, 6, 7];
          return checkOp(e, {
            name: `matmul ${v}`,
            inputs: [
              { data: rng.array(M * K), shape: tA ? [K, M] : [M, K] },
              { data: rng.array(K * N), shape: tB ? [N, K] : [K, N] },
            ],
            gpu: ([a, b]) => matmul(a, b, { transA: tA, transB: tB }),
            cpu: ([a, b]) => [matmulRef(a, b, M, N, K, tA, tB)],
            fwd,
            bwd,
          });
        }),
    })),
  ),
  {
    name: 'matmul: autograd batched [2,3,4,5]·[5,6] (shared b) and ·[2,3,6,5]ᵀ',
    run: async (e) => {
      const [M, K, N] = [4, 5, 6];
      await checkOp(e, {
        name: 'matmul batched shared b',
        inputs: [{ data: rng.array(6 * M * K), shape: [2, 3, M, K] }, { data: rng.array(K * N), shape: [K, N] }],
        gpu: ([a, b]) => matmul(a, b),
        cpu: ([a, b]) => [batchedMatmulRef(a, b, 6, M, N, K, false, false, M * K, 0)],
        fwd,
        bwd,
      });
      await checkOp(e, {
        name: 'matmul batched both',
        inputs: [{ data: rng.array(6 * M * K), shape: [2, 3, M, K] }, { data: rng.array(6 * K * N), shape: [2, 3, N, K] }],
        gpu: ([a, b]) => matmul(a, b, { transB: true }),
        cpu: ([a, b]) => [batchedMatmulRef(a, b, 6, M, N, K, false, true, M * K, K * N)],
        fwd,
        bwd,
      });
    },
  },
  {
    name: 'matmul: shape errors name both shapes',
    run: async (e) => {
      const a = e.zeros([2, 3]);
      const b = e.zeros([4, 5]);
      let msg = '';
      try {
        matmul(a, b);
      } catch (err) {
        msg = String(err);
      }
      if (!/\[2, 3\].*\[4, 5\]/.test(msg)) throw new Error(`expected a ShapeError naming [2, 3] and [4, 5], got: ${msg}`);
      a.dispose();
      b.dispose();
    },
  },
];
