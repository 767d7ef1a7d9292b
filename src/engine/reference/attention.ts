// float64 reference for Gemma-2 causal grouped-query attention, written from the eager formula in
// gemma2-and-formats.md §1.4 ("Attention", "Masks"), unfused: for each sequence b and query head h
// (kv head j = floor(h / G), G = NH / KVH):
//   S[q, k] = ρ · q_h[q]·k_j[k];   S = cap·tanh(S / cap) (if cap > 0);   then the mask:
//   key k is visible to query q iff k ≤ q, q − W < k (if W > 0), and keyMask[b, k] ≠ 0;
//   P[q, :] = softmax of S over the visible keys;   o[q] = Σ_k P[q, k] · v_j[k].
// A query with no visible key gets o = 0 (the engine's convention for fully padded rows).
// Layouts: q, o [B, T, NH, HD]; k, v [B, T, KVH, HD]; keyMask [B, T] (1 keep / 0 padding).
// Not a model of the GPU kernel: no blocks, no online softmax, no logsumexp bookkeeping.

export interface AttentionDims {
  B: number;
  T: number;
  NH: number;
  KVH: number;
  HD: number;
}

export interface AttentionRefOptions {
  /** ρ, multiplies q·k (Gemma-2: query_pre_attn_scalar^-0.5). */
  scale: number;
  /** Softcap applied before the mask; 0 or absent = none. */
  softcap?: number;
  /** Sliding window W; 0 or absent = global. */
  window?: number;
  /** [B, T], nonzero = keep the key, 0 = padding. */
  keyMask?: ArrayLike<number> | null;
}

export function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, dims: AttentionDims, opts: AttentionRefOptions): Float64Array {
  const { B, T, NH, KVH, HD } = dims;
  const G = NH / KVH;
  const cap = opts.softcap ?? 0;
  const W = opts.window ?? 0;
  const mask = opts.keyMask ?? null;
  const o = new Float64Array(B * T * NH * HD);
  const s = new Float64Array(T); // one row of scores
  const visible = new Array<boolean>(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const j = Math.floor(h / G);
      for (let qi = 0; qi < T; qi++) {
        const qOff = ((b * T + qi) * NH + h) * HD;
        // scores, cap, then mask
        let max = -Infinity;
        for (let ki = 0; ki < T; ki++) {
          const kOff = ((b * T + ki) * KVH + j) * HD;
          let dot = 0;
          for (let d = 0; d < HD; d++) dot += q[qOff + d] * k[kOff + d];
          let sc = dot * opts.scale;
          if (cap > 0) sc = cap * Math.tanh(sc / cap);
          s[ki] = sc;
          visible[ki] = ki <= qi && (W === 0 || qi - W < ki) && (mask === null || mask[b * T + ki] !== 0);
          if (visible[ki] && sc > max) max = sc;
        }
        if (max === -Infinity) continue; // no visible key: o stays 0
        // softmax over the visible keys
        let sum = 0;
        for (let ki = 0; ki < T; ki++) {
          s[ki] = visible[ki] ? Math.exp(s[ki] - max) : 0;
          sum += s[ki];
        }
        // o = P·V
        for (let ki = 0; ki < T; ki++) {
          if (s[ki] === 0) continue;
          const p = s[ki] / sum;
          const vOff = ((b * T + ki) * KVH + j) * HD;
          for (let d = 0; d < HD; d++) o[qOff + d] += p * v[vOff + d];
        }
      }
    }
  }
  return o;
}
