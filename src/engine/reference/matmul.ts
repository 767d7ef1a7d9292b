// float64 reference GEMM: out[M, N] = op(A)·op(B), A [M, K] or [K, M] (transA), B [K, N] or [N, K] (transB).
export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number, transA = false, transB = false): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[k * M + i] : a[i * K + k];
        const bv = transB ? b[j * K + k] : b[k * N + j];
        s += av * bv;
      }
      out[i * N + j] = s;
    }
  }
  return out;
}

/** Batched: `batch` matrices at the given element strides (0 = shared operand). */
export function batchedMatmulRef(a: Float64Array, b: Float64Array, batch: number, M: number, N: number, K: number, transA: boolean, transB: boolean, strideA: number, strideB: number): Float64Array {
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    out.set(matmulRef(a.subarray(z * strideA), b.subarray(z * strideB), M, N, K, transA, transB), z * M * N);
  }
  return out;
}
