// matmul_b_f32_common.wgsl — the B operand (binding 1) stored as f32. One of four interchangeable
// includes (matmul_b_{f32,bf16,f16,f16_unpack}_common.wgsl) that index.ts prepends to every module
// reading a B operand: the matmul_*.wgsl kernels (B), logprobs.wgsl (the tied embedding E) and
// embedding.wgsl (the table). The op picks one per dispatch from the tensor's dtype (Dispatch.variant),
// so the storage type is a compile-time choice: no branch in any inner loop.
// Each include declares the binding and two loads, element i of B's storage (row-major, offsets
// included), widened to f32:
//   b_at(i)    one element, any i
//   b_vec4(i)  elements i .. i+3, i % 4 == 0 (callers guarantee it: VEC_B / VEC overrides)

@group(0) @binding(1) var<storage, read> b_buf: array<vec4<f32>>;

fn b_at(i: u32) -> f32 { return b_buf[i >> 2u][i & 3u]; }

fn b_vec4(i: u32) -> vec4<f32> { return b_buf[i >> 2u]; }
