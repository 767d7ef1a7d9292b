// float64 reference of ops/pref_loss.ts (forward): every preference loss of train/losses.ts on
// per-row statistics [2B, SEQ_FIELDS] (reference/seq_stats.ts computes those from per-token
// arrays). Written from the spec (/work/shared/specs/preference-losses.md §2.2–§2.4, §3, §4,
// §5, §6) and TRL HEAD's DPOTrainer, independently of pref_loss.wgsl; the GPU backward is checked
// against central differences of this function.
//
// Notation (spec): S = col 0 (LD-weighted when ld_alpha), Sraw = col 1, n = col 2, wpo = col 3;
// R = reference S (0 when reference-free / SimPO); a = S_w − R_w, b = S_l − R_l; the f-divergence
// maps them to scores s_w = f(a), s_l = f(b), h = s_w − s_l; N = max(n, 1); Ā = Sraw / N.

import { PAIR_FIELD, PAIR_FIELD_NAMES, PAIR_FIELDS, type PairField } from '../ops/pref_loss.ts';
import { SEQ_FIELD, SEQ_FIELDS } from '../ops/seq_stats.ts';
import { exoEpsilon, lossWeightsOf, needsReference, needsTargets, type LossConfig, type LossType } from '../train/losses.ts';

export interface PrefLossRef {
  /** scale · mean over pairs of the pair losses. */
  loss: number;
  /** [B, PAIR_FIELDS] */
  pairs: Float64Array;
}

export const logSigmoid = (x: number): number => -(Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x))));
export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
/** cDPO: −(1−ε)·logσ(u) − ε·logσ(−u). */
const cdpo = (u: number, eps: number): number => -(1 - eps) * logSigmoid(u) - eps * logSigmoid(-u);
const sq = (x: number): number => x * x;

/** TRL HEAD's f-divergence score of a log-ratio x (alpha's exponent clamped at 80). */
function score(x: number, cfg: LossConfig): number {
  switch (cfg.fDivergenceType) {
    case 'reverse_kl':
      return x;
    case 'forward_kl':
      return -Math.exp(-x);
    case 'js':
      return logSigmoid(x);
    case 'alpha': {
      const al = cfg.fAlphaDivergenceCoef;
      if (Math.abs(al - 1) < 1e-6) return x; // the α → 1 limit is reverse KL
      return Math.exp(Math.min((al - 1) * x, 80)) / (al - 1);
    }
  }
}

const ascending = (xs: number[]): number[] => [...xs].sort((p, q) => p - q);

/** The loss type whose argument the `logit` field shows: the first one that is not sft. */
function primaryType(types: readonly LossType[]): LossType {
  return types.find((t) => t !== 'sft') ?? 'sft';
}

/**
 * policy [2B·SEQ_FIELDS] (rows [0, B) chosen), ref [2B] reference sums or null, targets [B·2] or
 * null. Throws when the config needs a reference or targets it was not given.
 */
export function prefLossRef(policy: ArrayLike<number>, ref: ArrayLike<number> | null, targets: ArrayLike<number> | null, cfg: LossConfig, scale = 1): PrefLossRef {
  const B = policy.length / (2 * SEQ_FIELDS);
  const useRef = needsReference(cfg);
  if (useRef && !ref) throw new Error('prefLossRef: this config needs reference sums');
  const useTargets = needsTargets(cfg);
  if (useTargets && !targets) throw new Error('prefLossRef: this config needs targets');
  const types = cfg.lossTypes;
  const weights = lossWeightsOf(cfg);
  const beta = cfg.beta;
  const eps = cfg.labelSmoothing;
  const at = (r: number, c: number): number => policy[r * SEQ_FIELDS + c];
  const R = (r: number): number => (useRef ? ref![r] : 0);

  // Batch quantities: the chosen-token NLL (sft, cpo_alpha) and AOT's sorted columns.
  let sumSraw = 0;
  let sumN = 0;
  for (let b = 0; b < B; b++) {
    sumSraw += at(b, SEQ_FIELD.Sraw);
    sumN += at(b, SEQ_FIELD.n);
  }
  const nll = -sumSraw / Math.max(sumN, 1);
  const idx = Array.from({ length: B }, (_, b) => b);
  const aotX = ascending(idx.map((b) => at(b, SEQ_FIELD.S) - at(B + b, SEQ_FIELD.S)));
  const aotY = ascending(idx.map((b) => R(b) - R(B + b)));
  const unA = ascending(idx.map((b) => at(b, SEQ_FIELD.S) - R(b)));
  const unB = ascending(idx.map((b) => at(B + b, SEQ_FIELD.S) - R(B + b)));

  const pairs = new Float64Array(B * PAIR_FIELDS);
  const primary = primaryType(types);
  const simpoRewards = types.includes('simpo');
  const c = 1 / (2 * beta);
  let total = 0;
  for (let b = 0; b < B; b++) {
    const [w_, l_] = [b, B + b];
    const Sw = at(w_, SEQ_FIELD.S);
    const Sl = at(l_, SEQ_FIELD.S);
    const nw = at(w_, SEQ_FIELD.n);
    const nl = at(l_, SEQ_FIELD.n);
    const Nw = Math.max(nw, 1);
    const Nl = Math.max(nl, 1);
    const Aw = at(w_, SEQ_FIELD.Sraw) / Nw;
    const Al = at(l_, SEQ_FIELD.Sraw) / Nl;
    const Rw = R(w_);
    const Rl = R(l_);
    const a = Sw - Rw;
    const bb = Sl - Rl;
    const sw = score(a, cfg);
    const sl = score(bb, cfg);
    const h = sw - sl;
    const Tw = useTargets ? targets![2 * b] : 0;
    const Tl = useTargets ? targets![2 * b + 1] : 0;

    // WPO (spec §2.3): m = wpo / N per sequence, pair weight e^{m_w + m_l}, optionally ≤ 1.
    let [wch, wrj, wraw, w] = [1, 1, 1, 1];
    if (cfg.useWeighting) {
      const mw = at(w_, SEQ_FIELD.wpo) / Nw;
      const ml = at(l_, SEQ_FIELD.wpo) / Nl;
      wch = Math.exp(mw);
      wrj = Math.exp(ml);
      wraw = Math.exp(mw + ml);
      w = cfg.wpoClamp ? Math.min(wraw, 1) : wraw;
    }

    // The regression targets of sppo / sppo_single / gpo (authors' ½ in the losses below).
    const sppoT = (t: LossType): [number, number] => {
      if (t === 'sppo') return [(Tw - 0.5) / beta, (Tl - 0.5) / beta];
      if (t === 'sppo_single') return [(Tw - 0.5) / beta, -(Tw - 0.5) / beta];
      const clamp = (x: number): number => Math.min(Math.max(x, -cfg.gpoClamp), cfg.gpoClamp);
      return [clamp(Tw / beta), clamp(Tl / beta)]; // gpo: η·ŝ, η = 1/β (unverified, spec §6)
    };
    const hbar = sw / Nw - sl / Nl;
    const simpoZ = beta * (Aw - Al) - cfg.simpoGamma;

    const lossOf = (t: LossType): number => {
      const u = beta * h;
      switch (t) {
        case 'sigmoid':
          return cdpo(u, eps);
        case 'hinge':
          return Math.max(0, 1 - u);
        case 'ipo':
          return sq(hbar - c);
        case 'exo_pair': {
          const e = exoEpsilon(cfg);
          return sigmoid(u) * (logSigmoid(u) - Math.log1p(-e)) + sigmoid(-u) * (logSigmoid(-u) - Math.log(e));
        }
        case 'nca_pair':
          return -logSigmoid(beta * sw) - 0.5 * logSigmoid(-beta * sw) - 0.5 * logSigmoid(-beta * sl);
        case 'robust':
          return (-(1 - eps) * logSigmoid(u) + eps * logSigmoid(-u)) / (1 - 2 * eps);
        case 'bco_pair':
          return -logSigmoid(beta * sw) - logSigmoid(-beta * sl);
        case 'sppo_hard':
          return sq(sw - c) + sq(sl + c);
        case 'aot':
          return cdpo(beta * (aotX[b] - aotY[b]), eps);
        case 'aot_unpaired':
          return cdpo(beta * (unA[b] - unB[b]), eps);
        case 'apo_zero':
          return 1 - sigmoid(beta * a) + sigmoid(beta * bb);
        case 'apo_down':
          return sigmoid(beta * a) + 1 - sigmoid(u);
        case 'discopop': {
          // (1 − m)(−logσ(z)) + m·e^{−z}, m = σ(z/τ); m·e^{−z} as e^{logσ(z/τ) − z} (no ∞·0)
          const tau = cfg.discopopTau;
          return sigmoid(-u / tau) * -logSigmoid(u) + Math.exp(logSigmoid(u / tau) - u);
        }
        case 'sft':
          return nll;
        case 'sigmoid_norm':
          return -logSigmoid(beta * hbar);
        case 'simpo':
          // the NLL term only when cpo_alpha ≠ 0 (a NaN elsewhere in the batch stays out of pure SimPO)
          return cfg.cpoAlpha !== 0 ? cdpo(simpoZ, eps) + cfg.cpoAlpha * nll : cdpo(simpoZ, eps);
        case 'sppo':
        case 'sppo_single':
        case 'gpo': {
          const [tw, tl] = sppoT(t);
          return 0.5 * (sq(a - tw) + sq(bb - tl));
        }
      }
    };

    let L = 0;
    types.forEach((t, k) => {
      L += weights[k] * lossOf(t);
    });
    const pairLoss = w * L;
    total += pairLoss;

    // The primary loss's argument.
    let logit = beta * h;
    let logit2 = 0;
    switch (primary) {
      case 'ipo':
        logit = hbar - c;
        break;
      case 'sigmoid_norm':
        logit = beta * hbar;
        break;
      case 'sppo_hard':
        logit = sw - c;
        logit2 = sl + c;
        break;
      case 'aot':
        logit = beta * (aotX[b] - aotY[b]);
        break;
      case 'aot_unpaired':
        logit = beta * (unA[b] - unB[b]);
        break;
      case 'simpo':
        logit = simpoZ;
        break;
      case 'sppo':
      case 'sppo_single':
      case 'gpo': {
        const [tw, tl] = sppoT(primary);
        logit = a - tw;
        logit2 = bb - tl;
        break;
      }
      default:
        break;
    }

    const inputs = [0, 1, 2, 3].flatMap((col) => [at(w_, col), at(l_, col)]);
    if (useRef) inputs.push(Rw, Rl);
    if (useTargets) inputs.push(Tw, Tl);

    const rw = simpoRewards ? beta * Aw : beta * a;
    const rl = simpoRewards ? beta * Al : beta * bb;
    const record: Record<PairField, number> = {
      chosen_logp: Sw,
      rejected_logp: Sl,
      chosen_logp_mean: Aw,
      rejected_logp_mean: Al,
      ref_chosen_logp: Rw,
      ref_rejected_logp: Rl,
      chosen_tokens: nw,
      rejected_tokens: nl,
      reward_chosen: rw,
      reward_rejected: rl,
      margin: rw - rl,
      accuracy: rw > rl ? 1 : 0,
      weight_chosen: wch,
      weight_rejected: wrj,
      weight_raw: wraw,
      weight: w,
      logit,
      logit2,
      loss: pairLoss,
      nonfinite: inputs.every(Number.isFinite) ? 0 : 1,
    };
    for (const name of PAIR_FIELD_NAMES) pairs[b * PAIR_FIELDS + PAIR_FIELD[name]] = record[name];
  }
  return { loss: (scale * total) / B, pairs };
}
