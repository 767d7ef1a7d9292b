// Opening a Hugging Face Gemma-2 checkpoint from its files and uploading it to the GPU.
//
//   openCheckpoint(files)          config.json + every safetensors header (+ the sharded index),
//                                  validated against the config before a single tensor byte is read
//   uploadCheckpoint(e, ckpt)      streams tensor by tensor to GPU f32 tensors: F32 written as is,
//                                  BF16/F16 uploaded as 16-bit storage and widened on the GPU (toF32);
//                                  JS memory holds one tensor's bytes at a time; progress with MB/s
//
// The files come as {name, size, read(offset, length)}: File objects from a dropped folder in the
// studio, or a directory in Node (./files_node.ts). The IndexedDB weight store (src/engine/store)
// feeds the same uploader from its chunks.
// Not here: tokenization (data/), the model math (gemma2.ts).

import type { Engine } from '../engine.ts';
import { LoadError } from '../errors.ts';
import { toF32 } from '../ops/convert.ts';
import type { Tensor } from '../tensor.ts';
import { parseGemma2Config, type Gemma2Config } from './config.ts';
import { LAYER_TENSORS, type Gemma2Layer, type Gemma2Params } from './gemma2.ts';
import { readSafetensorsHeader, type ByteReader, type Dtype, type SafetensorsHeader } from './safetensors.ts';
import { parseShardIndex, validateCheckpoint, type CheckpointReport } from './sharded.ts';

export interface CheckpointFile {
  name: string;
  size: number;
  read: ByteReader;
}

export interface OpenedCheckpoint {
  /** Where the files came from, for messages (a folder name or path). */
  source: string;
  cfg: Gemma2Config;
  report: CheckpointReport;
  files: Map<string, CheckpointFile>;
  /** tokenizer.json / tokenizer_config.json when present (parsed JSON). */
  tokenizerJson: object | null;
  tokenizerConfig: object | null;
}

export interface LoadProgress {
  phase: 'upload';
  bytesDone: number;
  bytesTotal: number;
  percent: number;
  mbPerSec: number;
  tensor: string;
}

const decoder = new TextDecoder();

async function readText(f: CheckpointFile): Promise<string> {
  return decoder.decode(await f.read(0, f.size));
}

async function readJson(f: CheckpointFile, source: string): Promise<unknown> {
  const text = await readText(f);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LoadError(`${source}/${f.name}`, `is not valid JSON (${(e as Error).message})`, 'the file is damaged or incomplete: copy or download it again');
  }
}

/** Reads and validates everything but the tensor data. Throws a LoadError naming file and tensor. */
export async function openCheckpoint(fileList: CheckpointFile[], source = 'checkpoint'): Promise<OpenedCheckpoint> {
  const files = new Map(fileList.map((f) => [f.name, f]));
  const configFile = files.get('config.json');
  if (!configFile) {
    throw new LoadError(source, 'has no config.json', 'choose the model folder itself (the one holding config.json and the .safetensors files)');
  }
  const cfg = parseGemma2Config(await readJson(configFile, source), `${source}/config.json`);
  const indexFile = files.get('model.safetensors.index.json');
  const index = indexFile ? parseShardIndex(await readText(indexFile), indexFile.name) : null;
  const stFiles = fileList.filter((f) => f.name.endsWith('.safetensors'));
  if (stFiles.length === 0) {
    throw new LoadError(source, 'has no .safetensors file', 'PrefStudio reads safetensors checkpoints (model.safetensors, or model-0000i-of-0000n.safetensors + model.safetensors.index.json); convert .bin checkpoints with transformers save_pretrained(safe_serialization=True)');
  }
  const headers: SafetensorsHeader[] = [];
  for (const f of stFiles) headers.push(await readSafetensorsHeader(f.read, f.size, f.name));
  const report = validateCheckpoint(cfg, headers, index);
  const tk = files.get('tokenizer.json');
  const tkc = files.get('tokenizer_config.json');
  return {
    source,
    cfg,
    report,
    files,
    tokenizerJson: tk ? ((await readJson(tk, source)) as object) : null,
    tokenizerConfig: tkc ? ((await readJson(tkc, source)) as object) : null,
  };
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

/** Uploads every parameter of an opened checkpoint and assembles Gemma2Params. */
export async function uploadCheckpoint(
  e: Engine,
  ckpt: OpenedCheckpoint,
  opts: { requiresGrad?: boolean; onProgress?: (p: LoadProgress) => void } = {},
): Promise<Gemma2Params> {
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
  return paramsFromNamed(ckpt.cfg.L, (name) => byName.get(name), ckpt.source);
}

/** Assembles Gemma2Params from HF-named tensors; a missing one is a LoadError naming it. */
export function paramsFromNamed(L: number, get: (hfName: string) => Tensor | undefined, source = 'checkpoint'): Gemma2Params {
  const need = (name: string): Tensor => {
    const t = get(name);
    if (!t) throw new LoadError(`${source}, tensor '${name}'`, 'is missing', 'the checkpoint is incomplete: copy or download it again');
    return t;
  };
  const layers: Gemma2Layer[] = [];
  for (let i = 0; i < L; i++) {
    const layer = {} as Record<keyof Gemma2Layer, Tensor>;
    for (const [field, name] of Object.entries(LAYER_TENSORS) as [keyof Gemma2Layer, string][]) layer[field] = need(`model.layers.${i}.${name}`);
    layers.push(layer);
  }
  return { embed: need('model.embed_tokens.weight'), layers, finalNorm: need('model.norm.weight') };
}
