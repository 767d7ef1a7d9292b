// dropout.wgsl — inverted dropout with a counter-based mask: y[i] = x[i] · m(i) / (1 − p), where
// m(i) is a hash of (seed, i), so nothing is stored between the forward and the backward. The
// backward dispatches the same entry on dy (y is linear in x with the same mask).
// The hash (ops/dropout.ts states it; reference/dropout.ts implements it in float64 code):
//   key = lowbias32(seed ^ 0x9e3779b9); h(i) = lowbias32(lowbias32(i ^ key) + key); keep iff h(i) >= threshold.

struct Params {
  n: u32,          // elements
  seed: u32,
  threshold: u32,  // round(p · 2^32): hashes below it are dropped
  scale: f32,      // 1 / (1 − p)
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// Chris Wellons' lowbias32 integer hash (u32 multiplication wraps in WGSL).
fn lowbias32(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(256)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= params.n) { return; }
  let key = lowbias32(params.seed ^ 0x9e3779b9u);
  let h = lowbias32(lowbias32(i ^ key) + key);
  y[i] = select(0.0, x[i] * params.scale, h >= params.threshold);
}
