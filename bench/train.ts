// Training bench: our trainer's optimizer step (forward, backward, clipping, AdamW) on two models,
// next to the same step written with TensorFlow.js (WebGPU backend, same adapter, same process;
// bench/tfjs_gemma2.ts) and with PyTorch on the CPU (scripts/bench/train_torch.py, a subprocess).
//
//   npm run bench [-- --json] [-- --quick]          (bench/main.ts: the matmul bench, then this one)
//   node --import tsx --import ./scripts/wgsl-register.mjs bench/train.ts [--json] [--quick]
//
// Models: the demo (public/demo/model on public/demo/preferences/train.jsonl) and a larger tiny
// Gemma-2 made in memory (C 256, FF 1024, L 4, NH 4, KVH 2, HD 64, V 2048, window 32; seeded random
// weights and token ids, rows of ≤ 64 tokens). Loss: DPO sigmoid (TRL defaults, β 0.1) against
// reference sums computed once by computeReferenceLogps; 8 pairs (16 rows) per optimizer step;
// constant lr 1e-5, TRAIN_DEFAULTS otherwise (AdamW β 0.9/0.999, ε 1e-8, no weight decay,
// max_grad_norm 1).
//
// Protocol, the same for all three: W batches (the trainer's micro-batches of epoch 1, file order)
// are run twice: epoch 1 warms up (step 1 compiles pipelines / shaders; tfjs compiles a program per
// new shape), epoch 2 is timed. Ours and tfjs take turns step by step (both on the GPU device of
// their own, in this process), so that other load on a shared machine hits both alike; torch runs
// afterwards in its own process. Tokens = every real (attention-mask) token of prompt + completion
// of both rows of each pair, per step. All three start from the same weights and the same batches,
// and the first step's loss and gradient norm are printed side by side: they must agree (to f32
// rounding) for the speed comparison to mean anything. The per-step losses are printed too: from
// step 2 on they check the updates (they agree to a few digits while the runs stay close).
//
// Ours also reports per step (epoch 2 averages): dispatches, command submits, GPU→CPU syncs
// (engine.stats), pipeline compilations and pool buffers created after step 1 (target 0); and over
// the run, against planMemory's prediction for the same B and T: the pool's peak (live + idle
// buffers), the peak of live tensors in the pool's size classes, and in the tensors' own sizes.
//
// Output contract (--json; under "train" in `npm run bench -- --json`): one JSON object
//   { adapter, loss, pairs_per_step, cases: [{ name, config, parameters, warmup_steps,
//     measured_steps, T_max, tokens_per_step, ours: {…}, tfjs: {…} | {error}, torch: {…} |
//     {unavailable: reason}, ratio_tfjs, ratio_torch }] }

import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Flags } from '../src/cli/flags.ts';
import { loadExamples, openModelFolder } from '../src/cli/model.ts';
import type { Engine } from '../src/engine/engine.ts';
import { expectedTensors, parameterCount, parseGemma2Config, type Gemma2Config } from '../src/engine/model/config.ts';
import { readParamsF32 } from '../src/engine/model/export.ts';
import { dimsFromConfig, type Gemma2Params } from '../src/engine/model/gemma2.ts';
import { checkpointWeights, gemma2ParamsFromTensors, loadGemma2 } from '../src/engine/model/load.ts';
import { planMemory } from '../src/engine/model/planner.ts';
import { createNodeEngine } from '../src/engine/node.ts';
import type { Tensor } from '../src/engine/tensor.ts';
import { defaultLossConfig } from '../src/engine/train/losses.ts';
import { computeReferenceLogps } from '../src/engine/train/ref_cache.ts';
import { packPairs, type PackedPairs } from '../src/engine/train/sequences.ts';
import { TRAIN_DEFAULTS, Trainer, type TrainExample, type TrainOptions } from '../src/engine/train/trainer.ts';
import { Rng } from '../src/engine/util/rng.ts';
import { adapterJson, adapterLine, runIfMain, type AdapterJson, type BenchOptions } from './common.ts';
import { loadTfjs } from './tfjs.ts';
import { TfjsGemma2, type TfjsStepOptions } from './tfjs_gemma2.ts';

export const PAIRS_PER_STEP = 8;
const LEARNING_RATE = 1e-5;
const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../scripts/bench/train_torch.py', import.meta.url));
export const DEMO_MODEL = fileURLToPath(new URL('../public/demo/model', import.meta.url));
export const DEMO_DATA = fileURLToPath(new URL('../public/demo/preferences/train.jsonl', import.meta.url));

/** The larger tiny config (a Gemma-2 config.json, parsed like any other). */
export const SYNTHETIC_CONFIG = {
  model_type: 'gemma2',
  architectures: ['Gemma2ForCausalLM'],
  vocab_size: 2048,
  hidden_size: 256,
  intermediate_size: 1024,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 64,
  query_pre_attn_scalar: 64,
  sliding_window: 32,
  attn_logit_softcapping: 50.0,
  final_logit_softcapping: 30.0,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  hidden_activation: 'gelu_pytorch_tanh',
  max_position_embeddings: 512,
  bos_token_id: 2,
  eos_token_id: 1,
  pad_token_id: 0,
  torch_dtype: 'float32',
};

export type HostWeights = Map<string, { data: Float32Array; shape: number[] }>;

/** A model on our engine, its weights on the host (for tfjs and torch), and its training pairs. */
interface Prepared {
  name: string;
  e: Engine;
  cfg: Gemma2Config;
  configJson: object;
  params: Gemma2Params;
  weights: HostWeights;
  examples: TrainExample[];
}

export interface OursFigures {
  tokens_per_s: number;
  step_ms: number;
  first_step_ms: number;
  dispatches_per_step: number;
  submits_per_step: number;
  syncs_per_step: number;
  pipeline_compiles_step1: number;
  pipeline_compiles_after_step1: number;
  buffers_created_after_step1: number;
  /** The pool's peak footprint: buffers held by live tensors + idle buffers kept for reuse. */
  pool_peak_bytes: number;
  /** Peak of the bytes held by live tensors alone, in the pool's size classes (the bench watches the pool). */
  live_peak_bytes: number;
  /** The same peak in the tensors' own sizes (without the size-class rounding). */
  requested_peak_bytes: number;
  planner_bytes: number;
  peak_vs_plan: number;
  live_peak_vs_plan: number;
  requested_peak_vs_plan: number;
  loss_step1: number;
  grad_norm_step1: number;
}

export interface BaselineFigures {
  tokens_per_s: number;
  step_ms: number;
  first_step_ms: number;
  loss_step1: number;
  grad_norm_step1: number;
  [extra: string]: unknown;
}

export interface TrainCase {
  name: string;
  config: { V: number; C: number; FF: number; L: number; NH: number; KVH: number; HD: number; W: number | null };
  parameters: number;
  warmup_steps: number;
  measured_steps: number;
  T_max: number;
  tokens_per_step: number;
  ours: OursFigures;
  tfjs: BaselineFigures | { error: string };
  torch: BaselineFigures | { unavailable: string };
  ratio_tfjs: number | null;
  ratio_torch: number | null;
}

export interface TrainBench {
  adapter: AdapterJson;
  /** os.loadavg() (1, 5, 15 min) before and after: CPU adapters share the cores with everything else. */
  load_average: { start: number[]; end: number[] };
  loss: string;
  pairs_per_step: number;
  cases: TrainCase[];
}

const quietIO = { stdout: (): void => {}, log: (): void => {} };

function hostShapes(cfg: Gemma2Config): Map<string, number[]> {
  return new Map(expectedTensors(cfg).map((t) => [t.name, t.shape]));
}

async function prepareDemo(e: Engine): Promise<Prepared> {
  const opened = await openModelFolder(DEMO_MODEL, quietIO);
  const { examples } = await loadExamples(opened, DEMO_DATA, defaultLossConfig(), {} as Flags, quietIO);
  const loaded = await loadGemma2(e, checkpointWeights(opened.ckpt), { trainable: true });
  const shapes = hostShapes(loaded.cfg);
  const weights: HostWeights = new Map([...(await readParamsF32(loaded.params))].map(([n, data]) => [n, { data, shape: shapes.get(n)! }]));
  return { name: 'demo', e, cfg: loaded.cfg, configJson: opened.ckpt.configJson as object, params: loaded.params, weights, examples };
}

/** Seeded weights of a config: N(0, 0.02²) matrices, norm weights uniform in ±0.1. */
export function syntheticWeights(cfg: Gemma2Config, rng: Rng): HostWeights {
  const weights: HostWeights = new Map();
  for (const { name, shape } of expectedTensors(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = name.endsWith('norm.weight') ? Float32Array.from(rng.array(n, -0.1, 0.1)) : Float32Array.from(rng.normals(n, 0.02));
    weights.set(name, { data, shape });
  }
  return weights;
}

/** Random pairs of ≤ 64 tokens: a 24-token prompt, answers of 28–40 tokens ending in <eos>. */
export function syntheticPairs(cfg: Gemma2Config, rng: Rng, pairs: number): TrainExample[] {
  const ids = (n: number): number[] => Array.from({ length: n }, () => rng.int(3, cfg.V));
  return Array.from({ length: pairs }, (_, row) => ({
    row,
    promptIds: [2, ...ids(23)],
    chosenIds: [...ids(rng.int(27, 40)), 1],
    rejectedIds: [...ids(rng.int(27, 40)), 1],
  }));
}

/** The synthetic model with seeded weights (trainable f32) and random pairs. */
function prepareSynthetic(e: Engine, pairs: number): Prepared {
  const cfg = parseGemma2Config(SYNTHETIC_CONFIG, 'bench synthetic config');
  const rng = new Rng(20250101);
  const weights = syntheticWeights(cfg, rng);
  const tensors = new Map<string, Tensor>([...weights].map(([name, w]) => [name, e.tensor(w.data, w.shape, { requiresGrad: true, label: name })]));
  const params = gemma2ParamsFromTensors(cfg, tensors);
  return { name: 'synthetic', e, cfg, configJson: SYNTHETIC_CONFIG, params, weights, examples: syntheticPairs(cfg, rng, pairs) };
}

interface Batch {
  packed: PackedPairs;
  /** Reference sums per packed row. */
  ref: Float32Array;
}

interface StepTiming {
  ms: number;
  tokens: number;
  loss: number;
  gradNorm: number;
}

function summarize(steps: StepTiming[], warm: number): BaselineFigures {
  const timed = steps.slice(warm);
  const ms = timed.reduce((s, x) => s + x.ms, 0);
  return {
    tokens_per_s: (1000 * timed.reduce((s, x) => s + x.tokens, 0)) / ms,
    step_ms: ms / timed.length,
    first_step_ms: steps[0].ms,
    loss_step1: steps[0].loss,
    grad_norm_step1: steps[0].gradNorm,
  };
}

/**
 * Watches the pool from now on (bench-only instrumentation): the peak of the bytes held by live
 * tensors, in the pool's size classes (what the GPU holds for them) and as requested (the tensors'
 * own sizes, counted until their release).
 */
function watchLiveBytes(e: Engine): () => { classes: number; requested: number } {
  let classes = e.pool.getStats().inUse;
  let requested = classes;
  let live = classes;
  const sizes = new WeakMap<GPUBuffer, number>();
  const acquire = e.pool.acquire.bind(e.pool);
  const release = e.pool.release.bind(e.pool);
  e.pool.acquire = (bytes, label) => {
    const buf = acquire(bytes, label);
    sizes.set(buf, bytes);
    live += bytes;
    requested = Math.max(requested, live);
    classes = Math.max(classes, e.pool.getStats().inUse);
    return buf;
  };
  e.pool.release = (buf) => {
    live -= sizes.get(buf) ?? 0;
    sizes.delete(buf);
    release(buf);
  };
  return () => ({ classes, requested });
}

/** Our trainer on a prepared model: its W batches, and one step at a time (bench protocol above). */
function oursRunner(p: Prepared, W: number, reference: Float32Array, livePeak: () => { classes: number; requested: number }) {
  const { e } = p;
  const dims = dimsFromConfig(p.cfg);
  // constant lr: the baselines step at one lr too (TRAIN_DEFAULTS' linear decay would differ from step 2 on)
  const opts: TrainOptions = { ...TRAIN_DEFAULTS, loss: defaultLossConfig(), batchSize: PAIRS_PER_STEP, maxSteps: 2 * W, learningRate: LEARNING_RATE, lrSchedulerType: 'constant', shuffle: false };
  const trainer = new Trainer(e, dims, p.params, p.examples, reference, opts);
  const batches: Batch[] = [];
  for (let s = 0; s < W; s++) {
    const idx = trainer.microBatches(s)[0];
    const packed = packPairs(idx.map((i) => p.examples[i]));
    const ref = Float32Array.from([...idx.map((i) => reference[2 * i]), ...idx.map((i) => reference[2 * i + 1])]);
    batches.push({ packed, ref });
  }
  const steps: StepTiming[] = [];
  const counters: { dispatches: number; submits: number; syncs: number; compiles: number; created: number }[] = [];
  let prevTokens = 0;
  const step = async (s: number): Promise<StepTiming> => {
    const before = { ...e.stats };
    const createdBefore = e.pool.getStats().created;
    const t0 = performance.now();
    const rec = await trainer.trainStep();
    const ms = performance.now() - t0;
    if (rec.skipped) throw new Error(`bench ${p.name}: our step ${rec.step} was skipped (${rec.skipped})`);
    const tokens = batches[s % W].packed.tokens; // shuffle off: epoch 2 repeats epoch 1's batches
    if (rec.num_tokens !== undefined && rec.num_tokens - prevTokens !== tokens) throw new Error(`bench ${p.name}: step ${rec.step} trained on ${rec.num_tokens - prevTokens} tokens, not the ${tokens} of batch ${s % W}`);
    prevTokens = rec.num_tokens ?? 0;
    counters.push({
      dispatches: e.stats.dispatches - before.dispatches,
      submits: e.stats.submits - before.submits,
      syncs: e.stats.syncs - before.syncs,
      compiles: e.stats.pipelineCompiles - before.pipelineCompiles,
      created: e.pool.getStats().created - createdBefore,
    });
    const t: StepTiming = { ms, tokens, loss: rec.loss, gradNorm: rec.grad_norm };
    steps.push(t);
    return t;
  };
  const finish = (): OursFigures => {
    trainer.dispose();
    const timed = counters.slice(W);
    const per = (k: keyof (typeof counters)[number]): number => timed.reduce((sum, c) => sum + c[k], 0) / timed.length;
    const T = Math.max(...batches.map((b) => b.packed.T));
    const plan = planMemory(p.cfg, { mode: 'full-finetune', B: 2 * PAIRS_PER_STEP, T });
    const peak = e.pool.getStats().peak;
    const live = livePeak();
    const base = summarize(steps, W);
    return {
      tokens_per_s: base.tokens_per_s,
      step_ms: base.step_ms,
      first_step_ms: base.first_step_ms,
      dispatches_per_step: per('dispatches'),
      submits_per_step: per('submits'),
      syncs_per_step: per('syncs'),
      pipeline_compiles_step1: counters[0].compiles,
      pipeline_compiles_after_step1: counters.slice(1).reduce((sum, c) => sum + c.compiles, 0),
      buffers_created_after_step1: counters.slice(1).reduce((sum, c) => sum + c.created, 0),
      pool_peak_bytes: peak,
      live_peak_bytes: live.classes,
      requested_peak_bytes: live.requested,
      planner_bytes: plan.total,
      peak_vs_plan: peak / plan.total,
      live_peak_vs_plan: live.classes / plan.total,
      requested_peak_vs_plan: live.requested / plan.total,
      loss_step1: base.loss_step1,
      grad_norm_step1: base.grad_norm_step1,
    };
  };
  return { batches, opts, step, finish };
}

/** The tfjs step on the same weights and batches, one step at a time. */
async function tfjsRunner(p: Prepared, batches: Batch[], opts: TrainOptions) {
  const { tf } = await loadTfjs();
  const model = new TfjsGemma2(tf, dimsFromConfig(p.cfg), p.weights);
  const o: TfjsStepOptions = { beta: opts.loss.beta, lr: opts.learningRate, betas: [opts.adamBeta1, opts.adamBeta2], eps: opts.adamEpsilon, weightDecay: opts.weightDecay, maxGradNorm: opts.maxGradNorm };
  const steps: StepTiming[] = [];
  const step = async (s: number): Promise<StepTiming> => {
    const b = batches[s % batches.length];
    const t0 = performance.now();
    const r = await model.step(b.packed, b.ref, o);
    const t: StepTiming = { ms: performance.now() - t0, tokens: b.packed.tokens, loss: r.loss, gradNorm: r.gradNorm };
    steps.push(t);
    return t;
  };
  return { step, finish: (): BaselineFigures => summarize(steps, batches.length), dispose: () => model.dispose() };
}

/** Writes the run for scripts/bench/train_torch.py and runs it; "unavailable" when torch is not importable. */
async function runTorch(p: Prepared, batches: Batch[], opts: TrainOptions, log: (s: string) => void): Promise<BaselineFigures | { unavailable: string }> {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { unavailable: `${PYTHON} cannot import torch (${(probe.error?.message ?? probe.stderr.trim().split('\n').pop()) || 'no reason given'}); install Debian's python3-torch` };
  const dir = await mkdtemp(join(tmpdir(), 'prefstudio-bench-'));
  try {
    const manifest: { name: string; shape: number[]; offset: number }[] = [];
    let offset = 0;
    for (const [name, w] of p.weights) {
      manifest.push({ name, shape: w.shape, offset });
      offset += w.data.length;
    }
    const flat = new Float32Array(offset);
    for (const [i, w] of [...p.weights.values()].entries()) flat.set(w.data, manifest[i].offset);
    await writeFile(join(dir, 'weights.bin'), new Uint8Array(flat.buffer));
    await writeFile(join(dir, 'weights.json'), JSON.stringify(manifest));
    await writeFile(join(dir, 'config.json'), JSON.stringify(p.configJson));
    const run = {
      batches: batches.map(({ packed: b, ref }) => ({ R: b.R, T: b.T, ids: Array.from(b.ids), attention_mask: Array.from(b.attentionMask), labels: Array.from(b.labels), ref: Array.from(ref) })),
      epochs: 2,
      beta: opts.loss.beta,
      lr: opts.learningRate,
      betas: [opts.adamBeta1, opts.adamBeta2],
      eps: opts.adamEpsilon,
      weight_decay: opts.weightDecay,
      max_grad_norm: opts.maxGradNorm,
    };
    await writeFile(join(dir, 'batches.json'), JSON.stringify(run));
    log(`  torch (${PYTHON} ${relative(process.cwd(), TORCH_SCRIPT)}) …`);
    const r = spawnSync(PYTHON, [TORCH_SCRIPT, '--dir', dir], { encoding: 'utf8', timeout: 15 * 60_000, maxBuffer: 64 << 20 });
    if (r.error || r.status !== 0) return { unavailable: `${TORCH_SCRIPT} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
    let out: BaselineFigures & { steps: { ms: number; loss: number }[] };
    try {
      out = JSON.parse(r.stdout) as typeof out;
    } catch {
      return { unavailable: `${TORCH_SCRIPT} printed no JSON: ${r.stdout.slice(0, 200)}` };
    }
    out.steps.forEach((s, i) => log(`  torch step ${i + 1}/${out.steps.length}: ${s.ms.toFixed(0)} ms, loss ${s.loss.toFixed(5)}`));
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchCase(name: string, W: number, make: (e: Engine) => Promise<Prepared>, log: (s: string) => void): Promise<TrainCase> {
  const e = await createNodeEngine();
  const livePeak = watchLiveBytes(e);
  let p: Prepared;
  let ours: OursFigures;
  let batches: Batch[];
  let opts: TrainOptions;
  let tfjs: TrainCase['tfjs'];
  try {
    p = await make(e);
    p.examples = p.examples.slice(0, W * PAIRS_PER_STEP);
    log(`${name}: C ${p.cfg.C}, FF ${p.cfg.FF}, L ${p.cfg.L}, NH ${p.cfg.NH}, KVH ${p.cfg.KVH}, HD ${p.cfg.HD}, V ${p.cfg.V}, window ${p.cfg.slidingWindow}; ${parameterCount(p.cfg).toLocaleString('en')} parameters; ${W} batches × 2 epochs, ours and tfjs step by step in turn`);
    const reference = await computeReferenceLogps(e, dimsFromConfig(p.cfg), p.params, p.examples, { batchSize: PAIRS_PER_STEP });
    const run = oursRunner(p, W, reference, livePeak);
    ({ batches, opts } = run);
    // Ours and tfjs alternate step by step, so that other load on a shared machine hits both alike.
    let tf: Awaited<ReturnType<typeof tfjsRunner>> | { error: string };
    try {
      tf = await tfjsRunner(p, batches, opts);
    } catch (err) {
      tf = { error: (err as Error).message };
    }
    try {
      for (let s = 0; s < 2 * W; s++) {
        const o = await run.step(s);
        let line = `  step ${s + 1}/${2 * W} (${o.tokens} tokens): ours ${o.ms.toFixed(0)} ms, loss ${o.loss.toFixed(5)}`;
        if (!('error' in tf)) {
          try {
            const t = await tf.step(s);
            line += ` | tfjs ${t.ms.toFixed(0)} ms, loss ${t.loss.toFixed(5)}`;
          } catch (err) {
            tf.dispose();
            tf = { error: (err as Error).message };
          }
        }
        log(line);
      }
      ours = run.finish();
      tfjs = 'error' in tf ? tf : tf.finish();
    } finally {
      if (!('error' in tf)) tf.dispose();
    }
  } finally {
    e.destroy();
  }
  const torch = await runTorch(p, batches, opts, log);
  const tokens = batches.map((b) => b.packed.tokens);
  const rate = (x: TrainCase['tfjs'] | TrainCase['torch']): number | null => ('tokens_per_s' in x ? ours.tokens_per_s / x.tokens_per_s : null);
  const c = p.cfg;
  return {
    name,
    config: { V: c.V, C: c.C, FF: c.FF, L: c.L, NH: c.NH, KVH: c.KVH, HD: c.HD, W: c.slidingWindow },
    parameters: parameterCount(c),
    warmup_steps: W,
    measured_steps: W,
    T_max: Math.max(...batches.map((b) => b.packed.T)),
    tokens_per_step: tokens.reduce((a, b) => a + b, 0) / tokens.length,
    ours,
    tfjs,
    torch,
    ratio_tfjs: rate(tfjs),
    ratio_torch: rate(torch),
  };
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const num = (x: number | null | undefined, digits = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  '));
}

function report(cases: TrainCase[], log: (s: string) => void): void {
  const tps = (x: TrainCase['tfjs'] | TrainCase['torch']): string => ('tokens_per_s' in x ? num(x.tokens_per_s) : 'error' in x ? 'error' : 'n/a');
  log('\ntraining throughput (epoch 2; tokens = prompt + completion tokens of both rows of each pair)');
  for (const l of table([
    ['model', 'params', 'tok/step', 'T max', 'ours tok/s', 'ms/step', 'tfjs tok/s', 'ours/tfjs', 'torch-cpu tok/s', 'ours/torch'],
    ...cases.map((c) => [c.name, c.parameters.toLocaleString('en'), num(c.tokens_per_step), String(c.T_max), num(c.ours.tokens_per_s), num(c.ours.step_ms), tps(c.tfjs), c.ratio_tfjs === null ? '-' : `${c.ratio_tfjs.toFixed(2)}×`, tps(c.torch), c.ratio_torch === null ? '-' : `${c.ratio_torch.toFixed(2)}×`]),
  ]))
    log(l);
  log('\nours per step (epoch 2 averages; compilations and new pool buffers summed over steps 2…): targets ≤ 1 sync, 0 compilations after step 1');
  for (const l of table([
    ['model', 'dispatches', 'submits', 'syncs', 'compiles step 1', 'compiles after', 'new buffers after'],
    ...cases.map((c) => [c.name, num(c.ours.dispatches_per_step), num(c.ours.submits_per_step, 1), num(c.ours.syncs_per_step, 1), String(c.ours.pipeline_compiles_step1), String(c.ours.pipeline_compiles_after_step1), String(c.ours.buffers_created_after_step1)]),
  ]))
    log(l);
  log('\nGPU memory over the run (reference pass + training) vs planMemory(full-finetune, B = 16 rows, T = T max)');
  log('pool peak = live tensors + idle buffers kept for reuse; live = live tensors in size classes; tensors = their own sizes');
  for (const l of table([
    ['model', 'pool peak', 'live peak', 'tensors peak', 'planner', 'pool/plan', 'live/plan', 'tensors/plan'],
    ...cases.map((c) => [c.name, mib(c.ours.pool_peak_bytes), mib(c.ours.live_peak_bytes), mib(c.ours.requested_peak_bytes), mib(c.ours.planner_bytes), num(c.ours.peak_vs_plan, 2), num(c.ours.live_peak_vs_plan, 2), num(c.ours.requested_peak_vs_plan, 2)]),
  ]))
    log(l);
  log('\nsame computation? step 1 (before any update) from the same weights and batch');
  const l1 = (x: TrainCase['tfjs'] | TrainCase['torch'], k: 'loss_step1' | 'grad_norm_step1'): string => ('tokens_per_s' in x ? x[k].toPrecision(7) : '-');
  for (const l of table([
    ['model', 'loss ours', 'loss tfjs', 'loss torch', 'grad norm ours', 'grad norm tfjs', 'grad norm torch'],
    ...cases.map((c) => [c.name, c.ours.loss_step1.toPrecision(7), l1(c.tfjs, 'loss_step1'), l1(c.torch, 'loss_step1'), c.ours.grad_norm_step1.toPrecision(7), l1(c.tfjs, 'grad_norm_step1'), l1(c.torch, 'grad_norm_step1')]),
  ]))
    log(l);
  for (const c of cases) {
    if ('error' in c.tfjs) log(`${c.name}: tfjs failed: ${c.tfjs.error}`);
    if ('unavailable' in c.torch) log(`${c.name}: torch unavailable: ${c.torch.unavailable}`);
  }
}

export async function trainBench({ quick, log }: BenchOptions): Promise<TrainBench> {
  const loadStart = loadavg();
  const probe = await createNodeEngine();
  const adapter = adapterJson(probe);
  probe.destroy();
  log(adapterLine(adapter));
  log(`loss: DPO sigmoid (β 0.1), ${PAIRS_PER_STEP} pairs per step, AdamW at a constant lr ${LEARNING_RATE}, max_grad_norm 1; torch = ${PYTHON} on the CPU`);
  const cases = [
    await benchCase('demo', quick ? 3 : 6, prepareDemo, log),
    await benchCase('synthetic', quick ? 2 : 4, async (e) => prepareSynthetic(e, (quick ? 2 : 4) * PAIRS_PER_STEP), log),
  ];
  report(cases, log);
  const loadEnd = loadavg();
  log(`load average (1/5/15 min): ${loadStart.map((x) => x.toFixed(2)).join(' ')} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(' ')} at the end (${cpus().length} CPUs)`);
  return { adapter, load_average: { start: loadStart, end: loadEnd }, loss: 'sigmoid (DPO), beta 0.1', pairs_per_step: PAIRS_PER_STEP, cases };
}

runIfMain(import.meta.url, trainBench);
