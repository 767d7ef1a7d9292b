// grad_norm.wgsl — the global L2 norm of all gradients, the clip factor of
// torch.nn.utils.clip_grad_norm_, and a non-finite flag, in two deterministic stages and with no
// float atomics (kernels.md §4):
//
//   grad_norm_partial  one dispatch per gradient tensor. Workgroup w sums the squares of its
//                      contiguous chunk of CHUNK elements in a fixed order (per-invocation strided
//                      loop, then a tree in workgroup memory) and writes one (Σg², non-finite)
//                      pair to partials[offset + w].
//   grad_norm_finish   one workgroup folds all partials in index order and writes
//                      norm = √Σg², scale = min(1, max_norm / (norm + 1e-6)) and the flag.
//
// Same inputs → same bits on one adapter, whatever the dispatch timing.
// NaN/±Inf elements are detected with a bit test (common.wgsl not_finite, reliable where float
// comparisons with NaN are not: WGSL lets drivers assume NaN and Inf away) and kept out of the
// sum. The flag: bit 0 = some element is NaN/±Inf, bit 1 = every element is finite but Σg²
// overflowed f32 (bit test on the sum). When it is set, finish writes the norm as NaN (bit 0) or
// +Inf (bit 1) from bit patterns — a reported value, never used in arithmetic — and the clip
// factor as 1, never NaN; the optimizer kernels read the flag and skip the step (optim.wgsl).
// Host side: src/engine/optim/clip.ts. Reference: src/engine/reference/optim.ts clipGradNormRef.

const WG: u32 = 256u;                 // invocations per workgroup (SwiftShader's maximum)
const ITEMS: u32 = 16u;               // elements per invocation
const CHUNK: u32 = WG * ITEMS;        // elements per workgroup (4096)

var<workgroup> s_sum: array<f32, WG>;
var<workgroup> s_bad: array<u32, WG>;

// Tree reduction of s_sum / s_bad into slot 0, fixed pairing order. Call from all invocations.
fn reduce_workgroup(lid: u32) {
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      s_sum[lid] = s_sum[lid] + s_sum[lid + stride];
      s_bad[lid] = s_bad[lid] | s_bad[lid + stride];
    }
    workgroupBarrier();
  }
}

// ---------------------------------------------------------------------------- stage 1

struct PartialParams {
  n: u32,       // elements of this gradient tensor
  offset: u32,  // first slot of `partials` this tensor writes
  groups: u32,  // workgroups (= slots) for this tensor: ceil(n / CHUNK)
}

@group(0) @binding(0) var<storage, read> g: array<f32>;                    // [n] one gradient
@group(0) @binding(1) var<storage, read_write> partials: array<vec2<f32>>; // [P] (Σg², bad 0/1)
@group(0) @binding(2) var<uniform> pparams: PartialParams;

@compute @workgroup_size(WG)
fn grad_norm_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Grids above 65535 groups fold into y (Engine.grid); the surplus groups of the fold exit.
  // `w` is uniform across the workgroup, so the early return keeps the barriers uniform.
  let w = wid.x + wid.y * nwg.x;
  if (w >= pparams.groups) { return; }
  let base = w * CHUNK;
  var acc = 0.0;
  var bad = 0u;
  // Strided so that neighbouring invocations read neighbouring elements (coalesced).
  for (var k = 0u; k < ITEMS; k = k + 1u) {
    let i = base + k * WG + lid;
    if (i < pparams.n) {
      let x = g[i];
      if (not_finite(x)) { bad = 1u; } else { acc = acc + x * x; }
    }
  }
  s_sum[lid] = acc;
  s_bad[lid] = bad;
  workgroupBarrier();
  reduce_workgroup(lid);
  if (lid == 0u) {
    partials[pparams.offset + w] = vec2<f32>(s_sum[0], f32(s_bad[0]));
  }
}

// ---------------------------------------------------------------------------- stage 2

struct FinishParams {
  count: u32,     // P, partial slots in use
  clip: u32,      // 0: no threshold (scale 1; norm and flag only), 1: clip at max_norm
  max_norm: f32,  // clip threshold (> 0, finite)
}

@group(0) @binding(0) var<storage, read> f_partials: array<vec2<f32>>;  // [P]
@group(0) @binding(1) var<storage, read_write> out_norm: array<f32>;     // [1] ‖g‖₂
@group(0) @binding(2) var<storage, read_write> out_scale: array<f32>;    // [1] clip factor
@group(0) @binding(3) var<storage, read_write> out_flag: array<u32>;     // [1] 1 if non-finite
@group(0) @binding(4) var<uniform> fparams: FinishParams;

@compute @workgroup_size(WG)
fn grad_norm_finish(@builtin(local_invocation_index) lid: u32) {
  // Invocation lid folds slots lid, lid + WG, lid + 2·WG, … in order; then the tree.
  var acc = 0.0;
  var bad = 0u;
  for (var j = lid; j < fparams.count; j = j + WG) {
    let pr = f_partials[j];
    acc = acc + pr.x;
    if (pr.y != 0.0) { bad = 1u; }
  }
  s_sum[lid] = acc;
  s_bad[lid] = bad;
  workgroupBarrier();
  reduce_workgroup(lid);
  if (lid == 0u) {
    var flag = s_bad[0];
    if (flag == 0u && not_finite(s_sum[0])) { flag = 2u; }  // finite elements, overflowed sum
    var norm = sqrt(s_sum[0]);
    var scale = 1.0;
    if (flag != 0u) {
      // Quiet NaN / +Inf from bit patterns (a constant NaN is a shader-creation error in WGSL).
      norm = bitcast<f32>(select(0x7f800000u, 0x7fc00000u, flag == 1u));
    } else if (fparams.clip != 0u) {
      scale = min(1.0, fparams.max_norm / (norm + 1e-6));
    }
    out_norm[0] = norm;
    out_scale[0] = scale;
    out_flag[0] = flag;
  }
}
