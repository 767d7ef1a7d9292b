// seq_stats.wgsl — per-row reductions over T for the preference losses (ops/seq_stats.ts;
// spec preference-losses.md §1.1, §2.2 LD-DPO, §2.3 WPO, §2.5 metrics).
//
//   seq_stats_forward   one 64-lane workgroup per row r: lane l sums positions t ≡ l (mod 64) in
//                       order, then a fixed-order tree merges the lanes (deterministic). Writes
//                       stats[r, 0..5] = (Σ w·lp, Σ m·lp, Σ m, Σ m·(lp − lsp2), Σ m·zmean, Σ m·correct)
//                       with w = tokenWeight, m = mask. Zero-weight positions are skipped, not
//                       multiplied, so padding holding NaN/Inf adds nothing.
//   seq_stats_backward  dlogp[r, t] = dout[r, 0]·w[r, t] + dout[r, 1]·m[r, t] (columns 2–5 are
//                       detached).

const LANES: u32 = 64u;
const F_ZMEAN: u32 = 1u;
const F_CORRECT: u32 = 2u;

struct Params {
  R: u32,       // rows
  T: u32,       // positions per row
  flags: u32,   // F_ZMEAN | F_CORRECT: which optional inputs are bound for real
}

@group(0) @binding(0) var<storage, read> logp: array<f32>;        // [R, T]
@group(0) @binding(1) var<storage, read> lsp2: array<f32>;        // [R, T]
@group(0) @binding(2) var<storage, read> tw: array<f32>;          // [R, T] token weights
@group(0) @binding(3) var<storage, read> mask: array<f32>;        // [R, T] 0|1
@group(0) @binding(4) var<storage, read> zmean: array<f32>;       // [R, T] (a stand-in unless F_ZMEAN)
@group(0) @binding(5) var<storage, read> correct: array<f32>;     // [R, T] (a stand-in unless F_CORRECT)
@group(0) @binding(6) var<storage, read_write> stats: array<f32>; // [R, 6]
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> red: array<f32, 384>;  // 6 sums × 64 lanes

// Workgroups: one per row, 1-D grid folded into y above 65535 (Engine.grid).
@compute @workgroup_size(64)
fn seq_stats_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= params.R) { return; }  // whole workgroup: uniform
  let T = params.T;
  let useZ = (params.flags & F_ZMEAN) != 0u;
  let useC = (params.flags & F_CORRECT) != 0u;
  var acc: array<f32, 6>;
  for (var t = lid; t < T; t += LANES) {
    let i = r * T + t;
    let lp = logp[i];
    let w = tw[i];
    if (w != 0.0) { acc[0] += w * lp; }
    let m = mask[i];
    if (m != 0.0) {
      acc[1] += m * lp;
      acc[2] += m;
      acc[3] += m * (lp - lsp2[i]);
      if (useZ) { acc[4] += m * zmean[i]; }
      if (useC) { acc[5] += m * correct[i]; }
    }
  }
  for (var c = 0u; c < 6u; c++) { red[c * LANES + lid] = acc[c]; }
  for (var s = LANES / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      for (var c = 0u; c < 6u; c++) { red[c * LANES + lid] += red[c * LANES + lid + s]; }
    }
  }
  workgroupBarrier();
  if (lid < 6u) { stats[r * 6u + lid] = red[lid * LANES]; }
}

struct BackParams {
  R: u32,
  T: u32,
}

@group(0) @binding(0) var<storage, read> b_dout: array<f32>;         // [R, 6]
@group(0) @binding(1) var<storage, read> b_tw: array<f32>;           // [R, T]
@group(0) @binding(2) var<storage, read> b_mask: array<f32>;         // [R, T]
@group(0) @binding(3) var<storage, read_write> b_dlogp: array<f32>;  // [R, T]
@group(0) @binding(4) var<uniform> bp: BackParams;

// One invocation per (row, position).
@compute @workgroup_size(256)
fn seq_stats_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= bp.R * bp.T) { return; }
  let r = i / bp.T;
  b_dlogp[i] = b_dout[r * 6u] * b_tw[i] + b_dout[r * 6u + 1u] * b_mask[i];
}
