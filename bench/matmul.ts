// npm run bench [-- --json] [-- --quick]   (bench/main.ts: this bench, then bench/train.ts)
// node --import tsx --import ./scripts/wgsl-register.mjs bench/matmul.ts [--json] [--quick]   (this one alone)
//
// f32 matmul throughput on the adapter this machine has: our GEMM (the variant the tuner picks,
// and each variant) next to @tensorflow/tfjs-backend-webgpu's matMul on the same adapter in the
// same run, and the adapter's FMA roofline from a compute-bound probe (fma_probe.wgsl).
// Figures, not pass/fail: targets (≥ 2× tfjs, ≥ 60 % of the roofline) are printed beside them.
//
// Output contract (--json; under "matmul" in `npm run bench -- --json`): one JSON object
//   { adapter: {vendor, architecture, description, isSoftware}, roofline_gflops,
//     cases: [{ name, M, N, K, layout, ours_gflops, ours_variant, variants: {<variant>: GFLOP/s, …timed ones},
//               tfjs_gflops, ratio, roofline_fraction }] }

import { createNodeEngine } from '../src/engine/node.ts';
import { f32, type Engine } from '../src/engine/engine.ts';
import { timeGpu, tuneMatmul, type MatmulVariant } from '../src/engine/ops/matmul.ts';
import { adapterJson, adapterLine, runIfMain, type AdapterJson, type BenchOptions } from './common.ts';
import { loadTfjs, type Tfjs } from './tfjs.ts';

const COLUMNS: MatmulVariant[] = ['tiled', 'reg4x4', 'reg4x8', 'reg8x4', 'reg8x8', 'gemv', 'gemv_sg', 'rowvec'];

interface Case {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

const cases = (quick: boolean): Case[] => [
  ...(quick ? [256, 512] : [256, 512, 1024]).map((n) => ({ name: `square ${n}`, M: n, N: n, K: n, transA: false, transB: false })),
  // Gemma-2 2B MLP products ([T, 2304]·[9216, 2304]ᵀ and its gradients), widths scaled by 1/4 and
  // T = 128 so one product takes seconds, not minutes, on a software adapter.
  { name: 'gemma up/gate fwd  x·Wᵀ  [128,576]·[2304,576]ᵀ', M: 128, N: 2304, K: 576, transA: false, transB: true },
  { name: 'gemma down dX      dY·W  [128,2304]·[2304,576]', M: 128, N: 576, K: 2304, transA: false, transB: false },
  { name: 'gemma up dW        dYᵀ·X [128,2304]ᵀ·[128,576]', M: 2304, N: 576, K: 128, transA: true, transB: false },
  // One decoding step (M = 1) through the same up/gate projection: the few-row (GEMV) kernels.
  { name: 'gemma decode x·Wᵀ  [1,576]·[2304,576]ᵀ', M: 1, N: 2304, K: 576, transA: false, transB: true },
];

async function roofline(e: Engine): Promise<number> {
  const invocations = 64 * 1024;
  const iters = e.info.isSoftware ? 256 : 4096;
  const sink = e.empty([invocations]);
  const ms = await timeGpu(e, () =>
    e.run({ op: 'fma_probe', shader: 'fma_probe', entry: 'fma_probe', inputs: [], outputs: [sink], params: [iters, f32(0.5)], workgroups: e.grid(invocations, 64) }),
  );
  sink.dispose();
  return (invocations * iters * 8 * 4 * 2) / (ms * 1e6);
}

async function tfjsGflops(t: Tfjs, c: Case, quick: boolean, minMs = 20): Promise<number> {
  const { tf } = t;
  const a = tf.fill(c.transA ? [c.K, c.M] : [c.M, c.K], 0.5);
  const b = tf.fill(c.transB ? [c.N, c.K] : [c.K, c.N], 0.25);
  const once = (): void => tf.dispose(tf.matMul(a, b, c.transA, c.transB));
  const sync = t.sync;
  once();
  await sync();
  const samples: number[] = [];
  let reps = 1;
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) once();
      await sync();
      const dt = performance.now() - t0;
      if (dt >= minMs || reps >= 1024) {
        samples.push(dt / reps);
        break;
      }
      reps *= 2;
    }
  }
  tf.dispose([a, b]);
  samples.sort((x, y) => x - y);
  return (2 * c.M * c.N * c.K) / (samples[Math.floor(samples.length / 2)] * 1e6);
}

const fmt = (x: number): string => x.toFixed(2).padStart(8);

export interface MatmulBench {
  adapter: AdapterJson;
  roofline_gflops: number;
  cases: {
    name: string;
    M: number;
    N: number;
    K: number;
    layout: string;
    ours_gflops: number;
    ours_variant: MatmulVariant;
    variants: Partial<Record<MatmulVariant, number>>;
    tfjs_gflops: number;
    ratio: number;
    roofline_fraction: number;
  }[];
  geomean_ratio: number;
  geomean_roofline_fraction: number;
}

export async function matmulBench({ quick, log }: BenchOptions): Promise<MatmulBench> {
  const e = await createNodeEngine();
  const adapter = adapterJson(e);
  log(adapterLine(adapter));
  const peak = await roofline(e);
  log(`FMA roofline (fma_probe): ${peak.toFixed(2)} GFLOP/s\n`);
  const tf = await loadTfjs();
  log(`${'case'.padEnd(48)} ${'ours'.padStart(8)} ${'variant'.padStart(7)} ${COLUMNS.map((v) => v.padStart(8)).join(' ')} ${'tfjs'.padStart(8)} ${'ratio'.padStart(7)} ${'%roof'.padStart(6)}   (GFLOP/s)`);
  const rows: MatmulBench['cases'] = [];
  for (const c of cases(quick)) {
    // The tuner times every candidate variant on this shape (what a user's first run does, once per
    // adapter and shape class) and keeps the fastest: that is "ours".
    const [tuned] = await tuneMatmul(e, [c], { runs: quick ? 1 : 3, retime: true }); // classes repeat across cases: time each
    const gflops = (ms: number | undefined): number => (ms ? (2 * c.M * c.N * c.K) / (ms * 1e6) : 0);
    const variants = Object.fromEntries(COLUMNS.filter((v) => tuned.ms[v] !== undefined).map((v) => [v, gflops(tuned.ms[v])])) as Partial<Record<MatmulVariant, number>>;
    const oursG = variants[tuned.winner] ?? 0;
    const tfjs = await tfjsGflops(tf, c, quick);
    const row = {
      name: c.name,
      M: c.M,
      N: c.N,
      K: c.K,
      layout: `${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'}`,
      ours_gflops: oursG,
      ours_variant: tuned.winner,
      variants,
      tfjs_gflops: tfjs,
      ratio: oursG / tfjs,
      roofline_fraction: oursG / peak,
    };
    rows.push(row);
    log(`${c.name.padEnd(48)} ${fmt(oursG)} ${row.ours_variant.padStart(7)} ${COLUMNS.map((v) => (variants[v] === undefined ? '       -' : fmt(variants[v]!))).join(' ')} ${fmt(tfjs)} ${(row.ratio.toFixed(2) + '×').padStart(7)} ${(100 * row.roofline_fraction).toFixed(0).padStart(5)}%`);
  }
  const geo = (xs: number[]): number => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
  const geomeanRatio = geo(rows.map((r) => r.ratio));
  const geomeanRoof = geo(rows.map((r) => r.roofline_fraction));
  log(`\ngeometric mean: ${geomeanRatio.toFixed(2)}× tfjs-webgpu (target ≥ 2×), ${(100 * geomeanRoof).toFixed(0)}% of the FMA roofline (target ≥ 60%)`);
  e.destroy();
  return { adapter, roofline_gflops: peak, cases: rows, geomean_ratio: geomeanRatio, geomean_roofline_fraction: geomeanRoof };
}

runIfMain(import.meta.url, matmulBench);
