// float64 reference for Gemma-2 attention of new queries against a key/value cache (generation),
// written from gemma2-and-formats.md §1.4 ("Attention", "Masks") with positions as cache rows:
// the cache holds rows 0 … S−1 valid, S = p0 + Tq, and query i is the token at row p0 + i.
// For each sequence b and query head h (kv head j = floor(h / G), G = NH / KVH):
//   s[i, k] = ρ · q_h[i]·K_j[k];   s = cap·tanh(s / cap) (if cap > 0);   then the mask:
//   row k is visible to query i iff k ≤ p0 + i, p0 + i − W < k (if W > 0), and keyMask[b, k] ≠ 0;
//   o[i] = Σ_k softmax(s[i, :] over visible k)[k] · V_j[k].     No visible key: o[i] = 0.
// Layouts: q, o [B, Tq, NH, HD]; K, V [B, S_max, KVH, HD] (rows ≥ S are never read);
// keyMask [B, S_max] (1 keep / 0 padding). Plain loops; no blocks, splits or online softmax.

export interface AttentionDecodeDims {
  B: number;
  /** New queries per sequence. */
  Tq: number;
  /** Cache rows per sequence (the row stride of K, V and keyMask). */
  S_max: number;
  NH: number;
  KVH: number;
  HD: number;
}

export interface AttentionDecodeRefOptions {
  /** Cache row of query 0. */
  p0: number;
  /** ρ, multiplies q·k (Gemma-2: query_pre_attn_scalar^-0.5). */
  scale: number;
  /** Softcap applied before the mask; 0 or absent = none. */
  softcap?: number;
  /** Sliding window W over cache rows; 0 or absent = global. */
  window?: number;
  /** [B, S_max], nonzero = keep the row, 0 = padding. */
  keyMask?: ArrayLike<number> | null;
}

export function attentionDecodeRef(q: Float64Array, kCache: Float64Array, vCache: Float64Array, dims: AttentionDecodeDims, opts: AttentionDecodeRefOptions): Float64Array {
  const { B, Tq, S_max, NH, KVH, HD } = dims;
  const G = NH / KVH;
  const cap = opts.softcap ?? 0;
  const W = opts.window ?? 0;
  const mask = opts.keyMask ?? null;
  const S = opts.p0 + Tq; // valid cache rows
  if (S > S_max) throw new Error(`attentionDecodeRef: p0 + Tq = ${S} > S_max = ${S_max}`);
  const o = new Float64Array(B * Tq * NH * HD);
  const w = new Float64Array(S); // softmax weights of one query row
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const j = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const pos = opts.p0 + i; // this query's cache row
        const qOff = ((b * Tq + i) * NH + h) * HD;
        // scores (capped) of the visible rows; NaN marks masked ones
        let max = -Infinity;
        for (let k = 0; k < S; k++) {
          const visible = k <= pos && (W === 0 || pos - W < k) && (mask === null || mask[b * S_max + k] !== 0);
          if (!visible) {
            w[k] = NaN;
            continue;
          }
          const kOff = ((b * S_max + k) * KVH + j) * HD;
          let dot = 0;
          for (let d = 0; d < HD; d++) dot += q[qOff + d] * kCache[kOff + d];
          let s = dot * opts.scale;
          if (cap > 0) s = cap * Math.tanh(s / cap);
          w[k] = s;
          if (s > max) max = s;
        }
        if (max === -Infinity) continue; // nothing visible: o stays 0
        let sum = 0;
        for (let k = 0; k < S; k++) {
          w[k] = Number.isNaN(w[k]) ? 0 : Math.exp(w[k] - max);
          sum += w[k];
        }
        for (let k = 0; k < S; k++) {
          if (w[k] === 0) continue;
          const p = w[k] / sum;
          const vOff = ((b * S_max + k) * KVH + j) * HD;
          for (let d = 0; d < HD; d++) o[qOff + d] += p * vCache[vOff + d];
        }
      }
    }
  }
  return o;
}
