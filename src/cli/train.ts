// `prefstudio train`: preference fine-tuning of a Gemma-2 checkpoint folder on a preference file,
// full fine-tuning of every parameter (LoRA comes with the next issue).
//
// Contract (kept stable; outside checks rely on it):
//   prefstudio train --model DIR --data FILE [--loss_type L[,L…]] [--loss_weights W[,W…]]
//     [--use_weighting] [--wpo_no_clamp] [--beta B] [--simpo_gamma G] [--label_smoothing E]
//     [--preset NAME] [--learning_rate LR] [--lr_scheduler_type S] [--warmup_ratio R]
//     [--optim adamw_torch|rmsprop] [--weight_decay WD] [--max_grad_norm N]
//     [--max_steps N | --num_train_epochs E] [--per_device_train_batch_size B]
//     [--gradient_accumulation_steps K] [--max_length N] [--seed S] [--logging_steps N]
//     [--use_peft [--lora_r R] [--lora_alpha A] [--lora_dropout P] [--lora_target_modules M,…] [--use_rslora]] --out DIR
//   --use_peft: the base loads frozen and a LoRA adapter (seeded by --seed) is trained; the reference
//   is the base with the adapter off. --adapter DIR (with --use_peft) continues a PEFT adapter
//   instead of creating one. A LoRA run writes DIR/adapter/ (adapter_model.safetensors +
//   adapter_config.json, PEFT's) and DIR/final/ (the base with the adapter merged: cli/export.ts).
//   --save_steps N [--save_total_limit K]: DIR/checkpoint-<step>/ every N steps and at the end
//   (train/checkpoint.ts); --resume [DIR] continues from one (default: the newest under DIR) with the
//   same settings and data, rewriting metrics.jsonl up to its step and appending: the lines equal an
//   uninterrupted run's bit for bit.
//   Writes DIR/metrics.jsonl (one JSON line per optimizer step: {"step" (1-based), "epoch", "loss",
//   …TRL's batch metrics, "pairs": [per-pair values with their dataset "row"]}), DIR/train_args.json
//   (every resolved setting), DIR/eval_metrics.json with --eval_data, and DIR/final/: a Hugging Face
//   checkpoint folder (the input's tensor names and dtypes, config.json and tokenizer files copied).
//   stderr: progress bars with % and rates, and TRL-style log lines every logging_steps.
//
// Order of work: open the folder (config, headers, tokenizer) → read and validate the data file →
// load the weights → reference log-probs (cached) → train → evaluate → write final/.

import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointInfo, encodeCheckpoint, readParamsF32 } from '../engine/model/export.ts';
import { writeCheckpointDir } from '../engine/model/export_node.ts';
import { createFileBackend } from '../engine/store/kv_node.ts';
import { xxh32 } from '../engine/store/checksum.ts';
import { fmtBytes } from '../engine/util/bytes.ts';
import { needsReference, validateLossConfig } from '../engine/train/losses.ts';
import type { StepMetrics } from '../engine/train/metrics.ts';
import { loraConfigFromFlags, resolvePreset } from '../engine/train/config.ts';
import { adapterParamCount, createAdapter } from '../engine/model/lora.ts';
import { referenceKey, referenceLogps, type PassProgress } from '../engine/train/ref_cache.ts';
import { planRun, Trainer, type StepRecord, type TrainExample, type TrainOptions } from '../engine/train/trainer.ts';
import { saveCheckpoint } from '../engine/train/checkpoint.ts';
import { nodeCheckpointStore, readResume } from '../engine/train/checkpoint_node.ts';
import { UsageError, type CliIO } from './args.ts';
import { openAdapterFolder, writePeftRun } from './export.ts';
import { lossConfigFromFlags, trainOptionsFromFlags, type Flags } from './flags.ts';
import { attachAdapter, loadExamples, openModelFolder, uploadModel, type LoadedModel, type OpenedModel } from './model.ts';
import { homedir, totalmem } from 'node:os';
import type { Engine } from '../engine/engine.ts';
import { EngineError } from '../engine/errors.ts';
import type { LoraConfig } from '../engine/model/lora.ts';
import { describe, fits, gib, planMemory } from '../engine/model/planner.ts';
import { createNodeEngine } from '../engine/node.ts';

/** TRL DPOConfig's logging_steps default. */
const DEFAULT_LOGGING_STEPS = 10;

export async function trainCommand(given: Flags, io: CliIO): Promise<void> {
  const out = String(given.out);
  const opened = await openModelFolder(String(given.model), io);
  const { flags, note } = resolvePreset(given, parameterCount(opened));
  if (note) io.log(note);
  const loss = validateLossConfig(lossConfigFromFlags(flags)); // before any weights load
  const trainOpts = { ...trainOptionsFromFlags(flags), loss };
  const lora = loraConfigFromFlags(flags); // null = full fine-tuning
  if (flags.adapter !== undefined && !lora) throw new UsageError('--adapter DIR continues training a LoRA adapter: add --use_peft (its settings then come from DIR/adapter_config.json)');
  const loggingSteps = Number(flags.logging_steps ?? DEFAULT_LOGGING_STEPS);

  // The data first: a malformed file fails before any weights load.
  const { examples } = await loadExamples(opened, String(flags.data), loss, flags, io);
  io.log(`data: ${examples.length} pairs from ${String(flags.data)}`);
  planRun(trainOpts, examples.length); // every setting checked before any weights load
  const evalSet = flags.eval_data !== undefined ? (await loadExamples(opened, String(flags.eval_data), loss, flags, io)).examples : null;
  const saveSteps = flags.save_steps === undefined ? null : Number(flags.save_steps);
  const saveTotalLimit = flags.save_total_limit === undefined ? null : Number(flags.save_total_limit);
  for (const [k, v] of [['save_steps', saveSteps], ['save_total_limit', saveTotalLimit]] as const) if (v !== null && v < 1) throw new UsageError(`--${k} must be at least 1, got ${v}`);
  // --resume: the checkpoint is read, validated and matched against the settings and data before any weights load
  const resumed = flags.resume === undefined ? null : await readResume(out, flags.resume === true ? null : String(flags.resume), trainOpts, examples);
  if (resumed) io.log(`resume: from ${resumed.label} (step ${resumed.step} of ${resumed.state.meta.totalSteps})`);

  // --adapter: a PEFT folder to continue (its config replaces the --lora_* flags), checked before any weights load
  const imported = flags.adapter !== undefined ? (await openAdapterFolder(String(flags.adapter), opened, io)).adapter : null;
  await mkdir(out, { recursive: true });
  const e = await createNodeEngine();
  io.log(`adapter: ${e.info.description || e.info.device || e.info.architecture} (${e.info.vendor})`);
  let m: LoadedModel;
  try {
    checkMemory(e, opened, examples, trainOpts, imported?.config ?? lora, io); // refuses before any weights load
    m = await uploadModel(opened, io, { trainable: !lora, engine: e }); // a LoRA base stays frozen
  } catch (err) {
    e.destroy();
    throw err;
  }
  try {
    if (lora) {
      m.params.adapter = imported ? attachAdapter(m, imported, { trainable: true }) : createAdapter(m.e, m.dims, lora, trainOpts.seed);
      const c = m.params.adapter.config;
      io.log(`lora: r ${c.r}, alpha ${c.alpha} (scale ${m.params.adapter.scale.toPrecision(4)}${c.useRslora ? ', rsLoRA' : ''}), dropout ${c.dropout} on ${c.targets.join(', ')}: ${adapterParamCount(m.params.adapter)} trainable parameters of ${m.paramCount} in the base`);
    }
    const cacheDir = String(flags.cache_dir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'prefstudio'));
    // a resumed run takes its reference from the checkpoint: the numbers it started with, no pass
    const reference = resumed?.state.reference ?? (needsReference(loss) ? await cachedReference(m, examples, loss.ldAlpha, cacheDir, io, 'reference log-probs') : null);
    const evalReference = evalSet && needsReference(loss) ? await cachedReference(m, evalSet, loss.ldAlpha, cacheDir, io, 'reference log-probs (eval)') : null;

    const trainer = new Trainer(m.e, m.dims, m.params, examples, reference, trainOpts);
    if (resumed) await trainer.restoreState(resumed.state);
    await writeFile(join(out, 'train_args.json'), `${JSON.stringify({ ...flags, resolved: { ...trainOpts, lora: m.params.adapter?.config ?? lora, totalSteps: trainer.totalSteps, stepsPerEpoch: trainer.stepsPerEpoch, examples: examples.length } }, null, 1)}\n`);
    const metricsPath = join(out, 'metrics.jsonl');
    // resumed: the checkpoint's lines (what a stopped run appended after its checkpoint goes)
    const metricsLines = resumed ? [...resumed.metrics] : [];
    if (resumed) await writeFile(metricsPath, metricsLines.map((l) => `${l}\n`).join(''));
    else await rm(metricsPath, { force: true });
    io.log(`train: ${trainer.totalSteps} steps (${trainer.stepsPerEpoch} per epoch), ${trainOpts.batchSize} pairs × ${trainOpts.gradientAccumulationSteps} accumulation per step, loss ${loss.lossTypes.join('+')}${loss.useWeighting ? ' with WPO weights' : ''}, lr ${trainOpts.learningRate}, ${trainOpts.lrSchedulerType}, ${trainOpts.optim}`);
    if (evalSet && !resumed) logMetrics(io, 'eval (before)', await trainer.evaluate(evalSet, evalReference));
    const store = nodeCheckpointStore(out);

    const bar = progressBar(io, 'train', trainer.totalSteps, 'steps');
    const interval: StepRecord[] = [];
    let tokens = 0;
    while (!trainer.done) {
      const rec = await trainer.trainStep();
      const line = JSON.stringify(rec);
      await appendFile(metricsPath, `${line}\n`);
      if (saveSteps) metricsLines.push(line);
      tokens = rec.num_tokens ?? tokens;
      if (rec.skipped) io.log(`warning: step ${rec.step} skipped: ${rec.skipped}`);
      interval.push(rec);
      bar.update(rec.step, { tokens, loss: rec.loss });
      if (rec.step % loggingSteps === 0 || trainer.done) {
        bar.clear();
        io.log(trlLogLine(interval));
        interval.length = 0;
      }
      if (saveSteps && (rec.step % saveSteps === 0 || trainer.done)) {
        bar.clear();
        const saved = await saveCheckpoint(store, trainer, { metrics: metricsLines, saveTotalLimit });
        io.log(`checkpoint: wrote ${saved.label} (${fmtBytes(saved.bytes)})${saved.removed.length ? `, removed ${saved.removed.map((k) => `checkpoint-${k}`).join(', ')} (--save_total_limit ${saveTotalLimit})` : ''}`);
      }
    }
    bar.done();
    if (evalSet) {
      const ev = await trainer.evaluate(evalSet, evalReference);
      logMetrics(io, 'eval', ev);
      await writeFile(join(out, 'eval_metrics.json'), `${JSON.stringify(Object.fromEntries(Object.entries(ev).map(([k, v]) => [k === 'pairs' ? 'pairs' : `eval_${k}`, v])), null, 1)}\n`);
    }
    if (m.params.adapter) await writePeftRun(out, opened, m.params.adapter, io, { final: flags.save_final !== false }); // DIR/adapter/ + merged DIR/final/
    else if (flags.save_final !== false) await saveFinal(m, join(out, 'final'), io);
    trainer.dispose();
  } finally {
    m.dispose();
    e.destroy();
  }
}

/**
 * The memory planner's figure for this run (model/planner.ts), printed by category, and checked
 * against the adapter: per-buffer limits, and the computer's memory on a software adapter (WebGPU
 * does not tell how much a GPU has). Refuses with what to change when it cannot fit.
 */
function checkMemory(e: Engine, opened: OpenedModel, examples: TrainExample[], o: Omit<TrainOptions, 'loss'>, lora: LoraConfig | null, io: CliIO): void {
  const T = Math.max(...examples.map((x) => x.promptIds.length + Math.max(x.chosenIds.length, x.rejectedIds.length)));
  const pairs = Math.min(o.batchSize, examples.length);
  const matrix = opened.ckpt.report.tensors.find((t) => t.name.endsWith('mlp.gate_proj.weight'));
  const plan = planMemory(opened.ckpt.cfg, {
    mode: lora ? 'lora' : 'full-finetune',
    B: 2 * pairs,
    T,
    weights16: lora !== null && matrix !== undefined && matrix.dtype !== 'F32', // uploadModel keeps a frozen base's 16-bit matrices
    ...(lora ? { lora } : {}),
    gradientCheckpointing: o.gradientCheckpointing ?? false,
    optim: o.optim,
    gradientAccumulationSteps: o.gradientAccumulationSteps,
  });
  io.log(`memory: about ${gib(plan.total)} of GPU memory for ${2 * pairs} sequences × ${T} tokens (${describe(plan)})`);
  const check = fits(plan, { maxBufferSize: e.limits.maxBufferSize, maxStorageBufferBindingSize: e.limits.maxStorageBufferBindingSize, ...(e.info.isSoftware ? { memoryBytes: totalmem() } : {}) });
  if (!check.ok) throw new EngineError('memory', `this run does not fit the adapter: ${check.problems.join('; ')}`, `change, in this order until it fits: ${check.advice.join('; ')}`);
}

/** Parameters of the model from its tensors' shapes (no weights read). */
function parameterCount(m: OpenedModel): number {
  let n = 0;
  for (const h of m.ckpt.headers) for (const t of h.tensors) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Reference log-probs from the cache in `cacheDir`, or computed with a progress bar and stored. */
async function cachedReference(m: LoadedModel, examples: TrainExample[], ldAlpha: number | null, cacheDir: string, io: CliIO, what: string): Promise<Float32Array> {
  const key = referenceKey(await modelFingerprint(m), examples, { ldAlpha });
  const cache = await createFileBackend(cacheDir);
  const bar = progressBar(io, what, examples.length, 'pairs');
  const r = await referenceLogps(m.e, m.dims, m.params, examples, {
    cache,
    key,
    ldAlpha,
    onProgress: (p: PassProgress) => bar.update(p.done, {}),
    onWarning: (s) => io.log(`warning: ${s}`),
  });
  bar.done();
  io.log(r.cached ? `${what}: ${examples.length} pairs from the cache (${cacheDir})` : `${what}: ${examples.length} pairs computed and cached in ${cacheDir}`);
  return r.values;
}

/** A digest of every weight file's bytes (chunked XXH32 chain) and config.json, for the reference cache key. */
async function modelFingerprint(m: OpenedModel): Promise<string> {
  const CHUNK = 16 << 20;
  const parts: string[] = [];
  const names = [...m.ckpt.files.keys()].filter((n) => n.endsWith('.safetensors')).sort();
  for (const name of names) {
    const f = m.ckpt.files.get(name)!;
    let h = 0;
    for (let off = 0; off < f.size; off += CHUNK) h = xxh32(await f.read(off, Math.min(CHUNK, f.size - off)), h);
    parts.push(`${name}:${f.size}:${h.toString(16)}`);
  }
  // config.json changes the numbers too (rms_norm_eps, softcaps, …)
  parts.push(`config.json:${xxh32(new TextEncoder().encode(m.ckpt.configText)).toString(16)}`);
  return parts.join(',');
}

/** Writes the trained weights as a Hugging Face folder with the input's names and dtypes. */
async function saveFinal(m: LoadedModel, dir: string, io: CliIO): Promise<void> {
  const files = encodeCheckpoint(await checkpointInfo(m.ckpt), await readParamsF32(m.params));
  await writeCheckpointDir(dir, files);
  io.log(`final: wrote ${dir} (${files.map((f) => f.path).join(', ')})`);
}

// ----------------------------------------------------------------------------------- output

/** HF Trainer's log line: the interval's averaged metrics as a Python-style dict. */
export function trlLogLine(recs: readonly StepRecord[]): string {
  const last = recs[recs.length - 1];
  const keys: (keyof StepMetrics | 'grad_norm' | 'learning_rate')[] = ['loss', 'grad_norm', 'learning_rate', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'mean_token_accuracy'];
  const avg = (k: string): number => recs.reduce((s, r) => s + (r as unknown as Record<string, number>)[k], 0) / recs.length;
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(4) : v.toFixed(4));
  const items = keys.map((k) => `'${k}': ${fmt(k === 'learning_rate' ? last.learning_rate : avg(k))}`);
  items.push(`'num_tokens': ${last.num_tokens}`, `'epoch': ${fmt(last.epoch)}`);
  return `{${items.join(', ')}}`;
}

function logMetrics(io: CliIO, label: string, mt: StepMetrics): void {
  io.log(`${label}: loss ${mt.loss.toFixed(4)}, rewards/accuracies ${mt['rewards/accuracies'].toFixed(3)}, rewards/margins ${mt['rewards/margins'].toFixed(4)}, logps/chosen ${mt['logps/chosen'].toFixed(3)}, logps/rejected ${mt['logps/rejected'].toFixed(3)}`);
}

/**
 * A progress bar on stderr: `label  42% |████░░░░░░| 21/50 steps · 1.8 steps/s · 1.2k tok/s ·
 * ETA 16s`. On a terminal it redraws one line; otherwise it prints a line at most every 2 s.
 */
export function progressBar(io: CliIO, label: string, total: number, unit: string): { update(done: number, x: { tokens?: number; loss?: number }): void; clear(): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  const t0 = performance.now();
  let lastPrint = 0;
  let line = '';
  const render = (done: number, x: { tokens?: number; loss?: number }): string => {
    const secs = Math.max((performance.now() - t0) / 1000, 1e-9);
    const frac = total > 0 ? done / total : 1;
    const width = 20;
    const filled = Math.round(frac * width);
    const rate = done / secs;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const parts = [`${label} ${(100 * frac).toFixed(0).padStart(3)}% |${'█'.repeat(filled)}${'░'.repeat(width - filled)}| ${done}/${total} ${unit}`, `${rate.toFixed(2)} ${unit}/s`];
    if (x.tokens !== undefined) parts.push(`${(x.tokens / secs).toFixed(0)} tok/s`);
    parts.push(`ETA ${fmtSecs(eta)}`);
    if (x.loss !== undefined) parts.push(`loss ${x.loss.toFixed(4)}`);
    return parts.join(' · ');
  };
  return {
    update(done, x) {
      line = render(done, x);
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (performance.now() - lastPrint > 2000 || done === total) {
        lastPrint = performance.now();
        io.log(line);
      }
    },
    clear() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
    done() {
      if (tty && line) process.stderr.write(`\r${line}\x1b[K\n`);
    },
  };
}

function fmtSecs(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
