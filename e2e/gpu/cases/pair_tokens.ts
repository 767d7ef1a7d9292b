// pair_tokens (src/engine/train/pair_tokens.ts): one pair token by token, on a tiny seeded Gemma-2
// built in memory (2 layers, one sliding with a window shorter than the pairs, both softcaps):
// - every completion token's policy log-prob and WPO term (logp − log Σp²) against a float64 CPU
//   forward of the whole model written here from the float64 op references (embedding, RMSNorm,
//   RoPE, attention, GeGLU, the LM head) — on the weights the GPU holds after an optimizer step;
// - against the trainer itself: tokens computed with the weights a training step then uses sum to
//   that step's PairRecord (chosen_logp / rejected_logp, LD-DPO weighted), number chosen_tokens /
//   rejected_tokens, and their WPO terms give its weight_chosen, weight_rejected, weight_raw and
//   (clamped or not) weight; the record pairTokens returns equals the step's;
// - the reference per token: a LoRA run's (the base, adapter off) against the float64 base model
//   and summing to the reference pass's sums (computeReferenceLogps); a full fine-tuning run keeps
//   none ('not-kept'), SimPO has none ('none').
import type { Engine } from '../../../src/engine/engine.ts';
import { expectedTensors, parseGemma2Config } from '../../../src/engine/model/config.ts';
import { dimsFromConfig, embedScale, namedParams, type Gemma2Dims, type Gemma2Params } from '../../../src/engine/model/gemma2.ts';
import { gemma2ParamsFromTensors } from '../../../src/engine/model/load.ts';
import { createAdapter, disposeAdapter, LORA_TARGETS, TARGET_FIELDS, type LoraTarget } from '../../../src/engine/model/lora.ts';
import { readAdapterF32 } from '../../../src/engine/model/peft.ts';
import { readParamsF32 } from '../../../src/engine/model/export.ts';
import { attentionRef } from '../../../src/engine/reference/attention.ts';
import { addRef } from '../../../src/engine/reference/elementwise.ts';
import { embeddingRef } from '../../../src/engine/reference/embedding.ts';
import { gegluRef } from '../../../src/engine/reference/gelu_tanh.ts';
import { logprobsRef } from '../../../src/engine/reference/logprobs.ts';
import { matmulRef } from '../../../src/engine/reference/matmul.ts';
import { rmsnormRef } from '../../../src/engine/reference/rmsnorm.ts';
import { ropeRef } from '../../../src/engine/reference/rope.ts';
import type { Tensor } from '../../../src/engine/tensor.ts';
import { defaultLossConfig, type LossConfig } from '../../../src/engine/train/losses.ts';
import type { PairRecord } from '../../../src/engine/train/metrics.ts';
import { logWeight, pairTokens, summedLogp, wpoPairWeight, type PairTokens, type TokenRow } from '../../../src/engine/train/pair_tokens.ts';
import { computeReferenceLogps } from '../../../src/engine/train/ref_cache.ts';
import { Trainer, TRAIN_DEFAULTS, type TrainExample } from '../../../src/engine/train/trainer.ts';
import { expectClose, Rng, type GpuCase, type Tol } from '../harness.ts';

const CONFIG = {
  model_type: 'gemma2',
  vocab_size: 67,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 16,
  query_pre_attn_scalar: 16,
  sliding_window: 4,
  attn_logit_softcapping: 50.0,
  final_logit_softcapping: 30.0,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  hidden_activation: 'gelu_pytorch_tanh',
  bos_token_id: 2,
  eos_token_id: 1,
  pad_token_id: 0,
};

/** Per-token values against the float64 forward (f32 through two layers and a 67-way softmax). */
const TOKEN_TOL: Tol = { atol: 2e-4, rtol: 1e-4 };
/** Sums and weights against the trainer's (the same kernels on a differently padded batch). */
const SUM_TOL: Tol = { atol: 1e-4, rtol: 1e-5 };

type HostWeights = Map<string, Float32Array>;

const CFG = parseGemma2Config(CONFIG, 'pair_tokens case config');
/** HF name → shape of every tensor of the model. */
const SHAPES = new Map(expectedTensors(CFG).map((t) => [t.name, t.shape]));

/**
 * Seeded weights: logits spread enough that the log-probs and WPO terms vary from token to token,
 * not so much that WPO's weights vanish (they scale the gradient).
 */
function seededWeights(rng: Rng): { d: Gemma2Dims; host: HostWeights } {
  const host: HostWeights = new Map();
  for (const [name, shape] of SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    const norm = name.endsWith('norm.weight');
    host.set(name, Float32Array.from(norm ? rng.array(n, -0.2, 0.2) : rng.normals(n, name.includes('embed') ? 0.2 : 0.25)));
  }
  return { d: dimsFromConfig(CFG), host };
}

function upload(e: Engine, host: HostWeights, trainable: boolean): Gemma2Params {
  const tensors = new Map<string, Tensor>([...host].map(([name, data]) => [name, e.keep(e.tensor(data, SHAPES.get(name)!, { requiresGrad: trainable, label: name }))]));
  return gemma2ParamsFromTensors(CFG, tensors);
}

/** Pairs of 5–6 prompt tokens and 3–8 completion tokens (longer than the sliding window). */
function seededPairs(rng: Rng, V: number): TrainExample[] {
  const ids = (n: number): number[] => Array.from({ length: n }, () => rng.int(3, V));
  return [
    { row: 0, promptIds: [2, ...ids(4)], chosenIds: [...ids(7), 1], rejectedIds: [...ids(2), 1] },
    { row: 1, promptIds: [2, ...ids(5)], chosenIds: [...ids(3), 1], rejectedIds: [...ids(6), 1] },
    { row: 2, promptIds: [2, ...ids(4)], chosenIds: [...ids(5), 1], rejectedIds: [...ids(5), 1] },
  ];
}

// ------------------------------------------------------------------ the float64 model

/** Final hidden states [T, C] of one sequence, every op in float64 (W: HF name → values). */
function hiddenRef(d: Gemma2Dims, W: (name: string) => Float64Array, ids: number[]): Float64Array {
  const T = ids.length;
  const pos = Array.from({ length: T }, (_, t) => t);
  let x = embeddingRef(W('model.embed_tokens.weight'), ids, d.C, embedScale(d.C));
  const lin = (a: Float64Array, w: Float64Array, out: number, inF: number): Float64Array => matmulRef(a, w, T, out, inF, false, true);
  for (let i = 0; i < d.L; i++) {
    const p = (n: string): Float64Array => W(`model.layers.${i}.${n}.weight`);
    const a = rmsnormRef(x, p('input_layernorm'), d.rmsNormEps);
    const q = ropeRef(lin(a, p('self_attn.q_proj'), d.NH * d.HD, d.C), pos, d.NH, d.HD, d.ropeTheta);
    const k = ropeRef(lin(a, p('self_attn.k_proj'), d.KVH * d.HD, d.C), pos, d.KVH, d.HD, d.ropeTheta);
    const v = lin(a, p('self_attn.v_proj'), d.KVH * d.HD, d.C);
    const o = attentionRef(q, k, v, { B: 1, T, NH: d.NH, KVH: d.KVH, HD: d.HD }, { scale: d.queryPreAttnScalar ** -0.5, softcap: d.attnSoftcap, window: d.layerTypes[i] === 'sliding' ? d.slidingWindow : 0 });
    x = addRef(x, [T, d.C], rmsnormRef(lin(o, p('self_attn.o_proj'), d.C, d.NH * d.HD), p('post_attention_layernorm'), d.rmsNormEps), [T, d.C]);
    const m = rmsnormRef(x, p('pre_feedforward_layernorm'), d.rmsNormEps);
    const act = gegluRef(lin(m, p('mlp.gate_proj'), d.FF, d.C), lin(m, p('mlp.up_proj'), d.FF, d.C));
    x = addRef(x, [T, d.C], rmsnormRef(lin(act, p('mlp.down_proj'), d.C, d.FF), p('post_feedforward_layernorm'), d.rmsNormEps), [T, d.C]);
  }
  return rmsnormRef(x, W('model.norm.weight'), d.rmsNormEps);
}

/** Per completion token of prompt ‖ completion: log-prob and WPO term (logp − log Σp²), float64. */
function tokensRef(d: Gemma2Dims, W: (name: string) => Float64Array, prompt: readonly number[], completion: readonly number[]): { logp: number[]; wpo: number[] } {
  const ids = [...prompt, ...completion];
  const T = ids.length;
  // position t predicts token t + 1; only completion tokens are labels
  const labels = ids.map((_, t) => (t + 1 < T && t + 1 >= prompt.length ? ids[t + 1] : -100));
  const r = logprobsRef(hiddenRef(d, W, ids), W('model.embed_tokens.weight'), labels, T, d.C, d.V, d.finalSoftcap);
  const at = completion.map((_, i) => prompt.length + i - 1);
  return { logp: at.map((t) => r.logp[t]), wpo: at.map((t) => r.logp[t] - r.lsp2[t]) };
}

/** Float64 copies of host weights, with a LoRA adapter merged in (W + scale·B·A) when given. */
function float64Weights(host: HostWeights, lora?: { r: number; scale: number; layers: Partial<Record<LoraTarget, { A: Float32Array; B: Float32Array }>>[] }): (name: string) => Float64Array {
  const merged = new Map<string, Float64Array>([...host].map(([n, v]) => [n, Float64Array.from(v)]));
  lora?.layers.forEach((layer, i) => {
    for (const t of LORA_TARGETS) {
      const f = layer[t];
      if (!f) continue;
      const w = merged.get(`model.layers.${i}.${TARGET_FIELDS[t].module}.${t}.weight`)!;
      const inF = f.A.length / lora.r; // A (r, in), B (out, r)
      const BA = matmulRef(f.B, f.A, f.B.length / lora.r, inF, lora.r);
      for (let j = 0; j < w.length; j++) w[j] += lora.scale * BA[j];
    }
  });
  return (name) => {
    const w = merged.get(name);
    if (!w) throw new Error(`pair_tokens case: no weight '${name}'`);
    return w;
  };
}

// ------------------------------------------------------------------ checks

const sides = (pt: PairTokens, ex: TrainExample): [string, TokenRow[], readonly number[]][] => [['chosen', pt.chosen, ex.chosenIds], ['rejected', pt.rejected, ex.rejectedIds]];

/** The tokens against the float64 model: the policy's log-probs and WPO terms, and the reference's log-probs (null: none kept). */
function checkAgainstFloat64(d: Gemma2Dims, pt: PairTokens, ex: TrainExample, policy: (n: string) => Float64Array, reference: ((n: string) => Float64Array) | null, what: string): void {
  if (pt.row !== ex.row || pt.promptTokens !== ex.promptIds.length) throw new Error(`${what}: row ${pt.row} with ${pt.promptTokens} prompt tokens, expected row ${ex.row} with ${ex.promptIds.length}`);
  for (const [side, rows, completion] of sides(pt, ex)) {
    const where = `${what}, row ${ex.row} ${side}`;
    if (rows.map((t) => t.id).join() !== completion.join()) throw new Error(`${where}: token ids ${rows.map((t) => t.id).join(' ')}, expected the completion ${completion.join(' ')}`);
    const ref = tokensRef(d, policy, ex.promptIds, completion);
    expectClose(rows.map((t) => t.logp), ref.logp, TOKEN_TOL, `${where}: per-token log-probs vs the float64 model`);
    expectClose(rows.map((t) => t.wpo), ref.wpo, TOKEN_TOL, `${where}: per-token WPO terms (logp − log Σp²) vs the float64 model`);
    if (reference) {
      if (rows.some((t) => t.refLogp === null)) throw new Error(`${where}: reference log-probs missing`);
      expectClose(rows.map((t) => t.refLogp!), tokensRef(d, reference, ex.promptIds, completion).logp, TOKEN_TOL, `${where}: per-token reference log-probs vs the float64 base model`);
    } else if (rows.some((t) => t.refLogp !== null)) throw new Error(`${where}: reference log-probs given (${pt.reference}), but this run keeps none per token`);
  }
}

/** The tokens against a training step's record of the same pair, computed with the same weights. */
function checkAgainstRecord(pt: PairTokens, rec: PairRecord | undefined, loss: LossConfig, what: string): void {
  if (!rec) throw new Error(`${what}: the step has no record of row ${pt.row}`);
  const num = (r: PairRecord, k: string): number => r[k] as number;
  if (pt.chosen.length !== num(rec, 'chosen_tokens') || pt.rejected.length !== num(rec, 'rejected_tokens')) {
    throw new Error(`${what}: ${pt.chosen.length} + ${pt.rejected.length} tokens, the step counted ${num(rec, 'chosen_tokens')} + ${num(rec, 'rejected_tokens')}`);
  }
  expectClose([summedLogp(pt.chosen), summedLogp(pt.rejected)], [num(rec, 'chosen_logp'), num(rec, 'rejected_logp')], SUM_TOL, `${what}: Σ weight·logp vs the step's chosen_logp, rejected_logp`);
  const w = wpoPairWeight(pt.chosen, pt.rejected, loss.wpoClamp);
  expectClose(
    [Math.exp(logWeight(pt.chosen)), Math.exp(logWeight(pt.rejected)), w.raw, w.weight],
    ['weight_chosen', 'weight_rejected', 'weight_raw', 'weight'].map((k) => num(rec, k)),
    SUM_TOL,
    `${what}: WPO weights from the per-token terms (chosen, rejected, raw, ${loss.wpoClamp ? 'clamped' : 'unclamped'}) vs the step's`,
  );
  const keys = ['chosen_logp', 'rejected_logp', 'ref_chosen_logp', 'ref_rejected_logp', 'margin', 'weight_raw', 'weight', 'loss'];
  expectClose(keys.map((k) => num(pt.record, k)), keys.map((k) => num(rec, k)), SUM_TOL, `${what}: pairTokens' record (${keys.join(', ')}) vs the step's`);
}

const recordOf = (pairs: PairRecord[], row: number): PairRecord | undefined => pairs.find((p) => p.row === row);

/** Largest |a − b| over both answers' log-probs (to show that weights really changed). */
function largestChange(a: PairTokens[], b: PairTokens[], field: (t: TokenRow) => number | null, other: (t: TokenRow) => number | null = field): number {
  let m = 0;
  a.forEach((x, i) => [...x.chosen, ...x.rejected].forEach((t, j) => (m = Math.max(m, Math.abs(field(t)! - other([...b[i].chosen, ...b[i].rejected][j])!)))));
  return m;
}

/** The seeded model on the GPU (trainable f32, or frozen for LoRA) and its pairs. */
function seededModel(e: Engine, seed: number, trainable: boolean): { d: Gemma2Dims; host: HostWeights; pairs: TrainExample[]; params: Gemma2Params } {
  const rng = new Rng(seed);
  const { d, host } = seededWeights(rng);
  return { d, host, pairs: seededPairs(rng, d.V), params: upload(e, host, trainable) };
}

/** pairTokens of every pair, one after another, with the reference pass's sums. */
async function tokensOf(e: Engine, d: Gemma2Dims, params: Gemma2Params, pairs: TrainExample[], loss: LossConfig, ref: Float32Array): Promise<PairTokens[]> {
  const out: PairTokens[] = [];
  for (const [i, ex] of pairs.entries()) out.push(await pairTokens(e, d, params, ex, { loss, referenceSums: [ref[2 * i], ref[2 * i + 1]] }));
  return out;
}

function disposeParams(p: Gemma2Params): void {
  for (const [, t] of namedParams(p)) t.dispose();
}

export const cases: GpuCase[] = [
  {
    name: 'pair_tokens: full fine-tuning (WPO unclamped, LD-DPO) vs the float64 model and the trainer\'s step records',
    run: async (e) => {
      const { d, host, pairs, params } = seededModel(e, 2024, true);
      const loss: LossConfig = { ...defaultLossConfig(), useWeighting: true, wpoClamp: false, ldAlpha: 0.5 };
      const ref = await computeReferenceLogps(e, d, params, pairs, { ldAlpha: loss.ldAlpha });
      const trainer = new Trainer(e, d, params, pairs, ref, { ...TRAIN_DEFAULTS, loss, learningRate: 0.02, batchSize: 3, maxSteps: 3, shuffle: false, maxGradNorm: null });
      const tokensNow = (): Promise<PairTokens[]> => tokensOf(e, d, params, pairs, loss, ref);
      try {
        // the tokens before step 1 are those step 1 trains on
        const before = await tokensNow();
        const W0 = float64Weights(host);
        before.forEach((pt, i) => checkAgainstFloat64(d, pt, pairs[i], W0, null, 'full fine-tuning, initial weights'));
        const step1 = await trainer.trainStep();
        before.forEach((pt) => checkAgainstRecord(pt, recordOf(step1.pairs, pt.row), loss, `full fine-tuning, step 1, row ${pt.row}`));
        // after the update: the float64 model on the weights the GPU holds now, and step 2's records
        const after = await tokensNow();
        const W1 = float64Weights(await readParamsF32(params));
        after.forEach((pt, i) => checkAgainstFloat64(d, pt, pairs[i], W1, null, 'full fine-tuning, after step 1'));
        const step2 = await trainer.trainStep();
        after.forEach((pt) => checkAgainstRecord(pt, recordOf(step2.pairs, pt.row), loss, `full fine-tuning, step 2, row ${pt.row}`));
        const moved = largestChange(before, after, (t) => t.logp);
        if (!(moved > 1e-3)) throw new Error(`full fine-tuning: step 1 moved no log-prob by more than 1e-3 (${moved}): the comparisons above did not see two different models`);
        if (after.some((pt) => pt.reference !== 'not-kept')) throw new Error(`full fine-tuning: reference ${after.map((p) => p.reference).join()}, expected 'not-kept' (only the sums are kept)`);
        if (!after.some((pt) => [...pt.chosen, ...pt.rejected].some((t) => t.weight === 0.5))) throw new Error('LD-DPO: no token weighs ld_alpha = 0.5 (the pairs have unequal answer lengths)');
      } finally {
        trainer.dispose();
        disposeParams(params);
      }
    },
  },
  {
    name: 'pair_tokens: LoRA (reference = the base, adapter off; WPO clamped) vs the float64 model, the reference pass and the trainer',
    run: async (e) => {
      const { d, host, pairs, params } = seededModel(e, 7, false);
      const ad = createAdapter(e, d, { r: 4, alpha: 8, dropout: 0, targets: [...LORA_TARGETS], useRslora: false }, 11);
      params.adapter = ad;
      const loss: LossConfig = { ...defaultLossConfig(), useWeighting: true };
      const ref = await computeReferenceLogps(e, d, params, pairs, {});
      const trainer = new Trainer(e, d, params, pairs, ref, { ...TRAIN_DEFAULTS, loss, learningRate: 0.05, batchSize: 3, maxSteps: 2, shuffle: false });
      try {
        await trainer.trainStep(); // B ≠ 0 from here: the policy is no longer the base
        const pts = await tokensOf(e, d, params, pairs, loss, ref);
        if (!ad.enabled) throw new Error('pairTokens left the adapter off');
        const hostAd = await readAdapterF32(ad);
        const policy = float64Weights(host, { r: hostAd.config.r, scale: ad.scale, layers: hostAd.layers });
        const base = float64Weights(host);
        pts.forEach((pt, i) => {
          checkAgainstFloat64(d, pt, pairs[i], policy, base, 'LoRA after step 1');
          if (pt.reference !== 'adapter-off') throw new Error(`LoRA: reference '${pt.reference}', expected 'adapter-off'`);
          const sum = (rows: TokenRow[]): number => rows.reduce((s, t) => s + t.refLogp!, 0);
          expectClose([sum(pt.chosen), sum(pt.rejected)], [ref[2 * i], ref[2 * i + 1]], SUM_TOL, `LoRA row ${pt.row}: Σ per-token reference log-probs vs the reference pass's sums`);
        });
        const moved = largestChange(pts, pts, (t) => t.logp, (t) => t.refLogp);
        if (!(moved > 1e-3)) throw new Error(`LoRA: the policy equals the reference to 1e-3 (${moved}) after a step: the adapter changed nothing`);
        const step2 = await trainer.trainStep();
        pts.forEach((pt) => checkAgainstRecord(pt, recordOf(step2.pairs, pt.row), loss, `LoRA, step 2, row ${pt.row}`));
        // SimPO has no reference at all
        const simpo: LossConfig = { ...defaultLossConfig(), lossTypes: ['simpo'], beta: 2 };
        const s = await pairTokens(e, d, params, pairs[0], { loss: simpo, referenceSums: null });
        if (s.reference !== 'none' || [...s.chosen, ...s.rejected].some((t) => t.refLogp !== null)) throw new Error(`SimPO: reference '${s.reference}', expected 'none' and no per-token reference`);
      } finally {
        trainer.dispose();
        disposeAdapter(ad);
        disposeParams(params);
      }
    },
  },
];
