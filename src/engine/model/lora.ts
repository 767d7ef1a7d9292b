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

import type { Tensor } from '../tensor.ts';
import type { Gemma2Layer } from './gemma2.ts';

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
