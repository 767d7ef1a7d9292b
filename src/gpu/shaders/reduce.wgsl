// reduce.wgsl — sums over dimensions, and their adjoint, broadcasting back.
// Host side: src/engine/ops/reduce.ts (sum, mean, sumTo, broadcastTo).
//
// A reduction is described by the host on x's shape collapsed to at most 6 dims, each either
// *kept* (it survives into the output) or *reduced* (summed over); adjacent dims of the same kind
// are merged and size-1 dims dropped. sum over axis 1 of [P, L, Q] is kept P, reduced L, kept Q;
// the bias-style "sum [T, C] to [C]" is reduced T, kept C.
//   y[k] = s · Σ_j x[off_kept(k) + off_red(j)]      k < m outputs, j < r reduced elements
// with off_kept/off_red the row-major decompositions of k and j over the kept/reduced dims times
// their strides in x. s is 1 for sums and 1/L for means.
//
// Every output has exactly one writer and a fixed summation order (no float atomics exist in
// WGSL), so results are bit-identical from run to run on one adapter. Two kernels:
// - reduce_thread: one invocation per output, a sequential loop over j. Right for short
//   reductions, and for reductions over an outer dim with many outputs (neighbouring invocations
//   then read neighbouring addresses).
// - reduce_group: one workgroup per output; lane l sums j = l, l + WG, l + 2·WG, … and the WG
//   partial sums are tree-reduced in workgroup memory. Right for long reductions, above all over
//   the innermost dim (the lanes then read consecutive addresses).
// The host picks one from the shape (ops/reduce.ts, pickKernel).

struct Params {
  m: u32,   // outputs (product of the kept dims)
  r: u32,   // reduced elements per output (product of the reduced dims), ≥ 1
  nk: u32,  // kept dims, 0..6
  nr: u32,  // reduced dims, 0..6
  s: f32,   // scale applied to every sum
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  kdim: array<vec4<u32>, 2>,     // kept dims, outermost first ([k/4][k%4])
  kstride: array<vec4<u32>, 2>,  // their strides in x (elements)
  rdim: array<vec4<u32>, 2>,     // reduced dims, outermost first
  rstride: array<vec4<u32>, 2>,  // their strides in x
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// Offset in x of the k-th output's first element (row-major over the kept dims).
fn kept_offset(k: u32) -> u32 {
  var rem = k;
  var off = 0u;
  for (var d = i32(params.nk) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let c = u32(d) % 4u;
    off += (rem % params.kdim[q][c]) * params.kstride[q][c];
    rem = rem / params.kdim[q][c];
  }
  return off;
}

// Offset in x of the j-th reduced element relative to an output's first element.
fn reduced_offset(j: u32) -> u32 {
  // One reduced dim is the common case (sum over one axis, bias gradients): no divisions.
  if (params.nr == 1u) { return j * params.rstride[0][0]; }
  var rem = j;
  var off = 0u;
  for (var d = i32(params.nr) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let c = u32(d) % 4u;
    off += (rem % params.rdim[q][c]) * params.rstride[q][c];
    rem = rem / params.rdim[q][c];
  }
  return off;
}

// ---------------------------------------------------------------- one invocation per output

@compute @workgroup_size(256)
fn reduce_thread(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat_index(gid, nwg, 256u);
  if (k >= params.m) { return; }
  let base = kept_offset(k);
  var acc = 0.0;
  for (var j = 0u; j < params.r; j++) {
    acc += x[base + reduced_offset(j)];
  }
  y[k] = params.s * acc;
}

// ---------------------------------------------------------------- one workgroup per output

// Lanes per workgroup (a power of two ≤ 256: SwiftShader's limit). 64 for reductions shorter
// than 4096 elements, 256 above (kernels.md §4).
override WG: u32 = 256u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce_group(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  // One output per workgroup; the 1-D grid of m workgroups may be folded into y (Engine.grid).
  let k = wid.x + wid.y * nwg.x;
  // Uniform per workgroup (workgroup_id and params), so the barriers below stay legal.
  if (k >= params.m) { return; }
  let base = kept_offset(k);
  // Stage 1: each lane sums a strided slice in increasing j.
  var acc = 0.0;
  for (var j = lane; j < params.r; j += WG) {
    acc += x[base + reduced_offset(j)];
  }
  partial[lane] = acc;
  workgroupBarrier();
  // Stage 2: pairwise tree over the WG partials, halving each round (fixed order).
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lane < half) {
      partial[lane] = partial[lane] + partial[lane + half];
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    y[k] = params.s * partial[0];
  }
}

// ---------------------------------------------------------------- broadcast back (the adjoint)

// y[i] = s · x[src(i)] for i over the collapsed output shape, with x's stride 0 along the dims
// where x is broadcast: the backward of a sum (dims that were reduced), and broadcastTo.
struct BroadcastParams {
  n: u32,     // output elements
  rank: u32,  // collapsed dims, 1..6
  s: f32,     // scale (1, or 1/L for mean's backward)
  _pad0: u32,
  dims: array<vec4<u32>, 2>,     // collapsed output dims, outermost first
  sstride: array<vec4<u32>, 2>,  // x's stride per dim (0 = broadcast)
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> bparams: BroadcastParams;

@compute @workgroup_size(256)
fn broadcast_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= bparams.n) { return; }
  var rem = i;
  var off = 0u;
  for (var d = i32(bparams.rank) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let c = u32(d) % 4u;
    off += (rem % bparams.dims[q][c]) * bparams.sstride[q][c];
    rem = rem / bparams.dims[q][c];
  }
  dst[i] = bparams.s * src[off];
}
