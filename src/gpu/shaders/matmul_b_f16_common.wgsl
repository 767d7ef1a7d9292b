// matmul_b_f16_common.wgsl — the B operand (binding 1) stored as IEEE f16, read through the
// `shader-f16` feature (see matmul_b_f32_common.wgsl for the family). Used only on devices that
// have the feature (lavapipe and most GPUs); matmul_b_f16_unpack_common.wgsl is the core-WGSL path
// for the others (SwiftShader). Storage: element 2j in the low half of word j, which is exactly
// the layout of a little-endian array of f16. Every f16 value is exact in f32.
enable f16;

@group(0) @binding(1) var<storage, read> b_buf: array<vec4<f16>>;

fn b_at(i: u32) -> f32 { return f32(b_buf[i >> 2u][i & 3u]); }

fn b_quad(q: u32) -> vec4<f32> { return vec4<f32>(b_buf[q]); }
