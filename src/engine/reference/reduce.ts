// float64 references for ops/reduce.ts: sums over one axis or down to a broadcast shape, and
// broadcasting up. Plain loops over coordinates, in the order a textbook would write them.

import { coordsOf, operandIndex } from './elementwise.ts';

function numel(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Σ over `axis` (negative from the end) of x with shape `shape`; the axis is dropped. */
export function sumRef(x: Float64Array, shape: readonly number[], axis: number): Float64Array {
  const a = axis < 0 ? axis + shape.length : axis;
  // View x as [outer, L, inner]: outer = dims before the axis, inner = dims after it.
  const outer = numel(shape.slice(0, a));
  const L = shape[a];
  const inner = numel(shape.slice(a + 1));
  const y = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let l = 0; l < L; l++) s += x[(o * L + l) * inner + i];
      y[o * inner + i] = s;
    }
  }
  return y;
}

/** Mean over `axis`: the sum divided by the axis length (0/0 = NaN for an empty axis, as torch). */
export function meanRef(x: Float64Array, shape: readonly number[], axis: number): Float64Array {
  const a = axis < 0 ? axis + shape.length : axis;
  return sumRef(x, shape, axis).map((v) => v / shape[a]);
}

/** Σ of x (shape xShape) into `shape`: every x element adds into the element it broadcasts from. */
export function sumToRef(x: Float64Array, xShape: readonly number[], shape: readonly number[]): Float64Array {
  const y = new Float64Array(numel(shape));
  for (let i = 0; i < x.length; i++) y[operandIndex(coordsOf(i, xShape), shape)] += x[i];
  return y;
}

/** x (shape xShape) repeated along its size-1 or missing leading dims to `shape`. */
export function broadcastToRef(x: Float64Array, xShape: readonly number[], shape: readonly number[]): Float64Array {
  const y = new Float64Array(numel(shape));
  for (let i = 0; i < y.length; i++) y[i] = x[operandIndex(coordsOf(i, shape), xShape)];
  return y;
}
