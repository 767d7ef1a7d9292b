// matmul_b_f32_common.wgsl — the B operand (binding 1) stored as f32. One of four interchangeable
// includes (matmul_b_{f32,bf16,f16,f16_unpack}_common.wgsl) that index.ts prepends to every module
// reading a B operand: the matmul_*.wgsl kernels (B), logprobs.wgsl (the tied embedding E) and
// embedding.wgsl (the table). The op picks one per dispatch from the tensor's dtype (Dispatch.variant),
// so the storage type is a compile-time choice: no branch in any inner loop.
// Each include declares the binding and two loads of B's storage (row-major, offsets included),
// widened to f32:
//   b_at(i)    element i, any i
//   b_quad(q)  elements 4q .. 4q+3 (an aligned vec4: callers use it only when VEC_B / VEC allow),
//              indexed like a vec4<f32> array so the f32 kernels compute exactly the addresses they
//              always did

@group(0) @binding(1) var<storage, read> b_buf: array<vec4<f32>>;

fn b_at(i: u32) -> f32 { return b_buf[i >> 2u][i & 3u]; }

fn b_quad(q: u32) -> vec4<f32> { return b_buf[q]; }
