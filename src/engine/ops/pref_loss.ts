// prefLoss: ONE fused kernel for every preference loss; each loss is configuration (LossConfig,
// train/losses.ts). Spec: /work/shared/specs/preference-losses.md (§2.2–§2.4 TRL's loss types,
// f-divergences, use_weighting, sft; §3 SimPO; §4 WPO; §5 SPPO; §6 GPO); contract:
// src/engine/train/README.md.
//
//   loss  = scale · Σ_k λ_k · mean_b(w_b · ℓ_k(b))          differentiable w.r.t. policy cols 0, 1
//   pairs = [B, PAIR_FIELDS] per-pair values (detached): log-probs, rewards, margin, accuracy, WPO
//           weights, the loss's argument, the weighted pair loss, a non-finite-input flag
//
// Inputs: policy [2B, SEQ_FIELDS] from seqStats (rows [0, B) chosen, [B, 2B) rejected); ref [2B]
// reference sums (null when the config needs none: reference_free, simpo, sft); targets [B, 2]
// (sppo: P̂_w, P̂_l; sppo_single: P_wl, unused; gpo: ŝ_w, ŝ_l). The WPO weight w_b and the lengths
// n are detached; gradients reach only S (col 0) and Sraw (col 1): seqStats' backward carries
// them to the per-token log-probs.
// Forward: one workgroup for the whole batch (sft's batch NLL, AOT's batch sort, every pair, the
// mean), deterministic. Backward: one invocation per policy row from the saved derivatives.
// Shader: src/gpu/shaders/pref_loss.wgsl. Reference: src/engine/reference/pref_loss.ts.

import { f32 } from '../engine.ts';
import { ShapeError } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { exoEpsilon, lossWeightsOf, needsReference, needsTargets, validateLossConfig, MAX_LOSS_TYPES, type LossConfig, type LossType } from '../train/losses.ts';
import { SEQ_FIELDS } from './seq_stats.ts';
import { expectDtype, expectShape } from './util.ts';

/** Column names of prefLoss' `pairs` output, in order (train/README.md table). */
export const PAIR_FIELD_NAMES = [
  'chosen_logp', 'rejected_logp', 'chosen_logp_mean', 'rejected_logp_mean', 'ref_chosen_logp', 'ref_rejected_logp',
  'chosen_tokens', 'rejected_tokens', 'reward_chosen', 'reward_rejected', 'margin', 'accuracy',
  'weight_chosen', 'weight_rejected', 'weight_raw', 'weight', 'logit', 'logit2', 'loss', 'nonfinite',
] as const;
export type PairField = (typeof PAIR_FIELD_NAMES)[number];
/** Column count of `pairs` (20). */
export const PAIR_FIELDS = PAIR_FIELD_NAMES.length;
/** Column of each field: PAIR_FIELD.chosen_logp = 0, …, PAIR_FIELD.nonfinite = 19. */
export const PAIR_FIELD = Object.fromEntries(PAIR_FIELD_NAMES.map((f, i) => [f, i])) as Readonly<Record<PairField, number>>;

/** Loss-type codes of pref_loss.wgsl. */
const LOSS_CODE: Readonly<Record<LossType, number>> = {
  sigmoid: 0, hinge: 1, ipo: 2, exo_pair: 3, nca_pair: 4, robust: 5, bco_pair: 6, sppo_hard: 7, aot: 8, aot_unpaired: 9,
  apo_zero: 10, apo_down: 11, discopop: 12, sft: 13, sigmoid_norm: 14, simpo: 15, sppo: 16, sppo_single: 17, gpo: 18,
};
/** Params.flags bits of pref_loss.wgsl. */
const FLAG = { ref: 1, targets: 2, weighting: 4, wpoClamp: 8, simpoRewards: 16, sort: 32 } as const;
const FDIV_CODE = { reverse_kl: 0, forward_kl: 1, js: 2, alpha: 3 } as const;
/** Saved floats per pair (6 derivatives) + 4 sorted columns + their 4 rank columns. */
const SAVED_PER_PAIR = 14;

export interface PrefLossOptions {
  /** Multiplies the returned loss (e.g. 1 / gradient_accumulation_steps). Default 1. */
  scale?: number;
}

export interface PrefLossResult {
  /** [1] the scaled batch loss; differentiable w.r.t. policy columns 0 and 1. */
  loss: Tensor;
  /** [B, PAIR_FIELDS] per-pair values (detached). */
  pairs: Tensor;
}

/** The f32 Params fields of pref_loss_forward, in declaration order. */
function forwardParams(B: number, cfg: LossConfig, flags: number, scale: number) {
  const types = cfg.lossTypes.map((t) => LOSS_CODE[t]);
  const weights = lossWeightsOf(cfg);
  const pad = <T>(xs: T[], fill: T): T[] => [...xs, ...new Array<T>(MAX_LOSS_TYPES - xs.length).fill(fill)];
  // f_alpha_divergence_coef → 1 is reverse KL (TRL's fallback).
  const fdiv = cfg.fDivergenceType === 'alpha' && Math.abs(cfg.fAlphaDivergenceCoef - 1) < 1e-6 ? 0 : FDIV_CODE[cfg.fDivergenceType];
  const primary = cfg.lossTypes.find((t) => t !== 'sft') ?? 'sft';
  const exo = exoEpsilon(cfg);
  let nllCoef = 0;
  cfg.lossTypes.forEach((t, k) => {
    if (t === 'sft') nllCoef += weights[k];
    if (t === 'simpo') nllCoef += weights[k] * cfg.cpoAlpha;
  });
  return [
    ...pad(types, 0),
    ...pad(weights, 0).map(f32),
    B,
    types.length,
    flags,
    fdiv,
    LOSS_CODE[primary],
    f32(cfg.beta),
    f32(cfg.labelSmoothing),
    f32(Math.log1p(-exo)),
    f32(Math.log(exo)),
    f32(cfg.simpoGamma),
    f32(cfg.cpoAlpha),
    f32(cfg.fAlphaDivergenceCoef),
    f32(cfg.discopopTau),
    f32(cfg.gpoClamp),
    f32(nllCoef),
    f32(scale),
  ];
}

/**
 * The preference loss of B pairs. `policy` [2B, SEQ_FIELDS] (seqStats), `ref` [2B] or null,
 * `targets` [B, 2] or null; `cfg` is validated here.
 */
export function prefLoss(policy: Tensor, ref: Tensor | null, targets: Tensor | null, cfg: LossConfig, opts: PrefLossOptions = {}): PrefLossResult {
  const op = 'prefLoss';
  validateLossConfig(cfg);
  expectDtype(op, 'policy', policy, 'f32');
  if (policy.rank !== 2 || policy.shape[1] !== SEQ_FIELDS || policy.shape[0] % 2 !== 0 || policy.shape[0] === 0) {
    throw new ShapeError(op, `policy must be [2B, ${SEQ_FIELDS}] (seqStats of B chosen then B rejected rows, B ≥ 1), got ${policy.describe()}`);
  }
  const B = policy.shape[0] / 2;
  const useRef = needsReference(cfg);
  if (useRef && !ref) {
    throw new ShapeError(op, `loss_type [${cfg.lossTypes.join(', ')}] needs reference log-probs, but ref is null`, 'pass the reference sums [2B] (or set reference_free)');
  }
  const useTargets = needsTargets(cfg);
  if (useTargets && !targets) {
    throw new ShapeError(op, `loss_type [${cfg.lossTypes.join(', ')}] needs per-pair targets [B, 2], but targets is null`, 'sppo: chosen_probs_win/chosen_probs_lose; sppo_single: chosen_probs; gpo: score_chosen/score_rejected');
  }
  for (const [name, t, shape] of [['ref', useRef ? ref : null, [2 * B]], ['targets', useTargets ? targets : null, [B, 2]]] as const) {
    if (!t) continue;
    expectDtype(op, name, t, 'f32');
    expectShape(op, name, t, shape);
    if (t.requiresGrad) throw new ShapeError(op, `${name} ${t.describe()} requires a gradient, but it is a constant of the loss`, 'compute it under noGrad() or detach it');
  }
  const scale = opts.scale ?? 1;
  if (!Number.isFinite(scale)) throw new ShapeError(op, `scale must be finite, got ${scale}`);

  const e = policy.engine;
  const sort = cfg.lossTypes.includes('aot') || cfg.lossTypes.includes('aot_unpaired');
  const flags =
    (useRef ? FLAG.ref : 0) |
    (useTargets ? FLAG.targets : 0) |
    (cfg.useWeighting ? FLAG.weighting : 0) |
    (cfg.wpoClamp ? FLAG.wpoClamp : 0) |
    (cfg.lossTypes.includes('simpo') ? FLAG.simpoRewards : 0) |
    (sort ? FLAG.sort : 0);
  const loss = e.empty([1], 'f32', 'prefLoss.loss');
  const pairs = e.empty([B, PAIR_FIELDS], 'f32', 'prefLoss.pairs');
  const saved = e.empty([B * SAVED_PER_PAIR + 1], 'f32', 'prefLoss.saved');
  // Unused inputs bind `policy` in their place; the flags keep the kernel from reading them.
  const refIn = useRef ? ref! : policy;
  const targetsIn = useTargets ? targets! : policy;
  e.run({
    op: 'prefLoss.forward',
    shader: 'pref_loss',
    entry: 'pref_loss_forward',
    inputs: [policy, refIn, targetsIn],
    outputs: [loss, pairs, saved],
    params: forwardParams(B, cfg, flags, scale),
    workgroups: [1],
  });
  const constants = [...(useRef ? [ref!] : []), ...(useTargets ? [targets!] : [])];
  e.tape.record({
    op,
    inputs: [policy, ...constants],
    outputs: [loss, pairs],
    owned: [saved],
    detached: [1],
    backward: ([dloss]) => {
      const dpolicy = e.empty(policy.shape, 'f32', 'prefLoss.dpolicy');
      e.run({ op: 'prefLoss.backward', shader: 'pref_loss', entry: 'pref_loss_backward', inputs: [saved, dloss!], outputs: [dpolicy], params: [B, flags, f32(scale)], workgroups: e.grid(2 * B, 64) });
      return [dpolicy, ...constants.map(() => null)];
    },
  });
  return { loss, pairs };
}
