// The Train screen's memory estimate before a run starts: src/engine/model/planner.ts planMemory
// over the chosen model's config.json (read from the weight store on the page, as dataset.ts reads
// tokenizer files), for the batch, sequence length, LoRA rank, optimizer and gradient
// checkpointing the settings give — by category, with a refusal, naming what to change, when the
// run cannot work on this adapter.
//
// The refusal is the planner's fits(): a tensor that cannot be split over one buffer binding, or
// (software adapters, when the browser tells) more than the computer's memory. WebGPU does not
// tell a page how much memory a GPU has, so on a GPU the total is shown, not checked.

import { parseGemma2Config, type Gemma2Config } from '../../engine/model/config.ts';
import { CATEGORIES, fits, planMemory, type Category, type MemoryPlan } from '../../engine/model/planner.ts';
import type { KVBackend } from '../../engine/store/kv.ts';
import { createIdbBackend } from '../../engine/store/kv_idb.ts';
import { getManifest } from '../../engine/store/manifest.ts';
import { fmtBytes } from '../shared/format.ts';
import type { PlanView } from '../store/slices/train/initialState.ts';

/** What the estimate depends on, with the settings' effective values. */
export interface PlanInput {
  modelId: string;
  /** Pairs per micro-batch (per_device_train_batch_size). */
  batch: number;
  /** Longest sequence in tokens: min(max_length, the data's longest), or max_length without data. */
  tokens: number;
  lora: { r: number } | null;
  /** The stored matrices are bf16/f16: a LoRA base keeps them 16-bit on the GPU (load.ts FROZEN_16BIT). */
  stored16: boolean;
  gradientCheckpointing: boolean;
  optim: 'adamw_torch' | 'rmsprop';
  /** Device limits as the worker reported them (name → value). */
  limits: Record<string, number>;
  isSoftware: boolean;
}

let kv: KVBackend | null = null;
const configs = new Map<string, Promise<{ name: string; cfg: Gemma2Config }>>();

/** A stored model's config.json, parsed (cached per id). */
function modelConfig(id: string): Promise<{ name: string; cfg: Gemma2Config }> {
  let p = configs.get(id);
  if (!p) {
    p = (async () => {
      kv ??= createIdbBackend();
      const m = await getManifest(kv, id);
      if (!m) throw new Error(`model '${id}' is not in the weight store yet`);
      return { name: m.name, cfg: parseGemma2Config(m.config, `stored model '${m.name}': config.json`) };
    })();
    configs.set(id, p);
    p.catch(() => configs.delete(id));
  }
  return p;
}

/** Each category's name on the screen. */
const LABEL: Record<Category, string> = {
  frozenWeights: 'frozen weights',
  trainableWeights: 'trainable weights',
  gradients: 'gradients',
  optimizer: 'optimizer state',
  activations: 'activations',
  logits: 'LM head',
  workspace: 'workspace',
};

/** What each category holds, in a few words (planner.ts' header says it in full). */
const WHAT: Record<Category, string> = {
  frozenWeights: 'the frozen base (LoRA), matrices kept 16-bit',
  trainableWeights: 'the weights the optimizer updates, f32',
  gradients: 'one per trainable weight',
  optimizer: "AdamW's two moments (RMSProp: one) per trainable weight",
  activations: 'what the backward needs from the forward',
  logits: "the fused LM head's partial sums and its backward chunk",
  workspace: "the backward's temporaries in one layer",
};

/** The estimate for `inp`, or throws when the model's config cannot be read. */
export async function planRun(inp: PlanInput): Promise<PlanView> {
  const { name, cfg } = await modelConfig(inp.modelId);
  return planView(cfg, name, inp);
}

/** The estimate for a model of config `cfg` (named `name`). */
export function planView(cfg: Gemma2Config, name: string, inp: Omit<PlanInput, 'modelId'>): PlanView {
  const B = 2 * inp.batch; // chosen and rejected rows
  const T = Math.max(1, inp.tokens);
  const plan = planMemory(cfg, {
    mode: inp.lora ? 'lora' : 'full-finetune',
    B,
    T,
    weights16: inp.lora !== null && inp.stored16,
    ...(inp.lora ? { lora: { r: inp.lora.r } } : {}),
    gradientCheckpointing: inp.gradientCheckpointing,
    optim: inp.optim,
  });
  const parts = CATEGORIES.filter((c) => plan[c] > 0).map((c) => ({ name: LABEL[c], bytes: plan[c], what: WHAT[c] }));
  return {
    modelName: name,
    mode: inp.lora ? 'lora' : 'full',
    sequences: B,
    tokens: T,
    parts,
    live: plan.live,
    peakPhase: plan.peakPhase,
    total: plan.total,
    trainable: plan.trainableParameters,
    refusal: refusal(plan, inp),
    note: note(plan.total, inp),
  };
}

/**
 * Why this run cannot work on the adapter, with what to change (planner.ts fits: per-buffer limits,
 * and the memory budget on a software adapter when the browser says how much memory the computer
 * has), in the screen's words: settings by their names, without the CLI's dashes. Null if it fits.
 */
function refusal(plan: MemoryPlan, inp: Omit<PlanInput, 'modelId'>): string | null {
  const { maxBufferSize, maxStorageBufferBindingSize } = inp.limits;
  if (maxBufferSize === undefined || maxStorageBufferBindingSize === undefined) return null;
  // navigator.deviceMemory is capped at 8 (GB): only a smaller figure is a limit
  const gb = typeof navigator === 'undefined' ? undefined : (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  const memoryBytes = inp.isSoftware && gb !== undefined && gb < 8 ? gb * 1e9 : undefined;
  const check = fits(plan, { maxBufferSize, maxStorageBufferBindingSize, ...(memoryBytes !== undefined ? { memoryBytes } : {}) });
  if (check.ok) return null;
  const words = (s: string): string => s.replace(/--(\w+)/g, '$1');
  return `${words(check.problems.join('; '))}. Change, in this order until it fits: ${words(check.advice.join('; '))}.`;
}

function note(total: number, inp: Omit<PlanInput, 'modelId'>): string {
  const where = inp.isSoftware ? "This adapter runs on the processor, so it uses the computer's memory" : 'A page cannot see how much memory the GPU has';
  return `${where}: if it has less than ${fmtBytes(total)} free, the run stops with an out-of-memory error.`;
}
