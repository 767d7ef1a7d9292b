// Generation for previews: Gemma-2 with a key/value cache, greedy or sampled (temperature, top-p,
// seed), stopping at <eos> (1) or <end_of_turn> (107) (spec gemma2-and-formats.md §1.4, §2).
//
//   createKVCache   per layer K and V [B, S_max, KVH, HD] (keys after RoPE), plus left padding
//   decodeStep      Tq new tokens per sequence at cache rows p0 … p0+Tq−1 → logits of the LAST
//                   one [B, V]: embedding → L blocks (attention over the cache) → final norm →
//                   h_last · Eᵀ (one gemm per row part of E) → final softcap, on the GPU;
//                   then one readback
//   generate        prefill the prompt in one decodeStep (Tq = prompt length), then one token per
//                   step, choosing each token on the host from the read-back logits
//
// Same math as gemma2.ts's forwardHidden, step by step: each layer is gemma2.ts's blockForward with
// the attention replaced by "write this step's k/v into the cache, attend over the cache".
// Everything runs under noGrad; nothing here is differentiable.
//
// Batches (B > 1) are left-padded, as transformers' generate does: prompt b is preceded by
// pad[b] pad tokens, so every sequence's next token lands in the same cache row. Pad rows are
// masked as keys (keyMask), and RoPE positions count real tokens only: row r of sequence b is at
// position r − pad[b] (HF: cumsum(attention_mask) − 1). Causal and sliding-window masks use cache
// rows, as HF's masks use cache positions.
//
// Sampling (HF's order of logits processors): z / temperature → softmax → top-p nucleus (the
// smallest set of most likely tokens whose mass reaches top_p; ties at the edge kept) →
// renormalise → inverse-CDF draw with the seeded Rng (src/engine/util/rng.ts), one draw
// per sequence per step in batch order, so a seed reproduces a generation exactly.
//
// Legend: B batch, Tq new tokens per step, S_max cache rows, C hidden_size, V vocab, L layers,
// NH query heads, KVH kv heads, HD head_dim, FF intermediate_size.

import type { Engine } from '../engine.ts';
import { ShapeError } from '../errors.ts';
import { attentionDecode, writeKVCache } from '../ops/attention_decode.ts';
import { embedding } from '../ops/embedding.ts';
import { gemm } from '../ops/matmul.ts';
import { rmsnorm } from '../ops/rmsnorm.ts';
import { softcap } from '../ops/softcap.ts';
import { checkTable } from '../table.ts';
import { Rng } from '../util/rng.ts';
import type { Tensor } from '../tensor.ts';
import { blockForward, embedScale, type AttendFn, type ForwardCtx, type Gemma2Dims, type Gemma2Params } from './gemma2.ts';

/** Gemma-2's stop tokens: <eos> and <end_of_turn> (spec §2). */
export const DEFAULT_STOP_IDS: readonly number[] = [1, 107];

// ---------------------------------------------------------------------------------------------
// the cache

export interface KVCache {
  readonly B: number;
  readonly S_max: number;
  /** Per layer: keys after RoPE, (B, S_max, KVH, HD). */
  readonly k: Tensor[];
  /** Per layer: values, (B, S_max, KVH, HD). */
  readonly v: Tensor[];
  /** Left padding per sequence: rows 0 … pad[b]−1 of sequence b are padding. */
  readonly pad: Int32Array;
  /** (B, S_max) i32, 0 on padding rows, 1 elsewhere; null when nothing is padded. */
  readonly keyMask: Tensor | null;
  /** Rows filled so far: the next step's first token goes to row `length`. */
  length: number;
}

/**
 * An empty cache for B sequences of up to S_max tokens (prompt + new tokens), with `pad[b]` left
 * padding rows in sequence b (default none). Memory: 2·L·B·S_max·KVH·HD floats.
 */
export function createKVCache(e: Engine, dims: Gemma2Dims, B: number, S_max: number, pad?: ArrayLike<number>): KVCache {
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(S_max) || S_max < 1) {
    throw new ShapeError('generate.createKVCache', `B = ${B} and S_max = ${S_max} must be positive integers`);
  }
  const padArr = Int32Array.from(pad ?? new Array<number>(B).fill(0));
  if (padArr.length !== B || padArr.some((p) => !Number.isInteger(p) || p < 0 || p >= S_max)) {
    throw new ShapeError('generate.createKVCache', `pad must hold B = ${B} counts in [0, S_max = ${S_max}), got [${Array.from(padArr).join(', ')}]`);
  }
  const shape = [B, S_max, dims.KVH, dims.HD];
  const k: Tensor[] = [];
  const v: Tensor[] = [];
  for (let i = 0; i < dims.L; i++) {
    k.push(e.empty(shape, 'f32', `kvcache.k.${i}`));
    v.push(e.empty(shape, 'f32', `kvcache.v.${i}`));
  }
  let keyMask: Tensor | null = null;
  if (padArr.some((p) => p > 0)) {
    const m = new Int32Array(B * S_max).fill(1);
    for (let b = 0; b < B; b++) m.fill(0, b * S_max, b * S_max + padArr[b]);
    keyMask = e.tensor(m, [B, S_max], { dtype: 'i32', label: 'kvcache.keyMask' });
  }
  return { B, S_max, k, v, pad: padArr, keyMask, length: 0 };
}

export function disposeKVCache(cache: KVCache): void {
  [...cache.k, ...cache.v].forEach((t) => t.dispose());
  cache.keyMask?.dispose();
}

// ---------------------------------------------------------------------------------------------
// one step of the model

/**
 * The attention of a cached step, for gemma2.ts's blockForward: write this step's k/v into the
 * cache at rows p0 …, then attend over rows 0 … p0+Tq−1 (absolute rows for the causal and
 * sliding-window masks).
 */
function cachedAttention(d: Gemma2Dims, cache: KVCache, p0: number): AttendFn {
  return (i, q, k, v) => {
    writeKVCache(cache.k[i], cache.v[i], k, v, p0); // cache rows p0 … p0+Tq−1
    return attentionDecode(q, cache.k[i], cache.v[i], {
      p0,
      scale: d.queryPreAttnScalar ** -0.5,
      softcap: d.attnSoftcap,
      window: d.layerTypes[i] === 'sliding' ? d.slidingWindow : 0,
      keyMask: cache.keyMask,
    }); // (B, Tq, NH, HD)
  };
}

/**
 * Dispatches one step without waiting: the step's tokens `ids` (B·Tq, row-major) go to cache rows
 * cache.length …, and the result is the soft-capped logits of each sequence's last token, a
 * (B, V) tensor the caller reads and disposes. Advances cache.length by Tq.
 */
export function decodeLogits(e: Engine, d: Gemma2Dims, p: Gemma2Params, cache: KVCache, ids: Int32Array): Tensor {
  const { B } = cache;
  const Tq = ids.length / B;
  const p0 = cache.length;
  if (!Number.isInteger(Tq) || Tq < 1) throw new ShapeError('generate.decodeStep', `${ids.length} ids do not split into B = ${B} sequences of ≥ 1 token`);
  if (p0 + Tq > cache.S_max) {
    throw new ShapeError('generate.decodeStep', `${Tq} more tokens after ${p0} do not fit the cache (S_max = ${cache.S_max})`, 'create the cache with S_max ≥ prompt length + max new tokens');
  }
  if (p.layers.length !== d.L) throw new ShapeError('generate.decodeStep', `${p.layers.length} layers loaded, config says L = ${d.L}`);
  const embed = checkTable('generate.decodeStep', 'params.embed', p.embed); // whole or row parts covering [0, V)
  if (embed.V !== d.V || embed.C !== d.C) throw new ShapeError('generate.decodeStep', `params.embed is [${embed.V}, ${embed.C}], config says [V, C] = [${d.V}, ${d.C}]`);
  return e.noGrad(() => {
    // RoPE positions: cache rows, minus the sequence's left padding (pad rows get 0; they are masked).
    const padded = cache.keyMask !== null;
    const pos = new Int32Array(padded ? B * Tq : Tq);
    for (let b = 0; b < (padded ? B : 1); b++) {
      for (let t = 0; t < Tq; t++) pos[b * Tq + t] = Math.max(0, p0 + t - cache.pad[b]);
    }
    const positions = e.tensor(pos, padded ? [B, Tq] : [Tq], { dtype: 'i32', label: 'generate.positions' });
    const ctx: ForwardCtx = { e, d, B, T: Tq, positions, attend: cachedAttention(d, cache, p0), lora: p.adapter?.enabled ? { adapter: p.adapter, dropoutSeed: null } : null }; // an enabled adapter's branch, never dropout
    let h = embedding(p.embed, ids, { shape: [B * Tq], scale: embedScale(d.C) }); // (B·Tq, C)
    for (let i = 0; i < d.L; i++) {
      const next = blockForward(ctx, p.layers[i], i, h);
      h.dispose();
      h = next;
    }
    positions.dispose();
    const hf = rmsnorm(h, p.finalNorm, d.rmsNormEps); // (B·Tq, C)
    h.dispose();
    // Logits of the last token of each sequence: z[b] = hf[b·Tq + Tq−1] · Eᵀ  (B, V); a split E
    // (row parts, engine/table.ts) fills columns [row0, row1) of z with one gemm per part.
    const z = e.empty([B, d.V], 'f32', 'generate.logits');
    for (const part of embed.parts) {
      const n = part.row1 - part.row0;
      gemm({ out: z, a: hf, b: part.tensor, M: 1, N: n, K: d.C, transB: true, batch: B, offA: (Tq - 1) * d.C, strideA: Tq * d.C, strideB: 0, offOut: part.row0, strideOut: d.V });
    }
    hf.dispose();
    cache.length = p0 + Tq;
    if (!(d.finalSoftcap > 0)) return z;
    const zc = softcap(z, d.finalSoftcap); // 30·tanh(z/30)
    z.dispose();
    return zc;
  });
}

/** decodeLogits, then reads the (B, V) logits back (row b = sequence b). */
export async function decodeStep(e: Engine, d: Gemma2Dims, p: Gemma2Params, cache: KVCache, ids: Int32Array): Promise<Float32Array> {
  const z = decodeLogits(e, d, p, cache, ids);
  try {
    return await z.readF32();
  } finally {
    z.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// choosing tokens (host side)

/** Index of the largest of z[off … off+n) (the first one on ties, as torch.argmax). */
export function argmax(z: ArrayLike<number>, off = 0, n = z.length - off): number {
  let best = 0;
  let bestVal = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = z[off + i];
    if (x > bestVal) {
      bestVal = x;
      best = i;
    }
  }
  return best;
}

export interface SamplingOptions {
  /** 0 = greedy (argmax); otherwise logits are divided by it before the softmax. */
  temperature: number;
  /** Nucleus: keep the most likely tokens up to this cumulative probability (1 = all). */
  topP: number;
}

/**
 * One token from logits z[off … off+V): greedy when temperature is 0, else a draw from
 * softmax(z / temperature) restricted to the top-p nucleus, using one rng.next().
 */
export function sampleToken(z: ArrayLike<number>, opts: SamplingOptions, rng: Rng, off = 0, V = z.length - off): number {
  if (opts.temperature === 0) return argmax(z, off, V);
  // p_v ∝ exp((z_v − max) / T), in f64 (unnormalised; `mass` is the normaliser).
  const p = new Float64Array(V);
  const zmax = z[off + argmax(z, off, V)];
  let mass = 0;
  for (let v = 0; v < V; v++) mass += p[v] = Math.exp((z[off + v] - zmax) / opts.temperature);
  if (opts.topP < 1) {
    // The nucleus: walk the probabilities from the largest down until the mass reaches top_p; the
    // token that crosses is kept (HF removes a token only if the mass ranked above it is ≥ top_p).
    const sorted = Float64Array.from(p).sort(); // ascending
    let cum = 0;
    let threshold = sorted[V - 1];
    for (let i = V - 1; i >= 0; i--) {
      cum += sorted[i];
      threshold = sorted[i];
      if (cum >= opts.topP * mass) break;
    }
    mass = 0;
    for (let v = 0; v < V; v++) {
      if (p[v] < threshold) p[v] = 0;
      mass += p[v];
    }
  }
  // Inverse CDF in index order.
  let u = rng.next() * mass;
  let last = 0;
  for (let v = 0; v < V; v++) {
    if (p[v] === 0) continue;
    last = v;
    u -= p[v];
    if (u < 0) return v;
  }
  return last; // rounding left u ≥ 0 after the last token
}

// ---------------------------------------------------------------------------------------------
// the generation loop

export interface GenerateOptions {
  /** Tokens to generate at most per sequence (the stop token counts). */
  maxNewTokens: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Nucleus sampling threshold in (0, 1]; default 1 (off). */
  topP?: number;
  /** Seed of the sampler's Rng (default 0). Same seed, same inputs → same tokens. */
  seed?: number;
  /** Generation of a sequence ends after it emits one of these (default [1, 107]). */
  stopIds?: readonly number[];
  /** Token fed on padding rows and to sequences that already stopped (default 0, <pad>). */
  padId?: number;
  /** Called after every step with the step's logits and chosen tokens (e.g. to stream text). */
  onStep?: (info: StepInfo) => void;
}

export interface StepInfo {
  /** 0 = the prefill (its logits choose the first new token). */
  step: number;
  /** (B, V) soft-capped logits of this step, row b = sequence b. */
  logits: Float32Array;
  /** The token chosen per sequence; −1 for sequences that had already stopped. */
  tokens: number[];
  /** Wall time of the step: dispatch, GPU, readback and sampling. */
  ms: number;
}

export interface GenerateResult {
  /** New tokens per sequence, a stop token included as the last one. */
  tokens: number[][];
  /** Why each sequence ended. */
  finish: ('stop' | 'length')[];
  /** Wall time per step, step 0 being the prefill. */
  stepMs: number[];
  /** Prompt tokens (real, all sequences) per second of the prefill. */
  prefillTokensPerSecond: number;
  /** New tokens (all sequences) per second over the steps after the prefill (0 if none). */
  tokensPerSecond: number;
}

/**
 * Generates continuations of one prompt (an array of ids) or a batch of prompts (an array of
 * arrays, left-padded here). The prompt is prefilled in one step, then one token per step until
 * every sequence emitted a stop id or maxNewTokens tokens.
 */
export async function generate(e: Engine, d: Gemma2Dims, p: Gemma2Params, promptIds: ArrayLike<number> | ArrayLike<number>[], opts: GenerateOptions): Promise<GenerateResult> {
  const prompts = isBatch(promptIds) ? promptIds : [promptIds];
  const B = prompts.length;
  const maxNew = opts.maxNewTokens;
  const sampling: SamplingOptions = { temperature: opts.temperature ?? 0, topP: opts.topP ?? 1 };
  const stop = new Set(opts.stopIds ?? DEFAULT_STOP_IDS);
  const padId = opts.padId ?? 0;
  if (B === 0 || prompts.some((q) => q.length === 0)) throw new ShapeError('generate', 'every prompt needs at least one token', 'start the prompt with <bos> (id 2)');
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new ShapeError('generate', `maxNewTokens must be a positive integer, got ${maxNew}`);
  if (!(sampling.temperature >= 0) || !Number.isFinite(sampling.temperature)) throw new ShapeError('generate', `temperature must be ≥ 0 (0 = greedy), got ${sampling.temperature}`);
  if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new ShapeError('generate', `topP must be in (0, 1], got ${sampling.topP}`);
  const rng = new Rng(opts.seed ?? 0);

  // Left-pad to the longest prompt; the cache holds the prompt and every new token but the last.
  const P = Math.max(...prompts.map((q) => q.length));
  const pad = prompts.map((q) => P - q.length);
  const ids = new Int32Array(B * P).fill(padId);
  prompts.forEach((q, b) => ids.set(Array.from(q), b * P + pad[b]));
  const cache = createKVCache(e, d, B, P + maxNew - 1, pad);

  const tokens: number[][] = prompts.map(() => []);
  const finish: ('stop' | 'length' | null)[] = prompts.map(() => null);
  const stepMs: number[] = [];
  try {
    let input = ids;
    for (let step = 0; ; step++) {
      const t0 = performance.now();
      const logits = await decodeStep(e, d, p, cache, input);
      const chosen = prompts.map((_, b) => {
        if (finish[b] !== null) return -1;
        const t = sampleToken(logits, sampling, rng, b * d.V, d.V);
        tokens[b].push(t);
        if (stop.has(t)) finish[b] = 'stop';
        else if (tokens[b].length === maxNew) finish[b] = 'length';
        return t;
      });
      const ms = performance.now() - t0;
      stepMs.push(ms);
      opts.onStep?.({ step, logits, tokens: chosen, ms });
      if (finish.every((f) => f !== null)) break;
      input = Int32Array.from(chosen, (t) => (t < 0 ? padId : t));
    }
  } finally {
    disposeKVCache(cache);
  }
  const decodeMs = stepMs.slice(1).reduce((a, b) => a + b, 0);
  const decodeTokens = tokens.reduce((n, t) => n + Math.max(0, t.length - 1), 0);
  return {
    tokens,
    finish: finish.map((f) => f ?? 'length'),
    stepMs,
    prefillTokensPerSecond: (prompts.reduce((n, q) => n + q.length, 0) * 1000) / Math.max(stepMs[0], 1e-3),
    tokensPerSecond: decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
  };
}

function isBatch(x: ArrayLike<number> | ArrayLike<number>[]): x is ArrayLike<number>[] {
  return x.length > 0 && typeof (x as ArrayLike<unknown>)[0] === 'object';
}
