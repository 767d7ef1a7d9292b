// matmul_common.wgsl — what every matmul_*.wgsl kernel shares, prepended to each by index.ts:
// the Params uniform, the layout overrides, the bindings, and bounds-checked element loads.
//   out[b] (+)= alpha · op(A[b]) · op(B[b]);  A is [M, K] row-major, or [K, M] when TRANS_A;
//   B is [K, N], or [N, K] when TRANS_B; out is [M, N]. Matrix b of each operand starts at
//   off + b·stride (elements; stride 0 = a shared operand).
// A is bound as a vec4 array so kernels can use vec4 loads (scalar element i is a[i >> 2][i & 3]).
// B (binding 1) comes from one of the matmul_b_*_common.wgsl includes, prepended before this file by
// index.ts for the B operand's storage type (f32, bf16, f16): kernels read it only through
// b_at(i) / b_quad(q), widened to f32. A and out are always f32; products accumulate in f32.
// The output is a scalar array and every element has exactly one writer.

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  offA: u32, offB: u32, offOut: u32,
  strideA: u32, strideB: u32, strideOut: u32,
  alpha: f32,
  accumulate: u32,  // 1: out += alpha·A·B
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
// binding 1: B, declared by the matmul_b_*_common.wgsl include (b_at, b_quad)
// NOTE: out is a scalar array: a store to one lane of a vec4 may be lowered as a read-modify-write
// of the whole vector (WGSL memory model), which would race with the neighbour writing the next lane.
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// op(A)[row, k], 0 outside the matrix.
fn elem_a(base: u32, row: u32, k: u32) -> f32 {
  if (row >= params.M || k >= params.K) { return 0.0; }
  var i: u32;
  if (TRANS_A) { i = base + k * params.M + row; } else { i = base + row * params.K + k; }
  return a[i >> 2u][i & 3u];
}

// op(B)[k, col], 0 outside the matrix.
fn elem_b(base: u32, k: u32, col: u32) -> f32 {
  if (k >= params.K || col >= params.N) { return 0.0; }
  var i: u32;
  if (TRANS_B) { i = base + col * params.K + k; } else { i = base + k * params.N + col; }
  return b_at(i);
}

// out[i] = alpha·v (+ out[i] when accumulating), scalar element i.
fn store_out(i: u32, v: f32) {
  var r = params.alpha * v;
  if (params.accumulate == 1u) { r += out[i]; }
  out[i] = r;
}

// Σ_k op(A)[m, k]·op(B)[k, n0..n0+3] over k = first, first + step, … (one invocation's share of a
// K split; the few-row kernels reduce the shares across the workgroup).
fn strided_row_dot(baseA: u32, baseB: u32, m: u32, n0: u32, first: u32, step: u32) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var k = first; k < params.K; k += step) {
    let x = elem_a(baseA, m, k);
    acc = fma(vec4<f32>(x), vec4<f32>(elem_b(baseB, k, n0), elem_b(baseB, k, n0 + 1u), elem_b(baseB, k, n0 + 2u), elem_b(baseB, k, n0 + 3u)), acc);
  }
  return acc;
}
