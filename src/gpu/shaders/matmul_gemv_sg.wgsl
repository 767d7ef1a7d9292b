// matmul_gemv_sg.wgsl — matmul_gemv.wgsl with the K reduction done by subgroupAdd (used only when
// the device has the `subgroups` feature, and only after ops/matmul.ts's probe has checked it on
// this adapter). Correct for any subgroup size and any assignment of invocations to subgroups:
// WebGPU guarantees neither that a subgroup holds consecutive invocations nor which ones, so the
// kernel never computes a subgroup index. Instead each subgroup elects one invocation, which
// stores the subgroup's sum in its OWN slot of a 64-slot array; every other invocation stores 0 in
// its slot. Every slot has exactly one writer, and the slots sum to the total whatever the
// layout: eight invocations add 8 slots each, then one adds the 8 results (fixed order, so the
// result is deterministic for a given subgroup assignment).
// Columns: workgroup x takes column groups x, x + nwg.x, … (4 columns each), so N may exceed
// 4 × 65535 (vocabularies above 262,140) with the grid capped at the per-dimension limit.
// Params, bindings, layouts, elem_a/elem_b/store_out: matmul_common.wgsl (prepended);
// B is read through b_at/b_quad of the matmul_b_*_common.wgsl include for its storage type.
enable subgroups;

var<workgroup> slots: array<vec4<f32>, 64>;
var<workgroup> eighths: array<vec4<f32>, 8>;

@compute @workgroup_size(64)
fn matmul_gemv_sg(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let m = wid.y;
  let z = wid.z;
  let groups = (params.N + 3u) / 4u;
  // The loop bound and step are uniform across the workgroup (barriers and subgroupAdd inside).
  for (var g = wid.x; g < groups; g += nwg.x) {
    let n0 = g * 4u;
    let acc = strided_row_dot(params.offA + z * params.strideA, params.offB + z * params.strideB, m, n0, lid, 64u);
    let s = subgroupAdd(acc);
    workgroupBarrier();  // the previous column group's reads of slots/eighths are done
    slots[lid] = select(vec4<f32>(0.0), s, subgroupElect());
    workgroupBarrier();
    if (lid < 8u) {
      var t = vec4<f32>(0.0);
      for (var j = 0u; j < 8u; j++) { t += slots[lid * 8u + j]; }
      eighths[lid] = t;
    }
    workgroupBarrier();
    if (lid == 0u) {
      var total = vec4<f32>(0.0);
      for (var j = 0u; j < 8u; j++) { total += eighths[j]; }
      let o = params.offOut + z * params.strideOut + m * params.N + n0;
      for (var j = 0u; j < 4u; j++) {
        if (n0 + j < params.N) { store_out(o + j, total[j]); }
      }
    }
  }
}
