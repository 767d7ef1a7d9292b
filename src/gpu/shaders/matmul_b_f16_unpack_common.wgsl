// matmul_b_f16_unpack_common.wgsl — the B operand (binding 1) stored as IEEE f16, for devices
// without `shader-f16` (SwiftShader): u32 words widened with the core builtin unpack2x16float
// (see matmul_b_f32_common.wgsl for the family; matmul_b_f16_common.wgsl is the feature path).
// Storage: element 2j in the low half of word j (unpack2x16float's .x); vec2<u32> = 4 elements.

@group(0) @binding(1) var<storage, read> b_buf: array<vec2<u32>>;

fn b_at(i: u32) -> f32 { return unpack2x16float(b_buf[i >> 2u][(i >> 1u) & 1u])[i & 1u]; }

fn b_quad(q: u32) -> vec4<f32> {
  let w = b_buf[q];
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}
