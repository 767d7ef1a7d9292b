// optim.wgsl — one fused elementwise update per parameter tensor: AdamW (adamw_step) and RMSprop
// (rmsprop_step), each PyTorch's single-tensor algorithm (torch 1.13 `_single_tensor_adamw`,
// `_single_tensor_rmsprop`) in the same order of operations, in f32.
// Host side: src/engine/optim/adamw.ts, rmsprop.ts. Reference: src/engine/reference/optim.ts.
//
// Every scalar that changes between steps (lr, bias corrections, decay factor) arrives in the
// Params uniform, computed on the host in float64 and rounded to f32 once, as PyTorch rounds its
// Python-float scalars when it applies them to an f32 tensor. The gradient-clip factor is the one
// exception: it is a 1-element storage tensor written on the GPU by grad_norm.wgsl (or 1.0), so
// clipping needs no CPU round trip. Gradients are read, never modified.
//
// Skipping: both kernels read a u32 flag (clip.ts's nonFinite, or any u32[1] tensor) and return
// before touching anything when it is nonzero, so a step whose gradients hold NaN/Inf leaves every
// parameter and every state buffer bit-for-bit as it was, without a CPU round trip and without
// relying on NaN arithmetic (which WGSL lets drivers assume away). The host rolls back its step
// count once it has read the flag (optimizer.ts rollbackStep).

// ---------------------------------------------------------------------------------- AdamW

struct AdamWParams {
  n: u32,                // elements of this parameter
  decay: f32,            // 1 − lr·λ (decoupled weight decay; 1 for no-decay groups)
  beta1: f32,            // β1
  one_minus_beta1: f32,  // 1 − β1
  beta2: f32,            // β2
  one_minus_beta2: f32,  // 1 − β2
  step_size: f32,        // lr / (1 − β1ᵗ)
  bc2_sqrt: f32,         // √(1 − β2ᵗ)
  eps: f32,              // ε, added after the square root
}

@group(0) @binding(0) var<storage, read> a_grad: array<f32>;     // [n] dL/dθ, unclipped
@group(0) @binding(1) var<storage, read> a_clip: array<f32>;     // [1] clip factor
@group(0) @binding(2) var<storage, read> a_skip: array<u32>;     // [1] nonzero: change nothing
@group(0) @binding(3) var<storage, read_write> a_p: array<f32>;  // [n] θ, updated in place
@group(0) @binding(4) var<storage, read_write> a_m: array<f32>;  // [n] first moment
@group(0) @binding(5) var<storage, read_write> a_v: array<f32>;  // [n] second moment
@group(0) @binding(6) var<uniform> aparams: AdamWParams;

@compute @workgroup_size(256)
fn adamw_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= aparams.n || a_skip[0] != 0u) { return; }
  let g = a_grad[i] * a_clip[0];
  // θ ← θ·(1 − lr·λ) first, on the old θ (PyTorch: param.mul_(1 - lr * weight_decay)).
  let p = a_p[i] * aparams.decay;
  let m = aparams.beta1 * a_m[i] + aparams.one_minus_beta1 * g;
  let v = aparams.beta2 * a_v[i] + aparams.one_minus_beta2 * g * g;
  a_m[i] = m;
  a_v[i] = v;
  // denom = √v / √(1 − β2ᵗ) + ε;  θ ← θ − (lr / (1 − β1ᵗ))·m / denom
  let denom = sqrt(v) / aparams.bc2_sqrt + aparams.eps;
  a_p[i] = p - aparams.step_size * (m / denom);
}

// -------------------------------------------------------------------------------- RMSprop

// Compile-time configuration (fixed per optimizer, so no per-step recompiles). The state
// buffers a configuration does not use are still bound (to 1-element placeholders) but never
// touched: WGSL counts a binding as used by its name appearing in the function.
override CENTERED: bool = false;  // keep g_ave and use v − g_ave²
override MOMENTUM: bool = false;  // keep a momentum buffer b (momentum > 0)

struct RMSpropParams {
  n: u32,                // elements of this parameter
  lr: f32,               // γ
  alpha: f32,            // α
  one_minus_alpha: f32,  // 1 − α
  eps: f32,              // ε, added after the square root
  weight_decay: f32,     // λ (L2, added to the gradient)
  momentum: f32,         // μ
}

@group(0) @binding(0) var<storage, read> r_grad: array<f32>;        // [n] dL/dθ, unclipped
@group(0) @binding(1) var<storage, read> r_clip: array<f32>;        // [1] clip factor
@group(0) @binding(2) var<storage, read> r_skip: array<u32>;        // [1] nonzero: change nothing
@group(0) @binding(3) var<storage, read_write> r_p: array<f32>;     // [n] θ, updated in place
@group(0) @binding(4) var<storage, read_write> r_sq: array<f32>;    // [n] v, square average
@group(0) @binding(5) var<storage, read_write> r_gavg: array<f32>;  // [n] g_ave (CENTERED) or [1]
@group(0) @binding(6) var<storage, read_write> r_buf: array<f32>;   // [n] b (MOMENTUM) or [1]
@group(0) @binding(7) var<uniform> rparams: RMSpropParams;

@compute @workgroup_size(256)
fn rmsprop_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= rparams.n || r_skip[0] != 0u) { return; }
  var p = r_p[i];
  // g ← clip·g (+ λθ: L2 decay, only when λ ≠ 0, as PyTorch; the branch is uniform).
  var g = r_grad[i] * r_clip[0];
  if (rparams.weight_decay != 0.0) { g = g + rparams.weight_decay * p; }
  let sq = rparams.alpha * r_sq[i] + rparams.one_minus_alpha * g * g;
  r_sq[i] = sq;
  var avg = sq;
  if (CENTERED) {
    let ga = rparams.alpha * r_gavg[i] + rparams.one_minus_alpha * g;
    r_gavg[i] = ga;
    avg = sq - ga * ga;  // the variance estimate v − g_ave²
  }
  let denom = sqrt(avg) + rparams.eps;
  if (MOMENTUM) {
    let b = rparams.momentum * r_buf[i] + g / denom;
    r_buf[i] = b;
    p = p - rparams.lr * b;
  } else {
    p = p - rparams.lr * (g / denom);
  }
  r_p[i] = p;
}
