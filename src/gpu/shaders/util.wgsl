// util.wgsl — the engine's own elementwise helpers (not autograd ops): fill, dst += src.

struct Params {
  n: u32,      // elements
  value: f32,  // fill value (unused by accumulate)
}

@group(0) @binding(0) var<storage, read_write> out_fill: array<f32>;
@group(0) @binding(1) var<uniform> fill_params: Params;

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i < fill_params.n) { out_fill[i] = fill_params.value; }
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> acc_params: Params;

@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i < acc_params.n) { dst[i] = dst[i] + src[i]; }
}
