// float64 references for ops/elementwise.ts, written from NumPy's broadcasting rule rather than
// from the kernels: shapes are right-aligned, missing leading dims count as 1, and each pair of
// dims must be equal or one of them 1, which then repeats along the other.

/** The broadcast shape of a and b, or an Error naming both. */
export function broadcastShapeRef(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let d = 0; d < rank; d++) {
    const da = d < rank - a.length ? 1 : a[d - (rank - a.length)];
    const db = d < rank - b.length ? 1 : b[d - (rank - b.length)];
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da); // a size-1 dim takes the other size (also 0)
  }
  return out;
}

/**
 * Flat index into an operand of shape `s` for the output coordinates `coord` (rank ≥ s.length):
 * the operand's dims align with the last s.length coordinates; size-1 dims always read index 0.
 */
export function operandIndex(coord: readonly number[], s: readonly number[]): number {
  const off = coord.length - s.length;
  let idx = 0;
  for (let d = 0; d < s.length; d++) idx = idx * s[d] + (s[d] === 1 ? 0 : coord[off + d]);
  return idx;
}

/** Row-major coordinates of flat index i in `shape`. */
export function coordsOf(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

function broadcastBinary(a: Float64Array, aShape: readonly number[], b: Float64Array, bShape: readonly number[], f: (x: number, y: number) => number): Float64Array {
  const shape = broadcastShapeRef(aShape, bShape);
  let n = 1;
  for (const d of shape) n *= d;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = coordsOf(i, shape);
    y[i] = f(a[operandIndex(c, aShape)], b[operandIndex(c, bShape)]);
  }
  return y;
}

/** a + b, broadcast; the result has shape broadcastShapeRef(aShape, bShape). */
export function addRef(a: Float64Array, aShape: readonly number[], b: Float64Array, bShape: readonly number[]): Float64Array {
  return broadcastBinary(a, aShape, b, bShape, (x, y) => x + y);
}

/** a · b, broadcast. */
export function mulRef(a: Float64Array, aShape: readonly number[], b: Float64Array, bShape: readonly number[]): Float64Array {
  return broadcastBinary(a, aShape, b, bShape, (x, y) => x * y);
}

/** a − b, broadcast. */
export function subRef(a: Float64Array, aShape: readonly number[], b: Float64Array, bShape: readonly number[]): Float64Array {
  return broadcastBinary(a, aShape, b, bShape, (x, y) => x - y);
}

/** s · x. */
export function scaleRef(x: Float64Array, s: number): Float64Array {
  return x.map((v) => s * v);
}
