// pref_loss.wgsl — the fused per-pair preference loss (ops/pref_loss.ts; spec
// preference-losses.md §2.2–§2.4 TRL losses, §3 SimPO, §4 WPO, §5 SPPO, §6 GPO).
//
//   pref_loss_forward   ONE workgroup of 256 lanes does the whole batch, in four phases
//                       separated by barriers (deterministic: fixed lane assignment, fixed trees):
//                         1. Σ_b Sraw_w, Σ_b n_w over chosen rows → the batch NLL (sft, cpo_alpha);
//                         2. (aot, aot_unpaired only) ranks of four batch columns in a total order
//                            on the f32 bits, so the sort is a permutation even with NaN/Inf;
//                         3. each pair: every PAIR_FIELD, and ∂(w·Σ_k λ_k ℓ_k)/∂(S_w, S_l, Sraw_w,
//                            Sraw_l) saved for the backward;
//                         4. loss = scale · Σ_b pair_loss_b / B, and the NLL's gradient factor.
//   pref_loss_backward  one invocation per row r of the [2B, 6] policy statistics: dS (col 0) and
//                       dSraw (col 1) from the saved per-pair derivatives (AOT's terms gathered
//                       through the saved ranks), 0 for the detached columns 2–5.
//
// Scores (TRL HEAD): a = S_w − R_w, b = S_l − R_l; s = f(a) per f_divergence_type; h = s_w − s_l;
// N = max(n, 1); Ā = Sraw / N. Pair weight w (WPO) is detached: the derivatives are w·∂ℓ.
// Stable forms only: softplus(x) = max(x, 0) + log1p(e^{−|x|}) with a series log1p (WGSL has
// none, and its log is only 2^-21 absolute near 1); σ from e^{−|x|}; DiscoPOP's m·e^{−z} as
// e^{logσ(z/τ) − z}. Non-finite inputs are detected with bit tests (common.wgsl not_finite),
// never by NaN arithmetic, and flagged per pair in the `nonfinite` field.

const WG: u32 = 256u;
const SF: u32 = 6u;    // SEQ_FIELDS (columns of the policy statistics)
const PF: u32 = 20u;   // PAIR_FIELDS
const GS: u32 = 6u;    // saved derivatives per pair: dS_w, dS_l, dSraw_w, dSraw_l, dδ_aot, dδ_aot_unpaired

// Loss-type codes (ops/pref_loss.ts LOSS_CODE).
const SIGMOID: u32 = 0u;
const HINGE: u32 = 1u;
const IPO: u32 = 2u;
const EXO_PAIR: u32 = 3u;
const NCA_PAIR: u32 = 4u;
const ROBUST: u32 = 5u;
const BCO_PAIR: u32 = 6u;
const SPPO_HARD: u32 = 7u;
const AOT: u32 = 8u;
const AOT_UNPAIRED: u32 = 9u;
const APO_ZERO: u32 = 10u;
const APO_DOWN: u32 = 11u;
const DISCOPOP: u32 = 12u;
const SFT: u32 = 13u;
const SIGMOID_NORM: u32 = 14u;
const SIMPO: u32 = 15u;
const SPPO: u32 = 16u;
const SPPO_SINGLE: u32 = 17u;
const GPO: u32 = 18u;

// Params.flags bits (ops/pref_loss.ts FLAG).
const F_REF: u32 = 1u;            // reference sums are used (else R = 0)
const F_TARGETS: u32 = 2u;        // targets are bound
const F_WEIGHTING: u32 = 4u;      // WPO pair weights
const F_WPO_CLAMP: u32 = 8u;      // w = min(w, 1)
const F_SIMPO_REWARDS: u32 = 16u; // rewards are β·Ā (SimPO / CPO)
const F_SORT: u32 = 32u;          // aot or aot_unpaired: rank the batch columns

// PAIR_FIELD columns.
const P_CHOSEN_LOGP: u32 = 0u;
const P_REJECTED_LOGP: u32 = 1u;
const P_CHOSEN_LOGP_MEAN: u32 = 2u;
const P_REJECTED_LOGP_MEAN: u32 = 3u;
const P_REF_CHOSEN: u32 = 4u;
const P_REF_REJECTED: u32 = 5u;
const P_CHOSEN_TOKENS: u32 = 6u;
const P_REJECTED_TOKENS: u32 = 7u;
const P_REWARD_CHOSEN: u32 = 8u;
const P_REWARD_REJECTED: u32 = 9u;
const P_MARGIN: u32 = 10u;
const P_ACCURACY: u32 = 11u;
const P_WEIGHT_CHOSEN: u32 = 12u;
const P_WEIGHT_REJECTED: u32 = 13u;
const P_WEIGHT_RAW: u32 = 14u;
const P_WEIGHT: u32 = 15u;
const P_LOGIT: u32 = 16u;
const P_LOGIT2: u32 = 17u;
const P_LOSS: u32 = 18u;
const P_NONFINITE: u32 = 19u;

struct Params {
  types: vec4<u32>,     // loss-type codes; the first nTypes are used
  weights: vec4<f32>,   // loss_weights λ_k
  B: u32,               // pairs
  nTypes: u32,
  flags: u32,
  fdiv: u32,            // 0 reverse_kl, 1 forward_kl, 2 js, 3 alpha
  logitType: u32,       // the loss type whose argument goes to the `logit` field
  beta: f32,
  eps: f32,             // label_smoothing
  exoLogKeep: f32,      // log(1 − ε_exo)
  exoLogFlip: f32,      // log ε_exo
  gamma: f32,           // simpo_gamma
  cpoAlpha: f32,
  falpha: f32,          // f_alpha_divergence_coef
  tau: f32,             // discopop_tau
  gpoClamp: f32,
  nllCoef: f32,         // Σ_k λ_k·[sft] + λ_k·cpo_alpha·[simpo]: the NLL's total weight
  scale: f32,           // multiplies the returned loss
}

@group(0) @binding(0) var<storage, read> policy: array<f32>;         // [2B, SF]
@group(0) @binding(1) var<storage, read> refs: array<f32>;           // [2B] (a stand-in unless F_REF)
@group(0) @binding(2) var<storage, read> tgts: array<f32>;           // [B, 2] (a stand-in unless F_TARGETS)
@group(0) @binding(3) var<storage, read_write> loss_out: array<f32>; // [1]
@group(0) @binding(4) var<storage, read_write> pairs: array<f32>;    // [B, PF]
@group(0) @binding(5) var<storage, read_write> saved: array<f32>;    // see saved_* below
@group(0) @binding(6) var<uniform> p: Params;

// saved layout: [B, GS] derivatives | 4 sorted columns [4, B] | their ranks [4, B] | NLL factor.
fn sorted_at(B: u32, k: u32, i: u32) -> u32 { return B * GS + k * B + i; }
fn rank_at(B: u32, k: u32, i: u32) -> u32 { return B * (GS + 4u) + k * B + i; }
fn nll_at(B: u32) -> u32 { return B * (GS + 8u); }

var<workgroup> red_x: array<f32, 256>;
var<workgroup> red_y: array<f32, 256>;

fn has(f: u32) -> bool { return (p.flags & f) != 0u; }

// ---------------------------------------------------------------- stable scalar functions

// log(1 + x) for 0 ≤ x ≤ 1 to f32 relative accuracy: 2·atanh(s) with s = x/(2 + x) ≤ 1/3, by its
// odd series to s¹⁵ (the next term is < 1e-9 of the result).
fn log1p_unit(x: f32) -> f32 {
  let s = x / (2.0 + x);
  let s2 = s * s;
  var q = 1.0 / 15.0;
  q = fma(q, s2, 1.0 / 13.0);
  q = fma(q, s2, 1.0 / 11.0);
  q = fma(q, s2, 1.0 / 9.0);
  q = fma(q, s2, 1.0 / 7.0);
  q = fma(q, s2, 1.0 / 5.0);
  q = fma(q, s2, 1.0 / 3.0);
  q = fma(q, s2, 1.0);
  return 2.0 * s * q;
}

// softplus(x) = log(1 + e^x) = −logσ(−x)
fn softplus(x: f32) -> f32 { return max(x, 0.0) + log1p_unit(exp(-abs(x))); }
fn log_sigmoid(x: f32) -> f32 { return -softplus(-x); }
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}
// cDPO −(1−ε)logσ(u) − ε·logσ(−u) and its derivative in u.
fn cdpo(u: f32) -> f32 { return (1.0 - p.eps) * softplus(-u) + p.eps * softplus(u); }
fn cdpo_du(u: f32) -> f32 { return -(1.0 - p.eps) * sigmoid(-u) + p.eps * sigmoid(u); }

// TRL HEAD's f-divergence score of a log-ratio, and its derivative.
fn score(x: f32) -> f32 {
  switch p.fdiv {
    case 1u: { return -exp(-x); }
    case 2u: { return log_sigmoid(x); }
    case 3u: { return exp(min((p.falpha - 1.0) * x, 80.0)) / (p.falpha - 1.0); }
    default: { return x; }
  }
}
fn score_dx(x: f32) -> f32 {
  switch p.fdiv {
    case 1u: { return exp(-x); }
    case 2u: { return sigmoid(-x); }
    case 3u: {
      let t = (p.falpha - 1.0) * x;
      return select(0.0, exp(t), t < 80.0);
    }
    default: { return 1.0; }
  }
}

// A total order on f32 bit patterns (−NaN < −Inf < … < −0 < +0 < … < +Inf < +NaN) as u32.
fn order_key(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
}

// ---------------------------------------------------------------- per-pair inputs

fn S_of(r: u32) -> f32 { return policy[r * SF]; }
fn R_of(r: u32) -> f32 {
  if (has(F_REF)) { return refs[r]; }
  return 0.0;
}

// The four AOT batch columns: 0 S_w − S_l, 1 R_w − R_l (aot); 2 a, 3 b (aot_unpaired).
fn sort_key(k: u32, b: u32) -> f32 {
  let B = p.B;
  switch k {
    case 0u: { return S_of(b) - S_of(B + b); }
    case 1u: { return R_of(b) - R_of(B + b); }
    case 2u: { return S_of(b) - R_of(b); }
    default: { return S_of(B + b) - R_of(B + b); }
  }
}

// Regression targets (t_w, t_l) of sppo, sppo_single and gpo (η = 1/β).
fn sppo_targets(t: u32, Tw: f32, Tl: f32) -> vec2<f32> {
  let beta = p.beta;
  if (t == SPPO) { return vec2<f32>((Tw - 0.5) / beta, (Tl - 0.5) / beta); }
  if (t == SPPO_SINGLE) { return vec2<f32>((Tw - 0.5) / beta, -(Tw - 0.5) / beta); }
  return clamp(vec2<f32>(Tw, Tl) / beta, vec2<f32>(-p.gpoClamp), vec2<f32>(p.gpoClamp));  // gpo (unverified)
}

// ---------------------------------------------------------------- one pair

// Writes pair b's fields and saved derivatives; returns (w·Σ_k λ_k ℓ_k, w).
fn pair(b: u32, nll: f32) -> vec2<f32> {
  let B = p.B;
  let beta = p.beta;
  let cw = b * SF;
  let cl = (B + b) * SF;
  let Sw = policy[cw];
  let Sl = policy[cl];
  let nw = policy[cw + 2u];
  let nl = policy[cl + 2u];
  var bad = false;
  for (var c = 0u; c < 4u; c++) { bad = bad || not_finite(policy[cw + c]) || not_finite(policy[cl + c]); }
  let Rw = R_of(b);
  let Rl = R_of(B + b);
  if (has(F_REF)) { bad = bad || not_finite(Rw) || not_finite(Rl); }
  var Tw = 0.0;
  var Tl = 0.0;
  if (has(F_TARGETS)) {
    Tw = tgts[2u * b];
    Tl = tgts[2u * b + 1u];
    bad = bad || not_finite(Tw) || not_finite(Tl);
  }
  let Nw = max(nw, 1.0);
  let Nl = max(nl, 1.0);
  let Aw = policy[cw + 1u] / Nw;
  let Al = policy[cl + 1u] / Nl;
  let a = Sw - Rw;
  let bl = Sl - Rl;
  let sw = score(a);
  let sl = score(bl);
  let h = sw - sl;
  let u = beta * h;
  let hbar = sw / Nw - sl / Nl;
  let half_inv = 0.5 / beta;
  let simpo_z = beta * (Aw - Al) - p.gamma;

  // WPO pair weight (spec §2.3), detached.
  var wch = 1.0;
  var wrj = 1.0;
  var wraw = 1.0;
  var w = 1.0;
  if (has(F_WEIGHTING)) {
    let mw = policy[cw + 3u] / Nw;
    let ml = policy[cl + 3u] / Nl;
    wch = exp(mw);
    wrj = exp(ml);
    wraw = exp(mw + ml);
    w = select(wraw, min(wraw, 1.0), has(F_WPO_CLAMP));
  }

  // Σ_k λ_k ℓ_k and its derivatives: in the scores (g_sw, g_sl), directly in a, b (g_a, g_b),
  // in Ā (g_Aw, g_Al), and in AOT's sorted differences δ (g_aot, g_aotu).
  var L = 0.0;
  var g_sw = 0.0;
  var g_sl = 0.0;
  var g_a = 0.0;
  var g_b = 0.0;
  var g_Aw = 0.0;
  var g_Al = 0.0;
  var g_aot = 0.0;
  var g_aotu = 0.0;
  for (var k = 0u; k < p.nTypes; k++) {
    let t = p.types[k];
    let lam = p.weights[k];
    switch t {
      case SIGMOID: {
        L += lam * cdpo(u);
        let d = lam * beta * cdpo_du(u);
        g_sw += d;
        g_sl -= d;
      }
      case HINGE: {
        L += lam * max(0.0, 1.0 - u);
        let d = select(0.0, -lam * beta, u < 1.0);
        g_sw += d;
        g_sl -= d;
      }
      case IPO: {
        let r = hbar - half_inv;
        L += lam * r * r;
        g_sw += lam * 2.0 * r / Nw;
        g_sl -= lam * 2.0 * r / Nl;
      }
      case EXO_PAIR: {
        let q = sigmoid(u);
        let ql = sigmoid(-u);
        L += lam * (q * (log_sigmoid(u) - p.exoLogKeep) + ql * (log_sigmoid(-u) - p.exoLogFlip));
        let d = lam * beta * q * ql * (u - p.exoLogKeep + p.exoLogFlip);
        g_sw += d;
        g_sl -= d;
      }
      case NCA_PAIR: {
        let rw = beta * sw;
        let rl = beta * sl;
        L += lam * (softplus(-rw) + 0.5 * softplus(rw) + 0.5 * softplus(rl));
        g_sw += lam * beta * (0.5 * sigmoid(rw) - sigmoid(-rw));
        g_sl += lam * beta * 0.5 * sigmoid(rl);
      }
      case ROBUST: {
        let k2 = 1.0 / (1.0 - 2.0 * p.eps);
        L += lam * k2 * ((1.0 - p.eps) * softplus(-u) - p.eps * softplus(u));
        let d = lam * beta * k2 * (-(1.0 - p.eps) * sigmoid(-u) - p.eps * sigmoid(u));
        g_sw += d;
        g_sl -= d;
      }
      case BCO_PAIR: {
        let rw = beta * sw;
        let rl = beta * sl;
        L += lam * (softplus(-rw) + softplus(rl));
        g_sw -= lam * beta * sigmoid(-rw);
        g_sl += lam * beta * sigmoid(rl);
      }
      case SPPO_HARD: {
        let ew = sw - half_inv;
        let el = sl + half_inv;
        L += lam * (ew * ew + el * el);
        g_sw += lam * 2.0 * ew;
        g_sl += lam * 2.0 * el;
      }
      case AOT: {
        let du = beta * (saved[sorted_at(B, 0u, b)] - saved[sorted_at(B, 1u, b)]);
        L += lam * cdpo(du);
        g_aot += lam * beta * cdpo_du(du);
      }
      case AOT_UNPAIRED: {
        let du = beta * (saved[sorted_at(B, 2u, b)] - saved[sorted_at(B, 3u, b)]);
        L += lam * cdpo(du);
        g_aotu += lam * beta * cdpo_du(du);
      }
      case APO_ZERO: {
        let qa = sigmoid(beta * a);
        let qb = sigmoid(beta * bl);
        L += lam * (1.0 - qa + qb);
        g_a -= lam * beta * qa * sigmoid(-beta * a);
        g_b += lam * beta * qb * sigmoid(-beta * bl);
      }
      case APO_DOWN: {
        let qa = sigmoid(beta * a);
        let qh = sigmoid(u);
        L += lam * (qa + 1.0 - qh);
        g_a += lam * beta * qa * sigmoid(-beta * a);
        let d = -lam * beta * qh * sigmoid(-u);
        g_sw += d;
        g_sl -= d;
      }
      case DISCOPOP: {
        // ℓ = (1 − m)·P + m·E, P = softplus(−z), E = e^{−z}, m = σ(z/τ), z = u;
        // dℓ/dz = m(1−m)/τ·(E − P) − (1 − m)·σ(−z) − m·E, every m·E product as one exp.
        let zt = u / p.tau;
        let lm = log_sigmoid(zt);
        let lmc = log_sigmoid(-zt);
        let m = sigmoid(zt);
        let mc = sigmoid(-zt);
        let P = softplus(-u);
        let mE = exp(lm - u);
        L += lam * (mc * P + mE);
        let dz = (exp(lm + lmc - u) - m * mc * P) / p.tau - mc * sigmoid(-u) - mE;
        g_sw += lam * beta * dz;
        g_sl -= lam * beta * dz;
      }
      case SFT: {
        L += lam * nll;  // its gradient is the batch factor saved in phase 4
      }
      case SIGMOID_NORM: {
        let v = beta * hbar;
        L += lam * softplus(-v);
        let d = -lam * beta * sigmoid(-v);
        g_sw += d / Nw;
        g_sl -= d / Nl;
      }
      case SIMPO: {
        var cpo = 0.0;  // cpo_alpha·NLL only when cpo_alpha ≠ 0: another pair's NaN stays out of pure SimPO
        if (p.cpoAlpha != 0.0) { cpo = p.cpoAlpha * nll; }
        L += lam * (cdpo(simpo_z) + cpo);
        let d = lam * beta * cdpo_du(simpo_z);
        g_Aw += d;
        g_Al -= d;
      }
      default: {  // SPPO, SPPO_SINGLE, GPO: ½[(a − t_w)² + (b − t_l)²]
        let tg = sppo_targets(t, Tw, Tl);
        let ew = a - tg.x;
        let el = bl - tg.y;
        L += lam * 0.5 * (ew * ew + el * el);
        g_a += lam * ew;
        g_b += lam * el;
      }
    }
  }

  // Derivatives w.r.t. the policy columns, times the detached pair weight.
  let g = b * GS;
  saved[g] = w * (g_sw * score_dx(a) + g_a);
  saved[g + 1u] = w * (g_sl * score_dx(bl) + g_b);
  saved[g + 2u] = w * g_Aw / Nw;
  saved[g + 3u] = w * g_Al / Nl;
  saved[g + 4u] = w * g_aot;
  saved[g + 5u] = w * g_aotu;

  // The primary loss's argument.
  var logit = u;
  var logit2 = 0.0;
  switch p.logitType {
    case IPO: { logit = hbar - half_inv; }
    case SIGMOID_NORM: { logit = beta * hbar; }
    case SPPO_HARD: {
      logit = sw - half_inv;
      logit2 = sl + half_inv;
    }
    case AOT: { logit = beta * (saved[sorted_at(B, 0u, b)] - saved[sorted_at(B, 1u, b)]); }
    case AOT_UNPAIRED: { logit = beta * (saved[sorted_at(B, 2u, b)] - saved[sorted_at(B, 3u, b)]); }
    case SIMPO: { logit = simpo_z; }
    case SPPO, SPPO_SINGLE, GPO: {
      let tg = sppo_targets(p.logitType, Tw, Tl);
      logit = a - tg.x;
      logit2 = bl - tg.y;
    }
    default: {}
  }

  var rw = beta * a;
  var rl = beta * bl;
  if (has(F_SIMPO_REWARDS)) {
    rw = beta * Aw;
    rl = beta * Al;
  }
  let o = b * PF;
  pairs[o + P_CHOSEN_LOGP] = Sw;
  pairs[o + P_REJECTED_LOGP] = Sl;
  pairs[o + P_CHOSEN_LOGP_MEAN] = Aw;
  pairs[o + P_REJECTED_LOGP_MEAN] = Al;
  pairs[o + P_REF_CHOSEN] = Rw;
  pairs[o + P_REF_REJECTED] = Rl;
  pairs[o + P_CHOSEN_TOKENS] = nw;
  pairs[o + P_REJECTED_TOKENS] = nl;
  pairs[o + P_REWARD_CHOSEN] = rw;
  pairs[o + P_REWARD_REJECTED] = rl;
  pairs[o + P_MARGIN] = rw - rl;
  pairs[o + P_ACCURACY] = select(0.0, 1.0, rw > rl);
  pairs[o + P_WEIGHT_CHOSEN] = wch;
  pairs[o + P_WEIGHT_REJECTED] = wrj;
  pairs[o + P_WEIGHT_RAW] = wraw;
  pairs[o + P_WEIGHT] = w;
  pairs[o + P_LOGIT] = logit;
  pairs[o + P_LOGIT2] = logit2;
  pairs[o + P_LOSS] = w * L;
  pairs[o + P_NONFINITE] = select(0.0, 1.0, bad);
  return vec2<f32>(w * L, w);
}

// Sums (x, y) over the workgroup in a fixed tree. Call in uniform control flow.
fn workgroup_sum2(lid: u32, x: f32, y: f32) -> vec2<f32> {
  red_x[lid] = x;
  red_y[lid] = y;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      red_x[lid] += red_x[lid + s];
      red_y[lid] += red_y[lid + s];
    }
  }
  workgroupBarrier();
  let r = vec2<f32>(red_x[0], red_y[0]);
  workgroupBarrier();  // red_* may be reused by the next call
  return r;
}

// Workgroups: [1].
@compute @workgroup_size(256)
fn pref_loss_forward(@builtin(local_invocation_index) lid: u32) {
  let B = p.B;
  // 1. The batch NLL of the chosen completion tokens: −Σ Sraw_w / max(Σ n_w, 1).
  var sx = 0.0;
  var sn = 0.0;
  for (var b = lid; b < B; b += WG) {
    sx += policy[b * SF + 1u];
    sn += policy[b * SF + 2u];
  }
  let sums = workgroup_sum2(lid, sx, sn);
  let nll = -sums.x / max(sums.y, 1.0);

  // 2. AOT: rank each column's entries (ties broken by index) and scatter them into sorted order.
  if (has(F_SORT)) {
    for (var k = 0u; k < 4u; k++) {
      for (var i = lid; i < B; i += WG) {
        let x = sort_key(k, i);
        let ox = order_key(x);
        var rank = 0u;
        for (var j = 0u; j < B; j++) {
          let oy = order_key(sort_key(k, j));
          if (oy < ox || (oy == ox && j < i)) { rank++; }
        }
        saved[sorted_at(B, k, rank)] = x;
        saved[rank_at(B, k, i)] = f32(rank);
      }
    }
    storageBarrier();
  }

  // 3. Every pair; lane partial sums of the pair losses and weights in a fixed order.
  var lsum = 0.0;
  var wsum = 0.0;
  for (var b = lid; b < B; b += WG) {
    let r = pair(b, nll);
    lsum += r.x;
    wsum += r.y;
  }
  let tot = workgroup_sum2(lid, lsum, wsum);

  // 4. The loss, and the NLL's gradient factor ∂L/∂Sraw_w (without scale):
  //    −nllCoef · mean_b(w_b) / max(Σ n_w, 1).
  if (lid == 0u) {
    let fB = f32(B);
    loss_out[0] = p.scale * tot.x / fB;
    saved[nll_at(B)] = -p.nllCoef * (tot.y / fB) / max(sums.y, 1.0);
  }
}

// ---------------------------------------------------------------- backward

struct BackParams {
  B: u32,
  flags: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> b_saved: array<f32>;           // the forward's `saved`
@group(0) @binding(1) var<storage, read> b_dloss: array<f32>;           // [1]
@group(0) @binding(2) var<storage, read_write> b_dpolicy: array<f32>;   // [2B, SF]
@group(0) @binding(3) var<uniform> bp: BackParams;

// One invocation per policy row.
@compute @workgroup_size(64)
fn pref_loss_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = flat_index(gid, nwg, 64u);
  let B = bp.B;
  if (r >= 2u * B) { return; }
  let chosen = r < B;
  let b = select(r - B, r, chosen);
  let up = b_dloss[0] * bp.scale;
  let g = b * GS;
  var dS = select(b_saved[g + 1u], b_saved[g], chosen);
  var dSraw = select(b_saved[g + 3u], b_saved[g + 2u], chosen);
  if ((bp.flags & F_SORT) != 0u) {
    // δ_i = sorted(x)_i − sorted(y)_i: pair b's entry of column k sits at position rank_k(b).
    let i0 = min(u32(b_saved[rank_at(B, 0u, b)]), B - 1u);  // aot: x = S_w − S_l
    let ia = min(u32(b_saved[rank_at(B, 2u, b)]), B - 1u);  // aot_unpaired: a
    let ib = min(u32(b_saved[rank_at(B, 3u, b)]), B - 1u);  // aot_unpaired: b
    let g_aot = b_saved[i0 * GS + 4u];
    if (chosen) {
      dS += g_aot + b_saved[ia * GS + 5u];
    } else {
      dS -= g_aot + b_saved[ib * GS + 5u];
    }
  }
  let o = r * SF;
  b_dpolicy[o] = up * dS / f32(B);
  var nllTerm = 0.0;
  if (chosen) { nllTerm = b_saved[nll_at(B)]; }
  b_dpolicy[o + 1u] = up * (dSraw / f32(B) + nllTerm);
  for (var c = 2u; c < SF; c++) { b_dpolicy[o + c] = 0.0; }
}
