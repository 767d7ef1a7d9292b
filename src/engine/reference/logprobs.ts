// float64 reference for the fused LM-head log-probs (spec gemma2-and-formats.md §1.4 steps 3–4,
// kernels.md §5, preference-losses.md §2.3 for the WPO term). Materialises each row's logits,
// which the GPU kernel never does; plain loops in llm.c's manner.
//
// For each row t with hidden h_t [C], tied embedding E [V, C] and label y_t:
//   z_v   = h_t · E_v                 raw logits
//   z'_v  = cap·tanh(z_v / cap)       capped logits (cap = 0: z' = z)
//   lse_t = log Σ_v e^{z'_v}
//   logp_t = z'_{y_t} − lse_t
//   lsp2_t = log Σ_v p_v² = LSE(2z') − 2·lse_t,   p = softmax(z')
//   zmean_t = (1/V) Σ_v z'_v                  (TRL's logits/* metrics average these)
//   correct_t = 1 if argmax_v z'_v = y_t else 0, the first index among equal maxima (torch.argmax)
// Rows with a negative label (−100 = ignore_index) output 0 for all of them.

export interface LogprobsRefResult {
  logp: Float64Array;
  lse: Float64Array;
  lsp2: Float64Array;
  zmean: Float64Array;
  correct: Float64Array;
}

/**
 * h: [T, C] row-major, E: [V, C] row-major, labels: [T] (integers; negative = ignored).
 * cap: the final-logit softcap (Gemma-2: 30), 0 for none.
 */
export function logprobsRef(h: Float64Array, E: Float64Array, labels: ArrayLike<number>, T: number, C: number, V: number, cap: number): LogprobsRefResult {
  if (h.length !== T * C) throw new Error(`logprobsRef: h has ${h.length} values, expected T·C = ${T}·${C}`);
  if (E.length !== V * C) throw new Error(`logprobsRef: E has ${E.length} values, expected V·C = ${V}·${C}`);
  if (labels.length !== T) throw new Error(`logprobsRef: ${labels.length} labels for T = ${T}`);
  const logp = new Float64Array(T);
  const lse = new Float64Array(T);
  const lsp2 = new Float64Array(T);
  const zmean = new Float64Array(T);
  const correct = new Float64Array(T);
  const z = new Float64Array(V);
  for (let t = 0; t < T; t++) {
    const y = labels[t];
    if (y < 0) continue; // ignored position: zeros
    if (!(y < V)) throw new Error(`logprobsRef: label ${y} at row ${t} is outside the vocabulary [0, ${V})`);
    // logits of row t, their max (first index among equal ones) and their sum
    let m = -Infinity;
    let argmax = -1;
    let sum = 0;
    for (let v = 0; v < V; v++) {
      let dot = 0;
      for (let c = 0; c < C; c++) dot += h[t * C + c] * E[v * C + c];
      z[v] = cap > 0 ? cap * Math.tanh(dot / cap) : dot;
      sum += z[v];
      if (z[v] > m) {
        m = z[v];
        argmax = v;
      }
    }
    zmean[t] = sum / V;
    correct[t] = argmax === y ? 1 : 0;
    // two log-sum-exps around the same max
    let s1 = 0;
    let s2 = 0;
    for (let v = 0; v < V; v++) {
      s1 += Math.exp(z[v] - m);
      s2 += Math.exp(2 * (z[v] - m));
    }
    lse[t] = m + Math.log(s1);
    lsp2[t] = 2 * m + Math.log(s2) - 2 * lse[t];
    logp[t] = z[y] - lse[t];
  }
  return { logp, lse, lsp2, zmean, correct };
}
