// matmul_tiled.wgsl — the GPU-shaped GEMM (kernels.md §2.2, preset P64): a 64×64 tile of out per
// workgroup, K walked in steps of BK = 16 staged in workgroup memory, 16×16 invocations each owning
// a 4×4 register tile. Operand transposition is folded into the global→workgroup load (§2.3), so the
// inner loop is identical for NN, NT and TN: As holds op(A) k-major ([BK][64 rows] as vec4 over 4
// rows), Bs holds op(B) ([BK][64 cols] as vec4 over 4 cols). Global loads are vec4 along each
// operand's contiguous dimension when VEC_* allow (consecutive invocations read consecutive vec4s).
// In the inner loop the 16 lanes sharing a row group read the same As vec4 (broadcast) and
// consecutive Bs vec4s: no bank conflicts.
// Storage: 2 × 16 × 64 × 4 B = 8 KiB (fits the 16 KiB default).
// NOTE: CPU adapters run this slower than matmul_reg (barriers are coroutine switches there,
// kernels.md §10); it is kept and tested because it is what wins on real GPUs.
// Params, bindings, layouts and store_out: matmul_common.wgsl (prepended);
// B is read through b_at/b_quad of the matmul_b_*_common.wgsl include for its storage type.

override VEC_A: bool = false;
override VEC_B: bool = false;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;


// Scalar arrays: the transposing loads write single elements from different invocations, and a
// store to one lane of a shared vec4 may be a read-modify-write of the whole vector (WGSL).
var<workgroup> As: array<f32, 1024>;  // [BK][BM]: As[kk*64 + r] = op(A)[m0 + r, k0 + kk]
var<workgroup> Bs: array<f32, 1024>;  // [BK][BN]: Bs[kk*64 + c] = op(B)[k0 + kk, n0 + c]

fn scalar_a(i: u32) -> f32 { return a[i >> 2u][i & 3u]; }

// Loads 4 elements of A's storage along its contiguous dim starting at (outer, inner); zeros outside.
fn load4_a(base: u32, outer: u32, inner: u32, outerDim: u32, innerDim: u32) -> vec4<f32> {
  if (outer >= outerDim) { return vec4<f32>(0.0); }
  let i = base + outer * innerDim + inner;
  if (VEC_A) {
    if (inner >= innerDim) { return vec4<f32>(0.0); }
    return a[i >> 2u];
  }
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) { if (inner + c < innerDim) { v[c] = scalar_a(i + c); } }
  return v;
}

fn load4_b(base: u32, outer: u32, inner: u32, outerDim: u32, innerDim: u32) -> vec4<f32> {
  if (outer >= outerDim) { return vec4<f32>(0.0); }
  let i = base + outer * innerDim + inner;
  if (VEC_B) {
    if (inner >= innerDim) { return vec4<f32>(0.0); }
    return b_quad(i >> 2u);
  }
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) { if (inner + c < innerDim) { v[c] = b_at(i + c); } }
  return v;
}

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.y * 16u + lid.x;  // 0..255
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let z = wid.z;
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }

  for (var k0 = 0u; k0 < params.K; k0 += BK) {
    // ---- stage op(A)[m0.., k0..] into As: each invocation loads one vec4 (4 elements).
    if (TRANS_A) {
      // storage [K, M], contiguous along m: unit (kk = t / 16, rq = t % 16) → As[kk][rq] directly.
      let kk = t / 16u;
      let rq = t % 16u;
      let v = load4_a(baseA, k0 + kk, m0 + 4u * rq, params.K, params.M);
      for (var c = 0u; c < 4u; c++) { As[kk * 64u + 4u * rq + c] = v[c]; }
    } else {
      // storage [M, K], contiguous along k: unit (row = t / 4, kq = t % 4) → 4 k values of one row.
      let row = t / 4u;
      let kq = t % 4u;
      let v = load4_a(baseA, m0 + row, k0 + 4u * kq, params.M, params.K);
      for (var c = 0u; c < 4u; c++) { As[(4u * kq + c) * 64u + row] = v[c]; }
    }
    // ---- stage op(B)[k0.., n0..] into Bs.
    if (TRANS_B) {
      // storage [N, K], contiguous along k: unit (col = t / 4, kq = t % 4).
      let col = t / 4u;
      let kq = t % 4u;
      let v = load4_b(baseB, n0 + col, k0 + 4u * kq, params.N, params.K);
      for (var c = 0u; c < 4u; c++) { Bs[(4u * kq + c) * 64u + col] = v[c]; }
    } else {
      // storage [K, N], contiguous along n: unit (kk = t / 16, cq = t % 16) → Bs[kk][cq] directly.
      let kk = t / 16u;
      let cq = t % 16u;
      let v = load4_b(baseB, k0 + kk, n0 + 4u * cq, params.K, params.N);
      for (var c = 0u; c < 4u; c++) { Bs[kk * 64u + 4u * cq + c] = v[c]; }
    }
    workgroupBarrier();
    // ---- 4×4 register tile: rows 4·lid.y.., cols 4·lid.x..
    for (var kk = 0u; kk < BK; kk++) {
      let ai = kk * 64u + 4u * lid.y;
      let bi = kk * 64u + 4u * lid.x;
      let av = vec4<f32>(As[ai], As[ai + 1u], As[ai + 2u], As[ai + 3u]);
      let bv = vec4<f32>(Bs[bi], Bs[bi + 1u], Bs[bi + 2u], Bs[bi + 3u]);
      acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
    }
    workgroupBarrier();
  }

  // ---- epilogue: alpha·acc (+ old out) with bounds.
  let c0 = n0 + 4u * lid.x;
  let baseO = params.offOut + z * params.strideOut;
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + 4u * lid.y + i;
    if (row >= params.M || c0 >= params.N) { continue; }
    let o = baseO + row * params.N + c0;
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < params.N) { store_out(o + j, acc[i][j]); }
    }
  }
}
