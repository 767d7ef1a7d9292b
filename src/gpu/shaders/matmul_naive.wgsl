// matmul_naive.wgsl — out[b] = alpha·op(A[b])·op(B[b]) (+ out[b] if accumulate), one output per
// invocation. The on-device oracle for the faster variants (kernels.md §11 "gemm_ref"); never
// selected for speed. Params, bindings and layouts: matmul_common.wgsl (prepended);
// B is read through b_at/b_quad of the matmul_b_*_common.wgsl include for its storage type.




@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = gid.y;
  let z = gid.z;
  if (row >= params.M || col >= params.N) { return; }
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  var acc = 0.0;
  for (var k = 0u; k < params.K; k++) {
    acc = fma(elem_a(baseA, row, k), elem_b(baseB, k, col), acc);
  }
  store_out(params.offOut + z * params.strideOut + row * params.N + col, acc);
}
