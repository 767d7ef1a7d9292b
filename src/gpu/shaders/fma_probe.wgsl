// fma_probe.wgsl — a compute-bound probe of the adapter's f32 FMA throughput (the roofline the
// matmul bench compares against). Each invocation runs ITERS rounds over 8 independent vec4 FMA
// chains (enough independent work to hide FMA latency on GPUs and fill SIMD lanes on CPUs) and
// writes one value so the compiler cannot remove the loop. FLOPs = invocations·ITERS·8·4·2.

struct Params {
  iters: u32,
  seed: f32,
}

@group(0) @binding(0) var<storage, read_write> sink: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(64)
fn fma_probe(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg, 64u);
  let s = params.seed + f32(i) * 1e-7;
  let m = vec4<f32>(0.9999, 0.9998, 0.9997, 0.9996);
  let c = vec4<f32>(s, s * 0.5, s * 0.25, s * 0.125);
  var a0 = c; var a1 = c + 1.0; var a2 = c + 2.0; var a3 = c + 3.0;
  var a4 = c + 4.0; var a5 = c + 5.0; var a6 = c + 6.0; var a7 = c + 7.0;
  for (var it = 0u; it < params.iters; it++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  let r = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  sink[i] = r.x + r.y + r.z + r.w;
}
