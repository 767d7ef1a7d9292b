// embedding.wgsl — token embedding gather and its deterministic scatter-add backward
// (spec gemma2-and-formats.md §1.4 step 1, §1.5 "Tied embedding"; kernels.md §6):
//   embedding_forward   out[t, c] = table[ids[t], c] · scale          one invocation per output
//   embedding_backward  dTable[v, c] (+)= scale · Σ_{t: ids[t] = v} dy[t, c]
// The backward needs no atomics: the host knows the ids and sends a CSR of them (unique ids,
// segment starts, token positions grouped by id in ascending token order). One workgroup per
// unique id sums its tokens' dy rows in that fixed order and writes the table row once; rows no
// token touched are zero-filled by the host before (Engine.fill), or keep what they hold when the
// pass adds into a leaf's existing gradient (accumulate). Deterministic on every adapter.
//
// Split tables (a table over one storage binding, held as row parts [row0, row1) covering [0, V)):
// each entry point sees one part. The forward runs once per part and writes only the output rows
// whose id falls in the part (the part with row1 = V also writes the NaN rows of out-of-range ids),
// so every output row has exactly one writer. The backward runs once per part over the part's
// range [u0, u0 + n) of the CSR's unique ids (they are sorted, so each part's ids are contiguous).
// A whole table is the single part [0, V).
// 16-bit tables (frozen bf16/f16): the table is bound at binding 1 with its load b_at by the
// matmul_b_*_common.wgsl include that index.ts prepends for its storage type (widened to f32).
// Not here: vec4 copies.

struct Params {
  n: u32,       // forward: outputs = T·C;  backward: unique ids in this part
  C: u32,       // features per row
  V: u32,       // rows in the whole table
  scale: f32,   // multiplier folded into gather and scatter (Gemma: sqrt(C) rounded to act dtype)
  order_at: u32, // backward: offset of the token-order list in `csr` (= 2U + 1)
  row0: u32,    // this part's rows of the table: [row0, row1)
  row1: u32,
  u0: u32,      // backward: this part's first unique-id index in the CSR
  U: u32,       // backward: unique ids in the whole CSR
  accumulate: u32, // backward: 1 = add into dtable (a leaf's existing .grad), 0 = write (pre-zeroed)
}

// ---------------------------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read> ids: array<i32>;        // [T]
// binding 1: the table [row1 - row0, C] (one part), read with b_at (matmul_b_*_common.wgsl)
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
    // Written by the last part only. A constant NaN does not compile (WGSL const-eval rejects
    // it); build the bits at run time.
    if (params.row1 == params.V) { out[k] = bitcast<f32>(0x7fc00000u | (params.V & 0u)); }
    return;
  }
  if (u32(id) < params.row0 || u32(id) >= params.row1) { return; }  // another part's row
  out[k] = b_at((u32(id) - params.row0) * params.C + c) * params.scale;
}

// ---------------------------------------------------------------------------------- backward
// csr = [ uniq (U) | start (U + 1) | order (T) ] as u32:
//   uniq[u]                       the u-th distinct id (ascending)
//   order[start[u] .. start[u+1]) the tokens with that id, in ascending token order

override WG: u32 = 64;

@group(0) @binding(0) var<storage, read> dy: array<f32>;              // [T, C]
@group(0) @binding(1) var<storage, read> csr: array<u32>;             // [2U + 1 + T]
@group(0) @binding(2) var<storage, read_write> dtable: array<f32>;    // [row1 - row0, C], pre-zeroed or accumulated into
@group(0) @binding(3) var<uniform> bparams: Params;

@compute @workgroup_size(WG)
fn embedding_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // One workgroup per unique id of this part (1-D grid folded into y above 65535 workgroups).
  let w = wid.x + wid.y * nwg.x;
  if (w >= bparams.n) { return; }
  let u = bparams.u0 + w;            // index into the whole CSR
  let U = bparams.U;
  let C = bparams.C;
  let row = csr[u] - bparams.row0;   // row of this part this workgroup owns
  let s0 = csr[U + u];               // its tokens: order[s0 .. s1)
  let s1 = csr[U + u + 1u];
  // Each invocation owns columns lid, lid + WG, …; adjacent invocations touch adjacent columns.
  for (var c = lid; c < C; c += WG) {
    var acc = 0.0;
    for (var s = s0; s < s1; s++) {
      let t = csr[bparams.order_at + s];
      acc += dy[t * C + c];
    }
    var v = acc * bparams.scale;
    if (bparams.accumulate == 1u) { v += dtable[row * C + c]; }  // old + new, as Engine.accumulate adds
    dtable[row * C + c] = v;
  }
}
