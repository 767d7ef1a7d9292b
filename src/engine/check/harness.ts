// The GPU op suite's harness. Test bodies are plain async functions of an Engine, so the same
// cases run under Node's Dawn adapter (e2e/gpu/node.test.ts), in headless Chromium
// (e2e/gpu/browser/main.ts, driven by e2e/chromium.test.ts) and on the user's own GPU (the
// studio's Check screen: suite.ts, run by worker/check.ts). No skips: a case either passes or
// throws a message saying which values differ and by how much.
//
// measureErrors(fn) also records what every comparison in fn measured (largest |error| and how much
// of its tolerance it used), for a report that shows the margin of the cases that pass.

import type { Engine } from '../engine.ts';
import type { Tensor, DType } from '../tensor.ts';
import { numericGrads, type RefFn } from '../reference/finite_diff.ts';
import { Rng } from '../util/rng.ts';

export interface GpuCase {
  /** "<op>: <what>", e.g. "rmsnorm: rows=7 C=33". */
  name: string;
  run: (e: Engine) => Promise<void>;
}

export interface Tol {
  atol: number;
  rtol: number;
}

/** What one expectClose comparison measured. */
export interface Measurement {
  /** The comparison's label, e.g. "rmsnorm [7,33] forward output 0". */
  what: string;
  /** Elements compared. */
  n: number;
  /** The largest |actual − expected| (Infinity when a value is NaN). */
  maxAbsError: number;
  /** The largest |actual − expected| / (atol + rtol·|expected|): ≤ 1 passes (Infinity for NaN, or an error where the tolerance is 0). */
  toleranceUsed: number;
  tol: Tol;
}

let sink: ((m: Measurement) => void) | null = null;

/**
 * Runs fn and returns every comparison expectClose made meanwhile (also those of a failing case,
 * up to the one that threw: `error` is what it threw). One at a time: calls do not nest.
 */
export async function measureErrors(fn: () => Promise<void>): Promise<{ measurements: Measurement[]; error: unknown }> {
  if (sink) throw new Error('measureErrors: already measuring (cases run one at a time)');
  const measurements: Measurement[] = [];
  sink = (m) => measurements.push(m);
  try {
    await fn();
    return { measurements, error: undefined };
  } catch (error) {
    return { measurements, error };
  } finally {
    sink = null;
  }
}

/**
 * Throws unless |a - e| <= atol + rtol·|e| everywhere (NaN never passes). The message names the
 * worst element, its index, both values and how many elements failed.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  let bad = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  let maxAbsError = 0;
  let toleranceUsed = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const lim = tol.atol + tol.rtol * Math.abs(e);
    const err = Math.abs(a - e);
    const excess = Number.isNaN(err) ? Infinity : err - lim;
    if (!(err <= lim)) bad++;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
    maxAbsError = Math.max(maxAbsError, Number.isNaN(err) ? Infinity : err);
    toleranceUsed = Math.max(toleranceUsed, Number.isNaN(err) ? Infinity : err === 0 ? 0 : err / lim);
  }
  sink?.({ what, n: actual.length, maxAbsError, toleranceUsed, tol });
  if (bad > 0) {
    throw new Error(
      `${what}: ${bad}/${actual.length} elements outside atol=${tol.atol} rtol=${tol.rtol}; worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]} (|diff| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)})`,
    );
  }
}

export interface InputSpec {
  data: Float64Array | number[];
  shape: number[];
  dtype?: DType;
  /** Check this input's gradient (default: true for f32 inputs). */
  grad?: boolean;
}

export interface OpCheck {
  name: string;
  inputs: InputSpec[];
  /** The op on the GPU; return one output or several. */
  gpu: (xs: Tensor[]) => Tensor | Tensor[];
  /** The float64 CPU reference of the same outputs. */
  cpu: RefFn;
  fwd: Tol;
  bwd: Tol;
  /** Outputs that carry no gradient (detached); they get no seed. */
  detached?: number[];
  /** Skip the backward check entirely (forward-only op such as a dtype conversion). */
  forwardOnly?: boolean;
  /** Finite-difference step (default 1e-5). */
  h?: number;
  seed?: number;
}

/**
 * Forward against the CPU reference, then backward (with a random upstream gradient) against
 * central finite differences of that reference.
 */
export async function checkOp(e: Engine, c: OpCheck): Promise<void> {
  const rng = new Rng(c.seed ?? 1234);
  // Round inputs to what the GPU sees (f32), so the reference computes on identical values.
  const xs64 = c.inputs.map((s) => (s.dtype === 'i32' || s.dtype === 'u32' ? Float64Array.from(s.data) : Float64Array.from(Float32Array.from(s.data))));
  const wantsGrad = c.inputs.map((s) => !c.forwardOnly && (s.grad ?? (s.dtype ?? 'f32') === 'f32'));
  const xs = c.inputs.map((s, i) =>
    e.tensor(s.dtype === 'i32' || s.dtype === 'u32' ? Array.from(s.data) : Float32Array.from(s.data), s.shape, { dtype: s.dtype ?? 'f32', requiresGrad: wantsGrad[i], label: `${c.name}.in${i}` }),
  );
  const outRaw = c.gpu(xs);
  const outs = Array.isArray(outRaw) ? outRaw : [outRaw];
  const ref = c.cpu(xs64.map((x) => Float64Array.from(x)));
  if (ref.length !== outs.length) throw new Error(`${c.name}: GPU gave ${outs.length} outputs, reference ${ref.length}`);
  for (let k = 0; k < outs.length; k++) {
    expectClose(await outs[k].read(), ref[k], c.fwd, `${c.name} forward output ${k}`);
  }
  if (!c.forwardOnly && wantsGrad.some(Boolean)) {
    const detached = new Set(c.detached ?? []);
    const dy = ref.map((r, k) => (detached.has(k) ? new Float64Array(0) : rng.array(r.length)));
    const roots: Tensor[] = [];
    const seeds: Tensor[] = [];
    outs.forEach((o, k) => {
      if (detached.has(k)) return;
      roots.push(o);
      seeds.push(e.tensor(Float32Array.from(dy[k]), o.shape));
    });
    e.backward(roots, { seeds });
    const wrt = wantsGrad.flatMap((w, i) => (w ? [i] : []));
    const num = numericGrads(c.cpu, xs64.map((x) => Float64Array.from(x)), dy.map((d, k) => (detached.has(k) ? (undefined as unknown as Float64Array) : d)), wrt, c.h ?? 1e-5);
    for (let j = 0; j < wrt.length; j++) {
      const t = xs[wrt[j]];
      if (!t.grad) throw new Error(`${c.name}: input ${wrt[j]} received no gradient`);
      expectClose(await t.grad.read(), num[j], c.bwd, `${c.name} gradient of input ${wrt[j]}`);
    }
    seeds.forEach((s) => s.dispose());
  }
  xs.forEach((x) => x.dispose());
  outs.forEach((o) => o.dispose());
}

export { Rng };
