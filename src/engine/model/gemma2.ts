// Gemma-2 (Hugging Face `Gemma2ForCausalLM`, eager attention) on the engine's ops.
// Source of truth: shared/specs/gemma2-and-formats.md §1 (architecture, exact op order) and §7
// (checklist). Reads top to bottom like llm.c's train_gpt2.c: the parameter struct with a shape
// comment on every field, then one block's forward, then the model forward and the per-token
// log-probs. The backward is the tape's reverse walk over exactly these calls (each op's backward
// sits next to its forward in src/engine/ops/*.ts); `blockForward` lists them in order so the
// reverse order reads off directly.
//
// Every projection is model/linear.ts's linear(x, W, lora?): with an enabled LoRA adapter
// (p.adapter, model/lora.ts) the layer's factors join the base weight there.
//
// Not here: loading weights (store/, load.ts), tokenization (data/), the label shift, batching and
// losses (train/).
//
// Legend: B batch, T tokens, C hidden_size, V vocab, L layers, NH query heads, KVH kv heads,
// HD head_dim, FF intermediate_size.

import type { Engine } from '../engine.ts';
import { ShapeError } from '../errors.ts';
import { add } from '../ops/elementwise.ts';
import { attention } from '../ops/attention.ts';
import { embedding } from '../ops/embedding.ts';
import { geglu } from '../ops/gelu_tanh.ts';
import { logprobs, type LogprobsResult } from '../ops/logprobs.ts';
import { rmsnorm } from '../ops/rmsnorm.ts';
import { rope } from '../ops/rope.ts';
import { recompute } from '../recompute.ts';
import { isRowSplit, type VocabTable } from '../table.ts';
import type { Tensor } from '../tensor.ts';
import type { Gemma2Config } from './config.ts';
import { linear } from './linear.ts';
import { forwardLora, layerLora, type ForwardLora, type LoraAdapter, type LoraTarget } from './lora.ts';

/** The sizes and constants the forward needs (derived from config.json by model/config.ts). */
export interface Gemma2Dims {
  V: number;
  C: number;
  FF: number;
  L: number;
  NH: number;
  KVH: number;
  HD: number;
  /** query_pre_attn_scalar: scores are scaled by its inverse square root. */
  queryPreAttnScalar: number;
  attnSoftcap: number; // 0 = none
  finalSoftcap: number; // 0 = none
  slidingWindow: number;
  /** Per layer: sliding (local) or full (global) attention. HF default: even layers sliding. */
  layerTypes: ('sliding' | 'full')[];
  ropeTheta: number;
  rmsNormEps: number;
}

/** The forward's view of a parsed config.json (null softcaps become 0 = none). */
export function dimsFromConfig(cfg: Gemma2Config): Gemma2Dims {
  return {
    V: cfg.V,
    C: cfg.C,
    FF: cfg.FF,
    L: cfg.L,
    NH: cfg.NH,
    KVH: cfg.KVH,
    HD: cfg.HD,
    queryPreAttnScalar: cfg.queryPreAttnScalar,
    attnSoftcap: cfg.attnSoftcap ?? 0,
    finalSoftcap: cfg.finalSoftcap ?? 0,
    slidingWindow: cfg.slidingWindow ?? 0,
    layerTypes: [...cfg.layerTypes],
    ropeTheta: cfg.ropeTheta,
    rmsNormEps: cfg.rmsNormEps,
  };
}

export interface Gemma2Layer {
  inputNorm: Tensor; // (C)           input_layernorm, used as (1 + w)
  wq: Tensor; // (NH·HD, C)           self_attn.q_proj
  wk: Tensor; // (KVH·HD, C)          self_attn.k_proj
  wv: Tensor; // (KVH·HD, C)          self_attn.v_proj
  wo: Tensor; // (C, NH·HD)           self_attn.o_proj
  postAttnNorm: Tensor; // (C)        post_attention_layernorm
  preFfwNorm: Tensor; // (C)          pre_feedforward_layernorm
  wGate: Tensor; // (FF, C)           mlp.gate_proj
  wUp: Tensor; // (FF, C)             mlp.up_proj
  wDown: Tensor; // (C, FF)           mlp.down_proj
  postFfwNorm: Tensor; // (C)         post_feedforward_layernorm
}

export interface Gemma2Params {
  embed: VocabTable; // (V, C)       model.embed_tokens, also the (tied) output projection; one tensor
  //                                  or row parts when over one storage binding (engine/table.ts)
  layers: Gemma2Layer[]; // L
  finalNorm: Tensor; // (C)           model.norm
  adapter?: LoraAdapter; //             LoRA factors per layer (trainable; the base is then frozen)
  /** Recompute each layer in the backward instead of keeping its activations (HF gradient_checkpointing). */
  gradientCheckpointing?: boolean;
}

/** HF tensor names of one layer's fields (the safetensors layout, spec §1.2). */
export const LAYER_TENSORS: Record<keyof Gemma2Layer, string> = {
  inputNorm: 'input_layernorm.weight',
  wq: 'self_attn.q_proj.weight',
  wk: 'self_attn.k_proj.weight',
  wv: 'self_attn.v_proj.weight',
  wo: 'self_attn.o_proj.weight',
  postAttnNorm: 'post_attention_layernorm.weight',
  preFfwNorm: 'pre_feedforward_layernorm.weight',
  wGate: 'mlp.gate_proj.weight',
  wUp: 'mlp.up_proj.weight',
  wDown: 'mlp.down_proj.weight',
  postFfwNorm: 'post_feedforward_layernorm.weight',
};

/**
 * Every parameter tensor with its HF name, in state-dict order. A split embedding contributes one
 * entry per row part, named `model.embed_tokens.weight[row0:row1]` (each part has its own grad).
 */
export function namedParams(p: Gemma2Params): [string, Tensor][] {
  const emb = 'model.embed_tokens.weight';
  const out: [string, Tensor][] = isRowSplit(p.embed) ? p.embed.parts.map((q) => [`${emb}[${q.row0}:${q.row1}]`, q.tensor]) : [[emb, p.embed]];
  p.layers.forEach((layer, i) => {
    for (const [field, name] of Object.entries(LAYER_TENSORS)) out.push([`model.layers.${i}.${name}`, layer[field as keyof Gemma2Layer]]);
  });
  out.push(['model.norm.weight', p.finalNorm]);
  return out;
}

/** √C rounded to f32, the embedding normaliser in an f32 model (spec §1.4 step 1). */
export function embedScale(C: number): number {
  return Math.fround(Math.sqrt(C));
}

/** One batch of token sequences, right-padded to T. */
export interface Gemma2Batch {
  B: number;
  T: number;
  /** (B·T) token ids; padding positions hold any valid id (e.g. pad = 0). */
  ids: Int32Array;
  /** (B·T) 1 = real token, 0 = padding: padded keys are masked for every query. Omit for none. */
  attentionMask?: Int32Array;
}

/**
 * The attention core of layer i: RoPE'd queries and keys and the values of this forward's tokens →
 * the attention output (B, T, NH, HD). Training attends within the sequence (attentionStep below);
 * generation writes k/v into its cache and attends over it (generate.ts).
 */
export type AttendFn = (i: number, q: Tensor, k: Tensor, v: Tensor) => Tensor;

/** Context shared by all layers of one forward. */
export interface ForwardCtx {
  e: Engine;
  d: Gemma2Dims;
  B: number;
  T: number;
  positions: Tensor; // (T) or (B, T) i32 RoPE positions (training: arange(T), also for right padding)
  attend: AttendFn;
  /** The LoRA adapter as this forward started (lora.ts forwardLora); absent or null: the base alone. */
  lora?: ForwardLora | null;
}

/** Causal (and, on sliding layers, windowed) attention within the batch's sequences. */
export function attentionStep(d: Gemma2Dims, keyMask: Tensor | null): AttendFn {
  return (i, q, k, v) =>
    attention(q, k, v, {
      scale: d.queryPreAttnScalar ** -0.5,
      softcap: d.attnSoftcap,
      window: d.layerTypes[i] === 'sliding' ? d.slidingWindow : 0,
      keyMask,
    });
}

/**
 * One decoder layer, h (B·T, C) → (B·T, C) (spec §1.4 step 2). Sandwich norms: each sub-block is
 * normalised on the way in and out, and the residual is added after the post-norm.
 * Each sub-block runs in a tidy() scope: its intermediates are freed when it returns (the tape keeps
 * what backward needs), so the layer's peak holds one sub-block's temporaries.
 */
export function blockForward(ctx: ForwardCtx, layer: Gemma2Layer, i: number, h: Tensor): Tensor {
  const { e, d, B, T } = ctx;
  const lo = (t: LoraTarget) => layerLora(ctx.lora, i, t); // this layer's LoRA of module t, if any
  // ---- attention sub-block
  const h1 = e.tidy(() => {
    const a = rmsnorm(h, layer.inputNorm, d.rmsNormEps); // (B·T, C)
    const q = e.view(linear(a, layer.wq, lo('q_proj')), [B, T, d.NH, d.HD]); // a · Wqᵀ
    const k = e.view(linear(a, layer.wk, lo('k_proj')), [B, T, d.KVH, d.HD]);
    const v = e.view(linear(a, layer.wv, lo('v_proj')), [B, T, d.KVH, d.HD]);
    const qr = rope(q, ctx.positions, d.ropeTheta); // (B, T, NH, HD) half-split rotation
    const kr = rope(k, ctx.positions, d.ropeTheta); // (B, T, KVH, HD)
    const o = e.view(ctx.attend(i, qr, kr, v), [B * T, d.NH * d.HD]); // softcap before the mask, window on sliding layers
    const attnOut = linear(o, layer.wo, lo('o_proj')); // (B·T, C)
    return add(h, rmsnorm(attnOut, layer.postAttnNorm, d.rmsNormEps)); // residual after the post-norm
  });
  // ---- MLP sub-block (GeGLU with tanh GELU on the gate)
  return e.tidy(() => {
    const m = rmsnorm(h1, layer.preFfwNorm, d.rmsNormEps); // (B·T, C)
    const gate = linear(m, layer.wGate, lo('gate_proj')); // (B·T, FF)
    const up = linear(m, layer.wUp, lo('up_proj')); // (B·T, FF)
    const act = geglu(gate, up); // (B·T, FF) = gelu_tanh(gate) ⊙ up
    const down = linear(act, layer.wDown, lo('down_proj')); // (B·T, C)
    const h2 = add(h1, rmsnorm(down, layer.postFfwNorm, d.rmsNormEps));
    h1.dispose();
    return h2;
  });
}

/** Final hidden states (B·T, C) after the last norm — the input of the tied LM head. */
export function forwardHidden(e: Engine, d: Gemma2Dims, p: Gemma2Params, batch: Gemma2Batch): Tensor {
  const { B, T, ids } = batch;
  if (ids.length !== B * T) throw new ShapeError('gemma2.forward', `${ids.length} ids for B = ${B}, T = ${T}`);
  if (p.layers.length !== d.L) throw new ShapeError('gemma2.forward', `${p.layers.length} layers loaded, config says L = ${d.L}`);
  const positions = e.tensor(Int32Array.from({ length: T }, (_, t) => t), [T], { dtype: 'i32', label: 'gemma2.positions' });
  const keyMask = batch.attentionMask ? e.tensor(batch.attentionMask, [B, T], { dtype: 'i32', label: 'gemma2.keyMask' }) : null;
  const ctx: ForwardCtx = { e, d, B, T, positions, attend: attentionStep(d, keyMask), lora: forwardLora(p.adapter) };
  let h = embedding(p.embed, ids, { shape: [B * T], scale: embedScale(d.C) }); // (B·T, C)
  for (let i = 0; i < d.L; i++) {
    const layer = p.layers[i];
    // gradient checkpointing: keep only the layer's input; the backward re-runs the layer (recompute.ts)
    const next = p.gradientCheckpointing ? recompute(e, (x) => blockForward(ctx, layer, i, x), [h], `gemma2.layer${i}`) : blockForward(ctx, layer, i, h);
    h.dispose();
    h = next;
  }
  const out = rmsnorm(h, p.finalNorm, d.rmsNormEps);
  h.dispose();
  positions.dispose();
  keyMask?.dispose();
  return out;
}

/**
 * Per-position log-probs of `labels` (B·T ids, −100 = ignored) for a batch: the final hidden states
 * through the fused chunked LM-head kernel on the soft-capped logits (ops/logprobs.ts), giving
 * per-position logp, lse and log Σp² (ignored positions hold 0). Which label each position gets
 * (TRL's shift by one) is decided by the caller: train/sequences.ts is the one place that does it.
 * `extras` also returns the detached per-position vocabulary mean of the logits and argmax hits.
 */
export function sequenceLogprobs(e: Engine, d: Gemma2Dims, p: Gemma2Params, batch: Gemma2Batch, labels: Int32Array, opts: { extras?: boolean } = {}): LogprobsResult {
  const { B, T } = batch;
  if (labels.length !== B * T) throw new ShapeError('gemma2.logprobs', `labels has ${labels.length} entries for B·T = ${B * T}`);
  const h = forwardHidden(e, d, p, batch);
  const labelT = e.tensor(labels, [B * T], { dtype: 'i32', label: 'gemma2.labels' });
  const r = logprobs(h, p.embed, labelT, { softcap: d.finalSoftcap, extras: opts.extras ?? false });
  h.dispose();
  labelT.dispose();
  return r;
}
