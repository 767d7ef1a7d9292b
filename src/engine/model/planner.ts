// Memory planner: predicts the GPU memory a Gemma-2 run needs, by category, from config.json alone
// (no weights), so the studio can say "this will not fit" before a download or an import starts.
// Every figure is derived from what the engine actually allocates:
//   weights       each parameter as a GPU f32 tensor (16-bit storage is widened on upload, store/load.ts),
//                 or 2 bytes when kept 16-bit;
//   gradients     one f32 tensor per trainable parameter (full fine-tuning);
//   optimizer     AdamW's m and v: two f32 tensors per trainable parameter;
//   activations   what the tape holds between forward and backward — every input/output of each
//                 recorded op in gemma2.ts blockForward (views share storage and are not counted),
//                 per token per layer: 8C + 3·NH·HD + 3·KVH·HD + 3·FF + NH + 4 floats;
//   logprobs      the fused LM head's forward partials and its bounded backward scratch (ops/logprobs.ts).
// Legend: B batch, T tokens, C hidden, V vocab, L layers, NH/KVH heads, HD head dim, FF MLP width.

import type { Gemma2Config } from './config.ts';
import { expectedTensors, parameterCount } from './config.ts';

export type PlanMode = 'logps' | 'full-finetune';

export interface PlanOptions {
  mode: PlanMode;
  /** Sequences per step. */
  B: number;
  /** Tokens per sequence (padded length). */
  T: number;
  /** Keep frozen weights as 16-bit on the GPU (default false: widened to f32). */
  weights16?: boolean;
}

export interface MemoryPlan {
  /** Bytes per category. */
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  logprobs: number;
  total: number;
  /** The largest single tensor (must fit maxBufferSize / maxStorageBufferBindingSize). */
  largestTensor: { name: string; bytes: number };
  parameters: number;
}

const F32 = 4;
/** Bound of the logprobs backward's g scratch (ops/logprobs.ts SCRATCH_BYTES). */
const LOGPROBS_SCRATCH = 16 * 1024 * 1024;

/** Floats the tape holds per token per layer (see the header). */
export function activationFloatsPerTokenLayer(cfg: Gemma2Config): number {
  const { C, NH, KVH, HD, FF } = cfg;
  return 8 * C + 3 * NH * HD + 3 * KVH * HD + 3 * FF + NH + 4;
}

export function planMemory(cfg: Gemma2Config, opts: PlanOptions): MemoryPlan {
  const P = parameterCount(cfg);
  const tokens = opts.B * opts.T;
  const weightBytes = opts.weights16 ? 2 : F32;
  const training = opts.mode === 'full-finetune';
  const weights = P * weightBytes;
  const gradients = training ? P * F32 : 0;
  const optimizer = training ? 2 * P * F32 : 0;
  // Under noGrad only one layer's intermediates live at a time (and are freed as consumed).
  const layersHeld = training ? cfg.L : 1;
  const activations = tokens * layersHeld * activationFloatsPerTokenLayer(cfg) * F32 + tokens * cfg.C * F32 * (training ? 2 : 1);
  const slices = 32; // forward partial triples per row (defaultSliceSize: ~32 slices)
  const logprobs = tokens * (slices * 3 + 4) * F32 + (training ? Math.min(LOGPROBS_SCRATCH, tokens * cfg.V * F32) : 0);
  let largest = { name: '', bytes: 0 };
  for (const t of expectedTensors(cfg)) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * weightBytes;
    if (bytes > largest.bytes) largest = { name: t.name, bytes };
  }
  return { weights, gradients, optimizer, activations, logprobs, total: weights + gradients + optimizer + activations + logprobs, largestTensor: largest, parameters: P };
}
