// What the training commands share: open a checkpoint folder (headers and config first, weights
// later, so a bad data file fails before any weights load), read a preference file into training
// examples through the one validation place (engine/data/examples.ts), and the GPU session.

import type { Engine } from '../engine/engine.ts';
import { loadDataset } from '../engine/data/dataset.ts';
import { loadTokenizer, type Tokenizer } from '../engine/data/tokenizer.ts';
import { dimsFromConfig, namedParams, type Gemma2Dims, type Gemma2Params } from '../engine/model/gemma2.ts';
import { checkpointWeights, FROZEN_16BIT, loadGemma2, openCheckpoint, readTokenizerFiles, type OpenedCheckpoint } from '../engine/model/load.ts';
import { disposeAdapter, type LoraAdapter } from '../engine/model/lora.ts';
import { uploadAdapter, type HostLoraAdapter } from '../engine/model/peft.ts';
import { createNodeEngine } from '../engine/node.ts';
import { sourceFromDirectory } from '../engine/store/kv_node.ts';
import type { LossConfig } from '../engine/train/losses.ts';
import { examplesFromDataset } from '../engine/train/config.ts';
import type { TrainExample } from '../engine/train/trainer.ts';
import type { CliIO } from './args.ts';
import type { Flags } from './flags.ts';
import { readFileBytes } from './read_file.ts';

/** A checkpoint folder opened (config, headers, tokenizer) but not yet on the GPU. */
export interface OpenedModel {
  dir: string;
  ckpt: OpenedCheckpoint;
  dims: Gemma2Dims;
  tokenizer: Tokenizer | null;
  /** The raw tokenizer files (logps and generate take these). */
  tokenizerFiles: { tokenizerJson: object | null; tokenizerConfig: object | null };
}

/** A model on the GPU. */
export interface LoadedModel extends OpenedModel {
  e: Engine;
  params: Gemma2Params;
  /** Parameters in the model. */
  paramCount: number;
  dispose(): void;
}

export async function openModelFolder(dir: string, io: CliIO): Promise<OpenedModel> {
  const ckpt = await openCheckpoint({ ...(await sourceFromDirectory(dir)), name: dir });
  for (const w of [...ckpt.cfg.warnings, ...ckpt.report.warnings]) io.log(`warning: ${w}`);
  const tk = await readTokenizerFiles(ckpt);
  const tokenizer = tk.tokenizerJson ? loadTokenizer(tk.tokenizerJson, tk.tokenizerConfig ?? undefined) : null;
  return { dir, ckpt, dims: dimsFromConfig(ckpt.cfg), tokenizer, tokenizerFiles: tk };
}

/**
 * Uploads an opened checkpoint's weights with progress on stderr: trainable f32 tensors with
 * `trainable` (full fine-tuning), else a frozen model whose 16-bit matrices stay 16-bit on the GPU
 * (load.ts FROZEN_16BIT: logps, generate, a LoRA base — the same numbers, half the memory).
 */
export async function uploadModel(m: OpenedModel, io: CliIO, opts: { trainable?: boolean; engine?: Engine } = {}): Promise<LoadedModel> {
  const e = opts.engine ?? (await createNodeEngine());
  if (!opts.engine) io.log(`adapter: ${e.info.description || e.info.device || e.info.architecture} (${e.info.vendor})`);
  let lastLog = 0;
  const loaded = await loadGemma2(e, checkpointWeights(m.ckpt), {
    trainable: opts.trainable ?? false,
    keep16: opts.trainable ? false : FROZEN_16BIT,
    onProgress: (p) => {
      if (p.bytesDone < p.bytesTotal && performance.now() - lastLog < 250) return;
      lastLog = performance.now();
      io.log(`loading weights: ${p.percent.toFixed(0)}% (${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB, ${p.mbPerSec.toFixed(1)} MB/s)`);
    },
  });
  const params = loaded.params;
  const paramCount = namedParams(params).reduce((s, [, t]) => s + t.size, 0);
  // An engine we created goes with the model; a given one stays with its owner.
  return { ...m, e, params, paramCount, dispose: () => (opts.engine ? loaded.dispose() : e.destroy()) };
}

/**
 * Puts a LoRA adapter (read by cli/export.ts openAdapterFolder) on a loaded model: its factors go to
 * the GPU as m.params.adapter (trainable to continue training it), freed with the model.
 */
export function attachAdapter(m: LoadedModel, host: HostLoraAdapter, opts: { trainable?: boolean } = {}): LoraAdapter {
  const ad = uploadAdapter(m.e, host, opts);
  m.params.adapter = ad;
  const dispose = m.dispose;
  m.dispose = () => {
    disposeAdapter(ad);
    dispose();
  };
  return ad;
}

export async function openModel(dir: string, io: CliIO, opts: { trainable?: boolean } = {}): Promise<LoadedModel> {
  return uploadModel(await openModelFolder(dir, io), io, opts);
}

/**
 * Reads and validates a preference file (.jsonl, .json, .parquet) against an opened model and
 * turns it into training examples (engine/train/config.ts examplesFromDataset, shared with the
 * worker). Every malformed row is reported with its row and field.
 */
export async function loadExamples(m: OpenedModel, file: string, loss: LossConfig, f: Flags, io: CliIO): Promise<{ examples: TrainExample[]; dropped: { row: number; name: string; reason: string }[] }> {
  const ds = await loadDataset(file, await readFileBytes(file, 'give a .jsonl, .json or .parquet preference file'));
  const { examples, dropped } = examplesFromDataset(ds, { vocabSize: m.ckpt.cfg.V, tokenizer: m.tokenizer }, loss, f);
  for (const d of dropped.slice(0, 5)) io.log(`warning: ${file}: ${d.name} dropped: ${d.reason}`);
  if (dropped.length > 5) io.log(`warning: ${file}: ${dropped.length - 5} more rows dropped`);
  return { examples, dropped };
}
