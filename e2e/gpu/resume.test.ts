// Resume (issue 9 "Checkpoints and resume"): train k steps, save a checkpoint (through the KV
// store and the validating loader, as the studio does), throw the trainer and the model away, load
// the checkpoint's model afresh, restore, continue — every metrics record and the final trainable
// tensors and optimizer state equal those of a run that never stopped, bit for bit. Full
// fine-tuning with AdamW (weight decay, cosine schedule with warmup, gradient accumulation, epochs
// crossed after the stop) and with RMSProp; LoRA with dropout (adapter factors only). A resume with
// other settings, other data or another reference is refused, naming what differs.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/args.ts';
import { lossConfigFromFlags } from '../../src/cli/flags.ts';
import { loadExamples, openModelFolder, uploadModel, type LoadedModel, type OpenedModel } from '../../src/cli/model.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { createAdapter } from '../../src/engine/model/lora.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { createMemoryBackend } from '../../src/engine/store/kv.ts';
import { kvCheckpointStore, loadCheckpoint, saveCheckpoint } from '../../src/engine/train/checkpoint.ts';
import type { TrainerState } from '../../src/engine/train/checkpoint_state.ts';
import { computeReferenceLogps } from '../../src/engine/train/ref_cache.ts';
import { Trainer, TRAIN_DEFAULTS, type StepRecord, type TrainExample, type TrainOptions } from '../../src/engine/train/trainer.ts';

const root = join(import.meta.dirname, '..', '..');
const tinyDir = join(root, 'e2e', 'fixtures', 'checkpoints', 'tiny-l3-f32-2shard');
const demoDir = join(root, 'public', 'demo', 'model');
const quiet: CliIO = { stdout: () => {}, log: () => {} };

let e: Engine;
beforeAll(async () => {
  e = await createNodeEngine();
});
afterAll(() => e?.destroy());

const hex = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Trainable tensors and optimizer state of a trainer, as hex per name (bitwise comparison). */
function stateBits(s: TrainerState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of s.params) out[`param ${n}`] = hex(v);
  for (const [n, slots] of s.optimizer) for (const [k, v] of Object.entries(slots)) out[`${k} ${n}`] = hex(v);
  return out;
}

interface Setup {
  opened: OpenedModel;
  examples: TrainExample[];
  opts: TrainOptions;
  lora?: Parameters<typeof createAdapter>[2];
}

/** A fresh model (+ adapter) and a trainer on it; the reference is the base model's unless given. */
async function start(s: Setup, reference?: Float32Array | null): Promise<{ m: LoadedModel; t: Trainer; reference: Float32Array }> {
  const m = await uploadModel(s.opened, quiet, { trainable: !s.lora, engine: e });
  const ref = reference ?? (await computeReferenceLogps(e, m.dims, m.params, s.examples, { batchSize: 4 }));
  if (s.lora) m.params.adapter = createAdapter(e, m.dims, s.lora, s.opts.seed);
  return { m, t: new Trainer(e, m.dims, m.params, s.examples, ref, s.opts), reference: ref };
}

function stop(x: { m: LoadedModel; t: Trainer }): void {
  x.t.dispose();
  x.m.dispose();
}

/** Trains k steps, checkpoints, disposes, restores on a fresh model, trains on: vs an uninterrupted run. */
async function resumeEqualsUninterrupted(s: Setup, k: number): Promise<void> {
  const whole = await start(s);
  const all: StepRecord[] = [];
  while (!whole.t.done) all.push(await whole.t.trainStep());
  const endWhole = await whole.t.exportState();
  stop(whole);
  expect(all.length).toBeGreaterThan(k);

  const first = await start(s);
  const head: StepRecord[] = [];
  for (let i = 0; i < k; i++) head.push(await first.t.trainStep());
  const kv = createMemoryBackend();
  const store = kvCheckpointStore(kv, 'runs/test/');
  await saveCheckpoint(store, first.t, { metrics: head });
  stop(first);

  const ck = await loadCheckpoint(store.open(k));
  expect(ck.metrics).toEqual(head.map((r) => JSON.stringify(r)));
  const second = await start(s, ck.state.reference); // the checkpoint's reference: no reference pass
  await second.t.restoreState(ck.state);
  expect(second.t.step).toBe(k);
  const tail: StepRecord[] = [];
  while (!second.t.done) tail.push(await second.t.trainStep());
  const endResumed = await second.t.exportState();
  stop(second);

  const resumed = [...ck.metrics.map((l) => JSON.parse(l) as StepRecord), ...tail];
  expect(resumed.map((r) => r.step)).toEqual(all.map((r) => r.step));
  for (let i = 0; i < all.length; i++) expect(JSON.stringify(resumed[i]), `metrics of step ${i + 1}`).toBe(JSON.stringify(all[i]));
  const [a, b] = [stateBits(endWhole), stateBits(endResumed)];
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const key of Object.keys(a)) expect(b[key] === a[key], `${key} after the last step`).toBe(true);
  expect(endResumed.meta.numTokens).toBe(endWhole.meta.numTokens);
  expect(endResumed.meta.optimizer.counters).toEqual(endWhole.meta.optimizer.counters);
}

describe('resume = an uninterrupted run, bit for bit (tiny checkpoint)', () => {
  let opened: OpenedModel;
  let examples: TrainExample[];
  const ids = (seed: number, n: number): number[] => Array.from({ length: n }, (_, i) => 3 + ((seed * 7 + i * 13) % 40));
  // 7 pairs, 2 per micro-batch, 2 micro-batches per step: 2 steps per epoch (the second has one
  // micro-batch of 2 and one of 1) — a stop after step 3 resumes mid-epoch and crosses into epoch 3.
  const base: Omit<TrainOptions, 'loss'> = { ...TRAIN_DEFAULTS, learningRate: 2e-3, weightDecay: 0.1, batchSize: 2, gradientAccumulationSteps: 2, maxSteps: 6, lrSchedulerType: 'cosine', warmupSteps: 1, seed: 11 };

  beforeAll(async () => {
    opened = await openModelFolder(tinyDir, quiet);
    examples = Array.from({ length: 7 }, (_, i) => ({ row: i, promptIds: [2, ...ids(i, 2 + (i % 3))], chosenIds: [...ids(i + 20, 1 + (i % 4)), 1], rejectedIds: [...ids(i + 40, 2 + (i % 2)), 1] }));
  });

  it('full fine-tuning, AdamW (WPO loss), stopped after step 3 of 6', async () => {
    await resumeEqualsUninterrupted({ opened, examples, opts: { ...base, loss: lossConfigFromFlags({ loss_type: ['sigmoid'], use_weighting: true }) } }, 3);
  });

  it('full fine-tuning, RMSProp (IPO + sft), stopped after step 2 of 6', async () => {
    await resumeEqualsUninterrupted({ opened, examples, opts: { ...base, optim: 'rmsprop', learningRate: 1e-4, loss: lossConfigFromFlags({ loss_type: ['ipo', 'sft'], loss_weights: [1, 0.5] }) } }, 2);
  });

  it('LoRA with dropout (the adapter is the state), stopped after step 4 of 6', async () => {
    await resumeEqualsUninterrupted({ opened, examples, opts: { ...base, loss: lossConfigFromFlags({ loss_type: ['sigmoid'] }) }, lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'], useRslora: false } }, 4);
  });

  it('refuses a resume with other settings, data, reference or LoRA settings, naming them', async () => {
    const opts: TrainOptions = { ...base, loss: lossConfigFromFlags({ loss_type: ['sigmoid'] }) };
    const a = await start({ opened, examples, opts });
    await a.t.trainStep();
    const state = await a.t.exportState();
    stop(a);
    const refuse = async (s: Setup, reference: Float32Array | null, pattern: RegExp): Promise<void> => {
      const b = await start(s, reference ?? undefined);
      await expect(b.t.restoreState(state)).rejects.toThrow(pattern);
      expect(b.t.step, 'nothing restored').toBe(0);
      stop(b);
    };
    await refuse({ opened, examples, opts: { ...opts, learningRate: 1e-3, batchSize: 3 } }, state.reference, /the run was started with other settings: --per_device_train_batch_size is 2 in the checkpoint, 3 now; --learning_rate is 0\.002 in the checkpoint, 0\.001 now\n---> HINT: resume with the settings/);
    await refuse({ opened, examples, opts: { ...opts, loss: lossConfigFromFlags({ loss_type: ['sigmoid'], beta: 0.2 }) } }, state.reference, /--beta is 0\.1 in the checkpoint, 0\.2 now/);
    await refuse({ opened, examples: [...examples.slice(0, 6), { ...examples[6], chosenIds: [5, 1] }], opts }, null, /the training data differ from the checkpoint's: 7 pairs now, 7 then, with other token ids/);
    const otherRef = Float32Array.from(state.reference!, (x, i) => (i === 5 ? x + 1 : x));
    await refuse({ opened, examples, opts }, otherRef, /the reference log-prob of dataset row 2 \(rejected\) is .* here, .* in the checkpoint/);
    await refuse({ opened, examples, opts, lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj'], useRslora: false } }, state.reference, /the checkpoint's LoRA settings are null, this run's \{"r":2/);
    // --gradient_checkpointing changes how a step is computed, not its numbers: a resume may turn it on
    const c = await start({ opened, examples, opts: { ...opts, gradientCheckpointing: true } }, state.reference ?? undefined);
    await c.t.restoreState(state);
    expect(c.t.step).toBe(1);
    stop(c);
  });
});

describe('the demo model (row-split embedding names, real tokens)', () => {
  it('resume after step 1 of 3 equals the uninterrupted run', async () => {
    const opened = await openModelFolder(demoDir, quiet);
    const loss = lossConfigFromFlags({ loss_type: ['sigmoid'] });
    const examples = (await loadExamples(opened, join(root, 'public/demo/preferences/train.jsonl'), loss, {}, quiet)).examples.slice(0, 6);
    await resumeEqualsUninterrupted({ opened, examples, opts: { ...TRAIN_DEFAULTS, learningRate: 1e-3, batchSize: 2, maxSteps: 3, loss } }, 1);
  }, 600_000);
});
