// LoRA vs full fine-tuning (issue 9 "Benchmark"): the trainer's optimizer step on the same model
// and batches with every weight trained (f32), with LoRA on the frozen 16-bit base, and each with
// gradient checkpointing — tokens/s, the pool's peak GPU bytes against the memory planner's
// prediction (model/planner.ts), and the bytes per parameter the frozen base takes on the GPU
// (goal: 2, i.e. bf16 kept as bf16).
//
//   npm run bench [-- --json] [-- --quick]          (bench/main.ts runs it after bench/train.ts)
//   node --import tsx --import ./scripts/wgsl-register.mjs bench/memory.ts [--json] [--quick]
//
// Models: the demo (public/demo/model, a bf16 checkpoint, on its preference set) and the
// synthetic config of bench/train.ts (C 256, FF 1024, L 4, V 2048; seeded weights, given as bf16
// for the LoRA base and as f32 for full fine-tuning, which trains f32 weights anyway). LoRA: TRL's
// defaults (r 16, alpha 32, dropout 0.05, all seven projections). DPO sigmoid against a fixed
// reference (the reference pass is not what is measured), 8 pairs per step, AdamW, constant lr.
// Every case gets a fresh engine, so its pool peak is its own: W steps warm up, W more are timed.
//
// Output contract (--json; under "memory" in `npm run bench -- --json`): { adapter, pairs_per_step,
// cases: [{ model, mode, parameters, trainable_parameters, frozen_bytes_per_parameter, T_max,
// tokens_per_step, tokens_per_s, step_ms, pool_peak_bytes, live_peak_bytes, planner_bytes,
// planner_live_bytes, pool_vs_planner, speed_vs_full, peak_vs_full }] }

import type { CliIO } from '../src/cli/args.ts';
import { loadExamples, openModelFolder } from '../src/cli/model.ts';
import type { Engine } from '../src/engine/engine.ts';
import { parameterCount, parseGemma2Config, type Gemma2Config } from '../src/engine/model/config.ts';
import { dimsFromConfig, namedParams, type Gemma2Params } from '../src/engine/model/gemma2.ts';
import { checkpointWeights, FROZEN_16BIT, gemma2ParamsFromTensors, loadGemma2 } from '../src/engine/model/load.ts';
import { createAdapter, LORA_DEFAULTS } from '../src/engine/model/lora.ts';
import { planMemory } from '../src/engine/model/planner.ts';
import { createNodeEngine } from '../src/engine/node.ts';
import type { Tensor } from '../src/engine/tensor.ts';
import { defaultLossConfig } from '../src/engine/train/losses.ts';
import { packPairs } from '../src/engine/train/sequences.ts';
import { TRAIN_DEFAULTS, Trainer, type TrainExample } from '../src/engine/train/trainer.ts';
import { f32ToBf16Bits } from '../src/engine/util/halfs.ts';
import { Rng } from '../src/engine/util/rng.ts';
import { adapterJson, adapterLine, runIfMain, type AdapterJson, type BenchOptions } from './common.ts';
import { DEMO_DATA, DEMO_MODEL, PAIRS_PER_STEP, SYNTHETIC_CONFIG, syntheticPairs, syntheticWeights } from './train.ts';

type Mode = 'full' | 'full+ckpt' | 'lora' | 'lora+ckpt';

export interface MemoryCase {
  model: string;
  mode: Mode;
  parameters: number;
  trainable_parameters: number;
  /** GPU bytes of the frozen base per base parameter (full fine-tuning: the f32 weights, 4). */
  frozen_bytes_per_parameter: number;
  T_max: number;
  tokens_per_step: number;
  tokens_per_s: number;
  step_ms: number;
  pool_peak_bytes: number;
  live_peak_bytes: number;
  planner_bytes: number;
  planner_live_bytes: number;
  pool_vs_planner: number;
  /** tokens/s relative to full fine-tuning of the same model. */
  speed_vs_full: number;
  /** Pool peak relative to full fine-tuning of the same model. */
  peak_vs_full: number;
}

export interface MemoryBench {
  adapter: AdapterJson;
  pairs_per_step: number;
  cases: MemoryCase[];
}

const quiet: CliIO = { stdout: () => {}, log: () => {} };

/** A model on a fresh engine: trainable f32 (full fine-tuning) or a frozen base with 16-bit matrices (LoRA). */
interface Model {
  cfg: Gemma2Config;
  params: Gemma2Params;
  examples: TrainExample[];
}

async function demoModel(e: Engine, frozen: boolean, pairs: number): Promise<Model> {
  const opened = await openModelFolder(DEMO_MODEL, quiet);
  const { examples } = await loadExamples(opened, DEMO_DATA, defaultLossConfig(), {}, quiet);
  const loaded = await loadGemma2(e, checkpointWeights(opened.ckpt), { trainable: !frozen, keep16: frozen ? FROZEN_16BIT : false });
  return { cfg: loaded.cfg, params: loaded.params, examples: examples.slice(0, pairs) };
}

function syntheticModel(e: Engine, frozen: boolean, pairs: number): Model {
  const cfg = parseGemma2Config(SYNTHETIC_CONFIG, 'bench synthetic config');
  const rng = new Rng(20250101);
  const tensors = new Map<string, Tensor>();
  for (const [name, { data, shape }] of syntheticWeights(cfg, rng)) {
    tensors.set(name, frozen && shape.length > 1 ? e.tensor(f32ToBf16Bits(data), shape, { dtype: 'bf16', label: name }) : e.tensor(data, shape, { requiresGrad: !frozen, label: name }));
  }
  return { cfg, params: gemma2ParamsFromTensors(cfg, tensors), examples: syntheticPairs(cfg, rng, pairs) };
}

async function runCase(name: string, make: (e: Engine, frozen: boolean, pairs: number) => Model | Promise<Model>, mode: Mode, W: number, log: (s: string) => void): Promise<Omit<MemoryCase, 'speed_vs_full' | 'peak_vs_full'>> {
  const e = await createNodeEngine();
  try {
    const lora = mode.startsWith('lora');
    const ckpt = mode.endsWith('+ckpt');
    const m = await make(e, lora, W * PAIRS_PER_STEP);
    const base = namedParams(m.params);
    const frozenBytes = base.reduce((s, [, t]) => s + t.byteLength, 0) / base.reduce((s, [, t]) => s + t.size, 0);
    const loraConfig = { ...LORA_DEFAULTS };
    if (lora) m.params.adapter = createAdapter(e, dimsFromConfig(m.cfg), loraConfig, 1);
    const reference = new Float32Array(2 * m.examples.length).fill(-50); // fixed: the reference pass is not measured
    const trainer = new Trainer(e, dimsFromConfig(m.cfg), m.params, m.examples, reference, {
      ...TRAIN_DEFAULTS,
      loss: defaultLossConfig(),
      batchSize: PAIRS_PER_STEP,
      maxSteps: 2 * W,
      learningRate: 1e-5,
      lrSchedulerType: 'constant',
      shuffle: false,
      gradientCheckpointing: ckpt,
    });
    const packed = Array.from({ length: W }, (_, s) => packPairs(trainer.microBatches(s)[0].map((i) => m.examples[i])));
    let ms = 0;
    let tokens = 0;
    for (let s = 0; s < 2 * W; s++) {
      const t0 = performance.now();
      const rec = await trainer.trainStep();
      const dt = performance.now() - t0;
      if (rec.skipped) throw new Error(`bench memory ${name} ${mode}: step ${rec.step} was skipped (${rec.skipped})`);
      if (s >= W) {
        ms += dt;
        tokens += packed[s % W].tokens;
      }
      log(`  ${name} ${mode} step ${s + 1}/${2 * W}: ${dt.toFixed(0)} ms, loss ${rec.loss.toFixed(5)}`);
    }
    const { peak, livePeak } = e.pool.getStats();
    const T = Math.max(...packed.map((p) => p.T));
    const plan = planMemory(m.cfg, {
      mode: lora ? 'lora' : 'full-finetune',
      B: 2 * PAIRS_PER_STEP,
      T,
      weights16: lora,
      ...(lora ? { lora: loraConfig } : {}),
      gradientCheckpointing: ckpt,
    });
    const trainable = trainer.namedParams.reduce((s, [, t]) => s + t.size, 0);
    trainer.dispose();
    return {
      model: name,
      mode,
      parameters: parameterCount(m.cfg),
      trainable_parameters: trainable,
      frozen_bytes_per_parameter: lora ? frozenBytes : 4,
      T_max: T,
      tokens_per_step: tokens / W,
      tokens_per_s: (1000 * tokens) / ms,
      step_ms: ms / W,
      pool_peak_bytes: peak,
      live_peak_bytes: livePeak,
      planner_bytes: plan.total,
      planner_live_bytes: plan.live,
      pool_vs_planner: peak / plan.total,
    };
  } finally {
    e.destroy();
  }
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

export async function memoryBench({ quick, log }: BenchOptions): Promise<MemoryBench> {
  const probe = await createNodeEngine();
  const adapter = adapterJson(probe);
  probe.destroy();
  log(adapterLine(adapter));
  log(`LoRA vs full fine-tuning: DPO sigmoid, ${PAIRS_PER_STEP} pairs per step, AdamW; LoRA r ${LORA_DEFAULTS.r}, alpha ${LORA_DEFAULTS.alpha}, dropout ${LORA_DEFAULTS.dropout} on ${LORA_DEFAULTS.targets.join(', ')}`);
  const models: [string, (e: Engine, frozen: boolean, pairs: number) => Model | Promise<Model>, number][] = quick ? [['demo', demoModel, 2]] : [['demo', demoModel, 3], ['synthetic', syntheticModel, 2]];
  const modes: Mode[] = ['full', 'lora', 'lora+ckpt', 'full+ckpt'];
  const cases: MemoryCase[] = [];
  for (const [name, make, W] of models) {
    const rows = [];
    for (const mode of modes) rows.push(await runCase(name, make, mode, W, log));
    const full = rows[0];
    for (const r of rows) cases.push({ ...r, speed_vs_full: r.tokens_per_s / full.tokens_per_s, peak_vs_full: r.pool_peak_bytes / full.pool_peak_bytes });
  }
  log('\nLoRA vs full fine-tuning (timed steps after warm-up; pool peak over the whole run of the case, on a fresh engine)');
  const header = ['model', 'mode', 'trainable', 'base B/param', 'T max', 'tok/s', 'vs full', 'pool peak', 'vs full', 'planner', 'pool/planner'];
  const body = cases.map((c) => [c.model, c.mode, c.trainable_parameters.toLocaleString('en'), c.frozen_bytes_per_parameter.toFixed(2), String(c.T_max), c.tokens_per_s.toFixed(0), `${c.speed_vs_full.toFixed(2)}×`, mib(c.pool_peak_bytes), `${c.peak_vs_full.toFixed(2)}×`, mib(c.planner_bytes), c.pool_vs_planner.toFixed(3)]);
  const widths = header.map((_, j) => Math.max(...[header, ...body].map((r) => r[j].length)));
  for (const r of [header, ...body]) log(r.map((x, j) => (j < 2 ? x.padEnd(widths[j]) : x.padStart(widths[j]))).join('  '));
  return { adapter, pairs_per_step: PAIRS_PER_STEP, cases };
}

runIfMain(import.meta.url, memoryBench);
