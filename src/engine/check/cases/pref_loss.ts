// prefLoss: every loss type and option — forward (the loss and every PAIR_FIELD) vs the float64
// reference, backward (policy columns S and Sraw) vs central differences of the reference, the
// detached columns' gradients exactly 0; awkward batch sizes (1, 3, 17, 300 for the one-workgroup
// loops), a length-0 row; the spec §9 batch end to end through seqStats (values and the gradient
// table per token); NaN/Inf inputs flagged per pair by `nonfinite` (the flag is checked, not NaN
// propagation).
import type { Engine } from '../../engine.ts';
import { prefLoss, PAIR_FIELD, PAIR_FIELDS, type PairField } from '../../ops/pref_loss.ts';
import { seqStats, SEQ_FIELD, SEQ_FIELDS } from '../../ops/seq_stats.ts';
import { numericGrads } from '../../reference/finite_diff.ts';
import { prefLossRef } from '../../reference/pref_loss.ts';
import { SPEC_LP, SPEC_LQ, SPEC_LSE2, SPEC_MASK, SPEC_T } from '../../reference/spec_example.ts';
import type { Tensor } from '../../tensor.ts';
import { defaultLossConfig, needsReference, needsTargets, validateLossConfig, type LossConfig } from '../../train/losses.ts';
import { expectClose, Rng, type GpuCase, type Tol } from '../harness.ts';

const rng = new Rng(53);
// f32 evaluation of O(1)–O(1e6) quantities from f32 inputs (log-probs down to −60): the pair
// fields agree with float64 to ≤ 6e-7 relative (worst: gpo's residuals ~1e3; measured on
// SwiftShader and lavapipe, ~0.11 of this tolerance).
const fwd: Tol = { atol: 5e-6, rtol: 5e-6 };
// Gradients: the kernel's analytic derivatives in f32 vs float64 central differences (h = 1e-4,
// truncation ≤ 1e-8 relative at β = 2); measured ≤ 0.04 of this tolerance.
const bwd: Tol = { atol: 5e-7, rtol: 5e-6 };

const f32r = (x: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(x));

interface Batch {
  policy: Float64Array; // [2B, SEQ_FIELDS]
  ref: Float64Array; // [2B]
  targets: Float64Array; // [B, 2]
}

interface BatchOpts {
  /** Log-ratios a, b are uniform in ±spread. */
  spread: number;
  /** Targets: sppo probabilities in (0, 1), or gpo scores in ±20. */
  targets?: 'probs' | 'scores';
  /** Give row 0 (chosen of pair 0) zero completion tokens. */
  emptyRow?: boolean;
}

/** A random batch of B pairs with plausible statistics (S ≤ Sraw-scale sums, integer n). */
function randomBatch(B: number, o: BatchOpts): Batch {
  const policy = new Float64Array(2 * B * SEQ_FIELDS);
  const ref = new Float64Array(2 * B);
  for (let r = 0; r < 2 * B; r++) {
    const n = o.emptyRow && r === 0 ? 0 : rng.int(1, 41);
    const Sraw = rng.uniform(-1.5, -0.05) * n;
    const S = Sraw * rng.uniform(0.6, 1); // LD-DPO-like weighting of the tail
    const row = policy.subarray(r * SEQ_FIELDS, (r + 1) * SEQ_FIELDS);
    row[SEQ_FIELD.S] = S;
    row[SEQ_FIELD.Sraw] = Sraw;
    row[SEQ_FIELD.n] = n;
    row[SEQ_FIELD.wpo] = rng.uniform(-0.6, 0.4) * n;
    row[SEQ_FIELD.zsum] = rng.uniform(-1, 1) * n;
    row[SEQ_FIELD.hits] = rng.int(0, n + 1);
    ref[r] = S - rng.uniform(-o.spread, o.spread);
  }
  const targets = Float64Array.from({ length: 2 * B }, () => (o.targets === 'scores' ? rng.uniform(-20, 20) : rng.uniform(0.02, 0.98)));
  return { policy: f32r(policy), ref: f32r(ref), targets: f32r(targets) };
}

interface PlCheck {
  what: string;
  cfg: LossConfig;
  batch: Batch;
  scale?: number;
  /** Forward only (tied AOT keys: the sort has a kink there, so differences are one-sided). */
  forwardOnly?: boolean;
}

/** Forward vs prefLossRef, then backward vs its central differences. */
async function checkPrefLoss(e: Engine, c: PlCheck): Promise<void> {
  const B = c.batch.policy.length / (2 * SEQ_FIELDS);
  const useRef = needsReference(c.cfg);
  const useTargets = needsTargets(c.cfg);
  const policy = e.tensor(Float32Array.from(c.batch.policy), [2 * B, SEQ_FIELDS], { requiresGrad: true, label: `${c.what}.policy` });
  const ref = useRef ? e.tensor(Float32Array.from(c.batch.ref), [2 * B], { label: `${c.what}.ref` }) : null;
  const targets = useTargets ? e.tensor(Float32Array.from(c.batch.targets), [B, 2], { label: `${c.what}.targets` }) : null;
  const { loss, pairs } = prefLoss(policy, ref, targets, c.cfg, { scale: c.scale });
  const want = prefLossRef(c.batch.policy, useRef ? c.batch.ref : null, useTargets ? c.batch.targets : null, c.cfg, c.scale);
  expectClose(await loss.read(), [want.loss], fwd, `${c.what}: loss`);
  const got = await pairs.read();
  for (const [name, col] of Object.entries(PAIR_FIELD)) {
    const pick = (a: ArrayLike<number>): number[] => Array.from({ length: B }, (_, b) => a[b * PAIR_FIELDS + col]);
    expectClose(pick(got), pick(want.pairs), name === 'nonfinite' || name === 'accuracy' ? { atol: 0, rtol: 0 } : fwd, `${c.what}: pairs.${name}`);
  }

  if (c.forwardOnly) {
    [policy, ref, targets, loss, pairs].forEach((t) => t?.dispose());
    return;
  }
  const g = rng.uniform(0.5, 2) * (rng.next() < 0.5 ? -1 : 1);
  const seed = e.tensor([g], [1]);
  e.backward(loss, { seeds: [seed] });
  const f = (xs: Float64Array[]): Float64Array[] => [Float64Array.of(prefLossRef(xs[0], useRef ? c.batch.ref : null, useTargets ? c.batch.targets : null, c.cfg, c.scale).loss)];
  const [num] = numericGrads(f, [Float64Array.from(c.batch.policy)], [Float64Array.of(g)], [0], 1e-4);
  const grad = await policy.grad!.read();
  const cols = (a: ArrayLike<number>, keep: (c: number) => boolean): number[] => Array.from(a).filter((_, i) => keep(i % SEQ_FIELDS));
  expectClose(cols(grad, (k) => k <= SEQ_FIELD.Sraw), cols(num, (k) => k <= SEQ_FIELD.Sraw), bwd, `${c.what}: gradient of policy S, Sraw`);
  expectClose(cols(grad, (k) => k > SEQ_FIELD.Sraw), cols(num, (k) => k > SEQ_FIELD.Sraw).map(() => 0), { atol: 0, rtol: 0 }, `${c.what}: gradient of the detached columns`);
  [policy, ref, targets, seed, loss, pairs].forEach((t) => t?.dispose());
}

const cfgOf = (over: Partial<LossConfig>): LossConfig => validateLossConfig({ ...defaultLossConfig(), ...over });

function lossCase(label: string, B: number, over: Partial<LossConfig>, batch: Partial<BatchOpts> = {}, scale?: number): GpuCase {
  const cfg = cfgOf(over);
  const spread = batch.spread ?? Math.min(30, 3 / cfg.beta);
  const what = `pref_loss: ${label} B=${B}`;
  return { name: what, run: (e) => checkPrefLoss(e, { what, cfg, batch: randomBatch(B, { spread, ...batch }), scale }) };
}

/** Pairs 1 and 3 are copies of pair 0: the AOT columns tie, and the sort must stay a permutation. */
function tiedAotCase(): GpuCase {
  const what = 'pref_loss: aot + aot_unpaired with tied keys B=5';
  const cfg = cfgOf({ lossTypes: ['aot', 'aot_unpaired'], lossWeights: [] });
  return {
    name: what,
    run: (e) => {
      const batch = randomBatch(5, { spread: 20 });
      for (const dup of [1, 3]) {
        for (const side of [0, 5]) {
          batch.policy.copyWithin((side + dup) * SEQ_FIELDS, side * SEQ_FIELDS, (side + 1) * SEQ_FIELDS);
          batch.ref[side + dup] = batch.ref[side];
        }
      }
      return checkPrefLoss(e, { what, cfg, batch, forwardOnly: true });
    },
  };
}

/**
 * The spec §9 batch end to end: seqStats of the per-token arrays → prefLoss → backward into the
 * per-token log-probs, against the spec's values and gradient table (w detached).
 */
function specCase(label: string, over: Partial<LossConfig>, wantLoss: number, wantPairs: Partial<Record<PairField, number[]>>, wantGrad: [number, number, number, number]): GpuCase {
  return {
    name: `pref_loss: spec §9 ${label} (through seqStats)`,
    run: async (e) => {
      const cfg = cfgOf(over);
      const t = (a: Float64Array, requiresGrad = false): Tensor => e.tensor(Float32Array.from(a), [4, SPEC_T], { requiresGrad });
      const lp = t(SPEC_LP, true);
      const [lse2, mask] = [t(SPEC_LSE2), t(SPEC_MASK)];
      const lq = t(SPEC_LQ);
      const stats = seqStats(lp, lse2, mask, mask);
      const refStats = e.noGrad(() => seqStats(lq, lq, mask, mask));
      const refRows = await refStats.read();
      const ref = needsReference(cfg) ? e.tensor(Float32Array.from([0, 1, 2, 3].map((r) => refRows[r * SEQ_FIELDS + SEQ_FIELD.S])), [4]) : null;
      const { loss, pairs } = prefLoss(stats, ref, null, cfg);
      const tol = { atol: 2e-6, rtol: 2e-6 };
      expectClose(await loss.read(), [wantLoss], tol, `§9 ${label}: batch loss`);
      const got = await pairs.read();
      for (const [name, values] of Object.entries(wantPairs)) {
        const col = PAIR_FIELD[name as PairField];
        expectClose([got[col], got[PAIR_FIELDS + col]], values, tol, `§9 ${label}: pairs.${name}`);
      }
      e.backward(loss);
      // rows: chosen 1, chosen 2, rejected 1, rejected 2; every completion token gets its row's value
      const perRow = [wantGrad[0], wantGrad[2], wantGrad[1], wantGrad[3]];
      const want = Array.from(SPEC_MASK, (m, i) => (m ? perRow[Math.floor(i / SPEC_T)] : 0));
      expectClose(await lp.grad!.read(), want, tol, `§9 ${label}: ∂loss/∂lp_t (the gradient table)`);
      [lp, lse2, mask, lq, stats, refStats, ref, loss, pairs].forEach((x) => x?.dispose());
    },
  };
}

/**
 * Non-finite inputs: the pair holding them is flagged (bit test), the others are not, and their
 * values are unaffected for losses without batch coupling.
 */
function nonfiniteCase(label: string, over: Partial<LossConfig>, poison: (b: Batch) => void, flagged: number[], targets?: BatchOpts['targets']): GpuCase {
  return {
    name: `pref_loss: non-finite input flagged (${label})`,
    run: async (e) => {
      const cfg = cfgOf(over);
      const B = 3;
      const batch = randomBatch(B, { spread: 5, targets });
      poison(batch);
      const tensorOr = (use: boolean, a: Float64Array, shape: number[]): Tensor | null => (use ? e.tensor(Float32Array.from(a), shape) : null);
      const policy = e.tensor(Float32Array.from(batch.policy), [2 * B, SEQ_FIELDS]);
      const ref = tensorOr(needsReference(cfg), batch.ref, [2 * B]);
      const tg = tensorOr(needsTargets(cfg), batch.targets, [B, 2]);
      const { loss, pairs } = prefLoss(policy, ref, tg, cfg);
      const got = await pairs.read();
      const flags = Array.from({ length: B }, (_, b) => got[b * PAIR_FIELDS + PAIR_FIELD.nonfinite]);
      expectClose(flags, [0, 1, 2].map((b) => (flagged.includes(b) ? 1 : 0)), { atol: 0, rtol: 0 }, `${label}: nonfinite flags`);
      if (!cfg.lossTypes.some((t) => t === 'aot' || t === 'aot_unpaired' || t === 'sft')) {
        const want = prefLossRef(batch.policy, ref ? batch.ref : null, tg ? batch.targets : null, cfg);
        for (let b = 0; b < B; b++) {
          if (flagged.includes(b)) continue;
          const row = (a: ArrayLike<number>): number[] => Array.from(a).slice(b * PAIR_FIELDS, (b + 1) * PAIR_FIELDS);
          expectClose(row(got), row(want.pairs), fwd, `${label}: clean pair ${b}'s fields`);
        }
      }
      [policy, ref, tg, loss, pairs].forEach((x) => x?.dispose());
    },
  };
}

const S = (b: number, B: number, chosen: boolean, col: number): number => ((chosen ? b : B + b) * SEQ_FIELDS) + col;

export const cases: GpuCase[] = [
  // DPO family (TRL DPOTrainer)
  lossCase('sigmoid', 1, {}),
  lossCase('sigmoid', 3, {}),
  lossCase('sigmoid, a length-0 row', 17, {}, { emptyRow: true }),
  lossCase('sigmoid cDPO ε=0.1', 17, { labelSmoothing: 0.1 }),
  lossCase('hinge β=1', 17, { lossTypes: ['hinge'], beta: 1 }),
  lossCase('ipo', 17, { lossTypes: ['ipo'] }, { emptyRow: true }),
  lossCase('exo_pair ε=0 (→1e-3)', 3, { lossTypes: ['exo_pair'] }),
  lossCase('exo_pair ε=0.2', 17, { lossTypes: ['exo_pair'], labelSmoothing: 0.2 }),
  lossCase('nca_pair', 17, { lossTypes: ['nca_pair'] }),
  lossCase('robust ε=0.1', 17, { lossTypes: ['robust'], labelSmoothing: 0.1 }),
  lossCase('bco_pair', 17, { lossTypes: ['bco_pair'] }),
  lossCase('sppo_hard', 17, { lossTypes: ['sppo_hard'] }),
  lossCase('aot ε=0.1', 1, { lossTypes: ['aot'], labelSmoothing: 0.1 }),
  lossCase('aot', 17, { lossTypes: ['aot'] }),
  lossCase('aot_unpaired', 3, { lossTypes: ['aot_unpaired'] }),
  lossCase('aot + aot_unpaired', 17, { lossTypes: ['aot', 'aot_unpaired'], lossWeights: [0.7, 0.3], labelSmoothing: 0.05 }),
  tiedAotCase(),
  lossCase('aot over 256 pairs (lanes loop)', 300, { lossTypes: ['aot', 'sigmoid'], lossWeights: [] }),
  lossCase('apo_zero', 17, { lossTypes: ['apo_zero'] }),
  lossCase('apo_down', 17, { lossTypes: ['apo_down'] }),
  lossCase('discopop τ=0.05', 17, { lossTypes: ['discopop'] }),
  lossCase('discopop τ=0.3 β=1', 17, { lossTypes: ['discopop'], discopopTau: 0.3, beta: 1 }, { spread: 20 }),
  lossCase('sft', 17, { lossTypes: ['sft'] }, { emptyRow: true }),
  lossCase('sigmoid_norm', 17, { lossTypes: ['sigmoid_norm'] }, { emptyRow: true }),
  // f-divergences, reference-free, LD weighting is in S (random S ≠ Sraw above)
  lossCase('forward_kl', 17, { fDivergenceType: 'forward_kl' }, { spread: 3 }),
  lossCase('js', 17, { fDivergenceType: 'js' }),
  lossCase('alpha 0.5', 17, { fDivergenceType: 'alpha', fAlphaDivergenceCoef: 0.5 }, { spread: 4 }),
  // scores up to e^80/0.5 ≈ 1e35 where (α − 1)·a is clamped at 80 (no gradient there); β = 1e-36
  // keeps β·h near 0.1, so the hinge is active everywhere
  lossCase('alpha 1.5 (exponent clamp hit)', 17, { lossTypes: ['hinge'], fDivergenceType: 'alpha', fAlphaDivergenceCoef: 1.5, beta: 1e-36 }, { spread: 200 }),
  lossCase('alpha 1 (= reverse_kl)', 3, { fDivergenceType: 'alpha', fAlphaDivergenceCoef: 1 }),
  lossCase('reference_free', 17, { referenceFree: true, beta: 0.05 }),
  // WPO weighting
  lossCase('use_weighting (clamp)', 17, { useWeighting: true }),
  lossCase('use_weighting no clamp', 17, { useWeighting: true, wpoClamp: false }, { emptyRow: true }),
  lossCase('use_weighting + sft + ipo', 17, { lossTypes: ['sigmoid', 'sft', 'ipo'], lossWeights: [1, 0.3, 0.01], useWeighting: true, wpoClamp: false }),
  // several loss types, scale
  lossCase('sigmoid+hinge+ipo+sft, weights, scale 0.25', 17, { lossTypes: ['sigmoid', 'hinge', 'ipo', 'sft'], lossWeights: [1, 0.5, 0.02, 2] }, {}, 0.25),
  // SimPO / CPO
  lossCase('simpo β=2 γ=1', 17, { lossTypes: ['simpo'], beta: 2, simpoGamma: 1 }, { emptyRow: true }),
  lossCase('simpo ε=0.1 cpo_alpha=0.5', 3, { lossTypes: ['simpo'], beta: 2, simpoGamma: 0.5, labelSmoothing: 0.1, cpoAlpha: 0.5 }),
  lossCase('simpo + sft', 17, { lossTypes: ['simpo', 'sft'], lossWeights: [1, 0.5], beta: 2, simpoGamma: 1, cpoAlpha: 0.25 }),
  // SPPO / GPO (authors' ½)
  lossCase('sppo', 17, { lossTypes: ['sppo'] }, { targets: 'probs' }),
  lossCase('sppo_single', 3, { lossTypes: ['sppo_single'] }, { targets: 'probs' }),
  lossCase('gpo (clamp ±1000 hit)', 17, { lossTypes: ['gpo'], beta: 0.01 }, { targets: 'scores', spread: 3 }),
  lossCase('gpo + sppo_hard, weighting', 17, { lossTypes: ['gpo', 'sppo_hard'], lossWeights: [1, 0.1], useWeighting: true, gpoClamp: 50 }, { targets: 'scores' }),
  // the spec's worked example (§9), through seqStats
  specCase('DPO', {}, 0.6651074934, { loss: [0.6117553389, 0.718459648], margin: [0.17, -0.05], accuracy: [1, 0] }, [-0.02288010296, 0.02288010296, -0.02562486982, 0.02562486982]),
  specCase('WPO no clamp', { useWeighting: true, wpoClamp: false }, 0.6476701218, { weight: [1.327547604, 0.6725581743], weight_chosen: [1.419067549, 0.513417119], weight_rejected: [0.935506985, 1.309964451] }, [-0.03037442586, 0.03037442586, -0.01723421567, 0.01723421567]),
  specCase('WPO clamped', { useWeighting: true }, 0.547480624, { weight_raw: [1.327547604, 0.6725581743], weight: [1, 0.6725581743] }, [-0.02288010296 / 1, 0.02288010296, -0.02562486982 * 0.6725581743, 0.02562486982 * 0.6725581743]),
  specCase('hinge', { lossTypes: ['hinge'] }, 0.94, { loss: [0.83, 1.05] }, [-0.05, 0.05, -0.05, 0.05]),
  specCase('IPO', { lossTypes: ['ipo'] }, 23.40342222, { loss: [20.25, 26.55684444] }, [-1.125, 1.5, -1.717777778, 1.030666667]),
  specCase('SimPO', { lossTypes: ['simpo'], beta: 10, simpoGamma: 5 }, 8.063464062, { logit: [2, -16], reward_chosen: [-7, -16], reward_rejected: [-14, -5] }, [-0.1490036525, 0.1986715367, -1.666666479, 0.9999998875]),
  specCase('SPPO-hard TRL', { lossTypes: ['sppo_hard'] }, 44.81, { loss: [34.45, 55.17] }, [-4.2, 4.1, -5.4, 5.1]),
  // non-finite inputs
  nonfiniteCase('NaN S_w of pair 1, sigmoid', {}, (b) => (b.policy[S(1, 3, true, SEQ_FIELD.S)] = NaN), [1]),
  nonfiniteCase('Inf wpo of pair 2 rejected, WPO', { useWeighting: true }, (b) => (b.policy[S(2, 3, false, SEQ_FIELD.wpo)] = Infinity), [2]),
  nonfiniteCase('NaN n of pair 0, ipo', { lossTypes: ['ipo'] }, (b) => (b.policy[S(0, 3, false, SEQ_FIELD.n)] = NaN), [0]),
  nonfiniteCase('−Inf reference of pair 1', {}, (b) => (b.ref[3 + 1] = -Infinity), [1]),
  nonfiniteCase('NaN reference ignored by SimPO', { lossTypes: ['simpo'], beta: 2 }, (b) => (b.ref[0] = NaN), []),
  nonfiniteCase('NaN Sraw of pair 2, simpo', { lossTypes: ['simpo'], beta: 2 }, (b) => (b.policy[S(2, 3, true, SEQ_FIELD.Sraw)] = NaN), [2]),
  nonfiniteCase('NaN target of pair 0, sppo', { lossTypes: ['sppo'] }, (b) => (b.targets[1] = NaN), [0], 'probs'),
  nonfiniteCase('NaN S_l of pair 1, aot (sorting stays a permutation)', { lossTypes: ['aot'] }, (b) => (b.policy[S(1, 3, false, SEQ_FIELD.S)] = NaN), [1]),
  nonfiniteCase('NaN in pairs 0 and 2, sft', { lossTypes: ['sft', 'sigmoid'], lossWeights: [] }, (b) => {
    b.policy[S(0, 3, true, SEQ_FIELD.Sraw)] = NaN;
    b.policy[S(2, 3, false, SEQ_FIELD.S)] = -Infinity;
  }, [0, 2]),
];
