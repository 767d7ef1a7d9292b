// Reductions over dimensions and their adjoint, broadcasting:
//   sum(x, axis), mean(x, axis)    one axis (negative counts from the end), dropped or kept
//   sumTo(x, shape)                sum over every dim where `shape` is 1 (or absent): the
//                                  gradient of a broadcast operand (add/mul backward)
//   broadcastTo(x, shape)          repeat x along its size-1 (or absent) dims, NumPy rules
// sum/mean backward broadcasts dy back along the axis (times 1/L for mean); sumTo and
// broadcastTo are each other's backward.
//
// Every output element has one writer and a fixed summation order (deterministic; WGSL has no
// float atomics). Shader: src/gpu/shaders/reduce.wgsl. Reference: src/engine/reference/reduce.ts.
//
// Also exported for ops/elementwise.ts: collapseDims, the shape bookkeeping shared by every
// strided kernel here and in elementwise.wgsl.

import { f32 } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import { numel, type Tensor } from '../tensor.ts';
import { expectDtype } from './util.ts';

/** Most dims a strided kernel takes, after collapsing (the shaders hold 2 vec4s per list). */
export const MAX_DIMS = 6;

/** An iteration shape with one element-stride list per operand (0 where it is broadcast). */
export interface Collapsed {
  dims: number[];
  strides: number[][];
}

/**
 * Collapses the iteration shape `out` for a kernel that reads operands broadcast against it.
 * Each operand shape is right-aligned with `out`, every dim 1 or equal to out's (callers check).
 * Size-1 dims of `out` are dropped and neighbouring dims merged when every operand either spans
 * both or is broadcast along both, e.g. [T, C] + [C] is 2 dims however many leading 1s there are.
 * Strides are in elements of each operand's own row-major layout. `out` must have no zero dim.
 */
export function collapseDims(op: string, out: readonly number[], operands: readonly (readonly number[])[]): Collapsed {
  const rank = out.length;
  const padded = operands.map((s) => [...new Array<number>(rank - s.length).fill(1), ...s]);
  const dims: number[] = [];
  const spans: boolean[][] = operands.map(() => []); // spans[o][k]: operand o varies along dim k
  for (let d = 0; d < rank; d++) {
    if (out[d] === 1) continue;
    const pattern = padded.map((p) => p[d] !== 1);
    const last = dims.length - 1;
    if (last >= 0 && pattern.every((f, o) => f === spans[o][last])) {
      dims[last] *= out[d];
    } else {
      dims.push(out[d]);
      pattern.forEach((f, o) => spans[o].push(f));
    }
  }
  if (dims.length === 0) {
    // A one-element iteration space: every operand is a single element too.
    dims.push(1);
    spans.forEach((s) => s.push(true));
  }
  if (dims.length > MAX_DIMS) {
    throw new ShapeError(op, `broadcasting ${operands.map(fmtShape).join(' with ')} against ${fmtShape(out)} needs ${dims.length} dims after merging, over the kernels' ${MAX_DIMS}`, 'reshape the operands so fewer dims alternate between broadcast and not');
  }
  // Innermost first: an operand's stride grows only over the dims it spans.
  const strides = spans.map((s) => {
    const st = new Array<number>(dims.length).fill(0);
    let run = 1;
    for (let k = dims.length - 1; k >= 0; k--) {
      if (s[k]) {
        st[k] = run;
        run *= dims[k];
      }
    }
    return st;
  });
  return { dims, strides };
}

/** True when `small` broadcasts to `big` (right-aligned, each dim 1 or equal). */
export function broadcastsTo(small: readonly number[], big: readonly number[]): boolean {
  if (small.length > big.length) return false;
  const off = big.length - small.length;
  return small.every((d, i) => d === 1 || d === big[off + i]);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A dims/strides list padded to the shaders' 2 × vec4<u32> (8 fields). */
function pad8(v: number[]): number[] {
  return [...v, ...new Array<number>(8 - v.length).fill(0)];
}

/** Kernel choice for a reduction; exposed for tests and tuning (defaults come from the shape). */
export interface ReduceKernelOptions {
  /** 'thread': one invocation per output; 'group': one workgroup per output. */
  kernel?: 'thread' | 'group';
  /** Lanes of the group kernel (default 64 below 4096 reduced elements, else 256). */
  wg?: 64 | 256;
}

/**
 * Which kernel serves a reduction of m outputs × r elements. Short loops go to one invocation per
 * output. A long reduction over the innermost dim gets a workgroup per output (its lanes read
 * consecutive addresses). A long one over outer dims stays one-per-output when there are enough
 * outputs to fill a GPU (neighbouring invocations read neighbouring addresses), else a workgroup.
 */
function pickKernel(m: number, r: number, innermostReduced: boolean): 'thread' | 'group' {
  if (r <= 32) return 'thread';
  if (innermostReduced) return 'group';
  return m >= 2048 ? 'thread' : 'group';
}

/**
 * Dispatches y = s · Σ over the dims where `keep` (x's shape with 1s at the summed dims, or a
 * right-aligned suffix of it) is 1. `outShape` is any shape with the kept dims' element count.
 * An empty reduction (a summed dim of size 0) gives `empty` (0 for sums, NaN for means).
 */
function runReduce(op: string, x: Tensor, keep: readonly number[], outShape: readonly number[], s: number, empty: number, opts: ReduceKernelOptions = {}): Tensor {
  const e = x.engine;
  const y = e.empty(outShape, 'f32', `${op}.y`);
  if (y.size === 0) return y;
  if (x.size === 0) {
    e.fill(y, empty);
    return y;
  }
  // Operand 0 (keep) marks kept dims with a non-zero stride; operand 1 (x itself, spanning every
  // dim, so it never blocks a merge) gives x's own strides.
  const c = collapseDims(op, x.shape, [keep, x.shape]);
  const xStrides = c.strides[1];
  const kdim: number[] = [];
  const kstride: number[] = [];
  const rdim: number[] = [];
  const rstride: number[] = [];
  c.dims.forEach((d, k) => {
    const kept = c.strides[0][k] !== 0;
    (kept ? kdim : rdim).push(d);
    (kept ? kstride : rstride).push(xStrides[k]);
  });
  const m = numel(kdim);
  const r = numel(rdim);
  if (m !== y.size) throw new ShapeError(op, `internal: ${m} kept elements for output ${fmtShape(outShape)}`);
  const innermostReduced = rstride.length > 0 && rstride[rstride.length - 1] === 1;
  const kernel = opts.kernel ?? pickKernel(m, r, innermostReduced);
  const params = [m, r, kdim.length, rdim.length, f32(s), 0, 0, 0, ...pad8(kdim), ...pad8(kstride), ...pad8(rdim), ...pad8(rstride)];
  if (kernel === 'thread') {
    e.run({ op: `${op}.reduce`, shader: 'reduce', entry: 'reduce_thread', inputs: [x], outputs: [y], params, workgroups: e.grid(m, 256) });
  } else {
    const wg = opts.wg ?? (r >= 4096 ? 256 : 64);
    e.run({ op: `${op}.reduce`, shader: 'reduce', entry: 'reduce_group', inputs: [x], outputs: [y], params, workgroups: e.grid(m, 1), overrides: { WG: wg } });
  }
  return y;
}

/** Dispatches y[outShape] = s · x broadcast from `srcShape` (x's logical shape) to `outShape`. */
function runBroadcast(op: string, x: Tensor, srcShape: readonly number[], outShape: readonly number[], s: number): Tensor {
  const e = x.engine;
  const y = e.empty(outShape, 'f32', `${op}.y`);
  if (y.size === 0) return y;
  const c = collapseDims(op, outShape, [srcShape]);
  const params = [y.size, c.dims.length, f32(s), 0, ...pad8(c.dims), ...pad8(c.strides[0])];
  e.run({ op: `${op}.broadcast`, shader: 'reduce', entry: 'broadcast_scaled', inputs: [x], outputs: [y], params, workgroups: e.grid(y.size, 256) });
  return y;
}

/** `shape` right-aligned against `rank` dims with leading 1s. */
function padTo(shape: readonly number[], rank: number): number[] {
  return [...new Array<number>(rank - shape.length).fill(1), ...shape];
}

/**
 * Sums x over every dim where `shape` has 1 (or no dim: shapes are right-aligned), giving a
 * tensor of exactly `shape`. The adjoint of broadcastTo; add/mul use it for broadcast operands.
 */
export function sumTo(x: Tensor, shape: readonly number[], opts: ReduceKernelOptions = {}): Tensor {
  expectDtype('sumTo', 'x', x, 'f32');
  if (!broadcastsTo(shape, x.shape)) {
    throw new ShapeError('sumTo', `cannot sum ${fmtShape(x.shape)} to ${fmtShape(shape)}: every target dim must be 1 or equal to x's (shapes right-aligned)`);
  }
  const y = runReduce('sumTo', x, padTo(shape, x.rank), shape, 1, 0, opts);
  x.engine.tape.record({
    op: 'sumTo',
    inputs: [x],
    outputs: [y],
    backward: ([dy]) => [runBroadcast('sumTo.backward', dy!, shape, x.shape, 1)],
  });
  return y;
}

/** Repeats x along its size-1 (or missing leading) dims to `shape` (NumPy broadcasting). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  expectDtype('broadcastTo', 'x', x, 'f32');
  if (!broadcastsTo(x.shape, shape)) {
    throw new ShapeError('broadcastTo', `cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}: every dim of x must be 1 or equal to the target's (shapes right-aligned)`);
  }
  const y = runBroadcast('broadcastTo', x, x.shape, shape, 1);
  x.engine.tape.record({
    op: 'broadcastTo',
    inputs: [x],
    outputs: [y],
    backward: ([dy]) => [runReduce('broadcastTo.backward', dy!, padTo(x.shape, shape.length), x.shape, 1, 0)],
  });
  return y;
}

export interface AxisOptions extends ReduceKernelOptions {
  /** Keep the summed axis with size 1 (default: drop it). */
  keepdim?: boolean;
}

/** Resolves a possibly negative axis against x's rank, or throws naming both. */
function resolveAxis(op: string, x: Tensor, axis: number): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= x.rank) {
    throw new ShapeError(op, `axis ${axis} is out of range for ${x.describe()} (rank ${x.rank}; valid: ${-x.rank}..${x.rank - 1})`);
  }
  return a;
}

/** The shared body of sum and mean: y = s · Σ_axis x, backward dx = s · dy broadcast back. */
function axisReduce(op: 'sum' | 'mean', x: Tensor, axis: number, opts: AxisOptions): Tensor {
  expectDtype(op, 'x', x, 'f32');
  const a = resolveAxis(op, x, axis);
  const L = x.shape[a];
  const keep = x.shape.map((d, i) => (i === a ? 1 : d)); // [..., 1, ...]
  const outShape = opts.keepdim ? keep : x.shape.filter((_, i) => i !== a);
  // mean over an empty axis is 0/0 = NaN, as in PyTorch; its backward has nothing to fill.
  const s = op === 'mean' ? 1 / L : 1;
  const y = runReduce(op, x, keep, outShape, s, op === 'mean' ? NaN : 0, opts);
  x.engine.tape.record({
    op,
    inputs: [x],
    outputs: [y],
    backward: ([dy]) => [runBroadcast(`${op}.backward`, dy!, keep, x.shape, s)],
  });
  return y;
}

/** Σ over one axis (negative from the end); the axis is dropped unless opts.keepdim. Length 0 gives 0. */
export function sum(x: Tensor, axis: number, opts: AxisOptions = {}): Tensor {
  return axisReduce('sum', x, axis, opts);
}

/** Mean over one axis (negative from the end); the axis is dropped unless opts.keepdim. Length 0 gives NaN. */
export function mean(x: Tensor, axis: number, opts: AxisOptions = {}): Tensor {
  return axisReduce('mean', x, axis, opts);
}
