// prefLossRef against every number of preference-losses.md §9 (values, batch means, WPO weights,
// SimPO, SPPO hard/soft, metrics, and the gradient table by finite differences through
// seqStatsRef), then each remaining loss type and option against its closed form on §9's pairs.
import { describe, expect, it } from 'vitest';
import { PAIR_FIELD, PAIR_FIELDS, type PairField } from '../ops/pref_loss.ts';
import { SEQ_FIELD, SEQ_FIELDS } from '../ops/seq_stats.ts';
import { defaultLossConfig, needsReference, validateLossConfig, type LossConfig } from '../train/losses.ts';
import { logSigmoid, prefLossRef, sigmoid, type PrefLossRef } from './pref_loss.ts';
import { ldTokenWeightsRef, seqStatsRef } from './seq_stats.ts';
import { SPEC_B, SPEC_LP, SPEC_LQ, SPEC_LSE2, SPEC_MASK, SPEC_T } from './spec_example.ts';

const R = 2 * SPEC_B;
const cfgOf = (over: Partial<LossConfig>): LossConfig => validateLossConfig({ ...defaultLossConfig(), ...over });

/** Policy statistics of §9 (optionally other log-probs / token weights). */
const policyStats = (lp: ArrayLike<number> = SPEC_LP, tw: ArrayLike<number> = SPEC_MASK): Float64Array =>
  seqStatsRef({ logp: lp, lsp2: SPEC_LSE2, tokenWeight: tw, mask: SPEC_MASK }, R, SPEC_T);
/** Reference sums R of §9 (optionally LD-weighted). */
const refSums = (tw: ArrayLike<number> = SPEC_MASK): Float64Array => {
  const s = seqStatsRef({ logp: SPEC_LQ, lsp2: SPEC_LQ, tokenWeight: tw, mask: SPEC_MASK }, R, SPEC_T);
  return Float64Array.from({ length: R }, (_, r) => s[r * SEQ_FIELDS + SEQ_FIELD.S]);
};

function run(over: Partial<LossConfig>, extra: { targets?: number[]; stats?: Float64Array; ref?: Float64Array; scale?: number } = {}): PrefLossRef {
  const cfg = cfgOf(over);
  return prefLossRef(extra.stats ?? policyStats(), needsReference(cfg) ? (extra.ref ?? refSums()) : null, extra.targets ?? null, cfg, extra.scale);
}

const field = (r: PrefLossRef, name: PairField): number[] => Array.from({ length: r.pairs.length / PAIR_FIELDS }, (_, b) => r.pairs[b * PAIR_FIELDS + PAIR_FIELD[name]]);
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/** |got − want| ≤ 1e-9·max(1, |want|): the spec prints 10 significant digits. */
function near(got: number | number[], want: number | number[], what: string): void {
  const g = Array.isArray(got) ? got : [got];
  const w = Array.isArray(want) ? want : [want];
  expect(g.length, what).toBe(w.length);
  g.forEach((x, i) => {
    const tol = 1e-9 * Math.max(1, Math.abs(w[i]));
    expect(Math.abs(x - w[i]) <= tol, `${what}[${i}]: got ${x}, want ${w[i]} (tol ${tol})`).toBe(true);
  });
}

/** Checks the pair losses and their batch mean (scale 1). */
function losses(r: PrefLossRef, want: [number, number, number], what: string): void {
  near(field(r, 'loss'), want.slice(0, 2), `${what} pair losses`);
  near(r.loss, want[2], `${what} batch mean`);
}

/**
 * ∂(batch loss)/∂lp_t for every completion token of §9, by a 5-point stencil through seqStatsRef;
 * the WPO column stays at its unperturbed value (w is detached, spec §2.3).
 */
function tokenGrads(over: Partial<LossConfig>, targets?: number[]): Float64Array {
  const cfg = cfgOf(over);
  const base = policyStats();
  const ref = needsReference(cfg) ? refSums() : null;
  const L = (lp: Float64Array): number => {
    const s = policyStats(lp);
    for (let r = 0; r < R; r++) s[r * SEQ_FIELDS + SEQ_FIELD.wpo] = base[r * SEQ_FIELDS + SEQ_FIELD.wpo];
    return prefLossRef(s, ref, targets ?? null, cfg).loss;
  };
  const g = new Float64Array(R * SPEC_T);
  const h = 1e-3;
  for (let i = 0; i < g.length; i++) {
    if (SPEC_MASK[i] === 0) continue;
    const at = (d: number): number => {
      const lp = Float64Array.from(SPEC_LP);
      lp[i] += d;
      return L(lp);
    };
    g[i] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
  }
  return g;
}

/** The §9 gradient table row: [pair 1 chosen, pair 1 rejected, pair 2 chosen, pair 2 rejected]. */
function gradTable(g: Float64Array, want: [number, number, number, number], what: string): void {
  // rows: 0 chosen 1, 1 chosen 2, 2 rejected 1, 3 rejected 2; every token of a row has the same value
  const perRow = [want[0], want[2], want[1], want[3]];
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < SPEC_T; t++) {
      if (SPEC_MASK[r * SPEC_T + t] === 0) continue;
      near(g[r * SPEC_T + t], perRow[r], `${what} gradient row ${r} token ${t}`);
    }
  }
}

describe('prefLossRef: spec §9 worked example', () => {
  const dpo = run({});

  it('intermediates: S, R, a, b, h, rewards, margin, accuracy', () => {
    near(field(dpo, 'chosen_logp'), [-2.8, -4.8], 'S_w');
    near(field(dpo, 'ref_chosen_logp'), [-3.6, -4.4], 'R_w');
    near(field(dpo, 'rejected_logp'), [-4.2, -2.5], 'S_l');
    near(field(dpo, 'ref_rejected_logp'), [-3.3, -2.6], 'R_l');
    near(field(dpo, 'chosen_tokens'), [4, 3], 'n_w');
    near(field(dpo, 'rejected_tokens'), [3, 5], 'n_l');
    near(field(dpo, 'reward_chosen').map((r) => r / 0.1), [0.8, -0.4], 'a');
    near(field(dpo, 'reward_rejected').map((r) => r / 0.1), [-0.9, 0.1], 'b');
    near(field(dpo, 'logit').map((u) => u / 0.1), [1.7, -0.5], 'h');
    near(field(dpo, 'reward_chosen'), [0.08, -0.04], 'r_w');
    near(field(dpo, 'reward_rejected'), [-0.09, 0.01], 'r_l');
    near(mean(field(dpo, 'reward_chosen')), 0.02, 'mean r_w');
    near(mean(field(dpo, 'reward_rejected')), -0.04, 'mean r_l');
    near(field(dpo, 'margin'), [0.17, -0.05], 'margin');
    near(mean(field(dpo, 'margin')), 0.06, 'mean margin');
    near(field(dpo, 'accuracy'), [1, 0], 'accuracy');
    near(mean(field(dpo, 'accuracy')), 0.5, 'mean accuracy');
    near(field(dpo, 'weight'), [1, 1], 'weight without use_weighting');
    near(field(dpo, 'nonfinite'), [0, 0], 'nonfinite');
  });

  it('DPO, cDPO, robust, hinge, IPO', () => {
    losses(dpo, [0.6117553389, 0.718459648, 0.6651074934], 'DPO sigmoid');
    losses(run({ labelSmoothing: 0.1 }), [0.6287553389, 0.713459648, 0.6711074934], 'cDPO ε=0.1');
    losses(run({ lossTypes: ['robust'], labelSmoothing: 0.1 }), [0.5905053389, 0.724709648, 0.6576074934], 'robust ε=0.1');
    losses(run({ lossTypes: ['hinge'] }), [0.83, 1.05, 0.94], 'hinge');
    const ipo = run({ lossTypes: ['ipo'] });
    near(field(ipo, 'logit').map((x) => x + 5), [0.5, -0.1533333333], 'IPO h̄');
    losses(ipo, [20.25, 26.55684444, 23.40342222], 'IPO');
  });

  it('WPO weights and WPO-DPO with and without the clamp', () => {
    const noClamp = run({ useWeighting: true, wpoClamp: false });
    near(field(noClamp, 'weight_chosen').map(Math.log), [0.35, -0.6666666667], 'm_w');
    near(field(noClamp, 'weight_rejected').map(Math.log), [-0.06666666667, 0.27], 'm_l');
    near(field(noClamp, 'weight_chosen'), [1.419067549, 0.513417119], 'w_w');
    near(field(noClamp, 'weight_rejected'), [0.935506985, 1.309964451], 'w_l');
    near(field(noClamp, 'weight_raw'), [1.327547604, 0.6725581743], 'w');
    near(field(noClamp, 'weight'), [1.327547604, 0.6725581743], 'w, no clamp');
    losses(noClamp, [0.8121343343, 0.4832059092, 0.6476701218], 'WPO-DPO TRL ≥ 0.29');
    const clamped = run({ useWeighting: true });
    near(field(clamped, 'weight_raw'), [1.327547604, 0.6725581743], 'w before the clamp');
    near(field(clamped, 'weight'), [1, 0.6725581743], 'w after the clamp');
    losses(clamped, [0.6117553389, 0.4832059092, 0.547480624], 'WPO-DPO repo / TRL ≤ 0.28');
    // The TRL 0.14–0.28 off-by-one (spec §2.3) would give m_w = 0.55, m_l = 0.6 for pair 1 (w ≈ 3.158):
    // our weights are the aligned ones.
    expect(Math.abs(field(noClamp, 'weight_raw')[0] - Math.exp(0.55 + 0.6))).toBeGreaterThan(1);
    expect(Math.abs(field(noClamp, 'weight_raw')[1] - 1.0725)).toBeGreaterThan(0.3);
  });

  it('SimPO (β = 10, γ = 5) and its repo metrics', () => {
    const simpo = run({ lossTypes: ['simpo'], beta: 10, simpoGamma: 5 });
    near(field(simpo, 'chosen_logp_mean'), [-0.7, -1.6], 'Ā_w');
    near(field(simpo, 'rejected_logp_mean'), [-1.4, -0.5], 'Ā_l');
    near(field(simpo, 'logit'), [2, -16], 'z');
    losses(simpo, [0.126928011, 16.00000011, 8.063464062], 'SimPO');
    near(field(simpo, 'reward_chosen'), [-7, -16], 'rewards 10·Ā_w');
    near(field(simpo, 'reward_rejected'), [-14, -5], 'rewards 10·Ā_l');
    near(mean(field(simpo, 'reward_chosen')), -11.5, 'rewards/chosen');
    near(mean(field(simpo, 'reward_rejected')), -9.5, 'rewards/rejected');
    near(mean(field(simpo, 'margin')), -2.0, 'rewards/margins');
    near(mean(field(simpo, 'accuracy')), 0.5, 'rewards/accuracies');
    near(mean(field(simpo, 'chosen_logp_mean')), -1.15, 'logps/chosen');
    near(mean(field(simpo, 'rejected_logp_mean')), -0.95, 'logps/rejected');
    near(field(simpo, 'ref_chosen_logp'), [0, 0], 'no reference for SimPO');
  });

  it('SPPO hard: TRL (no ½) and the repo (½, as sppo with P̂_w = 1, P̂_l = 0)', () => {
    losses(run({ lossTypes: ['sppo_hard'] }), [34.45, 55.17, 44.81], 'SPPO-hard TRL');
    losses(run({ lossTypes: ['sppo'] }, { targets: [1, 0, 1, 0] }), [17.225, 27.585, 22.405], 'SPPO-hard repo');
  });

  it('SPPO soft targets from PairRM scores', () => {
    // P̂(i ≻ π) = (1/K) Σ_j σ(s_i − s_j), the self term (0.5) included (spec §5).
    const s = [2.0, 0.5, -1.0, 0.0, 1.0];
    const pHat = (i: number): number => mean(s.map((sj) => sigmoid(s[i] - sj)));
    const [win, lose] = [s.indexOf(Math.max(...s)), s.indexOf(Math.min(...s))];
    expect([win, lose]).toEqual([0, 2]);
    near([pHat(win), pHat(lose), sigmoid(s[win] - s[lose])], [0.7764008519, 0.2235991481, 0.9525741268], 'P̂_w, P̂_l, P_wl');
    // pair 1 alone, β = 0.1
    const st = policyStats();
    const pair1 = Float64Array.from([...st.subarray(0, SEQ_FIELDS), ...st.subarray(2 * SEQ_FIELDS, 3 * SEQ_FIELDS)]);
    const ref = refSums();
    const r = prefLossRef(pair1, Float64Array.from([ref[0], ref[2]]), [pHat(win), pHat(lose)], cfgOf({ lossTypes: ['sppo'] }));
    near(field(r, 'logit'), [0.8 - 2.764008519], 'chosen residual');
    near(field(r, 'logit2'), [-0.9 + 2.764008519], 'rejected residual');
    near(r.loss, 3.665928612, 'SPPO soft loss');
  });

  it('TRL metrics of the batch (DPO)', () => {
    near(mean(field(dpo, 'chosen_logp')), -3.8, 'logps/chosen');
    near(mean(field(dpo, 'rejected_logp')), -3.35, 'logps/rejected');
  });

  it('gradient table: ∂(batch loss)/∂lp_t by finite differences', () => {
    gradTable(tokenGrads({}), [-0.02288010296, 0.02288010296, -0.02562486982, 0.02562486982], 'DPO');
    gradTable(tokenGrads({ lossTypes: ['hinge'] }), [-0.05, 0.05, -0.05, 0.05], 'hinge');
    gradTable(tokenGrads({ lossTypes: ['ipo'] }), [-1.125, 1.5, -1.717777778, 1.030666667], 'IPO');
    gradTable(tokenGrads({ useWeighting: true, wpoClamp: false }), [-0.03037442586, 0.03037442586, -0.01723421567, 0.01723421567], 'WPO-DPO no clamp');
    gradTable(tokenGrads({ lossTypes: ['simpo'], beta: 10, simpoGamma: 5 }), [-0.1490036525, 0.1986715367, -1.666666479, 0.9999998875], 'SimPO');
    gradTable(tokenGrads({ lossTypes: ['sppo_hard'] }), [-4.2, 4.1, -5.4, 5.1], 'SPPO-hard TRL');
  });
});

describe('prefLossRef: the other loss types and options on §9 pairs (closed forms)', () => {
  // §9: a = (0.8, −0.4), b = (−0.9, 0.1), h = (1.7, −0.5), β = 0.1; S_w − S_l = (1.4, −2.3),
  // R_w − R_l = (−0.3, −1.8); n_w = (4, 3), n_l = (3, 5); Σ Sraw_w = −7.6 over Σ n_w = 7 tokens.
  const a = [0.8, -0.4];
  const b = [-0.9, 0.1];
  const h = [1.7, -0.5];
  const beta = 0.1;
  const each = (f: (i: number) => number): [number, number, number] => {
    const v = [f(0), f(1)];
    return [v[0], v[1], mean(v)];
  };
  const cdpo = (u: number, e: number): number => -(1 - e) * logSigmoid(u) - e * logSigmoid(-u);

  it('exo_pair uses ε = 1e-3 when label_smoothing is 0, else ε', () => {
    const exo = (e: number) => (i: number): number => {
      const u = beta * h[i];
      return sigmoid(u) * (logSigmoid(u) - Math.log(1 - e)) + sigmoid(-u) * (logSigmoid(-u) - Math.log(e));
    };
    losses(run({ lossTypes: ['exo_pair'] }), each(exo(1e-3)), 'exo_pair ε=0→1e-3');
    losses(run({ lossTypes: ['exo_pair'], labelSmoothing: 0.2 }), each(exo(0.2)), 'exo_pair ε=0.2');
  });

  it('nca_pair, bco_pair, apo_zero, apo_down, discopop, sigmoid_norm', () => {
    losses(run({ lossTypes: ['nca_pair'] }), each((i) => -logSigmoid(beta * a[i]) - 0.5 * logSigmoid(-beta * a[i]) - 0.5 * logSigmoid(-beta * b[i])), 'nca_pair');
    losses(run({ lossTypes: ['bco_pair'] }), each((i) => -logSigmoid(beta * a[i]) - logSigmoid(-beta * b[i])), 'bco_pair');
    losses(run({ lossTypes: ['apo_zero'] }), each((i) => 1 - sigmoid(beta * a[i]) + sigmoid(beta * b[i])), 'apo_zero');
    losses(run({ lossTypes: ['apo_down'] }), each((i) => sigmoid(beta * a[i]) + 1 - sigmoid(beta * h[i])), 'apo_down');
    const disco = (tau: number) => (i: number): number => {
      const z = beta * h[i];
      const m = sigmoid(z / tau);
      return (1 - m) * -logSigmoid(z) + m * Math.exp(-z);
    };
    losses(run({ lossTypes: ['discopop'] }), each(disco(0.05)), 'discopop τ=0.05');
    losses(run({ lossTypes: ['discopop'], discopopTau: 0.3 }), each(disco(0.3)), 'discopop τ=0.3');
    const norm = run({ lossTypes: ['sigmoid_norm'] });
    const hbar = [0.8 / 4 + 0.9 / 3, -0.4 / 3 - 0.1 / 5];
    losses(norm, each((i) => -logSigmoid(beta * hbar[i])), 'sigmoid_norm');
    near(field(norm, 'logit'), hbar.map((x) => beta * x), 'sigmoid_norm logit');
  });

  it('aot and aot_unpaired sort across the batch', () => {
    // aot: δ = sort(S_w − S_l) − sort(R_w − R_l) = (−2.3, 1.4) − (−1.8, −0.3) = (−0.5, 1.7)
    const aot = run({ lossTypes: ['aot'], labelSmoothing: 0.1 });
    losses(aot, each((i) => cdpo(beta * [-0.5, 1.7][i], 0.1)), 'aot');
    near(field(aot, 'logit'), [-0.05, 0.17], 'aot logit');
    // aot_unpaired: δ = sort(a) − sort(b) = (−0.4, 0.8) − (−0.9, 0.1) = (0.5, 0.7)
    losses(run({ lossTypes: ['aot_unpaired'] }), each((i) => cdpo(beta * [0.5, 0.7][i], 0)), 'aot_unpaired');
  });

  it('sft is the chosen-token NLL, one batch scalar for every pair; simpo adds cpo_alpha·NLL', () => {
    const nll = 7.6 / 7;
    losses(run({ lossTypes: ['sft'] }), [nll, nll, nll], 'sft');
    losses(run({ lossTypes: ['sigmoid', 'sft'], lossWeights: [1, 0.5] }), [0.6117553389 + 0.5 * nll, 0.718459648 + 0.5 * nll, 0.6651074934 + 0.5 * nll], 'sigmoid + 0.5·sft');
    losses(run({ lossTypes: ['simpo'], beta: 10, simpoGamma: 5, cpoAlpha: 1 }), [0.126928011 + nll, 16.00000011 + nll, 8.063464062 + nll], 'CPO-SimPO');
    // with use_weighting, each pair's sft term is weighted too (TRL HEAD)
    const wpo = run({ lossTypes: ['sigmoid', 'sft'], lossWeights: [], useWeighting: true, wpoClamp: false });
    near(field(wpo, 'loss'), [1.327547604 * (0.6117553389 + nll), 0.6725581743 * (0.718459648 + nll)], 'WPO sigmoid + sft');
  });

  it('sppo_single and gpo (targets clamped at ±gpo_clamp)', () => {
    const P = 0.9525741268;
    const t = (P - 0.5) / beta;
    const single = run({ lossTypes: ['sppo_single'] }, { targets: [P, 0, P, 0] });
    losses(single, each((i) => 0.5 * ((a[i] - t) ** 2 + (b[i] + t) ** 2)), 'sppo_single');
    near(field(single, 'logit2'), b.map((x) => x + t), 'sppo_single rejected residual');
    const gpo = run({ lossTypes: ['gpo'] }, { targets: [150, -0.3, -0.02, 0.4] });
    const tw = [1000, -0.2];
    const tl = [-3, 4];
    losses(gpo, each((i) => 0.5 * ((a[i] - tw[i]) ** 2 + (b[i] - tl[i]) ** 2)), 'gpo');
    losses(run({ lossTypes: ['gpo'], gpoClamp: 2 }, { targets: [150, -0.3, -0.02, 0.4] }), each((i) => 0.5 * ((a[i] - [2, -0.2][i]) ** 2 + (b[i] - [-2, 2][i]) ** 2)), 'gpo clamp 2');
  });

  it('f-divergences map the log-ratios before the loss (TRL HEAD)', () => {
    const fk = (x: number): number => -Math.exp(-x);
    losses(run({ fDivergenceType: 'forward_kl' }), each((i) => -logSigmoid(beta * (fk(a[i]) - fk(b[i])))), 'forward_kl');
    losses(run({ fDivergenceType: 'js' }), each((i) => -logSigmoid(beta * (logSigmoid(a[i]) - logSigmoid(b[i])))), 'js');
    const al = (c: number) => (x: number): number => Math.exp((c - 1) * x) / (c - 1);
    losses(run({ fDivergenceType: 'alpha', fAlphaDivergenceCoef: 0.5 }), each((i) => -logSigmoid(beta * (al(0.5)(a[i]) - al(0.5)(b[i])))), 'alpha 0.5');
    losses(run({ fDivergenceType: 'alpha', fAlphaDivergenceCoef: 1 }), [0.6117553389, 0.718459648, 0.6651074934], 'alpha 1 = reverse KL');
    // The exponent is clamped at 80: a = 400 with α = 1.5 → e^80 / 0.5.
    const st = policyStats();
    st[SEQ_FIELD.S] = 400 - 3.6;
    const big = run({ lossTypes: ['hinge'], fDivergenceType: 'alpha', fAlphaDivergenceCoef: 1.5 }, { stats: st });
    near(field(big, 'logit')[0], beta * (Math.exp(80) / 0.5 - al(1.5)(b[0])), 'alpha clamp');
    // apo_zero reads the log-ratios, not the scores (sigmoid, weight 0, makes the f-divergence valid)
    losses(run({ lossTypes: ['sigmoid', 'apo_zero'], lossWeights: [0, 1], fDivergenceType: 'forward_kl' }), each((i) => 1 - sigmoid(beta * a[i]) + sigmoid(beta * b[i])), 'apo_zero ignores f');
  });

  it('reference_free sets R = 0; ld_alpha enters through the token weights (policy and reference)', () => {
    const free = run({ referenceFree: true });
    near(field(free, 'ref_chosen_logp'), [0, 0], 'reference-free R');
    losses(free, each((i) => -logSigmoid(beta * [1.4, -2.3][i])), 'reference-free DPO');
    const tw = ldTokenWeightsRef(SPEC_MASK, SPEC_B, SPEC_T, 0.5);
    const ld = run({ ldAlpha: 0.5 }, { stats: policyStats(SPEC_LP, tw), ref: refSums(tw) });
    // pair 1: chosen drops half of token 4 (−0.8 / −1.0); pair 2: rejected tokens 4, 5 (−0.3, −0.5 / −0.4, −0.4)
    const aLd = [(-2.8 + 0.4) - (-3.6 + 0.5), -0.4];
    const bLd = [-0.9, (-2.5 + 0.4) - (-2.6 + 0.4)];
    losses(ld, each((i) => -logSigmoid(beta * (aLd[i] - bLd[i]))), 'LD-DPO α=0.5');
    near(field(ld, 'chosen_logp_mean'), [-0.7, -1.6], 'Ā stays unweighted');
  });

  it('scale multiplies the batch loss only; nonfinite flags a pair with a NaN/Inf input', () => {
    const s = run({}, { scale: 0.25 });
    near(s.loss, 0.25 * 0.6651074934, 'scaled loss');
    near(field(s, 'loss'), [0.6117553389, 0.718459648], 'pair losses unscaled');
    const st = policyStats();
    st[(SPEC_B + 1) * SEQ_FIELDS + SEQ_FIELD.wpo] = NaN; // rejected row of pair 2
    expect(field(run({}, { stats: st }), 'nonfinite')).toEqual([0, 1]);
    const ref = refSums();
    ref[0] = Infinity;
    expect(field(run({}, { ref }), 'nonfinite')).toEqual([1, 0]);
    expect(field(run({ lossTypes: ['simpo'] }, { ref }), 'nonfinite')).toEqual([0, 0]); // SimPO reads no reference
    expect(field(run({ lossTypes: ['sppo'] }, { targets: [1, 0, NaN, 0] }), 'nonfinite')).toEqual([0, 1]);
  });
});
