// matmul: out[..., M, N] = op(A)[..., M, K] · op(B)[..., K, N], where op() optionally transposes.
// This is where the time goes (kernels.md §2), so the file has three layers:
//
//   gemm(args)            low level, no autograd: one GEMM (or a batch), with offsets/strides so
//                         callers can address a row range of a bigger tensor, alpha and accumulate.
//   matmul(a, b, opts)    the autograd op built on gemm; its backward is two more gemms.
//   tuneMatmul(e, shapes) times every kernel variant once per adapter and shape class and caches
//                         the winner; gemm() uses the cached choice, else a per-adapter default.
//
// Correctness on this adapter: a variant whose result depends on behaviour WGSL leaves to the
// driver (PROBED_VARIANTS: gemv_sg and its subgroups) is chosen automatically only after
// probeVariant() has compared it with the naive kernel on this engine, for that layout. Defaults
// never depend on a probe (so an untuned run is the same run every time).
// Determinism: timing may pick different variants on different runs, and variants sum in
// different orders. exportTuning() is part of a run's state: importTuning() restores the choices
// (checking any probed variant first), and tuneMatmul() never re-times a shape class that
// already has a choice, so a resumed or repeated run uses the same kernels bit for bit.
//
// Variants (src/gpu/shaders/matmul_*.wgsl), all tested for correctness on every adapter:
//   tiled   workgroup-memory 64×64 tiles, 4×4 register tiles, vec4 loads — the GPU workhorse;
//   reg4x4, reg4x8, reg8x4, reg8x8
//           register tiles (rows × cols per invocation) without workgroup memory, one shader with
//           TM/TN4 overrides — these win on CPU adapters (kernels.md §10) and weak-shared-memory GPUs;
//   gemv, gemv_sg, rowvec
//           few-row products (decoding): K split across a workgroup (tree or subgroupAdd reduction),
//           or one invocation per 4 columns over the whole K;
//   naive   one output per invocation — the on-device oracle, never chosen for speed.
// NOTE: never drop `tiled` because a software adapter prefers `reg`: users run real GPUs.
//
// 16-bit B (frozen base weights, issue 9): B may be bf16 or f16 storage (two values per u32,
// tensor.ts); every variant reads it through the B-load include of its storage type
// (src/gpu/shaders/matmul_b_*_common.wgsl, chosen by weightVariant() as a compile-time shader
// variant, so the f32 kernels are unchanged) and widens it to f32 in the loads; A, out and the
// accumulation stay f32. f16 uses `shader-f16` where the device has it, else (or with
// e.tuning F16_UNPACK set) core unpack2x16float. A 16-bit B never gets a gradient: matmul()
// refuses one that requires it, and its backward computes dA only.

import { f32, type Engine } from '../engine.ts';
import { EngineError, ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import type { ShaderVariant } from '../../gpu/shaders/index.ts';
import { toF32 } from './convert.ts';
import { expectDtype } from './util.ts';

/**
 * e.tuning key: when set (true), f16 weights are read with core unpack2x16float even on a device
 * with `shader-f16` — the fallback SwiftShader uses, selectable so tests run both paths on one device.
 */
export const F16_UNPACK = 'weights.f16.unpack';

/**
 * The shader variant that reads a weight (a B operand, a logprobs/embedding table) of t's storage
 * dtype on this engine: undefined for f32 (the default modules), 'bf16', and for f16 'f16'
 * (`shader-f16`) or 'f16_unpack' (no feature, or F16_UNPACK set).
 */
export function weightVariant(e: Engine, t: Tensor): ShaderVariant | undefined {
  if (t.dtype === 'bf16') return 'bf16';
  if (t.dtype === 'f16') return e.features.has('shader-f16') && !e.tuning.get(F16_UNPACK) ? 'f16' : 'f16_unpack';
  return undefined;
}

const is16 = (t: Tensor): boolean => t.dtype === 'bf16' || t.dtype === 'f16';

export type MatmulVariant = 'tiled' | 'reg4x4' | 'reg4x8' | 'reg8x4' | 'reg8x8' | 'gemv' | 'gemv_sg' | 'rowvec' | 'naive';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['tiled', 'reg4x4', 'reg4x8', 'reg8x4', 'reg8x8', 'gemv', 'gemv_sg', 'rowvec', 'naive'];
/** Variants the tuner times for big M (naive is the oracle, never a candidate). */
export const TUNED_VARIANTS: readonly MatmulVariant[] = ['tiled', 'reg4x4', 'reg4x8', 'reg8x4', 'reg8x8'];
/** Rows up to which the few-row kernels (gemv, gemv_sg) are candidates too. */
export const GEMV_MAX_M = 16;
/** Variants chosen automatically only after probeVariant() passed on this engine (subgroup behaviour). */
export const PROBED_VARIANTS: readonly MatmulVariant[] = ['gemv_sg'];
/** Variants that loop over column groups, so their grid's x may be capped at the per-dimension limit. */
const COLUMN_LOOP: ReadonlySet<MatmulVariant> = new Set(['gemv', 'gemv_sg']);

/** Shader, overrides and output tile (rows × cols per workgroup) of each variant. */
const KERNELS: Record<MatmulVariant, { shader: 'matmul_tiled' | 'matmul_reg' | 'matmul_gemv' | 'matmul_gemv_sg' | 'matmul_rowvec' | 'matmul_naive'; overrides: Record<string, number>; tileM: number; tileN: number }> = {
  tiled: { shader: 'matmul_tiled', overrides: {}, tileM: 64, tileN: 64 },
  reg4x4: { shader: 'matmul_reg', overrides: { TM: 4, TN4: 1 }, tileM: 32, tileN: 32 },
  reg4x8: { shader: 'matmul_reg', overrides: { TM: 4, TN4: 2 }, tileM: 32, tileN: 64 },
  reg8x4: { shader: 'matmul_reg', overrides: { TM: 8, TN4: 1 }, tileM: 64, tileN: 32 },
  reg8x8: { shader: 'matmul_reg', overrides: { TM: 8, TN4: 2 }, tileM: 64, tileN: 64 },
  gemv: { shader: 'matmul_gemv', overrides: {}, tileM: 1, tileN: 4 },
  gemv_sg: { shader: 'matmul_gemv_sg', overrides: {}, tileM: 1, tileN: 4 },
  rowvec: { shader: 'matmul_rowvec', overrides: {}, tileM: 1, tileN: 256 },
  naive: { shader: 'matmul_naive', overrides: {}, tileM: 16, tileN: 16 },
};

/** Whether this device can run a variant (gemv_sg needs the `subgroups` feature). */
export function variantAvailable(e: Engine, v: MatmulVariant): boolean {
  if (v === 'gemv_sg' && !e.features.has('subgroups')) return false;
  const banned = e.tuning.get('matmul.banned') as Set<MatmulVariant> | undefined;
  return !banned?.has(v);
}

/** Candidates the tuner times for a shape with M rows, on this device. */
export function candidateVariants(e: Engine, M: number): MatmulVariant[] {
  const few: MatmulVariant[] = M <= GEMV_MAX_M ? ['gemv', 'gemv_sg', 'rowvec'] : [];
  return [...TUNED_VARIANTS, ...few].filter((v) => variantAvailable(e, v));
}

export interface GemmArgs {
  out: Tensor;
  a: Tensor;
  /** f32, or a 16-bit (bf16/f16) weight widened in the kernels' loads. */
  b: Tensor;
  /** out[M, N] (+)= alpha · op(A)[M, K] · op(B)[K, N] */
  M: number;
  N: number;
  K: number;
  /** A stored as [K, M] instead of [M, K]. */
  transA?: boolean;
  /** B stored as [N, K] instead of [K, N] (x·Wᵀ with W [out, in]). */
  transB?: boolean;
  /** out += result instead of out = result. */
  accumulate?: boolean;
  alpha?: number;
  /** Number of matrices (default 1), walked with the strides below. */
  batch?: number;
  /** Element offsets of matrix 0. */
  offA?: number;
  offB?: number;
  offOut?: number;
  /** Element strides between batch matrices (0 = the same matrix for every batch entry). */
  strideA?: number;
  strideB?: number;
  strideOut?: number;
  /** Force a kernel variant (tests, benchmarks); default: the tuned or per-adapter choice. */
  variant?: MatmulVariant;
}

/** Shape class used to cache the tuned variant: layout, size buckets and vec4 alignment. */
export function shapeClass(M: number, N: number, K: number, transA: boolean, transB: boolean): string {
  const bucket = (d: number): string => (d <= 16 ? 's' : d <= 128 ? 'm' : d <= 1024 ? 'l' : 'xl');
  return `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}:${bucket(M)}${bucket(N)}${bucket(K)}`;
}

/** The e.tuning / exportTuning key of a shape class on this engine's adapter. */
export function tuningKey(e: Engine, cls: string): string {
  return `matmul:${e.info.vendor}/${e.info.architecture}/${e.info.description}:${cls}`;
}

const layoutName = (transA: boolean, transB: boolean): string => `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;

/** Whether probeVariant() has passed for `v` in this layout on this engine. */
export function variantChecked(e: Engine, v: MatmulVariant, transA: boolean, transB: boolean): boolean {
  const checked = e.tuning.get('matmul.checked') as Set<string> | undefined;
  return checked?.has(`${v}:${layoutName(transA, transB)}`) ?? false;
}

/** The variant gemm() will use for this shape on this engine. */
export function chooseVariant(e: Engine, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulVariant {
  const forced = e.tuning.get('matmul.force') as MatmulVariant | undefined;
  if (forced) return forced;
  const tuned = e.tuning.get(tuningKey(e, shapeClass(M, N, K, transA, transB))) as MatmulVariant | undefined;
  if (tuned && (!PROBED_VARIANTS.includes(tuned) || variantChecked(e, tuned, transA, transB))) return tuned;
  // Untuned defaults (never a probed variant): the few-row kernel for decoding-like shapes;
  // register tiles on CPU adapters (measured, kernels.md §10); workgroup-memory tiles on GPUs.
  if (M <= 4) return 'gemv';
  if (!e.info.isSoftware) return 'tiled';
  return M >= 64 ? 'reg8x4' : 'reg4x4';
}

/**
 * The workgroup grid of one gemm: [column tiles, row tiles, batch]. The few-row kernels loop over
 * column groups, so their x is capped at the per-dimension limit (N above 4 × 65535 = 262,140
 * columns: decoding logits of large vocabularies); other variants must fit the limit as they are.
 */
export function gemmGrid(variant: MatmulVariant, M: number, N: number, batch: number, maxWg: number): [number, number, number] {
  const k = KERNELS[variant];
  const cols = Math.ceil(N / k.tileN);
  const x = COLUMN_LOOP.has(variant) ? Math.min(cols, maxWg) : cols;
  const y = Math.ceil(M / k.tileM);
  if (x > maxWg || y > maxWg || batch > maxWg) {
    throw new ShapeError('matmul.gemm', `M=${M} N=${N} batch=${batch} needs a [${x}, ${y}, ${batch}] grid of ${variant} tiles, over ${maxWg} workgroups per dimension`, 'split the product into row or column ranges (offsets), or use fewer batch entries per call');
  }
  return [x, y, batch];
}

const aligned = (...xs: number[]): boolean => xs.every((x) => x % 4 === 0);

export function gemm(g: GemmArgs): void {
  const op = 'matmul.gemm';
  const { out, a, b, M, N, K } = g;
  const transA = g.transA ?? false;
  const transB = g.transB ?? false;
  const batch = g.batch ?? 1;
  const offA = g.offA ?? 0;
  const offB = g.offB ?? 0;
  const offOut = g.offOut ?? 0;
  const strideA = g.strideA ?? (batch > 1 ? M * K : 0);
  const strideB = g.strideB ?? (batch > 1 ? K * N : 0);
  const strideOut = g.strideOut ?? (batch > 1 ? M * N : 0);
  expectDtype(op, 'A', a, 'f32');
  expectDtype(op, 'B', b, 'f32', 'bf16', 'f16');
  expectDtype(op, 'out', out, 'f32');
  const last = (off: number, stride: number, n: number): number => off + (batch - 1) * stride + n;
  if (last(offA, strideA, M * K) > a.size || last(offB, strideB, K * N) > b.size || last(offOut, strideOut, M * N) > out.size) {
    throw new ShapeError(op, `M=${M} N=${N} K=${K} batch=${batch} with offsets/strides reaches past A ${fmtShape(a.shape)}, B ${fmtShape(b.shape)} or out ${fmtShape(out.shape)}`);
  }
  if (batch > 1 && strideOut === 0) throw new ShapeError(op, 'strideOut 0 with batch > 1 would race: loop with accumulate instead');
  if (M === 0 || N === 0 || batch === 0) return;
  const e = out.engine;
  if (K === 0) {
    // Empty reduction: out = 0 (or unchanged when accumulating). The kernels handle K = 0 (their
    // K loops run zero times and store alpha·0), so only the addressed matrices are written.
    if (g.accumulate) return;
  }
  const variant = g.variant ?? chooseVariant(e, M, N, K, transA, transB);
  if (variant === 'gemv_sg' && !e.features.has('subgroups')) {
    throw new EngineError(op, "variant 'gemv_sg' needs the 'subgroups' feature, which this device does not have", "use 'gemv' (the same kernel with a workgroup-memory reduction)");
  }
  const kernel = KERNELS[variant];
  const overrides: Record<string, number> = { TRANS_A: +transA, TRANS_B: +transB, ...kernel.overrides };
  if (variant !== 'naive' && variant !== 'gemv' && variant !== 'gemv_sg') {
    overrides.VEC_A = +aligned(transA ? M : K, offA, strideA);
    overrides.VEC_B = +aligned(transB ? K : N, offB, strideB);
  }
  e.run({
    op: `matmul.${variant}`,
    shader: kernel.shader,
    entry: kernel.shader,
    inputs: [a, b],
    outputs: [out],
    params: [M, N, K, batch, offA, offB, offOut, strideA, strideB, strideOut, f32(g.alpha ?? 1), g.accumulate ? 1 : 0],
    workgroups: gemmGrid(variant, M, N, batch, e.limits.maxComputeWorkgroupsPerDimension),
    overrides,
    variant: weightVariant(e, b),
  });
}

/** Leading (batch) dims of a matrix operand; [] for a plain matrix. */
function batchDims(t: Tensor): number[] {
  return t.shape.slice(0, -2) as number[];
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * out = op(a) · op(b). a: [..., M, K] ([..., K, M] if transA); b: [..., K, N] ([..., N, K] if
 * transB). Batch dims must be equal, or one operand has none (it is shared by every batch entry).
 * b may be a frozen 16-bit weight (bf16/f16, requiresGrad false): then only a gets a gradient.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  expectDtype(op, 'a', a, 'f32');
  expectDtype(op, 'b', b, 'f32', 'bf16', 'f16');
  if (is16(b) && b.requiresGrad) {
    throw new EngineError(op, `b ${b.describe()} ('${b.label}') is 16-bit storage and requires a gradient: 16-bit weights are frozen (gradients are f32)`, 'set requiresGrad = false on the 16-bit weight and train LoRA factors beside it, or widen it with toF32() to train it in f32');
  }
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(op, `operands must be at least 2-D, got a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const Kb = transB ? bc : br;
  const N = transB ? br : bc;
  if (K !== Kb) {
    throw new ShapeError(op, `inner dimensions differ: a ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} · b ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''} (K ${K} vs ${Kb})`);
  }
  const ba = batchDims(a);
  const bb = batchDims(b);
  const sameBatch = ba.length === bb.length && ba.every((d, i) => d === bb[i]);
  if (!sameBatch && ba.length && bb.length) {
    throw new ShapeError(op, `batch dims must match or one operand must be a plain matrix: a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)}`);
  }
  const batchShape = ba.length ? ba : bb;
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const e = a.engine;
  const out = e.empty([...batchShape, M, N], 'f32', 'matmul.out');
  const strideA = ba.length ? M * K : 0;
  const strideB = bb.length ? K * N : 0;
  gemm({ out, a, b, M, N, K, transA, transB, batch, strideA, strideB, strideOut: M * N });

  e.tape.record({
    op,
    inputs: [a, b],
    outputs: [out],
    backward: ([dOut]) => {
      const dC = dOut!;
      // dop(A) = dC · op(B)ᵀ, dop(B) = op(A)ᵀ · dC; stored-layout versions below.
      let dA: Tensor | null = null;
      let dB: Tensor | null = null;
      if (a.requiresGrad) {
        dA = e.empty(a.shape, 'f32', 'matmul.dA');
        // With transA, op(B) is the A operand of dA's gemm, which must be f32: a 16-bit b is
        // widened for it (a temporary copy; no model path multiplies a transposed A by a weight).
        const bA = transA && is16(b) ? toF32(b) : b;
        const perBatch = (z: number, accumulate: boolean, zb: number): void => {
          if (!transA) {
            // dA[M, K] = dC[M, N] · op(B)ᵀ
            gemm({ out: dA!, a: dC, b, M, N: K, K: N, transB: !transB, offA: z * M * N, offB: zb * K * N, offOut: strideA ? z * M * K : 0, accumulate });
          } else {
            // dA[K, M] = op(B)[K, N] · dCᵀ
            gemm({ out: dA!, a: bA, b: dC, M: K, N: M, K: N, transA: transB, transB: true, offA: zb * K * N, offB: z * M * N, offOut: strideA ? z * M * K : 0, accumulate });
          }
        };
        if (strideA || batch === 1) {
          for (let z = 0; z < batch; z++) perBatch(z, false, strideB ? z : 0);
        } else {
          // a is shared by every batch entry: its gradient sums over the batch (in order).
          for (let z = 0; z < batch; z++) perBatch(z, z > 0, strideB ? z : 0);
        }
        if (bA !== b) bA.dispose();
      }
      if (b.requiresGrad) {
        dB = e.empty(b.shape, 'f32', 'matmul.dB');
        const perBatch = (z: number, accumulate: boolean, za: number): void => {
          if (!transB) {
            // dB[K, N] = op(A)ᵀ · dC
            gemm({ out: dB!, a, b: dC, M: K, N, K: M, transA: !transA, offA: za * M * K, offB: z * M * N, offOut: strideB ? z * K * N : 0, accumulate });
          } else {
            // dB[N, K] = dCᵀ · op(A)
            gemm({ out: dB!, a: dC, b: a, M: N, N: K, K: M, transA: true, transB: transA, offA: z * M * N, offB: za * M * K, offOut: strideB ? z * K * N : 0, accumulate });
          }
        };
        for (let z = 0; z < batch; z++) perBatch(z, !strideB && z > 0, strideA ? z : 0);
      }
      return [dA, dB];
    },
  });
  return out;
}

// ---------------------------------------------------------------- tuning

export interface GemmShape {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
}

export interface TuneResult {
  shapeClass: string;
  /** Median milliseconds per GEMM for each variant timed (empty when the choice was kept). */
  ms: Partial<Record<MatmulVariant, number>>;
  winner: MatmulVariant;
  /** The class already had a choice (tuned earlier or imported): nothing was timed. */
  kept: boolean;
}

/** Milliseconds per call of `fn` (wall clock around onSubmittedWorkDone; median of `runs`). */
export async function timeGpu(e: Engine, fn: () => void, opts: { minMs?: number; runs?: number } = {}): Promise<number> {
  const minMs = opts.minMs ?? 20;
  fn();
  await e.sync(); // warm-up: pipeline compilation (lavapipe JITs on first dispatch)
  let reps = 1;
  const samples: number[] = [];
  for (let r = 0; r < (opts.runs ?? 3); r++) {
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) fn();
      await e.sync();
      const dt = performance.now() - t0;
      if (dt >= minMs || reps >= 1024) {
        samples.push(dt / reps);
        break;
      }
      reps *= 2;
    }
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)];
}

/**
 * Times every candidate kernel (those that pass probeVariant) on each shape and caches the winner
 * per adapter and shape class in e.tuning (exportTuning/importTuning persist it across sessions).
 * A class that already has a choice — tuned before or imported from a run's state — is not timed
 * again unless `retime` is set, so imported choices stay as recorded. Returns what it measured.
 */
export async function tuneMatmul(e: Engine, shapes: GemmShape[], opts: { runs?: number; retime?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<TuneResult[]> {
  const results: TuneResult[] = [];
  let done = 0;
  for (const s of shapes) {
    const transA = s.transA ?? false;
    const transB = s.transB ?? false;
    const cls = shapeClass(s.M, s.N, s.K, transA, transB);
    const chosen = e.tuning.get(tuningKey(e, cls)) as MatmulVariant | undefined;
    if (chosen && !opts.retime) {
      results.push({ shapeClass: cls, ms: {}, winner: chosen, kept: true });
      opts.onProgress?.(++done, shapes.length);
      continue;
    }
    const a = e.full(transA ? [s.K, s.M] : [s.M, s.K], 0.5, 'tune.a');
    const b = e.full(transB ? [s.N, s.K] : [s.K, s.N], 0.25, 'tune.b');
    const out = e.empty([s.M, s.N], 'f32', 'tune.out');
    const ms: TuneResult['ms'] = {};
    const candidates: MatmulVariant[] = [];
    for (const v of candidateVariants(e, s.M)) if (await probeVariant(e, v, transA, transB)) candidates.push(v);
    for (const variant of candidates) {
      ms[variant] = await timeGpu(e, () => gemm({ out, a, b, M: s.M, N: s.N, K: s.K, transA, transB, variant }), { runs: opts.runs ?? 3 });
    }
    const winner = candidates.reduce((best, v) => ((ms[v] ?? Infinity) < (ms[best] ?? Infinity) ? v : best));
    e.tuning.set(tuningKey(e, cls), winner);
    results.push({ shapeClass: cls, ms, winner, kept: false });
    [a, b, out].forEach((t) => t.dispose());
    opts.onProgress?.(++done, shapes.length);
  }
  return results;
}

/**
 * Checks a variant on this adapter before the tuner may pick it (kernels.md §11): a ragged product
 * against the naive oracle on the same device. A variant that disagrees is banned for this engine
 * (e.g. a subgroup kernel on a driver that packs subgroups unusually) and never chosen.
 */
export async function probeVariant(e: Engine, v: MatmulVariant, transA: boolean, transB: boolean): Promise<boolean> {
  const [M, N, K] = [v.startsWith('gemv') ? 3 : 37, 29, 67];
  const fill = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.5);
  const a = e.tensor(fill(M * K, 1), transA ? [K, M] : [M, K], { label: 'probe.a' });
  const b = e.tensor(fill(K * N, 2), transB ? [N, K] : [K, N], { label: 'probe.b' });
  const got = e.empty([M, N], 'f32', 'probe.out');
  const want = e.empty([M, N], 'f32', 'probe.want');
  gemm({ out: got, a, b, M, N, K, transA, transB, variant: v });
  gemm({ out: want, a, b, M, N, K, transA, transB, variant: 'naive' });
  const [x, y] = [await got.readF32(), await want.readF32()];
  [a, b, got, want].forEach((t) => t.dispose());
  const ok = x.every((val, i) => Math.abs(val - y[i]) <= 1e-4 * (1 + Math.abs(y[i])));
  const record = (key: string, item: string): void => {
    const set = (e.tuning.get(key) as Set<string> | undefined) ?? new Set<string>();
    set.add(item);
    e.tuning.set(key, set);
  };
  if (ok) record('matmul.checked', `${v}:${layoutName(transA, transB)}`);
  else record('matmul.banned', v);
  return ok;
}

/** The tuned choices of this engine's adapter, to persist (e.g. with idb-keyval or a JSON file). */
export function exportTuning(e: Engine): Record<string, MatmulVariant> {
  const prefix = tuningKey(e, '');
  const out: Record<string, MatmulVariant> = {};
  for (const [k, v] of e.tuning) if (k.startsWith(prefix)) out[k] = v as MatmulVariant;
  return out;
}

/**
 * Restores choices saved by exportTuning (a run's state), so gemm() picks exactly the recorded
 * kernels and tuneMatmul() times nothing for those classes. Entries of other adapters or unknown
 * variants are ignored (that adapter's choices are made afresh: bitwise reproduction holds on the
 * same adapter only). A recorded probed variant (gemv_sg) is checked on this engine first; if it
 * fails, the run cannot be reproduced here and this throws, naming it. Returns how many it took.
 */
export async function importTuning(e: Engine, saved: Record<string, string>): Promise<number> {
  const prefix = tuningKey(e, '');
  let n = 0;
  for (const [k, v] of Object.entries(saved)) {
    if (!k.startsWith(prefix) || !(MATMUL_VARIANTS as readonly string[]).includes(v) || v === 'naive') continue;
    const variant = v as MatmulVariant;
    const cls = k.slice(prefix.length);
    const [transA, transB] = [cls[0] === 'T', cls[1] === 'T'];
    if (PROBED_VARIANTS.includes(variant) && !variantChecked(e, variant, transA, transB)) {
      if (!variantAvailable(e, variant) || !(await probeVariant(e, variant, transA, transB))) {
        throw new EngineError('matmul.importTuning', `the recorded kernel '${variant}' for shape class ${cls} fails its correctness check on this device (or the device lacks its feature)`, 'this run cannot be repeated bit for bit here; start without the recorded tuning to choose kernels afresh');
      }
    }
    e.tuning.set(k, variant);
    n++;
  }
  return n;
}
