// LossConfig: every preference loss the trainer knows, as configuration of one fused kernel
// (ops/pref_loss.ts). Field names follow TRL's DPOConfig / CPOConfig (comments give the TRL
// spelling); the maths is /work/shared/specs/preference-losses.md (§2 TRL, §3 SimPO, §4 WPO,
// §5 SPPO, §6 GPO). This file holds only the config: its type, defaults, validation and the few
// questions the trainer asks of it (does it need a reference model? targets?).
//
// Choices where the sources differ (the authors' behaviour unless the spec says otherwise):
// - `sigmoid` applies `label_smoothing` as the classic cDPO form (TRL ≤ 0.28, SimPO, WPO); TRL
//   HEAD ignores it. With label_smoothing 0 both agree.
// - `exo_pair` needs ε > 0: with label_smoothing 0 it uses ε = 1e-3 (EXO_DEFAULT_EPSILON), as
//   classic TRL silently does (TRL HEAD raises instead).
// - `use_weighting` (WPO) clamps the pair weight at 1 by default (WPO repo, TRL ≤ 0.28);
//   `wpoClamp: false` is TRL ≥ 0.29 (--wpo_no_clamp).
// - `sppo`, `sppo_single` and `gpo` carry the authors' ½; `sppo_hard` is TRL's (no ½).
// - `gpo`'s regression target is η·ŝ clamped to ±gpoClamp (η = 1/β): the trainer behind the
//   authors' `sppo_score` is not public, so this reading is unverified (spec §6).

import { EngineError } from '../errors.ts';

export type LossType =
  | 'sigmoid' | 'hinge' | 'ipo' | 'exo_pair' | 'nca_pair' | 'robust' | 'bco_pair'
  | 'sppo_hard' | 'aot' | 'aot_unpaired' | 'apo_zero' | 'apo_down' | 'discopop' | 'sft'
  | 'sigmoid_norm' | 'simpo' | 'sppo' | 'sppo_single' | 'gpo';

export type FDivergenceType = 'reverse_kl' | 'forward_kl' | 'js' | 'alpha';

export interface LossConfig {
  lossTypes: LossType[];            // loss_type
  lossWeights: number[];            // loss_weights (one per loss type; [] = all 1)
  beta: number;                     // beta
  labelSmoothing: number;           // label_smoothing (cDPO ε for sigmoid: the classic/authors' form)
  useWeighting: boolean;            // use_weighting (WPO)
  wpoClamp: boolean;                // true = min(w, 1) (authors, TRL ≤ 0.28; default); false = --wpo_no_clamp
  simpoGamma: number;               // simpo_gamma (absolute γ; = beta × gamma_beta_ratio)
  cpoAlpha: number;                 // cpo_alpha: NLL weight added to simpo (default 0 = pure SimPO)
  referenceFree: boolean;           // reference_free
  fDivergenceType: FDivergenceType; // f_divergence_type
  fAlphaDivergenceCoef: number;     // f_alpha_divergence_coef (0.5)
  discopopTau: number;              // discopop_tau (0.05)
  ldAlpha: number | null;           // ld_alpha (applied to policy and reference, as TRL HEAD)
  gpoClamp: number;                 // GPO target clamp (1000; unverified, spec §6)
}

/** ε that `exo_pair` uses when label_smoothing is 0 (classic TRL's silent default). */
export const EXO_DEFAULT_EPSILON = 1e-3;

/** Most loss types one config may combine (the kernel's uniform holds 4). */
export const MAX_LOSS_TYPES = 4;

export interface LossTypeInfo {
  type: LossType;
  /** One line for `--help`. */
  description: string;
}

/** Every loss type, in TRL's order, with the line `--help` prints. */
export const LOSS_TYPES: readonly LossTypeInfo[] = [
  { type: 'sigmoid', description: 'DPO: −log σ(β·h); label_smoothing ε > 0 gives cDPO (classic TRL / authors)' },
  { type: 'hinge', description: 'SLiC/RSO hinge: max(0, 1 − β·h)' },
  { type: 'ipo', description: 'IPO: (h̄ − 1/(2β))², log-ratios divided by completion length as TRL' },
  { type: 'exo_pair', description: 'EXO (pairwise); ε = label_smoothing, 1e-3 when it is 0 (classic TRL)' },
  { type: 'nca_pair', description: 'NCA (pairwise): −log σ(β·a) − ½log σ(−β·a) − ½log σ(−β·b)' },
  { type: 'robust', description: 'Robust DPO for noisy labels: needs 0 ≤ label_smoothing < 0.5' },
  { type: 'bco_pair', description: 'BCO (pairwise, TRL ≥ 0.29 form): −log σ(β·a) − log σ(−β·b)' },
  { type: 'sppo_hard', description: 'SPPO with hard labels, TRL form (no ½): (a − 1/(2β))² + (b + 1/(2β))²' },
  { type: 'aot', description: 'AOT: cDPO on sorted policy minus sorted reference log-ratio differences (batch sort)' },
  { type: 'aot_unpaired', description: 'AOT unpaired: cDPO on sorted chosen minus sorted rejected log-ratios (batch sort)' },
  { type: 'apo_zero', description: 'APO-zero: raise chosen, lower rejected likelihood: 1 − σ(β·a) + σ(β·b)' },
  { type: 'apo_down', description: 'APO-down: lower both, rejected more: σ(β·a) + 1 − σ(β·h)' },
  { type: 'discopop', description: 'DiscoPOP: logistic/exponential blend, mixing σ(β·h/discopop_tau)' },
  { type: 'sft', description: 'SFT: mean NLL of the chosen completion tokens (one batch scalar per pair)' },
  { type: 'sigmoid_norm', description: 'length-normalised DPO: −log σ(β·h̄) (TRL ≥ 1.7)' },
  { type: 'simpo', description: 'SimPO (CPO trainer): −log σ(β·(Ā_w − Ā_l) − simpo_gamma) + cpo_alpha·NLL; no reference model' },
  { type: 'sppo', description: 'SPPO (authors, ½): regress a, b onto (P̂ − ½)/β; needs chosen_probs_win/chosen_probs_lose' },
  { type: 'sppo_single', description: 'SPPO single (authors, ½): targets ±(P_wl − ½)/β from chosen_probs' },
  { type: 'gpo', description: 'GPO (½): regress a, b onto clamp(ŝ/β, ±gpo_clamp) from score_chosen/score_rejected — unverified (spec §6)' },
];

/** True when `s` names a loss type. */
export function isLossType(s: string): s is LossType {
  return LOSS_TYPES.some((t) => t.type === s);
}

/** TRL's defaults (DPOConfig; simpo_gamma from CPOConfig; cpo_alpha 0 = pure SimPO). */
export function defaultLossConfig(): LossConfig {
  return {
    lossTypes: ['sigmoid'],
    lossWeights: [1],
    beta: 0.1,
    labelSmoothing: 0,
    useWeighting: false,
    wpoClamp: true,
    simpoGamma: 0.5,
    cpoAlpha: 0,
    referenceFree: false,
    fDivergenceType: 'reverse_kl',
    fAlphaDivergenceCoef: 0.5,
    discopopTau: 0.05,
    ldAlpha: null,
    gpoClamp: 1000,
  };
}

/** The weight of each loss type (an empty lossWeights means 1 for every type). */
export function lossWeightsOf(cfg: LossConfig): number[] {
  return cfg.lossWeights.length === 0 ? cfg.lossTypes.map(() => 1) : cfg.lossWeights;
}

/** The ε exo_pair uses: label_smoothing, or EXO_DEFAULT_EPSILON when that is 0. */
export function exoEpsilon(cfg: LossConfig): number {
  return cfg.labelSmoothing > 0 ? cfg.labelSmoothing : EXO_DEFAULT_EPSILON;
}

/** Loss types that need no reference model. */
const NO_REFERENCE: ReadonlySet<LossType> = new Set(['simpo', 'sft']);
/** Loss types whose per-pair targets come from dataset columns. */
const WITH_TARGETS: ReadonlySet<LossType> = new Set(['sppo', 'sppo_single', 'gpo']);
/** Loss types that read the f-divergence scores (TRL `chosen_scores`/`rejected_scores`). */
const USES_SCORES: ReadonlySet<LossType> = new Set(['sigmoid', 'hinge', 'ipo', 'exo_pair', 'nca_pair', 'robust', 'bco_pair', 'sppo_hard', 'apo_down', 'discopop', 'sigmoid_norm']);

/** False when no reference log-probs are needed: reference_free, or only simpo / sft. */
export function needsReference(cfg: LossConfig): boolean {
  return !cfg.referenceFree && cfg.lossTypes.some((t) => !NO_REFERENCE.has(t));
}

/** True when a loss reads per-pair targets (sppo, sppo_single: win probabilities; gpo: scores). */
export function needsTargets(cfg: LossConfig): boolean {
  return cfg.lossTypes.some((t) => WITH_TARGETS.has(t));
}

function bad(field: string, message: string, hint?: string): never {
  throw new EngineError(`loss config ${field}`, message, hint);
}

function finite(field: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(field, `must be a finite number, got ${String(v)}`);
}

/**
 * Throws an EngineError naming the first bad field and what to do about it. Returns the config
 * unchanged, so callers can write `prefLoss(…, validateLossConfig(cfg))`.
 */
export function validateLossConfig(cfg: LossConfig): LossConfig {
  const types = cfg.lossTypes;
  if (!Array.isArray(types) || types.length === 0) bad('loss_type', 'is empty', `name at least one of: ${LOSS_TYPES.map((t) => t.type).join(', ')}`);
  for (const t of types) {
    if (!isLossType(t)) bad('loss_type', `unknown loss type '${String(t)}'`, `use one of: ${LOSS_TYPES.map((x) => x.type).join(', ')}`);
  }
  const dup = types.find((t, i) => types.indexOf(t) !== i);
  if (dup) bad('loss_type', `lists '${dup}' twice`, 'give each loss type once and set its weight with loss_weights');
  if (types.length > MAX_LOSS_TYPES) bad('loss_type', `combines ${types.length} loss types; at most ${MAX_LOSS_TYPES} are supported`, 'drop some loss types');
  if (cfg.lossWeights.length !== 0 && cfg.lossWeights.length !== types.length) {
    bad('loss_weights', `has ${cfg.lossWeights.length} weights for ${types.length} loss types [${types.join(', ')}]`, 'give one weight per loss type, in the same order (or none for all 1)');
  }
  cfg.lossWeights.forEach((w, i) => finite(`loss_weights[${i}]`, w));
  finite('beta', cfg.beta);
  if (!(cfg.beta > 0)) bad('beta', `must be > 0, got ${cfg.beta}`);
  finite('label_smoothing', cfg.labelSmoothing);
  if (!(cfg.labelSmoothing >= 0 && cfg.labelSmoothing <= 0.5)) bad('label_smoothing', `must be in [0, 0.5], got ${cfg.labelSmoothing}`);
  if (types.includes('robust') && !(cfg.labelSmoothing < 0.5)) {
    bad('label_smoothing', `robust divides by 1 − 2ε, so ε must be < 0.5, got ${cfg.labelSmoothing}`, 'use ε in [0, 0.5); the robust-DPO paper suggests 0.1');
  }
  if (cfg.useWeighting && (types.includes('aot') || types.includes('aot_unpaired'))) {
    bad('use_weighting', 'cannot be combined with aot / aot_unpaired (they sort pairs across the batch, so a pair weight has no pair to attach to)', 'drop use_weighting or the aot loss type');
  }
  if (types.includes('simpo') && types.some((t) => t !== 'simpo' && t !== 'sft')) {
    bad('loss_type', `simpo (CPO trainer) can only be combined with sft, got [${types.join(', ')}]`, 'train simpo on its own (cpo_alpha adds the NLL term)');
  }
  finite('simpo_gamma', cfg.simpoGamma);
  finite('cpo_alpha', cfg.cpoAlpha);
  if (cfg.cpoAlpha < 0) bad('cpo_alpha', `must be ≥ 0, got ${cfg.cpoAlpha}`);
  if (cfg.cpoAlpha > 0 && !types.includes('simpo')) {
    bad('cpo_alpha', `only applies to simpo, but loss_type is [${types.join(', ')}]`, "for DPO-family losses add 'sft' to loss_type with its weight in loss_weights (the rpo_alpha recipe)");
  }
  if (!['reverse_kl', 'forward_kl', 'js', 'alpha'].includes(cfg.fDivergenceType)) {
    bad('f_divergence_type', `unknown value '${String(cfg.fDivergenceType)}'`, 'use reverse_kl, forward_kl, js or alpha');
  }
  finite('f_alpha_divergence_coef', cfg.fAlphaDivergenceCoef);
  if (cfg.fDivergenceType !== 'reverse_kl' && !types.some((t) => USES_SCORES.has(t))) {
    bad('f_divergence_type', `${cfg.fDivergenceType} changes no loss in [${types.join(', ')}]`, `it applies to ${[...USES_SCORES].join(', ')}; drop it`);
  }
  finite('discopop_tau', cfg.discopopTau);
  if (!(cfg.discopopTau > 0)) bad('discopop_tau', `must be > 0, got ${cfg.discopopTau}`);
  if (cfg.ldAlpha !== null) {
    finite('ld_alpha', cfg.ldAlpha);
    if (!(cfg.ldAlpha >= 0 && cfg.ldAlpha <= 1)) bad('ld_alpha', `must be in [0, 1], got ${cfg.ldAlpha}`);
    if (types.every((t) => NO_REFERENCE.has(t))) bad('ld_alpha', `has no effect on [${types.join(', ')}] (they use unweighted log-probs)`, 'drop ld_alpha');
  }
  finite('gpo_clamp', cfg.gpoClamp);
  if (!(cfg.gpoClamp > 0)) bad('gpo_clamp', `must be > 0, got ${cfg.gpoClamp}`);
  if (typeof cfg.useWeighting !== 'boolean') bad('use_weighting', `must be true or false, got ${String(cfg.useWeighting)}`);
  if (typeof cfg.wpoClamp !== 'boolean') bad('wpo_clamp', `must be true or false, got ${String(cfg.wpoClamp)}`);
  if (typeof cfg.referenceFree !== 'boolean') bad('reference_free', `must be true or false, got ${String(cfg.referenceFree)}`);
  return cfg;
}
