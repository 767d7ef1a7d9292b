// elementwise.wgsl — the binary ops y = a + b and y = a · b with NumPy broadcasting, and
// y = s · x (s a uniform scalar). Host side: src/engine/ops/elementwise.ts.
//
// Their backwards are compositions on the host (dA = sumTo(dy [· b], shape(a)), dx = s · dy), so
// this file has forward kernels only; the "sum to shape" reduction lives in reduce.wgsl.
//
// Two paths:
// - same shape: vec4 loads and stores, one invocation per 4 elements. The tensors' bindings are
//   rounded up to 16 bytes by the engine, so the last vec4 may cover up to 3 padding floats past
//   the end: they are computed and written like the rest, and nothing ever reads them.
// - broadcast: one invocation per output element; the host collapses the output shape to at
//   most 6 dims (adjacent dims with the same broadcast pattern merged, size-1 dims dropped) and
//   gives each operand an element stride per collapsed dim, 0 where it is broadcast.

// Which binary op (a pipeline constant): 0 = add, 1 = mul.
override OP: u32 = 0u;

fn combine(a: f32, b: f32) -> f32 {
  if (OP == 1u) { return a * b; }
  return a + b;
}

// ---------------------------------------------------------------- same shape (vec4)

struct SameParams {
  n4: u32,  // vec4 groups = ceil(elements / 4)
}

@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> same: SameParams;

@compute @workgroup_size(256)
fn binary_same(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= same.n4) { return; }
  if (OP == 1u) {
    y4[i] = a4[i] * b4[i];
  } else {
    y4[i] = a4[i] + b4[i];
  }
}

// ---------------------------------------------------------------- broadcast

struct BroadcastParams {
  n: u32,     // output elements
  rank: u32,  // collapsed dims, 1..6
  _pad0: u32,
  _pad1: u32,
  dims: array<vec4<u32>, 2>,  // collapsed output dims, outermost first (dims[k/4][k%4])
  sa: array<vec4<u32>, 2>,    // a's element stride per collapsed dim (0 = broadcast)
  sb: array<vec4<u32>, 2>,    // b's element stride per collapsed dim (0 = broadcast)
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> bc: BroadcastParams;

@compute @workgroup_size(256)
fn binary_broadcast(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= bc.n) { return; }
  // Peel output coordinates off i from the innermost dim outwards; each coordinate moves a and b
  // by their own strides (0 along a broadcast dim, so the operand's value repeats there).
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var k = i32(bc.rank) - 1; k >= 0; k--) {
    let q = u32(k) / 4u;
    let r = u32(k) % 4u;
    let d = bc.dims[q][r];
    let c = rem % d;
    rem = rem / d;
    ia += c * bc.sa[q][r];
    ib += c * bc.sb[q][r];
  }
  y[i] = combine(a[ia], b[ib]);
}

// ---------------------------------------------------------------- scale (vec4)

struct ScaleParams {
  n4: u32,  // vec4 groups = ceil(elements / 4)
  s: f32,   // the factor
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> sp: ScaleParams;

@compute @workgroup_size(256)
fn scale_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= sp.n4) { return; }
  out4[i] = sp.s * x4[i];
}
