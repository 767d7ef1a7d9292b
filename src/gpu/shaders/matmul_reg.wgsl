// matmul_reg.wgsl — register-tiled GEMM without workgroup memory (kernels.md §11 "gemm_reg").
// Each invocation computes a TM×4 block of out (TM = 4 or 8 rows) from 4×4 blocks of op(A) and op(B) per K-step of 4,
// loaded as vec4 along each operand's contiguous dimension (VEC_* overrides, chosen by the host when
// that dimension, the offset and the batch stride are multiples of 4) and transposed in registers
// when the layout needs it. 8×8 invocations → an (8·TM)×32 tile per workgroup.
// Arithmetic per load is the lever on SIMD CPU adapters (lavapipe, SwiftShader) and on GPUs with
// weak shared memory; matmul_tiled.wgsl is the shared-memory kernel for discrete GPUs.
// Params, bindings, layouts and elem_a/elem_b/store_out: matmul_common.wgsl (prepended);
// B is read through b_at/b_quad of the matmul_b_*_common.wgsl include for its storage type.

override VEC_A: bool = false;   // A's contiguous dim (K, or M if TRANS_A), offA, strideA % 4 == 0
override VEC_B: bool = false;   // B's contiguous dim (N, or K if TRANS_B), offB, strideB % 4 == 0
override TM: u32 = 4u;          // rows per invocation: 4 or 8
override TN4: u32 = 1u;         // column groups of 4 per invocation: 1 or 2 (tile (8·TM) × (32·TN4))


// Four consecutive elements along A's contiguous dimension starting at (outer, inner).
fn vec_a(base: u32, outer: u32, inner: u32, outerDim: u32, innerDim: u32) -> vec4<f32> {
  if (outer >= outerDim || inner >= innerDim) { return vec4<f32>(0.0); }
  return a[(base + outer * innerDim + inner) >> 2u];
}

fn vec_b(base: u32, outer: u32, inner: u32, outerDim: u32, innerDim: u32) -> vec4<f32> {
  if (outer >= outerDim || inner >= innerDim) { return vec4<f32>(0.0); }
  return b_quad((base + outer * innerDim + inner) >> 2u);
}

// Rows r0..r0+3 of op(A), columns k..k+3: result[i] = op(A)[r0 + i, k..k+3].
fn block_a(base: u32, r0: u32, k: u32) -> mat4x4<f32> {
  if (VEC_A) {
    if (TRANS_A) {  // stored [K, M]: one vec4 per k holds 4 rows → transpose
      return transpose(mat4x4<f32>(
        vec_a(base, k, r0, params.K, params.M), vec_a(base, k + 1u, r0, params.K, params.M),
        vec_a(base, k + 2u, r0, params.K, params.M), vec_a(base, k + 3u, r0, params.K, params.M)));
    }
    return mat4x4<f32>(
      vec_a(base, r0, k, params.M, params.K), vec_a(base, r0 + 1u, k, params.M, params.K),
      vec_a(base, r0 + 2u, k, params.M, params.K), vec_a(base, r0 + 3u, k, params.M, params.K));
  }
  var m: mat4x4<f32>;
  for (var i = 0u; i < 4u; i++) {
    m[i] = vec4<f32>(elem_a(base, r0 + i, k), elem_a(base, r0 + i, k + 1u), elem_a(base, r0 + i, k + 2u), elem_a(base, r0 + i, k + 3u));
  }
  return m;
}

// Rows k..k+3 of op(B), columns c0..c0+3: result[kk] = op(B)[k + kk, c0..c0+3].
fn block_b(base: u32, k: u32, c0: u32) -> mat4x4<f32> {
  if (VEC_B) {
    if (TRANS_B) {  // stored [N, K]: one vec4 per column holds 4 k → transpose
      return transpose(mat4x4<f32>(
        vec_b(base, c0, k, params.N, params.K), vec_b(base, c0 + 1u, k, params.N, params.K),
        vec_b(base, c0 + 2u, k, params.N, params.K), vec_b(base, c0 + 3u, k, params.N, params.K)));
    }
    return mat4x4<f32>(
      vec_b(base, k, c0, params.K, params.N), vec_b(base, k + 1u, c0, params.K, params.N),
      vec_b(base, k + 2u, c0, params.K, params.N), vec_b(base, k + 3u, c0, params.K, params.N));
  }
  var m: mat4x4<f32>;
  for (var kk = 0u; kk < 4u; kk++) {
    m[kk] = vec4<f32>(elem_b(base, k + kk, c0), elem_b(base, k + kk, c0 + 1u), elem_b(base, k + kk, c0 + 2u), elem_b(base, k + kk, c0 + 3u));
  }
  return m;
}

// Writes alpha·acc (+ old) to out[row, c0..c0+3] within bounds.
fn store_row(base: u32, row: u32, c0: u32, acc: vec4<f32>) {
  if (row >= params.M || c0 >= params.N) { return; }
  let o = base + row * params.N + c0;
  for (var j = 0u; j < 4u; j++) {
    if (c0 + j < params.N) { store_out(o + j, acc[j]); }
  }
}

@compute @workgroup_size(8, 8)
fn matmul_reg(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c0 = gid.x * 4u * TN4;
  let r0 = gid.y * TM;
  let z = gid.z;
  if (r0 >= params.M || c0 >= params.N) { return; }
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  // acc[2·i + h] = out[r0 + i, c0 + 4h .. c0 + 4h + 3]  (TM ≤ 8 rows, TN4 ≤ 2 column groups)
  var acc: array<vec4<f32>, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k = 0u; k < params.K; k += 4u) {
    for (var h = 0u; h < TN4; h++) {
      let bb = block_b(baseB, k, c0 + 4u * h);  // bb[kk][j] = op(B)[k+kk, c0+4h+j], reused for all TM rows
      for (var g = 0u; g < TM; g += 4u) {
        let ab = block_a(baseA, r0 + g, k);  // ab[i][kk] = op(A)[r0+g+i, k+kk]
        for (var i = 0u; i < 4u; i++) {
          let o = 2u * (g + i) + h;
          acc[o] = fma(vec4<f32>(ab[i].x), bb[0], fma(vec4<f32>(ab[i].y), bb[1], fma(vec4<f32>(ab[i].z), bb[2], fma(vec4<f32>(ab[i].w), bb[3], acc[o]))));
        }
      }
    }
  }
  let baseO = params.offOut + z * params.strideOut;
  for (var i = 0u; i < TM; i++) {
    for (var h = 0u; h < TN4; h++) { store_row(baseO, r0 + i, c0 + 4u * h, acc[2u * i + h]); }
  }
}
