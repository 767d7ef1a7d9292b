// common.wgsl — helpers prepended to every shader module by shaders/index.ts.
// Conventions for every kernel file (see src/engine/README.md):
// - bindings in @group(0): read-only inputs, then outputs, then `params: Params` (uniform), from 0;
// - runtime sizes in the `Params` uniform struct, compile-time choices in `override` constants;
// - f32 compute; 16-bit storage is unpacked from u32 words.

// WGSL's tanh may return NaN for |x| > ~88 on some drivers (gpuweb #4458). tanh(15) rounds to 1
// in f32, so clamping there changes no result.
fn tanh_safe(x: f32) -> f32 {
  return tanh(clamp(x, -15.0, 15.0));
}

// A finite stand-in for -inf in masked softmax/logsumexp: exp(NEG_BIG - m) is 0 without NaNs
// from (-inf) - (-inf).
const NEG_BIG: f32 = -1.0e30;

// True for NaN and ±Inf (bit test; float comparisons with NaN are unreliable on some drivers).
fn not_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) >= 0x7f800000u;
}

// Linear invocation index of a 1-D grid folded into (x, y) when it exceeds 65535 workgroups
// (Engine.grid). `wg` is the workgroup size along x.
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}
