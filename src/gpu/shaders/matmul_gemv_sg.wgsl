// matmul_gemv_sg.wgsl — matmul_gemv.wgsl with the K reduction done by subgroupAdd (used only when
// the device has the `subgroups` feature; correct for any subgroup size 1…64: lavapipe 8,
// SwiftShader 4, GPUs 16–64). Each subgroup reduces its lanes; its first lane stores the sum; one
// invocation then adds the subgroup sums in subgroup order (deterministic on a given adapter).
// Same Params / bindings / layouts as matmul_naive.wgsl.
enable subgroups;

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  offA: u32, offB: u32, offOut: u32,
  strideA: u32, strideB: u32, strideOut: u32,
  alpha: f32,
  accumulate: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> sg_sums: array<vec4<f32>, 64>;

fn gemv_a(base: u32, row: u32, k: u32) -> f32 {
  var i: u32;
  if (TRANS_A) { i = base + k * params.M + row; } else { i = base + row * params.K + k; }
  return a[i >> 2u][i & 3u];
}

fn gemv_b(base: u32, k: u32, col: u32) -> f32 {
  if (col >= params.N) { return 0.0; }
  var i: u32;
  if (TRANS_B) { i = base + col * params.K + k; } else { i = base + k * params.N + col; }
  return b[i >> 2u][i & 3u];
}

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
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  var acc = vec4<f32>(0.0);
  for (var k = lid; k < params.K; k += 64u) {
    let x = gemv_a(baseA, m, k);
    acc = fma(vec4<f32>(x), vec4<f32>(gemv_b(baseB, k, n0), gemv_b(baseB, k, n0 + 1u), gemv_b(baseB, k, n0 + 2u), gemv_b(baseB, k, n0 + 3u)), acc);
  }
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
      if (n0 + j < params.N) {
        let e = o + j;
        var v = params.alpha * total[j];
        if (params.accumulate == 1u) { v += out[e >> 2u][e & 3u]; }
        out[e >> 2u][e & 3u] = v;
      }
    }
  }
}
