// float64 reference for Gemma-2 RMSNorm (spec gemma2-and-formats.md §1.4), plain loops:
//   y[r, j] = x[r, j] · (mean_k x[r, k]² + eps)^−½ · (1 + w[j])
// x is [rows, C] row-major (any leading shape flattened), w is [C].
export function rmsnormRef(x: Float64Array, w: Float64Array, eps = 1e-6): Float64Array {
  const C = w.length;
  const rows = x.length / C;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    // mean of squares over the C features of this row
    let ss = 0;
    for (let j = 0; j < C; j++) ss += x[base + j] * x[base + j];
    const rstd = 1 / Math.sqrt(ss / C + eps);
    for (let j = 0; j < C; j++) y[base + j] = x[base + j] * rstd * (1 + w[j]);
  }
  return y;
}
