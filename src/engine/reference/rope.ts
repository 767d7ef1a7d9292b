// float64 reference for RoPE (spec gemma2-and-formats.md §1.4 "RoPE"), plain loops.
// x is [tokens, NH, HD] row-major (a batch dimension flattened into tokens); positions holds one
// integer per token, or T of them shared by every batch row (token k uses positions[k % length]).
//   inv_freq[i] = θ^(−2i/HD),  φ = p·inv_freq[i]            (here in float64)
//   y[i] = x[i]·cos φ − x[i+HD/2]·sin φ,  y[i+HD/2] = x[i+HD/2]·cos φ + x[i]·sin φ
export function ropeRef(x: Float64Array, positions: ArrayLike<number>, NH: number, HD: number, theta = 10000): Float64Array {
  const half = HD / 2;
  const tokens = x.length / (NH * HD);
  const y = new Float64Array(x.length);
  for (let t = 0; t < tokens; t++) {
    const p = positions[t % positions.length];
    for (let h = 0; h < NH; h++) {
      const base = (t * NH + h) * HD;
      for (let i = 0; i < half; i++) {
        const phi = p * Math.pow(theta, (-2 * i) / HD);
        const c = Math.cos(phi);
        const s = Math.sin(phi);
        const a = x[base + i];
        const b = x[base + i + half];
        y[base + i] = a * c - b * s;
        y[base + i + half] = b * c + a * s;
      }
    }
  }
  return y;
}
