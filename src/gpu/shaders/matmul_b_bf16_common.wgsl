// matmul_b_bf16_common.wgsl — the B operand (binding 1) stored as bf16, widened in the loads (see
// matmul_b_f32_common.wgsl for the family). Storage (tensor.ts): two 16-bit values per u32, element
// 2j in the low half of word j; bound as vec2<u32> so b_quad is one 8-byte load of 4 elements. bf16
// is the upper half of an f32 bit pattern: widening is a shift (exact for every value, no
// `shader-f16` needed). The binding is rounded up to 16 bytes by the engine, so the vec2 holding
// an odd tensor's half-filled last word is inside it.

@group(0) @binding(1) var<storage, read> b_buf: array<vec2<u32>>;

fn b_at(i: u32) -> f32 {
  let w = b_buf[i >> 2u][(i >> 1u) & 1u];
  return bitcast<f32>((w >> ((i & 1u) << 4u)) << 16u);  // the low half for even i, the high for odd
}

fn b_quad(q: u32) -> vec4<f32> {
  let w = b_buf[q];
  return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u));
}
