// Test helper of checkpoint.test.ts (not part of the engine's API):
//   syntheticState(step)   a small, valid TrainerState whose values depend on `step`
//   run as a script        saves checkpoint-2 completely, then starts checkpoint-4 and stops after
//                          its first blob — prints "halfway" and waits to be killed (SIGKILL), as
//                          a crash in the middle of a checkpoint write. argv: <folder> <file-KV folder>

import { fileURLToPath } from 'node:url';
import { createFileBackend } from '../store/kv_node.ts';
import { kvCheckpointStore, saveCheckpoint, type CheckpointStore } from './checkpoint.ts';
import { nodeCheckpointStore } from './checkpoint_node.ts';
import { TRAINER_STATE_VERSION, type TrainerState } from './checkpoint_state.ts';
import { defaultLossConfig } from './losses.ts';
import { TRAIN_DEFAULTS } from './trainer.ts';

/** Two trainable tensors with AdamW state, a reference for 3 pairs, values derived from `step`. */
export function syntheticState(step: number): TrainerState {
  const vals = (n: number, k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(step * 100 + k * 10 + i) / 3);
  const trainable = [
    { name: 'model.layers.0.self_attn.q_proj.weight', shape: [2, 3] },
    { name: 'model.norm.weight', shape: [4] },
  ];
  const n = (s: number[]): number => s.reduce((a, b) => a * b, 1);
  return {
    meta: {
      version: TRAINER_STATE_VERSION,
      step,
      nonFiniteSteps: 0,
      consecutiveNonFinite: 0,
      numTokens: 17 * step,
      totalSteps: 10,
      stepsPerEpoch: 5,
      options: { ...TRAIN_DEFAULTS, loss: defaultLossConfig() },
      data: { examples: 3, digest: 'd', epoch: Math.floor(step / 5), order: 'o' },
      tuning: {},
      trainable,
      optimizer: { name: 'AdamW', hyper: { beta1: 0.9, beta2: 0.999, eps: 1e-8 }, counters: Object.fromEntries(trainable.map((t) => [t.name, { step }])) },
      adapter: null,
    },
    params: new Map(trainable.map((t, k) => [t.name, vals(n(t.shape), k)])),
    optimizer: new Map(trainable.map((t, k) => [t.name, { exp_avg: vals(n(t.shape), k + 5), exp_avg_sq: vals(n(t.shape), k + 7).map(Math.abs) }])),
    reference: vals(6, 9),
  };
}

async function main(dirRoot: string, kvRoot: string): Promise<void> {
  const stores: CheckpointStore[] = [nodeCheckpointStore(dirRoot), kvCheckpointStore(await createFileBackend(kvRoot), 'run/')];
  for (const store of stores) await saveCheckpoint(store, { exportState: async () => syntheticState(2) }, { metrics: ['{"step":1}', '{"step":2}'] });
  let halfway = 0;
  const stop = (): Promise<void> => {
    if (++halfway === stores.length) {
      setInterval(() => {}, 60_000); // keeps the process alive until the parent kills it
      process.stdout.write('halfway\n');
    }
    return new Promise(() => {}); // never resolves: the parent kills this process here
  };
  // both writes stop after their first blob; the process is killed while both are pending
  for (const store of stores) void saveCheckpoint(store, { exportState: async () => syntheticState(4) }, { metrics: ['{"step":3}', '{"step":4}'], hooks: { afterBlob: stop } });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv[2], process.argv[3]);
