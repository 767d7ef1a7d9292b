// The memory planner (src/engine/model/planner.ts) against the pool's measured peak (issue 9: within
// 10 % on tiny configs): full fine-tuning on an f32 model, LoRA on an f32 base, LoRA on a bf16 base,
// and both kinds with gradient checkpointing. Each run gets a fresh engine, loads a seeded tiny
// Gemma-2 made in memory, and takes three optimizer steps (AdamW, DPO against a fixed reference) on
// pairs of one length, so every step has the same shapes; the pool's peak over the whole run
// (weights, optimizer state, every step) is compared with planMemory for the same B and T.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { expectedTensors, parseGemma2Config, type Gemma2Config } from '../../src/engine/model/config.ts';
import { dimsFromConfig } from '../../src/engine/model/gemma2.ts';
import { gemma2ParamsFromTensors } from '../../src/engine/model/load.ts';
import { createAdapter, LORA_DEFAULTS, type LoraConfig } from '../../src/engine/model/lora.ts';
import { planMemory, type PlanOptions } from '../../src/engine/model/planner.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { defaultLossConfig } from '../../src/engine/train/losses.ts';
import { TRAIN_DEFAULTS, Trainer, type TrainExample } from '../../src/engine/train/trainer.ts';
import { f32ToBf16Bits } from '../../src/engine/util/halfs.ts';
import { Rng } from '../../src/engine/util/rng.ts';

const cfg: Gemma2Config = parseGemma2Config(
  {
    model_type: 'gemma2',
    vocab_size: 1024,
    hidden_size: 128,
    intermediate_size: 512,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 32,
    query_pre_attn_scalar: 32,
    sliding_window: 16,
    attn_logit_softcapping: 50.0,
    final_logit_softcapping: 30.0,
    rms_norm_eps: 1e-6,
    rope_theta: 10000.0,
    hidden_activation: 'gelu_pytorch_tanh',
    max_position_embeddings: 256,
  },
  'planner test config',
);
const PAIRS = 4;
const PROMPT = 20;
const ANSWER = 27; // every row: prompt + answer tokens, so T = 47 in every step
const STEPS = 3;

interface Case {
  name: string;
  lora: LoraConfig | null;
  bf16: boolean;
  checkpointing: boolean;
}

/** Seeded weights: matrices bf16 (frozen base) or f32, norms f32; all frozen under LoRA. */
function makeParams(e: Engine, bf16: boolean, trainable: boolean) {
  const rng = new Rng(11);
  const tensors = new Map<string, Tensor>();
  for (const { name, shape } of expectedTensors(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from(name.endsWith('norm.weight') ? rng.array(n, -0.1, 0.1) : rng.normals(n, 0.02));
    const t = bf16 && shape.length > 1 ? e.tensor(f32ToBf16Bits(data), shape, { dtype: 'bf16', label: name }) : e.tensor(data, shape, { label: name, requiresGrad: trainable });
    tensors.set(name, t);
  }
  return gemma2ParamsFromTensors(cfg, tensors);
}

async function measure(c: Case): Promise<{ peak: number; livePeak: number; T: number }> {
  const e = await createNodeEngine();
  try {
    const params = makeParams(e, c.bf16, c.lora === null);
    if (c.lora) params.adapter = createAdapter(e, dimsFromConfig(cfg), c.lora, 3);
    const rng = new Rng(5);
    const ids = (n: number): number[] => Array.from({ length: n }, () => rng.int(3, cfg.V));
    const examples: TrainExample[] = Array.from({ length: PAIRS * STEPS }, (_, row) => ({ row, promptIds: [2, ...ids(PROMPT - 1)], chosenIds: [...ids(ANSWER - 1), 1], rejectedIds: [...ids(ANSWER - 1), 1] }));
    const reference = new Float32Array(2 * examples.length).fill(-100);
    const trainer = new Trainer(e, dimsFromConfig(cfg), params, examples, reference, {
      ...TRAIN_DEFAULTS,
      loss: defaultLossConfig(),
      batchSize: PAIRS,
      maxSteps: STEPS,
      learningRate: 1e-4,
      shuffle: false,
      gradientCheckpointing: c.checkpointing,
    });
    for (let s = 0; s < STEPS; s++) {
      const rec = await trainer.trainStep();
      if (rec.skipped) throw new Error(`${c.name}: step ${s + 1} was skipped: ${rec.skipped}`);
    }
    const { peak, livePeak } = e.pool.getStats();
    trainer.dispose();
    return { peak, livePeak, T: PROMPT + ANSWER };
  } finally {
    e.destroy();
  }
}

const lora = { ...LORA_DEFAULTS, r: 8, alpha: 16, dropout: 0.1 };
const CASES: Case[] = [
  { name: 'full fine-tuning, f32', lora: null, bf16: false, checkpointing: false },
  { name: 'LoRA r 8 on an f32 base', lora, bf16: false, checkpointing: false },
  { name: 'LoRA r 8 on a bf16 base', lora, bf16: true, checkpointing: false },
  { name: 'LoRA r 8 on a bf16 base, gradient checkpointing', lora, bf16: true, checkpointing: true },
  { name: 'full fine-tuning, f32, gradient checkpointing', lora: null, bf16: false, checkpointing: true },
];

describe('memory planner vs the pool\'s measured peak (within 10 %)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const m = await measure(c);
      const opts: PlanOptions = { mode: c.lora ? 'lora' : 'full-finetune', B: 2 * PAIRS, T: m.T, weights16: c.bf16, gradientCheckpointing: c.checkpointing, ...(c.lora ? { lora: c.lora } : {}) };
      const plan = planMemory(cfg, opts);
      const ratio = m.peak / plan.total;
      console.log(`[planner] ${c.name}: pool peak ${(m.peak / 2 ** 20).toFixed(2)} MiB, planner ${(plan.total / 2 ** 20).toFixed(2)} MiB (pool/planner ${ratio.toFixed(3)}); live tensors ${(m.livePeak / 2 ** 20).toFixed(2)} MiB vs planner live ${(plan.live / 2 ** 20).toFixed(2)} MiB at ${plan.peakPhase}`);
      expect(ratio, `${c.name}: pool peak / planner total`).toBeGreaterThan(0.9);
      expect(ratio, `${c.name}: pool peak / planner total`).toBeLessThan(1.1);
    }, 600_000);
  }
});
