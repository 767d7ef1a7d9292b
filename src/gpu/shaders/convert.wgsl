// convert.wgsl — widens 16-bit *storage* tensors (bf16, f16) to f32. Host side:
// src/engine/ops/convert.ts (toF32). Frozen weights only: there is no backward.
//
// Storage layout (tensor.ts): two 16-bit values per u32 word, little-endian, so element 2i is the
// low half of word i and element 2i+1 the high half. A tensor with an odd element count has a
// half-filled last word; its high half converts into the output's padding (the engine rounds
// every binding up to 16 bytes, so the vec2 store stays inside the f32 output's binding).
//
// - bf16 is the upper half of an f32 bit pattern (gemma2-and-formats.md §3): shift it back up.
//   Exact for every value including ±0, subnormals, ±inf and NaN (pure integer ops).
// - f16 uses the core builtin unpack2x16float (no `shader-f16` feature needed; SwiftShader has
//   none). Every f16 value, subnormals included, is exactly representable in f32.

struct Params {
  words: u32,  // u32 words = ceil(elements / 2)
}

@group(0) @binding(0) var<storage, read> packed: array<u32>;
@group(0) @binding(1) var<storage, read_write> y2: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn bf16_to_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= params.words) { return; }
  let w = packed[i];
  y2[i] = vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
}

@compute @workgroup_size(256)
fn f16_to_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= params.words) { return; }
  y2[i] = unpack2x16float(packed[i]);
}
