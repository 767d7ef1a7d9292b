// A trainer's state for checkpoints (Trainer.exportState / restoreState): everything a resumed run
// needs so that its steps equal those of a run that never stopped, bit for bit.
//
//   trainable tensors     by trainer.namedParams name (the model's HF names in full fine-tuning,
//                         the adapter's PEFT keys with LoRA; a frozen base is not part of it)
//   optimizer state       per tensor, PyTorch's names: exp_avg, exp_avg_sq and step (AdamW);
//                         square_avg (+ grad_avg, momentum_buffer) (RMSProp)
//   counters              optimizer steps taken (= the schedule's position), non-finite steps (in a
//                         row too), tokens seen
//   data order            not stored: a seeded permutation per epoch (trainer.ts). What is stored
//                         is a digest of the examples and of the current epoch's order, and the
//                         restore recomputes and compares both (so a different data file, sequence
//                         setting or shuffling is refused instead of silently continuing)
//   kernel choices        the matmul tuner's (ops/matmul.ts exportTuning): restored first
//   reference sums        the run's reference log-probs: a resumed run takes them from here, so
//                         it needs no reference pass and cannot get other numbers
//   settings              TrainOptions as given; resuming with any other value is refused with a
//                         message naming the flag
//
// The trainer has no other random state: its data order is the only randomness, and it is a
// function of (seed, epoch). Format and storage: train/checkpoint.ts.

import type { Tensor } from '../tensor.ts';
import { EngineError } from '../errors.ts';
import type { LoraConfig } from '../model/lora.ts';
import { exportTuning, importTuning } from '../ops/matmul.ts';
import { readF32Batched, type ParamStateHost } from '../optim/optimizer.ts';
import { digest } from './ref_cache.ts';
import type { Trainer, TrainExample, TrainOptions } from './trainer.ts';

export const TRAINER_STATE_VERSION = 1;

/** The JSON part of a trainer's state (a checkpoint's manifest holds it). */
export interface TrainerStateMeta {
  version: number;
  /** Optimizer steps taken or skipped (1-based number of the last one; the schedule's position). */
  step: number;
  nonFiniteSteps: number;
  consecutiveNonFinite: number;
  numTokens: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** The run's settings as the trainer got them. */
  options: TrainOptions;
  /** What the data order is recomputed from, and digests to verify it. */
  data: { examples: number; digest: string; epoch: number; order: string };
  /** The matmul tuner's kernel choices (ops/matmul.ts exportTuning). */
  tuning: Record<string, string>;
  /** The trainable tensors, in trainer.namedParams order. */
  trainable: { name: string; shape: number[] }[];
  /** The optimizer, its hyper-parameters and per-tensor counters (tensors without state are absent). */
  optimizer: { name: string; hyper: Record<string, number | boolean>; counters: Record<string, Record<string, number>> };
  /** LoRA settings when the trainable tensors are an adapter, else null. */
  adapter: LoraConfig | null;
}

/** A trainer's whole state on the host. */
export interface TrainerState {
  meta: TrainerStateMeta;
  /** Trainable tensors by name (f32, row-major). */
  params: Map<string, Float32Array>;
  /** Optimizer state tensors by trainable name, then by state name (exp_avg, …). */
  optimizer: Map<string, Record<string, Float32Array>>;
  /** Reference sums [2N] = (R_chosen, R_rejected) per example, or null when the run has none. */
  reference: Float32Array | null;
}

/** The counters restoreState hands back to the trainer. */
export interface TrainerCounters {
  step: number;
  nonFiniteSteps: number;
  consecutiveNonFinite: number;
  numTokens: number;
}

/** What a Trainer is, as far as its state goes. */
type StatefulTrainer = Pick<Trainer, 'e' | 'params' | 'examples' | 'reference' | 'opts' | 'opt' | 'namedParams' | 'totalSteps' | 'stepsPerEpoch' | 'microBatches'>;

/** Reads everything to the host (readbacks of at most 64 MiB each). */
export async function exportTrainerState(t: StatefulTrainer, c: TrainerCounters): Promise<TrainerState> {
  const named = t.namedParams;
  const values = await readF32Batched(t.e, named.map(([, p]) => p));
  const params = new Map<string, Float32Array>();
  named.forEach(([name], i) => params.set(name, values[i]));
  const opt = await t.opt.exportState();
  const optimizer = new Map<string, Record<string, Float32Array>>();
  const counters: Record<string, Record<string, number>> = {};
  for (const [name, p] of named) {
    const s = opt.states.get(p);
    if (!s) continue; // no step taken yet
    optimizer.set(name, s.tensors);
    counters[name] = s.counters;
  }
  if (optimizer.size !== opt.states.size) throw new EngineError('trainer.exportState', 'the optimizer holds state for a tensor that trainer.namedParams does not list');
  return {
    meta: {
      version: TRAINER_STATE_VERSION,
      ...c,
      totalSteps: t.totalSteps,
      stepsPerEpoch: t.stepsPerEpoch,
      options: JSON.parse(JSON.stringify(t.opts)) as TrainOptions,
      data: dataFingerprint(t, epochOf(t, c.step)),
      tuning: { ...exportTuning(t.e) },
      trainable: named.map(([name, p]) => ({ name, shape: [...p.shape] })),
      optimizer: { name: opt.optimizer, hyper: opt.hyper, counters },
      adapter: adapterConfig(t),
    },
    params,
    optimizer,
    reference: t.reference ? Float32Array.from(t.reference) : null,
  };
}

/**
 * Checks that `s` belongs to this run (settings, data, its order, reference, trainable tensors),
 * then restores the kernel choices, the trainable tensors and the optimizer state. Nothing changes
 * when a check fails: the error names what differs and what to do.
 */
export async function restoreTrainerState(t: StatefulTrainer, s: TrainerState): Promise<TrainerCounters> {
  const where = 'trainer.restoreState';
  const m = s.meta;
  if (m.version !== TRAINER_STATE_VERSION) throw new EngineError(where, `the state has version ${m.version}, this build reads version ${TRAINER_STATE_VERSION}`, 'resume with the PrefStudio version that wrote the checkpoint, or start a new run');
  checkSameRun(m, t.opts, t.examples);
  if (m.totalSteps !== t.totalSteps || m.stepsPerEpoch !== t.stepsPerEpoch) {
    throw new EngineError(where, `the checkpoint's run has ${m.totalSteps} steps (${m.stepsPerEpoch} per epoch), this one ${t.totalSteps} (${t.stepsPerEpoch})`, 'resume with the same data and settings');
  }
  if (m.step > m.totalSteps) throw new EngineError(where, `the state is at step ${m.step} of a ${m.totalSteps}-step run`);
  const order = dataFingerprint(t, m.data.epoch).order;
  if (order !== m.data.order) throw new EngineError(where, `the data order of epoch ${m.data.epoch} differs from the checkpoint's (digest ${order} vs ${m.data.order})`, 'the shuffling changed (another PrefStudio version?): start a new run');
  checkReference(t, s.reference);
  const adapter = adapterConfig(t);
  if (JSON.stringify(adapter) !== JSON.stringify(m.adapter)) {
    throw new EngineError(where, `the checkpoint's LoRA settings are ${JSON.stringify(m.adapter)}, this run's ${JSON.stringify(adapter)}`, 'resume with the --use_peft / --lora_* settings the run was started with');
  }
  const named = t.namedParams;
  const want = named.map(([n, p]) => `${n} [${p.shape.join(', ')}]`);
  const got = m.trainable.map((x) => `${x.name} [${x.shape.join(', ')}]`);
  const missing = want.filter((x) => !got.includes(x));
  const extra = got.filter((x) => !want.includes(x));
  if (missing.length > 0 || extra.length > 0) {
    throw new EngineError(where, `the trainable tensors differ from the checkpoint's: ${missing.length ? `not in the checkpoint: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `only in the checkpoint: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}` : ''}`, 'resume with the model (and LoRA targets) the run was started with');
  }
  for (const [name, p] of named) {
    const v = s.params.get(name);
    if (!v || v.length !== p.size) throw new EngineError(where, `trainable tensor ${name} has ${v ? v.length : 'no'} values in the state, the model ${p.size}`);
  }
  const states = new Map<Tensor, ParamStateHost>();
  const byName = new Map(named);
  for (const [name, tensors] of s.optimizer) {
    const p = byName.get(name);
    if (!p) throw new EngineError(where, `the optimizer state names ${name}, which is not a trainable tensor`);
    states.set(p, { tensors, counters: m.optimizer.counters[name] ?? {} });
  }
  await importTuning(t.e, m.tuning); // before anything runs with the restored weights
  t.opt.importState({ optimizer: m.optimizer.name, hyper: m.optimizer.hyper, states }); // checks before it writes
  for (const [name, p] of named) p.write(s.params.get(name)!);
  return { step: m.step, nonFiniteSteps: m.nonFiniteSteps, consecutiveNonFinite: m.consecutiveNonFinite, numTokens: m.numTokens };
}

/**
 * Refuses a resume whose settings or data differ from the checkpoint's, naming every setting
 * that differs by its flag (usable before any weights load: it needs only the options and data).
 */
export function checkSameRun(m: TrainerStateMeta, opts: TrainOptions, examples: readonly TrainExample[]): void {
  const diffs = settingDiffs(m.options, JSON.parse(JSON.stringify(opts)) as TrainOptions);
  if (diffs.length > 0) {
    throw new EngineError('resume', `the run was started with other settings: ${diffs.join('; ')}`, 'resume with the settings the run was started with (the checkpoint\'s manifest lists them), or start a new run without --resume');
  }
  const d = examplesDigest(examples);
  if (examples.length !== m.data.examples || d !== m.data.digest) {
    throw new EngineError('resume', `the training data differ from the checkpoint's: ${examples.length} pairs now, ${m.data.examples} then${examples.length === m.data.examples ? ', with other token ids, rows or targets' : ''}`, 'resume with the same --data file and sequence settings (--max_length, --max_prompt_length, --truncation_mode, …)');
  }
}

/** Every setting whose value differs, as "--flag is X in the checkpoint, Y now". */
function settingDiffs(then: TrainOptions, now: TrainOptions): string[] {
  const out: string[] = [];
  const cmp = (a: Record<string, unknown>, b: Record<string, unknown>, nested: boolean): void => {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (FREE_TO_CHANGE.has(k) && !nested) continue;
      if (k === 'loss' && !nested) {
        cmp((a.loss ?? {}) as Record<string, unknown>, (b.loss ?? {}) as Record<string, unknown>, true);
        continue;
      }
      const [x, y] = [JSON.stringify(a[k] ?? null), JSON.stringify(b[k] ?? null)];
      if (x !== y) out.push(`--${flagName(k)} is ${x} in the checkpoint, ${y} now`);
    }
  };
  cmp(then as unknown as Record<string, unknown>, now as unknown as Record<string, unknown>, false);
  return out;
}

/**
 * Settings a resumed run may change: they change how a step is computed, never its numbers
 * (activation recomputation gives the same gradients bit for bit, recompute.ts).
 */
const FREE_TO_CHANGE = new Set(['gradientCheckpointing']);

/** TRL's flag name of a TrainOptions / LossConfig field (their comments list them). */
function flagName(field: string): string {
  const special: Record<string, string> = { lossTypes: 'loss_type', batchSize: 'per_device_train_batch_size', wpoClamp: 'wpo_no_clamp', gpoClamp: 'gpo_clamp (GPO target clamp)' };
  return special[field] ?? field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/([a-z])(\d)/g, '$1$2');
}

/** A digest of every example (row, ids, targets), in order. */
export function examplesDigest(examples: readonly TrainExample[]): string {
  const ints: number[] = [examples.length];
  const floats: number[] = [];
  for (const x of examples) {
    ints.push(x.row, x.promptIds.length, x.chosenIds.length, x.rejectedIds.length, ...x.promptIds, ...x.chosenIds, ...x.rejectedIds, x.targets ? 1 : 0);
    if (x.targets) floats.push(x.targets[0], x.targets[1]);
  }
  return `${digest(new Uint8Array(Int32Array.from(ints).buffer))}${digest(new Uint8Array(Float64Array.from(floats).buffer))}`;
}

function epochOf(t: StatefulTrainer, step: number): number {
  return Math.floor(step / t.stepsPerEpoch);
}

/** The examples' digest and the order of epoch `epoch` (every micro-batch of its steps). */
function dataFingerprint(t: StatefulTrainer, epoch: number): TrainerStateMeta['data'] {
  const idx: number[] = [];
  for (let s = epoch * t.stepsPerEpoch; s < (epoch + 1) * t.stepsPerEpoch; s++) for (const mb of t.microBatches(s)) idx.push(...mb, -1);
  return { examples: t.examples.length, digest: examplesDigest(t.examples), epoch, order: digest(new Uint8Array(Int32Array.from(idx).buffer)) };
}

function checkReference(t: StatefulTrainer, saved: Float32Array | null): void {
  const mine = t.reference;
  if (!saved || !mine) return; // a loss without a reference ignores it (the settings are checked equal)
  const where = 'trainer.restoreState';
  if (saved.length !== mine.length) throw new EngineError(where, `the checkpoint holds reference log-probs for ${saved.length / 2} pairs, the trainer got ${mine.length / 2}`);
  const a = new Uint32Array(saved.buffer, saved.byteOffset, saved.length);
  const b = new Uint32Array(mine.buffer, mine.byteOffset, mine.length);
  const i = a.findIndex((x, k) => x !== b[k]);
  if (i >= 0) {
    const row = t.examples[i >> 1].row;
    throw new EngineError(where, `the reference log-prob of dataset row ${row} (${i & 1 ? 'rejected' : 'chosen'}) is ${mine[i]} here, ${saved[i]} in the checkpoint`, 'give the trainer the checkpoint\'s reference (state.reference), as a resumed run must use the same numbers');
  }
}

/** The LoRA settings of the trainer's model, when it trains an adapter. */
function adapterConfig(t: StatefulTrainer): LoraConfig | null {
  const ad = (t.params as { adapter?: { config: LoraConfig } | null }).adapter;
  return ad ? (JSON.parse(JSON.stringify(ad.config)) as LoraConfig) : null;
}
