// softcap.wgsl — y = cap·tanh(x / cap), Gemma-2's soft-capping of attention scores (cap 50) and
// final logits (cap 30), and its backward dx = dy·(1 − (y/cap)²).
// (The attention and log-prob kernels apply the cap inline; this standalone op is for tests,
// for the logits of generation previews and for anything else that needs it.)

struct Params {
  n: u32,    // elements
  cap: f32,  // > 0
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn softcap_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= params.n) { return; }
  y[i] = params.cap * tanh_safe(x[i] / params.cap);
}

// Backward reads the forward's output y (saved), not x: 1 − tanh² = 1 − (y/cap)².
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> y_saved: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> bparams: Params;

@compute @workgroup_size(256)
fn softcap_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= bparams.n) { return; }
  let t = y_saved[i] / bparams.cap;
  dx[i] = dy[i] * (1.0 - t * t);
}
