// float64 references for gelu_tanh and geglu, straight from the spec (gemma2-and-formats.md §1.4
// MLP: PyTorch gelu(x, approximate='tanh'); §1.5 for the derivative). Plain tanh form on purpose:
// the kernel uses a sigmoid identity, so the two are independent.

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanhScalar(x: number): number {
  const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1 + Math.tanh(u));
}

/** d gelu/dx = 0.5(1 + τ) + 0.5·x·(1 − τ²)·√(2/π)·(1 + 0.134145·x²), τ = tanh u (spec §1.5). */
export function geluTanhGradScalar(x: number): number {
  const tau = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + tau) + 0.5 * x * (1 - tau * tau) * SQRT_2_OVER_PI * (1 + 0.134145 * x * x);
}

/** y = gelu_tanh(x), elementwise. */
export function geluTanhRef(x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = geluTanhScalar(x[i]);
  return y;
}

/** y = gelu_tanh(gate) ⊙ up, elementwise (gate and up have the same length). */
export function gegluRef(gate: Float64Array, up: Float64Array): Float64Array {
  if (gate.length !== up.length) throw new Error(`gegluRef: gate has ${gate.length} elements, up ${up.length}`);
  const y = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) y[i] = geluTanhScalar(gate[i]) * up[i];
  return y;
}
