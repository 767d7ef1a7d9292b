// Opening a Hugging Face Gemma-2 checkpoint from its files and uploading it to the GPU.
//
//   openCheckpoint(source)         config.json + every safetensors header (+ the sharded index),
//                                  validated against the config before a single tensor byte is read
//                                  (the weight store's import starts with it too)
//   uploadCheckpoint(e, ckpt)      streams tensor by tensor from the files to GPU f32 tensors: F32
//                                  written as is, BF16/F16 uploaded as 16-bit storage and widened on
//                                  the GPU (toF32); one tensor's bytes in JS memory at a time
//
// The files come as {name, size, read(offset, length)}: File objects from a dropped folder in the
// studio (store/import.ts sourceFromFiles), or a directory in Node (store/kv_node.ts
// sourceFromDirectory). The store's loadModelToGpu uploads from stored chunks instead.
// Not here: tokenization (data/), the model math (gemma2.ts).

import type { Engine } from '../engine.ts';
import { LoadError } from '../errors.ts';
import { toF32 } from '../ops/convert.ts';
import type { Tensor } from '../tensor.ts';
import { parseGemma2Config, type Gemma2Config } from './config.ts';
import { readSafetensorsHeader, type ByteReader, type Dtype, type SafetensorsHeader } from './safetensors.ts';
import { INDEX_FILE, parseShardIndex, validateCheckpoint, type CheckpointReport } from './sharded.ts';

/** One file of a checkpoint: its name (no folder), size and a byte reader. */
export interface CheckpointFile {
  name: string;
  size: number;
  read: ByteReader;
  /** read() returns a new buffer per call (File/Blob, fs): callers may free each piece when done. */
  fresh?: boolean;
}

/** A checkpoint as the user gave it: a dropped folder, picked files, or a directory (Node). */
export interface CheckpointSource {
  name?: string; // the folder's name
  files: CheckpointFile[];
}

/** Besides weights: files kept with a model when present. */
export const EXTRA_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'] as const;

export interface OpenedCheckpoint {
  /** Where the files came from, for messages (the folder's name or path). */
  source: string;
  cfg: Gemma2Config;
  configJson: unknown;
  configText: string;
  headers: SafetensorsHeader[];
  report: CheckpointReport;
  files: Map<string, CheckpointFile>;
  /** EXTRA_FILES present in the source. */
  extras: CheckpointFile[];
}

export interface OpenHooks {
  /** Bytes the validation will read (config, index, every shard's header). */
  onTotal?: (bytes: number) => void;
  /** A file was validated (`bytes` = its size, for a progress meter). */
  onFile?: (file: string, bytes: number) => void;
}

export interface LoadProgress {
  phase: 'upload';
  bytesDone: number;
  bytesTotal: number;
  percent: number;
  mbPerSec: number;
  tensor: string;
}

const MiB = 1 << 20;
const MAX_JSON_FILE = 64 * MiB; // config.json and the index are kilobytes; refuse to slurp a huge file

/** The whole file (small files only), checking the read returned every byte. */
export async function readWholeFile(f: CheckpointFile, limit = MAX_JSON_FILE): Promise<Uint8Array> {
  if (f.size > limit) throw new LoadError(f.name, `is ${f.size} bytes, far larger than such a file can be (limit ${limit})`, 'choose the file that came with the checkpoint');
  const b = await f.read(0, f.size);
  if (b.length !== f.size) throw new LoadError(f.name, `reading it returned ${b.length} of its ${f.size} bytes`, 'the file changed or could not be read; choose it again');
  return b;
}

export async function readJsonFile(f: CheckpointFile): Promise<{ text: string; json: unknown }> {
  const text = new TextDecoder().decode(await readWholeFile(f));
  try {
    return { text, json: JSON.parse(text) as unknown };
  } catch (e) {
    throw new LoadError(f.name, `is not valid JSON (${(e as Error).message})`, 'choose the file that came with the checkpoint, or download it again');
  }
}

/**
 * Reads and validates everything but the tensor data: config.json, the index (if sharded) and every
 * safetensors header, checked against each other. Only headers are read. Throws a LoadError naming
 * the file and tensor, with what to do.
 */
export async function openCheckpoint(source: CheckpointSource, hooks: OpenHooks = {}): Promise<OpenedCheckpoint> {
  const files = new Map<string, CheckpointFile>();
  for (const f of source.files) {
    if (files.has(f.name)) throw new LoadError(f.name, 'was given twice (two files with this name)', 'give each file of the checkpoint once, from one folder');
    files.set(f.name, f);
  }
  const given = [...files.keys()].join(', ') || 'no files';
  const configFile = files.get('config.json');
  if (!configFile) {
    throw new LoadError('config.json', `is missing (given: ${given})`, 'add config.json from the checkpoint folder: it says which model the weights belong to');
  }
  const shards = [...files.values()].filter((f) => f.name.endsWith('.safetensors'));
  if (shards.length === 0) {
    const bin = [...files.keys()].some((n) => n.endsWith('.bin') || n.endsWith('.pt') || n.endsWith('.pth'));
    throw new LoadError(
      source.name ?? 'the checkpoint',
      `has no .safetensors file (given: ${given})`,
      bin ? 'this is a PyTorch .bin checkpoint: PrefStudio reads safetensors only (download the safetensors version of the model)' : 'add model.safetensors, or every model-0000k-of-0000n.safetensors and model.safetensors.index.json',
    );
  }
  const indexFile = files.get(INDEX_FILE);
  hooks.onTotal?.([configFile, ...(indexFile ? [indexFile] : []), ...shards].reduce((a, f) => a + f.size, 0));

  const { text: configText, json: configJson } = await readJsonFile(configFile);
  const cfg = parseGemma2Config(configJson, configFile.name);
  hooks.onFile?.(configFile.name, configFile.size);
  const index = indexFile ? parseShardIndex((await readJsonFile(indexFile)).text, indexFile.name) : null;
  if (indexFile) hooks.onFile?.(indexFile.name, indexFile.size);
  const headers: SafetensorsHeader[] = [];
  for (const f of shards) {
    headers.push(await readSafetensorsHeader(f.read, f.size, f.name));
    hooks.onFile?.(f.name, f.size);
  }
  const report = validateCheckpoint(cfg, headers, index);
  const extras = EXTRA_FILES.map((n) => files.get(n)).filter((f): f is CheckpointFile => f !== undefined);
  return { source: source.name ?? 'checkpoint', cfg, configJson, configText, headers, report, files, extras };
}

/** tokenizer.json and tokenizer_config.json of an opened checkpoint, parsed (null when absent). */
export async function readTokenizerFiles(ckpt: OpenedCheckpoint): Promise<{ tokenizerJson: object | null; tokenizerConfig: object | null }> {
  const get = async (name: string): Promise<object | null> => {
    const f = ckpt.files.get(name);
    return f ? ((await readJsonFile(f)).json as object) : null;
  };
  return { tokenizerJson: await get('tokenizer.json'), tokenizerConfig: await get('tokenizer_config.json') };
}

/**
 * One tensor's bytes (as stored) → an f32 GPU tensor. 16-bit storage is uploaded as is and widened
 * on the GPU, so the host never holds an f32 copy.
 */
export function uploadTensor(e: Engine, name: string, dtype: Dtype, shape: readonly number[], bytes: Uint8Array): Tensor {
  // Copy when the view is not aligned to the element size (safetensors from other writers).
  const elem = dtype === 'F32' ? 4 : 2;
  const aligned = bytes.byteOffset % elem === 0 ? bytes : bytes.slice();
  if (dtype === 'F32') {
    return e.tensor(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4), shape, { label: name });
  }
  if (dtype === 'BF16' || dtype === 'F16') {
    const raw = e.tensor(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2), shape, { dtype: dtype === 'BF16' ? 'bf16' : 'f16', label: `${name}.raw` });
    const t = e.noGrad(() => toF32(raw));
    raw.dispose();
    return t;
  }
  throw new LoadError(name, `dtype ${dtype} cannot be loaded`, 'PrefStudio loads F32, BF16 and F16 weights');
}

/**
 * Uploads every parameter of an opened checkpoint straight from its files (no store), one tensor's
 * bytes in memory at a time. The store's loadModelToGpu does the same from stored chunks.
 */
export async function uploadCheckpoint(
  e: Engine,
  ckpt: OpenedCheckpoint,
  opts: { requiresGrad?: boolean; onProgress?: (p: LoadProgress) => void } = {},
): Promise<Map<string, Tensor>> {
  const total = ckpt.report.totalBytes;
  const t0 = performance.now();
  let done = 0;
  const byName = new Map<string, Tensor>();
  for (const t of ckpt.report.tensors) {
    const file = ckpt.files.get(t.file)!;
    const bytes = await file.read(t.offset, t.nbytes);
    if (bytes.byteLength !== t.nbytes) {
      throw new LoadError(`${t.file}, tensor '${t.name}'`, `read ${bytes.byteLength} of ${t.nbytes} bytes`, 'the file changed or was truncated while loading: copy it again');
    }
    const tensor = uploadTensor(e, t.name, t.dtype, t.shape, bytes);
    tensor.requiresGrad = opts.requiresGrad ?? false;
    byName.set(t.name, tensor);
    done += t.nbytes;
    const secs = (performance.now() - t0) / 1000;
    opts.onProgress?.({ phase: 'upload', bytesDone: done, bytesTotal: total, percent: total ? (100 * done) / total : 100, mbPerSec: secs > 0 ? done / 1e6 / secs : 0, tensor: t.name });
  }
  await e.sync();
  return byName;
}
