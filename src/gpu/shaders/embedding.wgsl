// embedding.wgsl — token embedding gather and its deterministic scatter-add backward
// (spec gemma2-and-formats.md §1.4 step 1, §1.5 "Tied embedding"; kernels.md §6):
//   embedding_forward   out[t, c] = table[ids[t], c] · scale          one invocation per output
//   embedding_backward  dTable[v, c] = scale · Σ_{t: ids[t] = v} dy[t, c]
// The backward needs no atomics: the host knows the ids and sends a CSR of them (unique ids,
// segment starts, token positions grouped by id in ascending token order). One workgroup per
// unique id sums its tokens' dy rows in that fixed order and writes the table row once; rows no
// token touched are zero-filled by the host before (Engine.fill). Deterministic on every adapter.
// Not here: vec4 copies and splitting a table larger than one binding into vocab chunks.

struct Params {
  n: u32,       // forward: outputs = T·C;  backward: number of unique ids U
  C: u32,       // features per row
  V: u32,       // rows in the table
  scale: f32,   // multiplier folded into gather and scatter (Gemma: sqrt(C) rounded to act dtype)
  order_at: u32, // backward: offset of the token-order list in `csr` (= 2U + 1)
}

// ---------------------------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read> table: array<f32>;      // [V, C]
@group(0) @binding(1) var<storage, read> ids: array<i32>;        // [T]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // [T, C]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn embedding_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat_index(gid, nwg, 256u);
  if (k >= params.n) { return; }
  let t = k / params.C;
  let c = k % params.C;
  let id = ids[t];
  // NOTE: host ids are range-checked before upload; ids that arrive only as a GPU tensor cannot
  // be, so an id outside [0, V) yields NaN (never a silent zero row) and the loss shows it.
  if (id < 0 || u32(id) >= params.V) {
    // A constant NaN does not compile (WGSL const-eval rejects it); build the bits at run time.
    out[k] = bitcast<f32>(0x7fc00000u | (params.V & 0u));
    return;
  }
  out[k] = table[u32(id) * params.C + c] * params.scale;
}

// ---------------------------------------------------------------------------------- backward
// csr = [ uniq (U) | start (U + 1) | order (T) ] as u32:
//   uniq[u]                       the u-th distinct id (ascending)
//   order[start[u] .. start[u+1]) the tokens with that id, in ascending token order

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> dy: array<f32>;              // [T, C]
@group(0) @binding(1) var<storage, read> csr: array<u32>;             // [2U + 1 + T]
@group(0) @binding(2) var<storage, read_write> dtable: array<f32>;    // [V, C], pre-zeroed
@group(0) @binding(3) var<uniform> bparams: Params;

@compute @workgroup_size(WG)
fn embedding_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // One workgroup per unique id (1-D grid folded into y above 65535 workgroups).
  let u = wid.x + wid.y * nwg.x;
  let U = bparams.n;
  if (u >= U) { return; }
  let C = bparams.C;
  let row = csr[u];                  // table row this workgroup owns
  let s0 = csr[U + u];               // its tokens: order[s0 .. s1)
  let s1 = csr[U + u + 1u];
  // Each invocation owns columns lid, lid + WG, …; adjacent invocations touch adjacent columns.
  for (var c = lid; c < C; c += WG) {
    var acc = 0.0;
    for (var s = s0; s < s1; s++) {
      let t = csr[bparams.order_at + s];
      acc += dy[t * C + c];
    }
    dtable[row * C + c] = acc * bparams.scale;
  }
}
