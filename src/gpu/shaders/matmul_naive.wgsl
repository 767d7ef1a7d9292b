// matmul_naive.wgsl — out[b] = alpha·op(A[b])·op(B[b]) (+ out[b] if accumulate), one output per
// invocation. The on-device oracle for the faster variants (kernels.md §11 "gemm_ref"); never
// selected for speed. Layout conventions shared by all matmul_*.wgsl files:
//   A is [M, K] row-major, or [K, M] when TRANS_A; B is [K, N], or [N, K] when TRANS_B;
//   out is [M, N]. Matrix b of each operand starts at off + b·stride (elements; stride 0 = broadcast).
//   Buffers are bound as vec4 arrays so the tiled kernels can use vec4 loads; scalar element i is
//   x[i >> 2][i & 3].

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  offA: u32, offB: u32, offOut: u32,
  strideA: u32, strideB: u32, strideOut: u32,
  alpha: f32,
  accumulate: u32,  // 1: out += alpha·A·B
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

fn load_a(i: u32) -> f32 { return a[i >> 2u][i & 3u]; }
fn load_b(i: u32) -> f32 { return b[i >> 2u][i & 3u]; }

@compute @workgroup_size(16, 16)
fn matmul_naive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let row = gid.y;
  let z = gid.z;
  if (row >= params.M || col >= params.N) { return; }
  let baseA = params.offA + z * params.strideA;
  let baseB = params.offB + z * params.strideB;
  var acc = 0.0;
  for (var k = 0u; k < params.K; k++) {
    var av: f32;
    var bv: f32;
    if (TRANS_A) { av = load_a(baseA + k * params.M + row); } else { av = load_a(baseA + row * params.K + k); }
    if (TRANS_B) { bv = load_b(baseB + col * params.K + k); } else { bv = load_b(baseB + k * params.N + col); }
    acc = fma(av, bv, acc);
  }
  let o = params.offOut + z * params.strideOut + row * params.N + col;
  var v = params.alpha * acc;
  if (params.accumulate == 1u) { v += out[o >> 2u][o & 3u]; }
  out[o >> 2u][o & 3u] = v;
}
