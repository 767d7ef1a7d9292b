// matmul_gemv.wgsl — GEMM for few rows (M ≤ 16: decoding, GEMV-like products, kernels.md §2.5):
// one workgroup of 64 invocations per output row m and group of 4 columns n0..n0+3, the K
// reduction split across the 64 invocations (lane i takes k = i, i + 64, …: consecutive lanes read
// consecutive k, i.e. contiguous memory for x·Wᵀ), then a fixed-order tree reduction in workgroup
// memory. matmul_gemv_sg.wgsl is the same kernel with a subgroupAdd reduction (feature-detected).
// Params, bindings, layouts, elem_a/elem_b/store_out: matmul_common.wgsl (prepended).



var<workgroup> partial: array<vec4<f32>, 64>;

@compute @workgroup_size(64)
fn matmul_gemv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = wid.x * 4u;
  let m = wid.y;
  let z = wid.z;
  let acc = strided_row_dot(params.offA + z * params.strideA, params.offB + z * params.strideB, m, n0, lid, 64u);
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let o = params.offOut + z * params.strideOut + m * params.N + n0;
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < params.N) { store_out(o + j, partial[0][j]); }
    }
  }
}
