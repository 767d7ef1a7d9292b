// rope.wgsl — rotary position embedding, Gemma-2 / HF default rope type, half-split pairing
// (spec gemma2-and-formats.md §1.4 "RoPE", §1.5; kernels.md §6):
//   φ = p·inv_freq[i]   in f32, as HF computes it (autocast off); inv_freq comes from the host
//   x'[i]        = x[i]·cos φ − x[i + HD/2]·sin φ
//   x'[i + HD/2] = x[i + HD/2]·cos φ + x[i]·sin φ          for i = 0 … HD/2 − 1
// The backward is the inverse rotation (the same formula with sin → −sin), so both entry points
// share one body and differ only in the sign of sin.
// One invocation per (token, head, pair): it reads and writes both halves of its pair, so every
// output has one writer. Not here: fusion into the q/k GEMM epilogue (kernels.md §6) — later.
//
// NOTE: sin/cos are computed here (range reduction + polynomials), not with WGSL's builtins. WGSL
// only promises an absolute error of 2⁻¹¹ for sin/cos, and only inside [−π, π]; SwiftShader's
// builtins were measured ~2e-4 off at φ = 5, and φ reaches ~4000 rad at position 4000. The code
// below evaluates sin/cos of the f32 φ to ~1e-7 on every adapter, so only φ's own f32 rounding
// (the same rounding HF has) separates us from an exact result.

struct Params {
  n: u32,     // pairs = tokens · NH · HD/2
  NH: u32,    // heads
  HD: u32,    // head dim (even)
  npos: u32,  // positions.length: T (shared by every batch row) or B·T
}

@group(0) @binding(0) var<storage, read> x: array<f32>;          // [tokens, NH, HD]
@group(0) @binding(1) var<storage, read> positions: array<i32>;  // [npos]
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;   // [HD/2]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;    // [tokens, NH, HD]
@group(0) @binding(4) var<uniform> params: Params;

// π/2 split for Cody–Waite reduction: PIO2_HI = 1.5703125 has 8 significant bits, so k·HI is exact
// for |k| < 2^16 (|φ| < ~1e5) and φ − k·HI is exact (Sterbenz); PIO2_LO = π/2 − PIO2_HI.
const PIO2_HI: f32 = 1.5703125;
const PIO2_LO: f32 = 4.8382679489665575e-4;
const TWO_OVER_PI: f32 = 0.63661977236758134;

// (sin φ, cos φ) in f32. φ = k·π/2 + t with t ∈ [−π/4, π/4]; minimax polynomials for sin t and
// cos t on that interval (Cephes sinf/cosf coefficients, ~1 ulp); the quadrant k mod 4 picks
// and signs them.
fn sincos(phi: f32) -> vec2<f32> {
  let k = round(phi * TWO_OVER_PI);
  let t = (phi - k * PIO2_HI) - k * PIO2_LO;
  let z = t * t;
  let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * t + t;
  let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  // Quadrant: sin(t + kπ/2), cos(t + kπ/2) for k mod 4 = 0, 1, 2, 3 (two's complement & 3 also
  // handles negative k).
  switch (i32(k) & 3) {
    case 0: { return vec2<f32>(s, c); }
    case 1: { return vec2<f32>(c, -s); }
    case 2: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}

fn rope_apply(i_flat: u32, sin_sign: f32) {
  if (i_flat >= params.n) { return; }
  let half = params.HD / 2u;
  let i = i_flat % half;                  // pair index within the head
  let th = i_flat / half;                 // token·NH + head
  let tok = th / params.NH;               // token (batch flattened)
  let base = th * params.HD;
  // φ = p·inv_freq[i], one f32 rounding, exactly HF's `inv_freq @ position_ids` in f32.
  let phi = f32(positions[tok % params.npos]) * inv_freq[i];
  let sc = sincos(phi);
  let s = sin_sign * sc.x;
  let c = sc.y;
  let a = x[base + i];
  let b = x[base + i + half];
  y[base + i] = a * c - b * s;
  y[base + i + half] = b * c + a * s;
}

@compute @workgroup_size(256)
fn rope_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  rope_apply(flat_index(gid, nwg, 256u), 1.0);
}

// Backward: dx = Rᵀ·dy, the rotation by −φ. Bindings as in forward with x := dy, y := dx.
@compute @workgroup_size(256)
fn rope_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  rope_apply(flat_index(gid, nwg, 256u), -1.0);
}
