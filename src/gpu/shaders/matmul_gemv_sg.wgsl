// matmul_gemv_sg.wgsl — matmul_gemv.wgsl with the K reduction done by subgroupAdd (used only when
// the device has the `subgroups` feature; correct for any subgroup size 1…64: lavapipe 8,
// SwiftShader 4, GPUs 16–64). Each subgroup reduces its lanes; its first lane stores the sum; one
// invocation then adds the subgroup sums in subgroup order (deterministic on a given adapter).
// Params, bindings, layouts, elem_a/elem_b/store_out: matmul_common.wgsl (prepended).
enable subgroups;



var<workgroup> sg_sums: array<vec4<f32>, 64>;

@compute @workgroup_size(64)
fn matmul_gemv_sg(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let n0 = wid.x * 4u;
  let m = wid.y;
  let z = wid.z;
  let acc = strided_row_dot(params.offA + z * params.strideA, params.offB + z * params.strideB, m, n0, lid, 64u);
  let s = subgroupAdd(acc);
  // NOTE: local_invocation_index / subgroup_size is the subgroup's index for 1-D workgroups,
  // which is how Dawn packs them (lanes of a subgroup are consecutive invocations).
  if (lane == 0u) { sg_sums[lid / sg_size] = s; }
  workgroupBarrier();
  if (lid == 0u) {
    var total = vec4<f32>(0.0);
    let groups = (64u + sg_size - 1u) / sg_size;
    for (var g = 0u; g < groups; g++) { total += sg_sums[g]; }
    let o = params.offOut + z * params.strideOut + m * params.N + n0;
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < params.N) { store_out(o + j, total[j]); }
    }
  }
}
