// attention_decode.wgsl — Gemma-2 attention of new queries against a key/value cache, for
// generation (spec gemma2-and-formats.md §1.4 "Attention" and "Masks"; design kernels.md §3).
// Forward only: generation runs under noGrad, nothing here has a backward.
//
// The new tokens of a step sit at cache rows p0 … p0+Tq−1 (their k/v already written there by
// kv_cache_write); query i is at absolute position qa = p0 + i and may see cache rows
// 0 … p0+Tq−1. Per sequence b and query head h (reading kv head j = h / G, G = NH / KVH):
//   s[i, k] = ρ · (q_h[i] · K_j[k])                  raw score
//   s       = cap · tanh(s / cap)                     softcap, BEFORE the mask (skipped if cap = 0)
//   visible(i, k) = k ≤ qa  ∧  (W = 0 ∨ qa − W < k)  ∧  keyMask[b, k] ≠ 0
//   o[i]    = Σ_k softmax_k(s[i, :] over visible k) · V_j[k]     (no visible key: o = 0)
// The same semantics as attention.wgsl (training) with positions taken as absolute cache rows;
// for a left-padded batch the padding rows are masked by keyMask, and RoPE positions (which
// differ from cache rows there) are the caller's business.
//
// Layouts (row-major):
//   q, o       [B, Tq, NH, HD]         kc, vc   [B, S_max, KVH, HD]   (the cache, S_max ≥ p0 + Tq)
//   keyMask    [B, S_max] u32 (f32 1.0/0.0 bit patterns work too: only bits ≠ 0 are tested)
//   part_acc   [n_split, B, Tq, NH, HD]  unnormalised Σ p·v of one key split
//   part_ml    [n_split, B, Tq, NH, 2]   (m, l): running max and Σ exp(s − m) of that split
//
// Entry points:
//   kv_cache_write            one invocation per new k/v element: cache[b, p0 + t] = new[b, t]
//   attention_decode_partial  one workgroup per (b, kv head, block of RB rows, key split); a "row"
//                             is one (query i, head of the group) pair, so the G query heads that
//                             share a kv head are served by the same staged K/V tiles (GQA reuse,
//                             and enough rows to fill a workgroup when Tq = 1)
//   attention_decode_merge    one invocation per output element: combines the key splits
// Key splits (flash-decoding): with Tq = 1 there are only B·KVH row blocks — 4 workgroups for
// gemma-2-2b — so the host splits the key range into n_split chunks of split_len keys, each done
// by its own workgroup, and merges the (m, l, acc) triples: M = max m_s, L = Σ l_s·e^(m_s − M),
// o = Σ acc_s·e^(m_s − M) / L. With n_split = 1 the partial kernel writes o itself.
//
// Work split inside a workgroup (as in attention.wgsl): a row is served by LANES invocations; lane
// l owns head dims l, l + LANES, …; a q·k dot is LANES partial dots summed in lane order through
// workgroup memory (no subgroup operations, any subgroup size). No atomics: every output element
// has one writer and every sum runs in a fixed order (deterministic).

struct Params {
  B: u32,
  Tq: u32,         // new queries per sequence
  S_max: u32,      // cache rows per sequence (row stride of kc, vc, keyMask)
  p0: u32,         // cache row (absolute position) of query 0; rows < p0 + Tq are valid
  NH: u32,         // query heads
  KVH: u32,        // key/value heads (NH % KVH == 0)
  scale: f32,      // ρ (Gemma-2: query_pre_attn_scalar^-0.5)
  cap: f32,        // attention softcap (50 for Gemma-2); 0 = none
  window: u32,     // sliding window W; 0 = none (global layer)
  has_mask: u32,   // 1: keyMask is read; 0: every key is kept
  n_groups: u32,   // workgroups (partial) / invocations (merge, cache write) that have work
  n_split: u32,    // key splits; 1 = write o directly
  split_len: u32,  // keys per split
  k_lo: u32,       // first key of split 0 (the start of the band of query 0)
}

// Compile-time tile shape (ops/attention_decode.ts: decodeTiles()).
override HD: u32 = 16u;     // head dim
override LANES: u32 = 8u;   // invocations per row; HD % LANES == 0, HD / LANES ≤ MAX_DPL
override RB: u32 = 4u;      // rows (query, head) per workgroup
override BC: u32 = 16u;     // keys per staged tile
const MAX_DPL: u32 = 32u;   // registers per lane for q and the accumulator
const MASKED_BELOW: f32 = -1.0e29;  // scores below this are NEG_BIG = masked

// ================================================================================== cache write
// kc[b, p0 + t, :, :] = k_new[b, t, :, :] (and the same for v); n_groups = B·Tq·KVH·HD.

@group(0) @binding(0) var<storage, read> w_k: array<f32>;            // [B, Tq, KVH, HD]
@group(0) @binding(1) var<storage, read> w_v: array<f32>;            // [B, Tq, KVH, HD]
@group(0) @binding(2) var<storage, read_write> w_kc: array<f32>;     // [B, S_max, KVH, HD]
@group(0) @binding(3) var<storage, read_write> w_vc: array<f32>;     // [B, S_max, KVH, HD]
@group(0) @binding(4) var<uniform> wparams: Params;

@compute @workgroup_size(256)
fn kv_cache_write(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = wparams;
  let idx = flat_index(gid, nwg, 256u);
  if (idx >= p.n_groups) { return; }
  let row = p.KVH * HD;          // floats per token
  let j = idx % row;
  let t = (idx / row) % p.Tq;
  let b = idx / row / p.Tq;
  let dst = (b * p.S_max + p.p0 + t) * row + j;
  w_kc[dst] = w_k[idx];
  w_vc[dst] = w_v[idx];
}

// ================================================================================== partial

@group(0) @binding(0) var<storage, read> q: array<f32>;         // [B, Tq, NH, HD]
@group(0) @binding(1) var<storage, read> kc: array<f32>;        // [B, S_max, KVH, HD]
@group(0) @binding(2) var<storage, read> vc: array<f32>;        // [B, S_max, KVH, HD]
@group(0) @binding(3) var<storage, read> keyMask: array<u32>;   // [B, S_max] (any buffer if has_mask = 0)
@group(0) @binding(4) var<storage, read_write> o: array<f32>;         // [B, Tq, NH, HD] (n_split = 1)
@group(0) @binding(5) var<storage, read_write> part_acc: array<f32>;  // [n_split, B, Tq, NH, HD] (n_split > 1)
@group(0) @binding(6) var<storage, read_write> part_ml: array<f32>;   // [n_split, B, Tq, NH, 2] (n_split > 1)
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> s_kv: array<f32, BC * HD>;            // [BC, HD] the K tile, then the V tile
var<workgroup> s_part: array<f32, RB * BC * LANES>;  // [RB, BC, LANES] partial q·k per lane
var<workgroup> s_s: array<f32, RB * BC>;             // [RB, BC] capped scores, NEG_BIG = masked

// Is cache row k visible to the query at absolute position qa of sequence b?
fn visible(b: u32, qa: u32, k: u32, p: Params) -> bool {
  if (k > qa) { return false; }                                  // causal
  if (p.window > 0u && k + p.window <= qa) { return false; }     // sliding: qa − W < k
  if (p.has_mask != 0u && (keyMask[b * p.S_max + k] & 0x7fffffffu) == 0u) { return false; }  // padding
  return true;
}

// Workgroup = RB rows × LANES lanes. Per key tile (4 barriers): stage K → partial dots →
// lane-sum + cap + mask into s_s, stage V → online softmax and acc += p·V.
@compute @workgroup_size(RB * LANES)
fn attention_decode_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let p = params;
  let g = wid.x + wid.y * nwg.x;  // Engine.grid(groups, 1) folds into y; uniform per workgroup
  if (g >= p.n_groups) { return; }
  let WG = RB * LANES;
  let dpl = HD / LANES;
  let G = p.NH / p.KVH;
  let R = p.Tq * G;               // rows per (b, kv head)
  let nrb = (R + RB - 1u) / RB;
  // g = ((b·KVH + kvh)·nrb + rb)·n_split + split
  let split = g % p.n_split;
  let rb = (g / p.n_split) % nrb;
  let kvh = (g / p.n_split / nrb) % p.KVH;
  let b = g / p.n_split / nrb / p.KVH;
  let row = lid / LANES;
  let lane = lid % LANES;
  let flat = rb * RB + row;       // row index within (b, kvh): query i = flat / G, head kvh·G + flat % G
  let row_ok = flat < R;
  let i = min(flat, R - 1u) / G;  // clamped so idle rows still address valid memory
  let h = kvh * G + min(flat, R - 1u) % G;
  let qa = p.p0 + i;              // absolute position of this row's query

  var qr: array<f32, MAX_DPL>;
  var acc: array<f32, MAX_DPL>;
  let qbase = ((b * p.Tq + i) * p.NH + h) * HD;
  for (var d = 0u; d < dpl; d++) {
    qr[d] = select(0.0, q[qbase + d * LANES + lane], row_ok);
    acc[d] = 0.0;
  }
  var m = NEG_BIG;  // running max of the visible scores
  var l = 0.0;      // running Σ exp(s − m)

  // Keys this workgroup walks: the band of its queries [first query − W + 1, last query]
  // intersected with its split [k_lo + split·split_len, k_lo + (split+1)·split_len).
  let i_first = (rb * RB) / G;
  let i_last = (min(rb * RB + RB, R) - 1u) / G;
  var k_begin = p.k_lo + split * p.split_len;
  if (p.window > 0u && p.p0 + i_first + 1u > p.window) { k_begin = max(k_begin, p.p0 + i_first + 1u - p.window); }
  let k_end = min(p.k_lo + (split + 1u) * p.split_len, p.p0 + i_last + 1u);  // exclusive
  for (var k0 = k_begin; k0 < k_end; k0 += BC) {
    // Stage K (zeros past k_end). The barrier protects s_kv, still holding the previous V tile.
    workgroupBarrier();
    for (var idx = lid; idx < BC * HD; idx += WG) {
      let key = k0 + idx / HD;
      var val = 0.0;
      if (key < k_end) { val = kc[((b * p.S_max + key) * p.KVH + kvh) * HD + idx % HD]; }
      s_kv[idx] = val;
    }
    workgroupBarrier();
    // Partial dots over this lane's dims for every key of the tile.
    for (var j = 0u; j < BC; j++) {
      var s = 0.0;
      for (var d = 0u; d < dpl; d++) { s += qr[d] * s_kv[j * HD + d * LANES + lane]; }
      s_part[(row * BC + j) * LANES + lane] = s;
    }
    workgroupBarrier();
    // Lane l finishes keys l, l + LANES, …: sum the partials in lane order, cap, mask.
    for (var j = lane; j < BC; j += LANES) {
      var dot = 0.0;
      for (var t = 0u; t < LANES; t++) { dot += s_part[(row * BC + j) * LANES + t]; }
      var s = dot * p.scale;
      if (p.cap > 0.0) { s = p.cap * tanh_safe(s / p.cap); }
      let key = k0 + j;
      if (!row_ok || key >= k_end || !visible(b, qa, key, p)) { s = NEG_BIG; }
      s_s[row * BC + j] = s;
    }
    // Stage V into the same buffer (every K read finished before the last barrier).
    for (var idx = lid; idx < BC * HD; idx += WG) {
      let key = k0 + idx / HD;
      var val = 0.0;
      if (key < k_end) { val = vc[((b * p.S_max + key) * p.KVH + kvh) * HD + idx % HD]; }
      s_kv[idx] = val;
    }
    workgroupBarrier();
    // Online softmax: m' = max(m, tile max); rescale l and acc by exp(m − m'); add exp(s − m').
    var tmax = NEG_BIG;
    for (var j = 0u; j < BC; j++) { tmax = max(tmax, s_s[row * BC + j]); }
    let m_new = max(m, tmax);
    let alpha = exp(m - m_new);  // m = NEG_BIG, m' finite: exp(−1e30) = 0, no inf − inf
    l *= alpha;
    for (var d = 0u; d < dpl; d++) { acc[d] *= alpha; }
    for (var j = 0u; j < BC; j++) {
      let s = s_s[row * BC + j];
      if (s > MASKED_BELOW) {
        let pj = exp(s - m_new);
        l += pj;
        for (var d = 0u; d < dpl; d++) { acc[d] += pj * s_kv[j * HD + d * LANES + lane]; }
      }
    }
    m = m_new;
  }

  if (!row_ok) { return; }
  if (p.n_split == 1u) {
    // The whole band was ours: normalise. No visible key (l = 0): o = 0.
    let inv_l = select(0.0, 1.0 / l, l > 0.0);
    for (var d = 0u; d < dpl; d++) { o[qbase + d * LANES + lane] = acc[d] * inv_l; }
    return;
  }
  // One split of several: hand (m, l, acc) to the merge. An empty split leaves m = NEG_BIG, l = 0.
  let rows_all = p.B * p.Tq * p.NH;
  let r = (b * p.Tq + i) * p.NH + h;
  let pbase = (split * rows_all + r) * HD;
  for (var d = 0u; d < dpl; d++) { part_acc[pbase + d * LANES + lane] = acc[d]; }
  if (lane == 0u) {
    part_ml[2u * (split * rows_all + r)] = m;
    part_ml[2u * (split * rows_all + r) + 1u] = l;
  }
}

// ================================================================================== merge
// o[r, d] = Σ_s acc_s[r, d]·e^(m_s − M) / Σ_s l_s·e^(m_s − M), M = max_s m_s; n_groups = B·Tq·NH·HD.
// Splits with no visible key have l = 0 and contribute nothing; all splits empty: o = 0.

@group(0) @binding(0) var<storage, read> g_acc: array<f32>;         // [n_split, B, Tq, NH, HD]
@group(0) @binding(1) var<storage, read> g_ml: array<f32>;          // [n_split, B, Tq, NH, 2]
@group(0) @binding(2) var<storage, read_write> g_o: array<f32>;     // [B, Tq, NH, HD]
@group(0) @binding(3) var<uniform> gparams: Params;

@compute @workgroup_size(64)
fn attention_decode_merge(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let p = gparams;
  let idx = flat_index(gid, nwg, 64u);
  if (idx >= p.n_groups) { return; }
  let r = idx / HD;
  let d = idx % HD;
  let rows_all = p.B * p.Tq * p.NH;
  var M = NEG_BIG;
  for (var s = 0u; s < p.n_split; s++) { M = max(M, g_ml[2u * (s * rows_all + r)]); }
  var L = 0.0;
  var acc = 0.0;
  for (var s = 0u; s < p.n_split; s++) {
    let w = exp(g_ml[2u * (s * rows_all + r)] - M);  // ≤ 1; empty splits have l = 0, acc = 0
    L += g_ml[2u * (s * rows_all + r) + 1u] * w;
    acc += g_acc[(s * rows_all + r) * HD + d] * w;
  }
  g_o[idx] = select(0.0, acc / L, L > 0.0);
}
