// attention.wgsl — fused causal grouped-query attention for Gemma-2, FlashAttention-2 style
// (spec gemma2-and-formats.md §1.4 "Attention" and "Masks", §1.5; design kernels.md §3).
//
// Per sequence b and query head h (reading kv head j = h / G, G = NH / KVH):
//   s[q, k] = ρ · (q_h[q] · k_j[k])                  raw score
//   s       = cap · tanh(s / cap)                     softcap, BEFORE the mask (skipped if cap = 0)
//   visible(q, k) = k ≤ q  ∧  (W = 0 ∨ q − W < k)  ∧  keyMask[b, k] ≠ 0
//   P[q, :] = softmax over the visible keys           (no visible key: P = 0, o = 0)
//   o[q]    = Σ_k P[q, k] · v_j[k]
// Layouts (row-major, the natural view of the q/k/v projections):
//   q, o, dq       [B, T, NH, HD]      k, v, dk, dv   [B, T, KVH, HD]
//   keyMask        [B, T] u32 (f32 1.0/0.0 bit patterns work too: only the bits ≠ 0 test is used)
//   lse            [B, T, NH]          L = m + log(l), the row logsumexp (+1e30 for empty rows)
//   stats          [B, T, NH, 2]       (L, Δ) with Δ = Σ_d dO·O, built by attention_delta
//
// Entry points:
//   attention_forward     one workgroup per (b, h, block of BR queries); online softmax over key blocks
//   attention_delta       one invocation per (b, q, h): stats = (L, Δ)
//   attention_backward_dkv one workgroup per (b, kv head, block of BC keys); walks the G query heads
//                         of the group and the query blocks that can see these keys; writes dk, dv
//   attention_backward_dq one workgroup per (b, h, block of BR queries); walks the visible key blocks
// No T×T matrix is ever written; P is recomputed from L in the backward. No atomics: every output
// element has exactly one writer, and all sums run in a fixed order (deterministic).
//
// Work split inside a workgroup (kernels.md §3): a "row" (one query, or one key in the dkv kernel)
// is served by LANES invocations; lane l owns the head dims d = l, l + LANES, l + 2·LANES, …
// (strided, so neighbouring lanes read neighbouring words of the staged tiles). A dot product over
// HD is LANES partial dots, summed across the lanes through a workgroup scratch buffer in lane
// order 0..LANES−1 (the plain path: no subgroup operations, any subgroup size).
//
// Masked scores never enter exp(): they are marked NEG_BIG and skipped (p = 0), so rows whose
// first tiles are all masked, or rows with no visible key at all, produce no NaN (kernels.md §3).
// Not here (yet): a feature-detected subgroupShuffleXor path for the cross-lane sums, 16-bit K/V
// staging, and skipping the per-element mask on tiles that lie entirely inside the band.

struct Params {
  B: u32,
  T: u32,
  NH: u32,        // query heads
  KVH: u32,       // key/value heads (NH % KVH == 0)
  scale: f32,     // ρ (Gemma-2: query_pre_attn_scalar^-0.5)
  cap: f32,       // attention softcap (50 for Gemma-2); 0 = none
  window: u32,    // sliding window W; 0 = none (global layer)
  has_mask: u32,  // 1: keyMask is bound and read; 0: every key is kept
  n_groups: u32,  // workgroups (or invocations, for attention_delta) that have work
}

// Compile-time shape of the tiles (set by ops/attention.ts from the device limits).
override HD: u32 = 16u;     // head dim
override LANES: u32 = 8u;   // invocations per row; HD % LANES == 0 and HD / LANES ≤ MAX_DPL
override BR: u32 = 16u;     // query rows per tile
override BC: u32 = 16u;     // keys per tile
// Head dims owned by one lane (registers hold MAX_DPL floats; only HD / LANES are used).
const MAX_DPL: u32 = 32u;

// A masked score is NEG_BIG; anything above this threshold is a real (capped or raw) score.
const MASKED_BELOW: f32 = -1.0e29;

// The mask shared by every kernel: is key kj visible to query qi of sequence b? (qi, kj < T)
fn visible(b: u32, qi: u32, kj: u32, T: u32, window: u32, has_mask: u32) -> bool {
  if (qi >= T || kj >= T || kj > qi) { return false; }        // causal (and in range)
  if (window > 0u && kj + window <= qi) { return false; }     // sliding: q − W < k
  if (has_mask != 0u && (keyMask[b * T + kj] & 0x7fffffffu) == 0u) { return false; }  // padding
  return true;
}

// Raw score → the score softmax sees: ρ·dot, then the softcap (clamped tanh, common.wgsl).
fn cap_score(dot: f32, scale: f32, cap: f32) -> f32 {
  let s = dot * scale;
  if (cap > 0.0) { return cap * tanh_safe(s / cap); }
  return s;
}

// Inputs shared by forward, dkv and dq (same binding numbers in each).
@group(0) @binding(0) var<storage, read> q: array<f32>;        // [B, T, NH, HD]
@group(0) @binding(1) var<storage, read> k: array<f32>;        // [B, T, KVH, HD]
@group(0) @binding(2) var<storage, read> v: array<f32>;        // [B, T, KVH, HD]
@group(0) @binding(3) var<storage, read> keyMask: array<u32>;  // [B, T] (any buffer if has_mask = 0)

// Flat workgroup index of a 1-D grid folded into y (Engine.grid(groups, 1)). Uniform.
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// ================================================================================== forward
// Workgroup = BR query rows × LANES lanes. Per key block (4 barriers):
//   stage K → partial dots → lane-sum + cap + mask into f_s, stage V → online softmax and o += p·V.

@group(0) @binding(4) var<storage, read_write> o: array<f32>;    // [B, T, NH, HD]
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;  // [B, T, NH]
@group(0) @binding(6) var<uniform> fparams: Params;

var<workgroup> f_kv: array<f32, BC * HD>;            // [BC, HD] the K tile, then the V tile
var<workgroup> f_part: array<f32, BR * BC * LANES>;  // [BR, BC, LANES] partial q·k per lane
var<workgroup> f_s: array<f32, BR * BC>;             // [BR, BC] capped scores, NEG_BIG = masked

@compute @workgroup_size(BR * LANES)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = fparams;
  let g = group_index(wid, nwg);
  if (g >= p.n_groups) { return; }  // uniform per workgroup: the barriers below stay uniform
  let T = p.T;
  let WG = BR * LANES;
  let dpl = HD / LANES;
  // g = (b·NH + h)·n_qblocks + qb
  let nqb = (T + BR - 1u) / BR;
  let qb = g % nqb;
  let h = (g / nqb) % p.NH;
  let b = g / nqb / p.NH;
  let kvh = h / (p.NH / p.KVH);
  let row = lid / LANES;
  let lane = lid % LANES;
  let qi = qb * BR + row;
  let row_ok = qi < T;

  // This lane's slice of the query row, and its slice of the output accumulator.
  var qr: array<f32, MAX_DPL>;
  var acc: array<f32, MAX_DPL>;
  let qbase = ((b * T + qi) * p.NH + h) * HD;
  for (var i = 0u; i < dpl; i++) {
    qr[i] = 0.0;
    if (row_ok) { qr[i] = q[qbase + i * LANES + lane]; }
    acc[i] = 0.0;
  }
  var m = NEG_BIG;  // running max of the visible scores
  var l = 0.0;      // running Σ exp(s − m)

  // Key blocks that intersect this query block's band [max(0, q0 − W + 1), q1 − 1]; the rest
  // are skipped (causal: about half the work; sliding: all but ~W/BC blocks).
  let q0 = qb * BR;
  let q1 = min(q0 + BR, T);
  var kmin = 0u;
  if (p.window > 0u && q0 + 1u > p.window) { kmin = q0 + 1u - p.window; }
  let kb_end = (q1 - 1u) / BC;
  for (var kb = kmin / BC; kb <= kb_end; kb++) {
    let k0 = kb * BC;
    // Stage K (zeros past T). The barrier protects f_kv, still holding the previous V tile.
    workgroupBarrier();
    for (var idx = lid; idx < BC * HD; idx += WG) {
      let key = k0 + idx / HD;
      var val = 0.0;
      if (key < T) { val = k[((b * T + key) * p.KVH + kvh) * HD + idx % HD]; }
      f_kv[idx] = val;
    }
    workgroupBarrier();
    // Partial dots over this lane's dims for every key of the tile.
    for (var j = 0u; j < BC; j++) {
      var s = 0.0;
      for (var i = 0u; i < dpl; i++) { s += qr[i] * f_kv[j * HD + i * LANES + lane]; }
      f_part[(row * BC + j) * LANES + lane] = s;
    }
    workgroupBarrier();
    // Lane l finishes keys l, l + LANES, …: sum the partials in lane order, cap, mask.
    for (var j = lane; j < BC; j += LANES) {
      var dot = 0.0;
      for (var t = 0u; t < LANES; t++) { dot += f_part[(row * BC + j) * LANES + t]; }
      var s = cap_score(dot, p.scale, p.cap);
      if (!visible(b, qi, k0 + j, T, p.window, p.has_mask)) { s = NEG_BIG; }
      f_s[row * BC + j] = s;
    }
    // Stage V into the same buffer (every K read finished before the last barrier).
    for (var idx = lid; idx < BC * HD; idx += WG) {
      let key = k0 + idx / HD;
      var val = 0.0;
      if (key < T) { val = v[((b * T + key) * p.KVH + kvh) * HD + idx % HD]; }
      f_kv[idx] = val;
    }
    workgroupBarrier();
    // Online softmax: m' = max(m, tile max); rescale l and acc by exp(m − m'); add exp(s − m').
    // Every lane of a row does the same arithmetic on the same values (no divergence in m, l).
    var tmax = NEG_BIG;
    for (var j = 0u; j < BC; j++) { tmax = max(tmax, f_s[row * BC + j]); }
    let m_new = max(m, tmax);
    let alpha = exp(m - m_new);  // m = NEG_BIG, m' finite: exp(−1e30) = 0, no inf − inf
    l *= alpha;
    for (var i = 0u; i < dpl; i++) { acc[i] *= alpha; }
    for (var j = 0u; j < BC; j++) {
      let s = f_s[row * BC + j];
      if (s > MASKED_BELOW) {
        let pj = exp(s - m_new);
        l += pj;
        for (var i = 0u; i < dpl; i++) { acc[i] += pj * f_kv[j * HD + i * LANES + lane]; }
      }
    }
    m = m_new;
  }

  if (!row_ok) { return; }
  // A row without any visible key has l = 0: o = 0, and L = +1e30 so that exp(s − L) = 0.
  let has_keys = l > 0.0;
  let inv_l = select(0.0, 1.0 / l, has_keys);
  for (var i = 0u; i < dpl; i++) { o[qbase + i * LANES + lane] = acc[i] * inv_l; }
  if (lane == 0u) { lse[(b * T + qi) * p.NH + h] = select(-NEG_BIG, m + log(l), has_keys); }
}

// ================================================================================== backward: Δ
// Δ[b, q, h] = Σ_d dO·O (FA-2's "preprocess"); packed with L so the dkv kernel binds ≤ 8 buffers.

@group(0) @binding(0) var<storage, read> d_dout: array<f32>;          // [B, T, NH, HD]
@group(0) @binding(1) var<storage, read> d_out: array<f32>;           // [B, T, NH, HD]
@group(0) @binding(2) var<storage, read> d_lse: array<f32>;           // [B, T, NH]
@group(0) @binding(3) var<storage, read_write> d_stats: array<f32>;   // [B, T, NH, 2] = (L, Δ)
@group(0) @binding(4) var<uniform> dparams: Params;

@compute @workgroup_size(64)
fn attention_delta(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = flat_index(gid, nwg, 64u);  // row (b, q, h)
  if (r >= dparams.n_groups) { return; }
  var delta = 0.0;
  for (var d = 0u; d < HD; d++) { delta += d_dout[r * HD + d] * d_out[r * HD + d]; }
  d_stats[2u * r] = d_lse[r];
  d_stats[2u * r + 1u] = delta;
}

// ================================================================================== backward: dK, dV
// Workgroup = BC keys × LANES lanes; each lane keeps its slice of k, v, dk, dv in registers.
// For each query head of the group and each query block that can see these keys (4 barriers):
//   stage Q and dO → partial q·k and dO·v → lane-sum: s, p = exp(s − L), dS = p·(dP − Δ),
//   chained through the cap and ρ → dv += p·dO, dk += dS·Q.
// The G query heads of a kv head are summed here, inside one workgroup (GQA without atomics).

@group(0) @binding(4) var<storage, read> b_dout: array<f32>;          // [B, T, NH, HD]
@group(0) @binding(5) var<storage, read> b_stats: array<f32>;         // [B, T, NH, 2]
@group(0) @binding(6) var<storage, read_write> dk: array<f32>;        // [B, T, KVH, HD]
@group(0) @binding(7) var<storage, read_write> dv: array<f32>;        // [B, T, KVH, HD]
@group(0) @binding(8) var<uniform> bparams: Params;

var<workgroup> b_qt: array<f32, BR * HD>;             // [BR, HD] Q tile
var<workgroup> b_dot: array<f32, BR * HD>;            // [BR, HD] dO tile
var<workgroup> b_ps: array<f32, BC * BR * LANES>;     // [BC, BR, LANES] partial k·q
var<workgroup> b_pdp: array<f32, BC * BR * LANES>;    // [BC, BR, LANES] partial v·dO
var<workgroup> b_p: array<f32, BC * BR>;              // [BC, BR] p
var<workgroup> b_ds: array<f32, BC * BR>;             // [BC, BR] ρ·dS_raw

@compute @workgroup_size(BC * LANES)
fn attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = bparams;
  let g = group_index(wid, nwg);
  if (g >= p.n_groups) { return; }
  let T = p.T;
  let WG = BC * LANES;
  let dpl = HD / LANES;
  let G = p.NH / p.KVH;
  // g = (b·KVH + kvh)·n_kblocks + kb
  let nkb = (T + BC - 1u) / BC;
  let kb = g % nkb;
  let kvh = (g / nkb) % p.KVH;
  let b = g / nkb / p.KVH;
  let kk = lid / LANES;  // key within the tile
  let lane = lid % LANES;
  let key = kb * BC + kk;
  let key_ok = key < T;

  var kr: array<f32, MAX_DPL>;
  var vr: array<f32, MAX_DPL>;
  var dk_acc: array<f32, MAX_DPL>;
  var dv_acc: array<f32, MAX_DPL>;
  let kbase = ((b * T + key) * p.KVH + kvh) * HD;
  for (var i = 0u; i < dpl; i++) {
    kr[i] = 0.0;
    vr[i] = 0.0;
    if (key_ok) {
      kr[i] = k[kbase + i * LANES + lane];
      vr[i] = v[kbase + i * LANES + lane];
    }
    dk_acc[i] = 0.0;
    dv_acc[i] = 0.0;
  }

  // Queries that can see keys [k0, k1): q ∈ [k0, k1 − 1 + W − 1] (W = 0: up to T − 1).
  let k0 = kb * BC;
  let k1 = min(k0 + BC, T);
  var qmax = T - 1u;
  if (p.window > 0u) { qmax = min(qmax, k1 + p.window - 2u); }
  let qb_end = qmax / BR;
  for (var hg = 0u; hg < G; hg++) {
    let h = kvh * G + hg;
    for (var qb = k0 / BR; qb <= qb_end; qb++) {
      let q0 = qb * BR;
      workgroupBarrier();  // previous tiles fully read
      for (var idx = lid; idx < BR * HD; idx += WG) {
        let qi = q0 + idx / HD;
        var qv = 0.0;
        var dov = 0.0;
        if (qi < T) {
          let at = ((b * T + qi) * p.NH + h) * HD + idx % HD;
          qv = q[at];
          dov = b_dout[at];
        }
        b_qt[idx] = qv;
        b_dot[idx] = dov;
      }
      workgroupBarrier();
      for (var i = 0u; i < BR; i++) {
        var s = 0.0;
        var dp = 0.0;
        for (var t = 0u; t < dpl; t++) {
          let d = i * HD + t * LANES + lane;
          s += kr[t] * b_qt[d];
          dp += vr[t] * b_dot[d];
        }
        b_ps[(kk * BR + i) * LANES + lane] = s;
        b_pdp[(kk * BR + i) * LANES + lane] = dp;
      }
      workgroupBarrier();
      // Lane l finishes queries l, l + LANES, … of this key.
      for (var i = lane; i < BR; i += LANES) {
        let qi = q0 + i;
        var pv = 0.0;
        var ds = 0.0;
        if (key_ok && visible(b, qi, key, T, p.window, p.has_mask)) {
          var dot = 0.0;
          var dpv = 0.0;
          for (var t = 0u; t < LANES; t++) {
            dot += b_ps[(kk * BR + i) * LANES + t];
            dpv += b_pdp[(kk * BR + i) * LANES + t];
          }
          let s = cap_score(dot, p.scale, p.cap);
          let r = (b * T + qi) * p.NH + h;
          pv = exp(s - b_stats[2u * r]);               // p = exp(s − L)
          ds = pv * (dpv - b_stats[2u * r + 1u]);      // dS = p·(dP − Δ)
          if (p.cap > 0.0) {
            let c = s / p.cap;
            ds *= 1.0 - c * c;                         // through the cap: 1 − tanh²
          }
          ds *= p.scale;                               // through ρ
        }
        b_p[kk * BR + i] = pv;
        b_ds[kk * BR + i] = ds;
      }
      workgroupBarrier();
      for (var i = 0u; i < BR; i++) {
        let pv = b_p[kk * BR + i];
        let ds = b_ds[kk * BR + i];
        for (var t = 0u; t < dpl; t++) {
          let d = i * HD + t * LANES + lane;
          dv_acc[t] += pv * b_dot[d];
          dk_acc[t] += ds * b_qt[d];
        }
      }
    }
  }

  if (!key_ok) { return; }
  // Every key of the tile is written, zeros included (keys no query can see).
  for (var i = 0u; i < dpl; i++) {
    dk[kbase + i * LANES + lane] = dk_acc[i];
    dv[kbase + i * LANES + lane] = dv_acc[i];
  }
}

// ================================================================================== backward: dQ
// Workgroup = BR query rows × LANES lanes; q, dO and dq slices in registers. Per visible key block
// (4 barriers): stage K and V → partial q·k and dO·v → lane-sum into ρ·dS_raw → dq += dS·K.

@group(0) @binding(4) var<storage, read> q_dout: array<f32>;          // [B, T, NH, HD]
@group(0) @binding(5) var<storage, read> q_stats: array<f32>;         // [B, T, NH, 2]
@group(0) @binding(6) var<storage, read_write> dq: array<f32>;        // [B, T, NH, HD]
@group(0) @binding(7) var<uniform> qparams: Params;

var<workgroup> q_kt: array<f32, BC * HD>;             // [BC, HD] K tile
var<workgroup> q_vt: array<f32, BC * HD>;             // [BC, HD] V tile
var<workgroup> q_ps: array<f32, BR * BC * LANES>;     // [BR, BC, LANES] partial q·k
var<workgroup> q_pdp: array<f32, BR * BC * LANES>;    // [BR, BC, LANES] partial dO·v
var<workgroup> q_ds: array<f32, BR * BC>;             // [BR, BC] ρ·dS_raw

@compute @workgroup_size(BR * LANES)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = qparams;
  let g = group_index(wid, nwg);
  if (g >= p.n_groups) { return; }
  let T = p.T;
  let WG = BR * LANES;
  let dpl = HD / LANES;
  let nqb = (T + BR - 1u) / BR;
  let qb = g % nqb;
  let h = (g / nqb) % p.NH;
  let b = g / nqb / p.NH;
  let kvh = h / (p.NH / p.KVH);
  let row = lid / LANES;
  let lane = lid % LANES;
  let qi = qb * BR + row;
  let row_ok = qi < T;

  var qr: array<f32, MAX_DPL>;
  var dor: array<f32, MAX_DPL>;
  var dq_acc: array<f32, MAX_DPL>;
  let qbase = ((b * T + qi) * p.NH + h) * HD;
  for (var i = 0u; i < dpl; i++) {
    qr[i] = 0.0;
    dor[i] = 0.0;
    if (row_ok) {
      qr[i] = q[qbase + i * LANES + lane];
      dor[i] = q_dout[qbase + i * LANES + lane];
    }
    dq_acc[i] = 0.0;
  }
  var L = 0.0;
  var delta = 0.0;
  if (row_ok) {
    let r = (b * T + qi) * p.NH + h;
    L = q_stats[2u * r];
    delta = q_stats[2u * r + 1u];
  }

  // Same key-block range as the forward.
  let q0 = qb * BR;
  let q1 = min(q0 + BR, T);
  var kmin = 0u;
  if (p.window > 0u && q0 + 1u > p.window) { kmin = q0 + 1u - p.window; }
  let kb_end = (q1 - 1u) / BC;
  for (var kb = kmin / BC; kb <= kb_end; kb++) {
    let k0 = kb * BC;
    workgroupBarrier();
    for (var idx = lid; idx < BC * HD; idx += WG) {
      let key = k0 + idx / HD;
      var kv_k = 0.0;
      var kv_v = 0.0;
      if (key < T) {
        let at = ((b * T + key) * p.KVH + kvh) * HD + idx % HD;
        kv_k = k[at];
        kv_v = v[at];
      }
      q_kt[idx] = kv_k;
      q_vt[idx] = kv_v;
    }
    workgroupBarrier();
    for (var j = 0u; j < BC; j++) {
      var s = 0.0;
      var dp = 0.0;
      for (var i = 0u; i < dpl; i++) {
        let d = j * HD + i * LANES + lane;
        s += qr[i] * q_kt[d];
        dp += dor[i] * q_vt[d];
      }
      q_ps[(row * BC + j) * LANES + lane] = s;
      q_pdp[(row * BC + j) * LANES + lane] = dp;
    }
    workgroupBarrier();
    for (var j = lane; j < BC; j += LANES) {
      var ds = 0.0;
      if (visible(b, qi, k0 + j, T, p.window, p.has_mask)) {
        var dot = 0.0;
        var dpv = 0.0;
        for (var t = 0u; t < LANES; t++) {
          dot += q_ps[(row * BC + j) * LANES + t];
          dpv += q_pdp[(row * BC + j) * LANES + t];
        }
        let s = cap_score(dot, p.scale, p.cap);
        ds = exp(s - L) * (dpv - delta);
        if (p.cap > 0.0) {
          let c = s / p.cap;
          ds *= 1.0 - c * c;
        }
        ds *= p.scale;
      }
      q_ds[row * BC + j] = ds;
    }
    workgroupBarrier();
    for (var j = 0u; j < BC; j++) {
      let ds = q_ds[row * BC + j];
      for (var i = 0u; i < dpl; i++) { dq_acc[i] += ds * q_kt[j * HD + i * LANES + lane]; }
    }
  }

  if (!row_ok) { return; }
  for (var i = 0u; i < dpl; i++) { dq[qbase + i * LANES + lane] = dq_acc[i]; }
}
