// matmul_rowvec.wgsl — few-row GEMM without any reduction across invocations: one invocation per
// output row m and 4 columns n0..n0+3, running the whole K loop itself (no workgroup memory, no
// barriers). The other few-row kernels (matmul_gemv*.wgsl) split K across a workgroup, which wins
// when K is long and there are few columns; this one wins when columns are many and barriers are
// expensive (CPU adapters run barriers as coroutine switches, kernels.md §10). The tuner decides.
// With VEC_A/VEC_B (the host sets them when K, the offsets and strides are multiples of 4) the x·Wᵀ
// layout (A rows and B = W rows contiguous along k) reads vec4s along k: 5 loads per 16 FMAs.
// Params, bindings, layouts, elem_a/elem_b/store_out: matmul_common.wgsl (prepended);
// B is read through b_at/b_quad of the matmul_b_*_common.wgsl include for its storage type.

override VEC_A: bool = false;
override VEC_B: bool = false;

@compute @workgroup_size(64)
fn matmul_rowvec(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m = gid.y;
  let z = gid.z;
  if (n0 >= params.N || m >= params.M) { return; }
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  var acc = vec4<f32>(0.0);
  if (VEC_A && VEC_B && !TRANS_A && TRANS_B && n0 + 3u < params.N) {
    // out[m, n0 + j] = Σ_k A[m, k]·W[n0 + j, k], four k at a time.
    let rowA = (baseA + m * params.K) >> 2u;
    let K4 = params.K >> 2u;
    for (var k4 = 0u; k4 < K4; k4++) {
      let x = a[rowA + k4];
      acc += vec4<f32>(
        dot(x, b_quad(((baseB + n0 * params.K) >> 2u) + k4)),
        dot(x, b_quad(((baseB + (n0 + 1u) * params.K) >> 2u) + k4)),
        dot(x, b_quad(((baseB + (n0 + 2u) * params.K) >> 2u) + k4)),
        dot(x, b_quad(((baseB + (n0 + 3u) * params.K) >> 2u) + k4)));
    }
    let o = params.offOut + z * params.strideOut + m * params.N + n0;
    for (var j = 0u; j < 4u; j++) { store_out(o + j, acc[j]); }
    return;
  }
  acc = strided_row_dot(baseA, baseB, m, n0, 0u, 1u); // any layout, scalar loads
  let o = params.offOut + z * params.strideOut + m * params.N + n0;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < params.N) { store_out(o + j, acc[j]); }
  }
}
