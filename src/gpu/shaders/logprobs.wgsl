// logprobs.wgsl — the fused, vocabulary-chunked LM-head log-probs (kernels.md §5; spec
// gemma2-and-formats.md §1.4 steps 3–4; the WPO term from preference-losses.md §2.3).
//
// Per row t (hidden h_t [C] after the final norm, tied embedding E [V, C], label y_t):
//   z'_v = cap·tanh(h_t·E_v / cap)   (cap = 0: no cap)
//   lse_t  = log Σ_v e^{z'_v}
//   logp_t = z'_{y_t} − lse_t
//   lsp2_t = log Σ_v p_v² = LSE(2z') − 2·lse_t
// The [T, V] logits are never stored. Entry points:
//   logprobs_partials     pass 1: an NT GEMM tile (h · E_sliceᵀ) whose epilogue reduces instead of
//                         storing; one workgroup per (64-token tile, vocabulary slice) walks its
//                         slice in 64-wide tiles keeping per-row (max m, Σe^{z−m}, Σe^{2(z−m)},
//                         Σz', argmax), and writes one such record per (row, slice) to
//                         partials [T, S, 5].
//   logprobs_label_logit  z'_{y_t}: one 64-invocation workgroup per row does the C-long dot
//                         (CCE's "indexed dot"; its rounding differs from the tile's by ~1e-7).
//   logprobs_combine      merges the S records of a row in slice order (deterministic), writes
//                         logp, lse, lsp2 and a u32 flag per row; rows with a negative label
//                         (−100) get zeros.
//   logprobs_metrics      optional (TRL's logits/* and mean_token_accuracy): from the same records,
//                         zmean = Σ_v z'_v / V and correct = 1 if argmax_v z'_v == y_t else 0
//                         (first index among equal maxima, as torch.argmax); zeros at ignored rows.
//
// Flags (no NaN arithmetic: WGSL lets drivers assume NaN and Inf away, so nothing here relies on
// NaN propagating): bit 0 (1) = the label is ≥ V (labels live on the GPU, the host cannot check
// them); bit 1 (2) = lse, or logp of a label < V, is NaN/±Inf (bit test, common.wgsl not_finite). A label ≥ V also
// writes logp = NaN from its bit pattern, so an unchecked consumer still cannot mistake the row
// for a plausible value; the flag is the reliable signal.
//   logprobs_grad_chunk   backward, option A: recomputes one vocabulary chunk's logits tile by
//                         tile and writes g[t, v − v0] = dz_t,v for v in [v0, v0 + vc), where
//                         dz = (dlogp·(onehot − p) + dlse·p)·(1 − (z'/cap)²), p = e^{z' − lse}.
//                         The op then runs dh += g·E_chunk and dE_chunk = gᵀ·h as GEMMs.
//
// Tiling (shared by partials and grad_chunk, kernels.md §2.2 preset P64): BM = BN = 64, BK = 16,
// 16×16 = 256 invocations, each owning a 4 (tokens) × 4 (vocab) register tile. Both operands are
// contiguous along K (NT); the global→workgroup load writes them K-major ([BK][BM], [BK][BN]) so
// the inner loop reads one vec4 of each per k. Ragged T, V (slice, chunk) and C load zeros and
// mask in the epilogue. VEC = 1 (C % 4 == 0) loads h and E as vec4.
//
// Split tables: E may be held as row parts [row0, row1) covering [0, V) (engine/table.ts). Each
// entry point then sees one part bound as E (local rows 0 … row1−row0−1): partials runs per part
// and writes that part's slices at global slice indices s0 …, so combine merges all slices of all
// parts in one fixed order; label_logit runs once per part and only the part holding y_t writes
// z'_{y_t}; grad_chunk takes chunks inside one part and compares labels with row0 + local index.
// A whole table is the single part [0, V).
// 16-bit E (a frozen bf16/f16 table): E is the tile GEMM's B operand (binding 1), declared with its
// loads b_at / b_quad by the matmul_b_*_common.wgsl include that index.ts prepends for E's storage
// type; the loads widen to f32 and everything after them is f32.
// NOTE: exp(2(z−m)) is computed as exp(z−m)²: one exp per logit. The tiny terms underflow
// either way; the max term is exactly 1, so Σ ≥ 1 and the logs are finite.

override VEC: bool = false;

const BM: u32 = 64u;     // token rows per workgroup tile
const BN: u32 = 64u;     // vocabulary rows per tile
const BK: u32 = 16u;     // K step
const WG: u32 = 256u;    // invocations: 16 (tokens) × 16 (vocab), 4×4 outputs each
const B_OFF: u32 = 1024u;  // start of the E tile in smem (BK·BM floats of h tile before it)

// Tile staging (2·16·64 floats) during the K loop; reused afterwards as the [BM][16][3] merge
// area of the per-invocation (m, a, b) triples, then of (m, Σz', argmax). 12 KiB.
var<workgroup> smem: array<f32, 3072>;

fn capped(z: f32, cap: f32) -> f32 {
  if (cap > 0.0) { return cap * tanh_safe(z / cap); }
  return z;
}

// ---------------------------------------------------------------- shared GEMM tile
// h [T, C] is bound as a vec4 array (scalar element i is h[i >> 2][i & 3]) at binding 0, E [V, C]
// at binding 1 by the matmul_b_*_common.wgsl include (E_at, E_quad below), in every entry point
// that uses the tile.
@group(0) @binding(0) var<storage, read> h: array<vec4<f32>>;

fn h_at(i: u32) -> f32 { return h[i >> 2u][i & 3u]; }
fn E_at(i: u32) -> f32 { return b_at(i); }
fn E_quad(q: u32) -> vec4<f32> { return b_quad(q); }  // elements 4q .. 4q+3 (VEC: C % 4 == 0)

// Stages h[row0 .. row0+BM, k0 .. k0+BK] and E[col0 .. col0+BN, k0 .. k0+BK] into smem, K-major;
// rows ≥ T, vocabulary rows ≥ colEnd and k ≥ C read as 0.
fn load_tiles(lid: u32, row0: u32, T: u32, col0: u32, colEnd: u32, C: u32, k0: u32) {
  if (VEC) {
    // 64 rows × 4 vec4 per operand = 256 loads: one per invocation each.
    let r = lid >> 2u;
    let kq = (lid & 3u) * 4u;
    let k = k0 + kq;
    var av = vec4<f32>(0.0);
    var bv = vec4<f32>(0.0);
    if (row0 + r < T && k < C) { av = h[((row0 + r) * C + k) >> 2u]; }
    if (col0 + r < colEnd && k < C) { bv = E_quad(((col0 + r) * C + k) >> 2u); }
    for (var i = 0u; i < 4u; i++) {
      smem[(kq + i) * BM + r] = av[i];
      smem[B_OFF + (kq + i) * BN + r] = bv[i];
    }
  } else {
    // Scalar: 1024 elements per operand, 4 per invocation; consecutive invocations read
    // consecutive k of one row.
    for (var q = 0u; q < 4u; q++) {
      let idx = lid + q * WG;
      let r = idx / BK;
      let kk = idx % BK;
      let k = k0 + kk;
      var av = 0.0;
      var bv = 0.0;
      if (row0 + r < T && k < C) { av = h_at((row0 + r) * C + k); }
      if (col0 + r < colEnd && k < C) { bv = E_at((col0 + r) * C + k); }
      smem[kk * BM + r] = av;
      smem[B_OFF + kk * BN + r] = bv;
    }
  }
}

// Raw logits of the invocation's 4×4 outputs: acc[i][j] = h[row0 + ty·4 + i] · E[col0 + tx·4 + j].
// Must be called in uniform control flow (it synchronises the workgroup).
fn logits_tile(lid: u32, row0: u32, T: u32, col0: u32, colEnd: u32, C: u32) -> array<vec4<f32>, 4> {
  let tx = lid & 15u;
  let ty = lid >> 4u;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < C; k0 += BK) {
    workgroupBarrier();  // previous step's (or previous tile's) reads are done
    load_tiles(lid, row0, T, col0, colEnd, C, k0);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let ab = kk * BM + ty * 4u;
      let bb = B_OFF + kk * BN + tx * 4u;
      let a = vec4<f32>(smem[ab], smem[ab + 1u], smem[ab + 2u], smem[ab + 3u]);
      let b = vec4<f32>(smem[bb], smem[bb + 1u], smem[bb + 2u], smem[bb + 3u]);
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
  }
  return acc;
}

// ---------------------------------------------------------------- pass 1: partial triples

struct PartialParams {
  T: u32,         // rows (tokens)
  C: u32,         // model width
  V: u32,         // vocabulary rows of this part (the whole vocabulary for an unsplit E)
  VS: u32,        // vocabulary rows per slice
  S: u32,         // slices of all parts (the row stride of partials)
  s0: u32,        // global index of this part's first slice
  cap: f32,       // final-logit softcap, 0 = none
  row0: u32,      // vocabulary index of this part's row 0 (for the argmax)
}

// A partial record per (row, slice): max m, Σe^{z'−m}, Σe^{2(z'−m)}, Σz', argmax (a vocabulary
// index stored as f32: exact below 2^24, checked on the host).
const PREC: u32 = 5u;

@group(0) @binding(2) var<storage, read_write> partials: array<f32>;  // [T, S, PREC]
@group(0) @binding(3) var<uniform> pp: PartialParams;

// Workgroups: [ceil(T / BM), slices of this part]; token tiles vary fastest, so the tiles of one vocabulary slice
// run together and share E tiles in cache.
@compute @workgroup_size(256)
fn logprobs_partials(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let tx = lid & 15u;
  let ty = lid >> 4u;
  let row0 = wid.x * BM;
  let slice = wid.y;
  let v_begin = slice * pp.VS;
  let v_end = min(v_begin + pp.VS, pp.V);
  // Running (max, Σe^{z−m}, Σe^{2(z−m)}, Σz, argmax) of this invocation's 4 rows over its columns
  // (visited in increasing index order, so a strict > keeps the first of equal maxima).
  var m = vec4<f32>(NEG_BIG);
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  var zs = vec4<f32>(0.0);
  var best = vec4<f32>(NEG_BIG);
  var arg = vec4<f32>(-1.0);  // local column index (exact in f32 below 2^24); −1 = none yet
  for (var col0 = v_begin; col0 < v_end; col0 += BN) {
    let acc = logits_tile(lid, row0, pp.T, col0, v_end, pp.C);
    let c = col0 + tx * 4u;
    if (c < v_end) {
      let nvalid = min(4u, v_end - c);
      for (var i = 0u; i < 4u; i++) {
        var z = acc[i];
        var zmax = NEG_BIG;
        for (var j = 0u; j < nvalid; j++) {
          z[j] = capped(z[j], pp.cap);
          zmax = max(zmax, z[j]);
          zs[i] += z[j];
          if (z[j] > best[i]) {
            best[i] = z[j];
            arg[i] = f32(c + j);
          }
        }
        // Rescale the running sums to the new max, then add this tile's terms.
        let mn = max(m[i], zmax);
        let r = exp(m[i] - mn);
        var ai = a[i] * r;
        var bi = b[i] * r * r;
        for (var j = 0u; j < nvalid; j++) {
          let ez = exp(z[j] - mn);
          ai += ez;
          bi += ez * ez;
        }
        m[i] = mn;
        a[i] = ai;
        b[i] = bi;
      }
    }
  }
  // Merge the 16 invocations that share each row, in tx order: (m, a, b) first ...
  workgroupBarrier();
  for (var i = 0u; i < 4u; i++) {
    let o = ((ty * 4u + i) * 16u + tx) * 3u;
    smem[o] = m[i];
    smem[o + 1u] = a[i];
    smem[o + 2u] = b[i];
  }
  workgroupBarrier();
  let row_ok = lid < BM && row0 + lid < pp.T;
  let out = ((row0 + lid) * pp.S + pp.s0 + slice) * PREC;
  var M = NEG_BIG;
  if (row_ok) {
    for (var x = 0u; x < 16u; x++) { M = max(M, smem[(lid * 16u + x) * 3u]); }
    var A = 0.0;
    var B = 0.0;
    for (var x = 0u; x < 16u; x++) {
      let o = (lid * 16u + x) * 3u;
      let r = exp(smem[o] - M);
      A += smem[o + 1u] * r;
      B += smem[o + 2u] * r * r;
    }
    partials[out] = M;
    partials[out + 1u] = A;
    partials[out + 2u] = B;
  }
  // ... then (best, Σz, argmax) in the same area (12 KiB: the spec-default workgroup storage).
  workgroupBarrier();
  for (var i = 0u; i < 4u; i++) {
    let o = ((ty * 4u + i) * 16u + tx) * 3u;
    smem[o] = best[i];
    smem[o + 1u] = zs[i];
    smem[o + 2u] = arg[i];
  }
  workgroupBarrier();
  if (row_ok) {
    var Z = 0.0;
    var bv = NEG_BIG;
    var bi = -1.0;
    for (var x = 0u; x < 16u; x++) {
      let o = (lid * 16u + x) * 3u;
      Z += smem[o + 1u];
      let v = smem[o];
      let k = smem[o + 2u];
      // Invocations hold interleaved columns: among equal maxima keep the lowest index.
      if (k >= 0.0 && (bi < 0.0 || v > bv || (v == bv && k < bi))) {
        bv = v;
        bi = k;
      }
    }
    partials[out + 3u] = Z;
    partials[out + 4u] = f32(pp.row0) + max(bi, 0.0);  // global vocabulary index
  }
}

// ---------------------------------------------------------------- label logit (indexed dot)

struct LabelParams {
  T: u32,
  C: u32,
  V: u32,       // whole vocabulary
  row0: u32,    // this part's rows [row0, row1) of E
  row1: u32,
  cap: f32,
}

@group(0) @binding(2) var<storage, read> l_labels: array<i32>;       // [T]
@group(0) @binding(3) var<storage, read_write> l_zlab: array<f32>;   // [T]
@group(0) @binding(4) var<uniform> lp: LabelParams;

var<workgroup> red: array<f32, 64>;

// One 64-invocation workgroup per row (1-D grid folded into y by Engine.grid). The part holding
// the label writes z'; ignored rows get 0 from the first part; a label ≥ V is left alone (combine
// flags it without reading z'). Every row has at most one writer.
@compute @workgroup_size(64)
fn logprobs_label_logit(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = wid.x + wid.y * nwg.x;
  if (t >= lp.T) { return; }
  let y = l_labels[t];
  if (y < 0) {
    if (lid == 0u && lp.row0 == 0u) { l_zlab[t] = 0.0; }
    return;
  }
  if (u32(y) < lp.row0 || u32(y) >= lp.row1) { return; }  // another part holds the label
  let hb = t * lp.C;
  let eb = (u32(y) - lp.row0) * lp.C;
  var s = 0.0;
  for (var c = lid; c < lp.C; c += 64u) { s = fma(h_at(hb + c), E_at(eb + c), s); }
  red[lid] = s;
  // Fixed-order tree reduction (deterministic; no subgroup-size assumption).
  for (var w = 32u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) { red[lid] += red[lid + w]; }
  }
  if (lid == 0u) { l_zlab[t] = capped(red[0], lp.cap); }
}

// ---------------------------------------------------------------- combine

struct CombineParams {
  T: u32,
  S: u32,
  V: u32,  // whole vocabulary
}

@group(0) @binding(0) var<storage, read> c_partials: array<f32>;      // [T, S, PREC]
@group(0) @binding(1) var<storage, read> c_zlab: array<f32>;          // [T]
@group(0) @binding(2) var<storage, read> c_labels: array<i32>;        // [T]
@group(0) @binding(3) var<storage, read_write> c_logp: array<f32>;    // [T]
@group(0) @binding(4) var<storage, read_write> c_lse: array<f32>;     // [T]
@group(0) @binding(5) var<storage, read_write> c_lsp2: array<f32>;    // [T]
@group(0) @binding(6) var<storage, read_write> c_flags: array<u32>;   // [T]
@group(0) @binding(7) var<uniform> cp: CombineParams;

// One invocation per row: M = max m_s, A = Σ a_s e^{m_s − M}, B = Σ b_s e^{2(m_s − M)};
// lse = M + log A, lsp2 = log B − 2 log A, logp = z'_y − lse; flags as in the header.
@compute @workgroup_size(64)
fn logprobs_combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_index(gid, nwg, 64u);
  if (t >= cp.T) { return; }
  let y = c_labels[t];
  if (y < 0) {
    c_logp[t] = 0.0;
    c_lse[t] = 0.0;
    c_lsp2[t] = 0.0;
    c_flags[t] = 0u;
    return;
  }
  let base = t * cp.S * PREC;
  var M = NEG_BIG;
  for (var s = 0u; s < cp.S; s++) { M = max(M, c_partials[base + s * PREC]); }
  var A = 0.0;
  var B = 0.0;
  for (var s = 0u; s < cp.S; s++) {
    let o = base + s * PREC;
    let r = exp(c_partials[o] - M);
    A += c_partials[o + 1u] * r;
    B += c_partials[o + 2u] * r * r;
  }
  let logA = log(A);
  let lse = M + logA;
  c_lse[t] = lse;
  c_lsp2[t] = log(B) - 2.0 * logA;
  var flags = 0u;
  var logp: f32;
  if (u32(y) >= cp.V) {
    flags = 1u;
    // NaN from its bit pattern, not from arithmetic (a runtime operand: a constant NaN is a
    // shader-creation error in WGSL)
    logp = bitcast<f32>(0x7fc00000u | (flags & 0x3fffffu));
  } else {
    logp = c_zlab[t] - lse;
  }
  // Bit 1: a computed result is not finite (the NaN logp of bit 0 is deliberate, not counted).
  if (not_finite(lse) || (flags == 0u && not_finite(logp))) { flags |= 2u; }
  c_logp[t] = logp;
  c_flags[t] = flags;
}

// ---------------------------------------------------------------- metrics (optional)

@group(0) @binding(0) var<storage, read> x_partials: array<f32>;     // [T, S, PREC]
@group(0) @binding(1) var<storage, read> x_labels: array<i32>;       // [T]
@group(0) @binding(2) var<storage, read_write> x_zmean: array<f32>;  // [T]
@group(0) @binding(3) var<storage, read_write> x_correct: array<f32>; // [T]
@group(0) @binding(4) var<uniform> xp: CombineParams;

// One invocation per row: zmean = Σ_s Σz'_s / V; the argmax is the first slice's index among the
// slices holding the overall max (slices are in vocabulary order, each already keeps its first).
@compute @workgroup_size(64)
fn logprobs_metrics(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_index(gid, nwg, 64u);
  if (t >= xp.T) { return; }
  let y = x_labels[t];
  if (y < 0) {
    x_zmean[t] = 0.0;
    x_correct[t] = 0.0;
    return;
  }
  let base = t * xp.S * PREC;
  var Z = 0.0;
  var best = x_partials[base];
  var arg = x_partials[base + 4u];
  for (var s = 0u; s < xp.S; s++) {
    let o = base + s * PREC;
    Z += x_partials[o + 3u];
    if (x_partials[o] > best) {
      best = x_partials[o];
      arg = x_partials[o + 4u];
    }
  }
  x_zmean[t] = Z / f32(xp.V);
  x_correct[t] = select(0.0, 1.0, u32(y) < xp.V && arg == f32(y));
}

// ---------------------------------------------------------------- backward: one vocabulary chunk

struct GradParams {
  T: u32,
  C: u32,
  v0: u32,    // first row of the chunk, local to this part of E
  vc: u32,    // rows in the chunk (g is [T, vc])
  row0: u32,  // vocabulary index of the part's row 0 (labels are global)
  cap: f32,
}

@group(0) @binding(2) var<storage, read> g_labels: array<i32>;    // [T]
@group(0) @binding(3) var<storage, read> g_lse: array<f32>;       // [T] saved by the forward
@group(0) @binding(4) var<storage, read> g_dlogp: array<f32>;     // [T]
@group(0) @binding(5) var<storage, read> g_dlse: array<f32>;      // [T]
@group(0) @binding(6) var<storage, read_write> g_out: array<f32>; // [T, vc]
@group(0) @binding(7) var<uniform> gp: GradParams;

// Workgroups: [ceil(T / BM), ceil(vc / BN)]. Every g element has exactly one writer.
@compute @workgroup_size(256)
fn logprobs_grad_chunk(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let tx = lid & 15u;
  let ty = lid >> 4u;
  let row0 = wid.x * BM;
  let col0 = gp.v0 + wid.y * BN;
  let v_end = gp.v0 + gp.vc;
  let acc = logits_tile(lid, row0, gp.T, col0, v_end, gp.C);
  for (var i = 0u; i < 4u; i++) {
    let t = row0 + ty * 4u + i;
    if (t >= gp.T) { break; }
    let y = g_labels[t];
    // Ignored rows (negative label) get no gradient.
    var dlogp = 0.0;
    var dlse = 0.0;
    if (y >= 0) {
      dlogp = g_dlogp[t];
      dlse = g_dlse[t];
    }
    let lse = g_lse[t];
    for (var j = 0u; j < 4u; j++) {
      let v = col0 + tx * 4u + j;
      if (v >= v_end) { break; }
      let z = capped(acc[i][j], gp.cap);
      let p = exp(z - lse);
      let onehot = select(0.0, 1.0, i32(gp.row0 + v) == y);
      var dz = dlogp * (onehot - p) + dlse * p;      // ∂L/∂z'
      if (gp.cap > 0.0) {
        let u = z / gp.cap;
        dz *= 1.0 - u * u;                            // ∂z'/∂z of the softcap
      }
      g_out[t * gp.vc + (v - gp.v0)] = dz;
    }
  }
}
