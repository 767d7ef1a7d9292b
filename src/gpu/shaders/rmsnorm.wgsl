// rmsnorm.wgsl — Gemma-2 RMSNorm (spec gemma2-and-formats.md §1.4, derivatives §1.5, kernels.md §4):
//   y = x · rstd · (1 + w),   rstd = 1 / sqrt(mean_j(x_j²) + eps)        per row of C features
// Entry points:
//   rmsnorm_forward      one workgroup per row: Σx² tree-reduced in workgroup memory, writes y and rstd
//   rmsnorm_backward     one workgroup per row: dx = rstd·g − (rstd³/C)·x·Σ_k g_k·x_k, g = dy·(1 + w)
//   rmsnorm_dw_partial   dw stage 1: one invocation per (column, chunk of rows), rows summed in order
//   rmsnorm_dw_reduce    dw stage 2: one invocation per column, sums the chunk partials in order
// All statistics and accumulation in f32; every output element has exactly one writer (deterministic).
// Not here: vec4 loads (C = 33 must work; a vec4 path for C % 4 == 0 is a later optimisation) and
// keeping the row in registers — the second read of x hits the cache right after the first.

struct Params {
  rows: u32,  // number of rows (product of all but the last dimension)
  C: u32,     // features per row
  eps: f32,   // added inside the rsqrt (1e-6 for Gemma-2)
  chunk: u32, // dw kernels only: rows per chunk (stage 1) / number of chunks (stage 2)
}

// Invocations per workgroup for the row kernels: a power of two ≤ 256 (the tree reduction halves it).
override WG: u32 = 64;

// Tree-reduction scratch; sized for the largest WG allowed (1 KiB of workgroup memory).
var<workgroup> red: array<f32, 256>;

// Sum of `v` over the workgroup (every invocation gets the total). Must be called in uniform
// control flow. Leaves `red` free for reuse (the trailing barrier).
fn workgroup_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

// ---------------------------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read> x: array<f32>;             // [rows, C]
@group(0) @binding(1) var<storage, read> w: array<f32>;             // [C]
@group(0) @binding(2) var<storage, read_write> y: array<f32>;       // [rows, C]
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>;    // [rows], kept for backward
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn rmsnorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Row index from a 1-D grid folded into y above 65535 workgroups (Engine.grid(rows, 1)).
  // Uniform per workgroup, so the early return keeps the barriers below in uniform control flow.
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let C = params.C;
  let base = row * C;
  // Σ x² for this row: each invocation strides over the columns, then a tree reduction.
  var ss = 0.0;
  for (var j = lid; j < C; j += WG) {
    let v = x[base + j];
    ss += v * v;
  }
  let total = workgroup_sum(ss, lid);
  let r = inverseSqrt(total / f32(C) + params.eps);
  if (lid == 0u) { rstd[row] = r; }
  // Gemma scales by (1 + w): the stored weight is a zero-initialised offset.
  for (var j = lid; j < C; j += WG) {
    y[base + j] = x[base + j] * r * (1.0 + w[j]);
  }
}

// ---------------------------------------------------------------------------------- backward dx
// With g = dy·(1 + w) and s = Σ_k g_k·x_k (one row reduction):
//   dx_j = rstd·g_j − (rstd³ / C)·x_j·s
// (equivalently rstd·(g − x̂·mean(g·x̂)) with x̂ = x·rstd).

@group(0) @binding(0) var<storage, read> b_dy: array<f32>;          // [rows, C]
@group(0) @binding(1) var<storage, read> b_x: array<f32>;           // [rows, C]
@group(0) @binding(2) var<storage, read> b_w: array<f32>;           // [C]
@group(0) @binding(3) var<storage, read> b_rstd: array<f32>;        // [rows]
@group(0) @binding(4) var<storage, read_write> b_dx: array<f32>;    // [rows, C]
@group(0) @binding(5) var<uniform> bparams: Params;

@compute @workgroup_size(WG)
fn rmsnorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= bparams.rows) { return; }
  let C = bparams.C;
  let base = row * C;
  var s = 0.0;
  for (var j = lid; j < C; j += WG) {
    s += b_dy[base + j] * (1.0 + b_w[j]) * b_x[base + j];
  }
  let total = workgroup_sum(s, lid);
  let r = b_rstd[row];
  let k = r * r * r * total / f32(C);
  for (var j = lid; j < C; j += WG) {
    let g = b_dy[base + j] * (1.0 + b_w[j]);
    b_dx[base + j] = r * g - k * b_x[base + j];
  }
}

// ---------------------------------------------------------------------------------- backward dw
// dw_j = Σ_rows dy_j·x_j·rstd_row, a column reduction, done in two fixed-order stages so that a
// long column (B·T rows) is spread over many workgroups without float atomics:
//   stage 1: partial[chunk, j] = Σ_{row in chunk} dy[row, j]·x[row, j]·rstd[row]
//   stage 2: dw[j] = Σ_chunk partial[chunk, j]
// With a single chunk the host binds dw as the stage-1 output and skips stage 2.
// Adjacent invocations read adjacent columns (coalesced).

@group(0) @binding(0) var<storage, read> p_dy: array<f32>;          // [rows, C]
@group(0) @binding(1) var<storage, read> p_x: array<f32>;           // [rows, C]
@group(0) @binding(2) var<storage, read> p_rstd: array<f32>;        // [rows]
@group(0) @binding(3) var<storage, read_write> p_out: array<f32>;   // [chunks, C]
@group(0) @binding(4) var<uniform> pparams: Params;                 // chunk = rows per chunk

@compute @workgroup_size(64)
fn rmsnorm_dw_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;        // column
  let chunk = gid.y;    // chunk of rows (grid y = number of chunks)
  let C = pparams.C;
  if (j >= C) { return; }
  let r0 = chunk * pparams.chunk;
  let r1 = min(r0 + pparams.chunk, pparams.rows);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    acc += p_dy[r * C + j] * p_x[r * C + j] * p_rstd[r];
  }
  p_out[chunk * C + j] = acc;
}

@group(0) @binding(0) var<storage, read> q_partial: array<f32>;     // [chunks, C]
@group(0) @binding(1) var<storage, read_write> q_dw: array<f32>;    // [C]
@group(0) @binding(2) var<uniform> qparams: Params;                 // chunk = number of chunks

@compute @workgroup_size(64)
fn rmsnorm_dw_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let C = qparams.C;
  if (j >= C) { return; }
  var acc = 0.0;
  for (var c = 0u; c < qparams.chunk; c++) {
    acc += q_partial[c * C + j];
  }
  q_dw[j] = acc;
}
