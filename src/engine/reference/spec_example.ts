// The worked example of /work/shared/specs/preference-losses.md §9 as [R, T] arrays (R = 4 rows:
// chosen pair 1, chosen pair 2, rejected pair 1, rejected pair 2; T = 5, right-padded), shared by
// the reference tests and the GPU cases. Padding holds 0 in every array.

export const SPEC_B = 2;
export const SPEC_T = 5;

const rows = (xs: number[][]): Float64Array => {
  const out = new Float64Array(xs.length * SPEC_T);
  xs.forEach((r, i) => out.set(r, i * SPEC_T));
  return out;
};

/** Policy per-token log-probs lp_t. */
export const SPEC_LP = rows([[-0.5, -1.2, -0.3, -0.8], [-2.1, -1.6, -1.1], [-1.5, -0.7, -2.0], [-0.2, -0.6, -0.9, -0.3, -0.5]]);
/** Reference per-token log-probs lq_t. */
export const SPEC_LQ = rows([[-0.7, -1.4, -0.5, -1.0], [-1.9, -1.5, -1.0], [-1.2, -0.6, -1.5], [-0.3, -0.5, -1.0, -0.4, -0.4]]);
/** Policy log Σ_v p_v² per position (WPO). */
export const SPEC_LSE2 = rows([[-0.9, -1.6, -0.5, -1.2], [-1.3, -0.6, -0.9], [-1.1, -1.0, -1.9], [-0.35, -0.9, -1.3, -0.5, -0.8]]);
/** Completion mask (lengths 4, 3 chosen; 3, 5 rejected). */
export const SPEC_MASK = rows([[1, 1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1, 1, 1]]);
