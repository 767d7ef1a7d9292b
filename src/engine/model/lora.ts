// LoRA adapters on a frozen Gemma-2, with PEFT's conventions (peft/tuners/lora): for a targeted
// linear layer y = x·Wᵀ, the adapted layer is
//
//   y = x·Wᵀ + scale · (dropout(x)·Aᵀ)·Bᵀ      A: (r, in), B: (out, r), both f32 and trainable
//   scale = alpha / r   (alpha / √r with rsLoRA)
//
// A starts Kaiming-uniform as PEFT initialises it (kaiming_uniform_(a = √5): U(−1/√in, 1/√in)),
// B starts at zero, so a fresh adapter leaves the model unchanged. Dropout applies to the LoRA
// branch's input only and is seeded per forward (model/linear.ts). `enabled = false` is the base
// model alone: the reference model of DPO-style losses, never a second copy of the weights.
//
// Names: PEFT saves `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` (peftKey).
// The forward's use of an adapter: model/linear.ts (the linear seam), model/gemma2.ts.
// Files (adapter_model.safetensors, adapter_config.json): model/peft.ts.
//
// Dropout seeds: the trainer sets `dropoutSeed` before each training forward (mixSeed of the run
// seed, the step and the micro-batch); a forward captures it when it starts (forwardLora) and each
// targeted module derives its own mask seed from it, its layer and its module (layerLora). null
// means no dropout: evaluation, generation, and every forward outside a training step.

import type { Engine } from '../engine.ts';
import { EngineError } from '../errors.ts';
import { mixSeed } from '../ops/dropout.ts';
import type { Tensor } from '../tensor.ts';
import { Rng } from '../util/rng.ts';
import type { Gemma2Dims, Gemma2Layer } from './gemma2.ts';
import type { LinearLora } from './linear.ts';

/** Gemma-2's linear layers, by the module names PEFT's `target_modules` use. */
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** The Gemma2Layer field each target adapts, and its parent module in the HF state dict. */
export const TARGET_FIELDS: Record<LoraTarget, { field: keyof Gemma2Layer; module: 'self_attn' | 'mlp' }> = {
  q_proj: { field: 'wq', module: 'self_attn' },
  k_proj: { field: 'wk', module: 'self_attn' },
  v_proj: { field: 'wv', module: 'self_attn' },
  o_proj: { field: 'wo', module: 'self_attn' },
  gate_proj: { field: 'wGate', module: 'mlp' },
  up_proj: { field: 'wUp', module: 'mlp' },
  down_proj: { field: 'wDown', module: 'mlp' },
};

/** LoRA settings with PEFT's LoraConfig names in the comments. */
export interface LoraConfig {
  r: number; // r
  alpha: number; // lora_alpha
  dropout: number; // lora_dropout
  targets: LoraTarget[]; // target_modules
  useRslora: boolean; // use_rslora
}

/** TRL's ModelConfig defaults (lora_r 16, lora_alpha 32, lora_dropout 0.05). */
export const LORA_DEFAULTS: LoraConfig = { r: 16, alpha: 32, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false };

/** One adapted linear layer's factors. */
export interface LoraFactors {
  A: Tensor; // (r, in)  f32, trainable
  B: Tensor; // (out, r) f32, trainable
}

export interface LoraAdapter {
  config: LoraConfig;
  /** alpha / r, or alpha / √r with rsLoRA. */
  scale: number;
  /** Per layer, the factors of each targeted module. */
  layers: Partial<Record<LoraTarget, LoraFactors>>[];
  /** false: forwards use the base model alone (the reference model). */
  enabled: boolean;
  /** Seed of the next forwards' LoRA dropout; null or absent = no dropout (see the header). */
  dropoutSeed?: number | null;
}

/** PEFT's scaling factor. */
export function loraScale(c: Pick<LoraConfig, 'r' | 'alpha' | 'useRslora'>): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** PEFT's state-dict key of one factor: base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight */
export function peftKey(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  return `base_model.model.model.layers.${layer}.${TARGET_FIELDS[target].module}.${target}.lora_${which}.weight`;
}

/** Every factor with its PEFT key, layer by layer, targets in LORA_TARGETS order, A before B. */
export function adapterParams(ad: LoraAdapter): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  ad.layers.forEach((layer, i) => {
    for (const t of LORA_TARGETS) {
      const f = layer[t];
      if (!f) continue;
      out.push([peftKey(i, t, 'A'), f.A], [peftKey(i, t, 'B'), f.B]);
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// settings, creation, and what a forward takes

/** `target_modules: all-linear` as PEFT reads it: every linear layer but the output head. */
export const ALL_LINEAR = 'all-linear';

/**
 * Checks LoRA settings (messages name the TRL flag) and returns them with the targets in
 * LORA_TARGETS order, each once. A mistyped target is named with the closest valid one.
 */
export function validateLoraConfig(c: LoraConfig): LoraConfig {
  const bad = (flag: string, what: string, hint?: string): never => {
    throw new EngineError(`--${flag}`, what, hint);
  };
  if (!(Number.isInteger(c.r) && c.r >= 1)) bad('lora_r', `must be an integer >= 1 (the LoRA rank), got ${c.r}`, 'PEFT and TRL default to 16; 8–64 are common');
  if (!(Number.isFinite(c.alpha) && c.alpha > 0)) bad('lora_alpha', `must be a number > 0, got ${c.alpha}`, 'the branch is scaled by lora_alpha / lora_r; TRL defaults to 32');
  if (!(Number.isFinite(c.dropout) && c.dropout >= 0 && c.dropout < 1)) bad('lora_dropout', `must be in [0, 1), got ${c.dropout}`, 'TRL defaults to 0.05; 0 turns dropout off');
  const given = c.targets as readonly string[];
  if (given.length === 0) bad('lora_target_modules', 'names no module', `give some of ${LORA_TARGETS.join(', ')}, or ${ALL_LINEAR}`);
  for (const t of given) {
    if (!(LORA_TARGETS as readonly string[]).includes(t)) {
      bad('lora_target_modules', `'${t}' is not a linear layer of Gemma-2${t === ALL_LINEAR ? ` (${ALL_LINEAR} stands alone)` : `; did you mean ${closestTarget(t)}?`}`, `use some of ${LORA_TARGETS.join(', ')}, or ${ALL_LINEAR} for all of them`);
    }
  }
  return { ...c, targets: LORA_TARGETS.filter((t) => given.includes(t)) };
}

/** The valid target sharing the most character pairs with `word` (start and end marked), first on ties. */
function closestTarget(word: string): LoraTarget {
  const pairs = (s: string): string[] => Array.from({ length: s.length + 1 }, (_, i) => `^${s}$`.slice(i, i + 2));
  const mine = pairs(word.toLowerCase());
  const score = (t: string): number => pairs(t).filter((p) => mine.includes(p)).length;
  return LORA_TARGETS.reduce((best, t) => (score(t) > score(best) ? t : best));
}

/** Input and output features of a target's linear layer: W is (out, in). */
export function targetFeatures(d: Pick<Gemma2Dims, 'C' | 'FF' | 'NH' | 'KVH' | 'HD'>, t: LoraTarget): { inF: number; outF: number } {
  const q = d.NH * d.HD;
  const kv = d.KVH * d.HD;
  const features: Record<LoraTarget, [number, number]> = {
    q_proj: [d.C, q],
    k_proj: [d.C, kv],
    v_proj: [d.C, kv],
    o_proj: [q, d.C],
    gate_proj: [d.C, d.FF],
    up_proj: [d.C, d.FF],
    down_proj: [d.FF, d.C],
  };
  const [inF, outF] = features[t];
  return { inF, outF };
}

/**
 * A fresh adapter for a model of dims `d`: per layer and target, A (r, in) Kaiming-uniform as PEFT
 * (U(−1/√in, 1/√in), drawn from Rng(mixSeed(seed, layer, target index))) and B (out, r) zero, both
 * f32 and requiresGrad. The config is validated first. Enabled, no dropout seed yet.
 */
export function createAdapter(e: Engine, d: Gemma2Dims, config: LoraConfig, seed: number): LoraAdapter {
  const c = validateLoraConfig(config);
  const layers: Partial<Record<LoraTarget, LoraFactors>>[] = [];
  for (let i = 0; i < d.L; i++) {
    const layer: Partial<Record<LoraTarget, LoraFactors>> = {};
    for (const t of c.targets) {
      const { inF, outF } = targetFeatures(d, t);
      const rng = new Rng(mixSeed(seed >>> 0, i, LORA_TARGETS.indexOf(t)));
      const bound = 1 / Math.sqrt(inF);
      const a = Float32Array.from({ length: c.r * inF }, () => rng.uniform(-bound, bound));
      const A = e.keep(e.tensor(a, [c.r, inF], { requiresGrad: true, label: `lora.${i}.${t}.A` }));
      const B = e.keep(e.zeros([outF, c.r], `lora.${i}.${t}.B`));
      B.requiresGrad = true;
      layer[t] = { A, B };
    }
    layers.push(layer);
  }
  return { config: c, scale: loraScale(c), layers, enabled: true, dropoutSeed: null };
}

/** Frees every factor (and its gradient). */
export function disposeAdapter(ad: LoraAdapter): void {
  for (const [, t] of adapterParams(ad)) t.dispose();
}

/** Trainable parameters of an adapter. */
export function adapterParamCount(ad: LoraAdapter): number {
  return adapterParams(ad).reduce((s, [, t]) => s + t.size, 0);
}

/**
 * Runs `fn` with the adapter off (the base model: DPO's reference) and restores its state after,
 * also when `fn` throws. Without an adapter it just runs `fn`.
 */
export async function withAdapterOff<T>(ad: LoraAdapter | undefined, fn: () => Promise<T>): Promise<T> {
  if (!ad) return fn();
  const was = ad.enabled;
  ad.enabled = false;
  try {
    return await fn();
  } finally {
    ad.enabled = was;
  }
}

/** What one forward takes from an adapter, captured when the forward starts. */
export interface ForwardLora {
  adapter: LoraAdapter;
  dropoutSeed: number | null;
}

/** The adapter as a forward starting now sees it (null: off or absent, the base model). */
export function forwardLora(ad: LoraAdapter | undefined): ForwardLora | null {
  return ad?.enabled ? { adapter: ad, dropoutSeed: ad.dropoutSeed ?? null } : null;
}

/** The LoRA of layer `layer`'s module `target` in a forward, or undefined when it has none. */
export function layerLora(f: ForwardLora | null | undefined, layer: number, target: LoraTarget): LinearLora | undefined {
  const factors = f?.adapter.layers[layer]?.[target];
  if (!f || !factors) return undefined;
  const p = f.dropoutSeed === null ? 0 : f.adapter.config.dropout;
  return { factors, scale: f.adapter.scale, dropout: p, seed: p === 0 ? 0 : mixSeed(f.dropoutSeed!, layer, LORA_TARGETS.indexOf(target)) };
}
