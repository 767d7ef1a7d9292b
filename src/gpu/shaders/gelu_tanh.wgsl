// gelu_tanh.wgsl — PyTorch gelu(x, approximate='tanh') and the fused GeGLU product of Gemma-2's MLP
// (spec gemma2-and-formats.md §1.4 MLP, derivative §1.5), both directions:
//   gelu_tanh_forward   y = gelu(x)                     gelu_tanh_backward  dx = dy·gelu'(x)
//   geglu_forward       y = gelu(gate) ⊙ up             geglu_backward      dgate = dy·up·gelu'(gate),
//                                                                           dup   = dy·gelu(gate)
//
// gelu(x) = 0.5·x·(1 + tanh u),  u = √(2/π)·(x + 0.044715·x³).
// NOTE: we never call tanh. With e = exp(−2|u|) ∈ (0, 1]:
//   s = 0.5·(1 + tanh u) = 1/(1 + e) for u ≥ 0,  e/(1 + e) for u < 0     (a logistic sigmoid of 2u)
//   0.25·(1 − tanh² u)   = s·(1 − s) = e/(1 + e)²                         (same for both signs)
// This is the same function, but 1 + tanh u never cancels for negative x (f32 tanh(−5·…) ≈ −1
// would leave only ~1e-7 absolute accuracy there), and exp's argument is ≤ 0 so it cannot overflow
// (the gpuweb #4458 NaN of large tanh arguments cannot happen). x is clamped to ±100 inside the
// polynomial so x³ stays finite; beyond that s is exactly 0 or 1 in f32 (e underflows to 0).
//
// gelu'(x) = 0.5(1 + τ) + 0.5·x·(1 − τ²)·√(2/π)·(1 + 3·0.044715·x²)
//          = s + 2·x·√(2/π)·(1 + 0.134145·x²)·e/(1 + e)².

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;
const GELU_C3: f32 = 0.134145;  // 3·0.044715, d/dx of the cubic term

struct Params {
  n: u32,  // elements
}

// (s, e, xc): the sigmoid factor, exp(−2|u|) and the clamped x the polynomial used.
fn gelu_parts(x: f32) -> vec3<f32> {
  let xc = clamp(x, -100.0, 100.0);
  let u = SQRT_2_OVER_PI * (xc + GELU_C * xc * xc * xc);
  let e = exp(-2.0 * abs(u));
  let s = select(e, 1.0, u >= 0.0) / (1.0 + e);
  return vec3<f32>(s, e, xc);
}

fn gelu_value(x: f32) -> f32 {
  return x * gelu_parts(x).x;
}

// gelu'(x) from gelu_parts(x).
fn gelu_grad(p: vec3<f32>) -> f32 {
  let s = p.x;
  let e = p.y;
  let xc = p.z;
  let q = 1.0 + e;
  return s + 2.0 * xc * SQRT_2_OVER_PI * (1.0 + GELU_C3 * xc * xc) * (e / (q * q));
}

// ---------------------------------------------------------------- gelu

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn gelu_tanh_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= params.n) { return; }
  y[i] = gelu_value(x[i]);
}

// Backward reads the forward's input x (the op keeps it alive as a tape input).
@group(0) @binding(0) var<storage, read> b_dy: array<f32>;
@group(0) @binding(1) var<storage, read> b_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> b_dx: array<f32>;
@group(0) @binding(3) var<uniform> b_params: Params;

@compute @workgroup_size(256)
fn gelu_tanh_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= b_params.n) { return; }
  b_dx[i] = b_dy[i] * gelu_grad(gelu_parts(b_x[i]));
}

// ---------------------------------------------------------------- geglu

@group(0) @binding(0) var<storage, read> g_gate: array<f32>;
@group(0) @binding(1) var<storage, read> g_up: array<f32>;
@group(0) @binding(2) var<storage, read_write> g_y: array<f32>;
@group(0) @binding(3) var<uniform> g_params: Params;

@compute @workgroup_size(256)
fn geglu_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= g_params.n) { return; }
  g_y[i] = gelu_value(g_gate[i]) * g_up[i];
}

// Both gradients in one pass (gate and up are read once); the op drops the one it does not need.
@group(0) @binding(0) var<storage, read> gb_dy: array<f32>;
@group(0) @binding(1) var<storage, read> gb_gate: array<f32>;
@group(0) @binding(2) var<storage, read> gb_up: array<f32>;
@group(0) @binding(3) var<storage, read_write> gb_dgate: array<f32>;
@group(0) @binding(4) var<storage, read_write> gb_dup: array<f32>;
@group(0) @binding(5) var<uniform> gb_params: Params;

@compute @workgroup_size(256)
fn geglu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 256u);
  if (i >= gb_params.n) { return; }
  let dy = gb_dy[i];
  let g = gb_gate[i];
  let p = gelu_parts(g);
  gb_dgate[i] = dy * gb_up[i] * gelu_grad(p);
  gb_dup[i] = dy * g * p.x;  // g·s = gelu(g)
}
