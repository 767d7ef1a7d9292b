// matmul_gemv.wgsl — GEMM for few rows (M ≤ 16: decoding, GEMV-like products, kernels.md §2.5):
// one workgroup of 64 invocations per output row m and group of 4 columns n0..n0+3, the K
// reduction split across the 64 invocations (lane i takes k = i, i + 64, …: consecutive lanes read
// consecutive k, i.e. contiguous memory for x·Wᵀ), then a fixed-order tree reduction in workgroup
// memory. matmul_gemv_sg.wgsl is the same kernel with a subgroupAdd reduction (feature-detected).
// Columns: workgroup x takes column groups x, x + nwg.x, … (4 columns each), so N may exceed
// 4 × 65535 (vocabularies above 262,140) with the grid capped at the per-dimension limit.
// Params, bindings, layouts, elem_a/elem_b/store_out: matmul_common.wgsl (prepended);
// B is read through b_at/b_quad of the matmul_b_*_common.wgsl include for its storage type.



var<workgroup> partial: array<vec4<f32>, 64>;

@compute @workgroup_size(64)
fn matmul_gemv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = wid.y;
  let z = wid.z;
  let groups = (params.N + 3u) / 4u;
  // The loop bound and step are uniform across the workgroup (barriers inside).
  for (var g = wid.x; g < groups; g += nwg.x) {
    let n0 = g * 4u;
    let acc = strided_row_dot(params.offA + z * params.strideA, params.offB + z * params.strideB, m, n0, lid, 64u);
    workgroupBarrier();  // the previous column group's read of partial[0] is done
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
}
