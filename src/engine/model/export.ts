// Trained f32 tensors → a Hugging Face checkpoint folder that transformers, PEFT's base-model
// loading, `prefstudio logps` / `generate` and the studio's import all read.
//
//   checkpointInfo(ckpt)                       what to keep from the opened input checkpoint: tensor
//                                              names, dtypes and shapes (state-dict order), config.json's
//                                              text, and the tokenizer / generation files to copy
//   readParamsF32(params)                      every parameter of a model on the GPU → host f32, by
//                                              Hugging Face name (a split embedding joined back)
//   encodeCheckpoint(info, tensors, opts)      the files, as bytes:
//       model.safetensors, or model-0000k-of-0000n.safetensors + model.safetensors.index.json when
//           the data exceeds maxShardSize (5 GB by default, split greedily in state-dict order
//           exactly as huggingface_hub does: sharded.ts planShards);
//       config.json (torch_dtype / dtype rewritten in place when the dtype changes, else byte for byte);
//       generation_config.json and the tokenizer files, copied.
//   encodeCheckpointStream(info, read, opts)   the same files, but each shard's tensors are read
//                                              one at a time from a TensorReader while it is written
//                                              (StreamedFile): memory holds one tensor, not the model.
//   checkpointTensors(ckpt, adapter?)          a TensorReader over an opened checkpoint's files; with
//                                              a LoRA adapter (peft.ts), each targeted weight merged:
//                                              W + scale·B·A in float64, rounded once to f32.
//   gpuTensors(tensors, adapter?)              the same over a model on the GPU (the worker's export).
//   Files come as pieces (ExportedFile.parts), so a multi-GB shard never has to be one JS array.
//   Each tensor is written in its input dtype, or opts.dtype for all: BF16 and F16 round to nearest
//   even (util/halfs.ts). Non-finite values, and values beyond F16's range when writing F16, are
//   refused with the tensor and element named (the loader would refuse the result).
//
// Writing the files: model/export_node.ts writeCheckpointDir (Node: DIR.tmp-… then rename, so a
// crash never leaves a half-written folder). The browser hands the bytes to a download or the store.
// Not here: the safetensors byte layout (safetensors.ts writeSafetensors's rules), the index text
// (sharded.ts writeShardIndex).

import { EngineError } from '../errors.ts';
import { isRowSplit, type RowSplitTensor } from '../table.ts';
import type { Tensor } from '../tensor.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../util/halfs.ts';
import { namedParams, type Gemma2Params } from './gemma2.ts';
import { PIECE_BYTES, readWholeFile, type OpenedCheckpoint } from './load.ts';
import { loraScale } from './lora.ts';
import { loraTargetOfWeight, mergeFactors, type HostLoraAdapter } from './peft.ts';
import { encodeSafetensorsHeader, firstNonFinite, toFloat32, type Dtype } from './safetensors.ts';
import { INDEX_FILE, MAX_SHARD_SIZE, planShards, writeShardIndex } from './sharded.ts';

/** What export keeps from the input checkpoint (an OpenedCheckpoint, or a stored model's manifest). */
export interface CheckpointInfo {
  /** Every tensor to write, in state-dict order, with the dtype and shape it had in the input. */
  tensors: readonly { name: string; dtype: Dtype; shape: readonly number[] }[];
  /** config.json's text as read. */
  configText: string;
  /** Files copied unchanged, by name: tokenizer.json, tokenizer_config.json, special_tokens_map.json, generation_config.json. */
  extras: ReadonlyMap<string, Uint8Array>;
}

export type ExportDtype = 'bf16' | 'f16' | 'f32';

export interface ExportOptions {
  /** Every tensor in this dtype; default: each tensor's input dtype. */
  dtype?: ExportDtype;
  /** Largest shard in tensor-data bytes (huggingface_hub's max_shard_size); default 5 GB. */
  maxShardSize?: number;
}

/**
 * One file of the checkpoint folder: its name in the folder and its bytes, in order, as pieces: a
 * shard is its header then each tensor's data (F32 data is a view of the caller's array, not a
 * copy), so no single JS array has to hold a multi-GB shard (typed arrays stop at 2–4 GiB). A
 * browser makes a Blob of `parts` as they are; fileBytes() joins them for small files.
 */
export interface ExportedFile {
  path: string;
  parts: readonly Uint8Array[];
  size: number;
}

/** A file of `bytes`. */
const oneFile = (path: string, bytes: Uint8Array): ExportedFile => ({ path, parts: [bytes], size: bytes.length });

/** The whole file as one array (small files, tests). */
export function fileBytes(f: ExportedFile): Uint8Array {
  if (f.parts.length === 1) return f.parts[0];
  const out = new Uint8Array(f.size);
  let at = 0;
  for (const p of f.parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const ST_DTYPE: Record<ExportDtype, Dtype> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };
const TORCH_DTYPE: Partial<Record<Dtype, string>> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };
const ELEM: Partial<Record<Dtype, number>> = { BF16: 2, F16: 2, F32: 4 };

/** The input checkpoint's tensor list, config text and extra files (read now). */
export async function checkpointInfo(ckpt: OpenedCheckpoint): Promise<CheckpointInfo> {
  const extras = new Map<string, Uint8Array>();
  for (const f of ckpt.extras) extras.set(f.name, await readWholeFile(f, 1 << 30));
  return { tensors: ckpt.report.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), configText: ckpt.configText, extras };
}

/** Every parameter of `params` as host f32 values by Hugging Face name; row parts are joined. */
export async function readParamsF32(params: Gemma2Params): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const E = params.embed;
  if (isRowSplit(E)) {
    const whole = new Float32Array(E.shape[0] * E.shape[1]);
    for (const p of E.parts) whole.set(await p.tensor.readF32(), p.row0 * E.shape[1]);
    out.set(E.name, whole);
  }
  for (const [name, t] of namedParams(params)) if (!out.has(name) && !name.includes('[')) out.set(name, await t.readF32());
  return out;
}

/**
 * The files of a Hugging Face checkpoint holding `tensors` (HF name → f32 values, row-major) with
 * the names, order and (unless opts.dtype) dtypes of `info`. Throws an EngineError naming the tensor
 * for a missing, extra or mis-sized tensor and for values the file could not hold.
 */
export function encodeCheckpoint(info: CheckpointInfo, tensors: ReadonlyMap<string, Float32Array>, opts: ExportOptions = {}): ExportedFile[] {
  const where = 'encodeCheckpoint';
  const known = new Set(info.tensors.map((t) => t.name));
  for (const name of tensors.keys()) {
    if (!known.has(name)) throw new EngineError(where, `tensor '${name}' is not in the input checkpoint (${info.tensors.length} tensors)`, 'export the tensors of the model that was loaded, under their Hugging Face names');
  }
  const { plan, shards, files, tail } = planExport(info, opts);
  const withValues = plan.map((t) => {
    const values = tensors.get(t.name);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (values === undefined) throw new EngineError(where, `tensor '${t.name}' is missing (the input checkpoint has it, shape [${t.shape.join(', ')}])`, 'pass every parameter (readParamsF32 reads them all from the GPU)');
    if (values.length !== numel) throw new EngineError(where, `tensor '${t.name}' has ${values.length} values but its shape [${t.shape.join(', ')}] holds ${numel}`);
    assertFiniteValues(t.name, 'F32', new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 0);
    return { ...t, values };
  });
  const byName = new Map(withValues.map((p) => [p.name, p]));
  for (const s of shards.shards) files.push(encodeShard(s.file, s.tensors.map((n) => byName.get(n)!)));
  return [...files, ...tail];
}

/** What each tensor becomes (dtype, bytes), the shards, and the files around them. */
function planExport(info: CheckpointInfo, opts: ExportOptions) {
  const where = 'encodeCheckpoint';
  const maxShard = opts.maxShardSize ?? MAX_SHARD_SIZE;
  if (!(Number.isSafeInteger(maxShard) && maxShard > 0)) throw new EngineError(where, `maxShardSize must be a positive number of bytes, got ${maxShard}`);
  const plan = info.tensors.map((t) => {
    const dtype = opts.dtype ? ST_DTYPE[opts.dtype] : t.dtype;
    if (ELEM[dtype] === undefined) throw new EngineError(where, `tensor '${t.name}' is ${t.dtype} in the input; export writes F32, BF16 or F16`, "pass opts.dtype ('bf16', 'f16' or 'f32')");
    return { name: t.name, dtype, shape: t.shape, nbytes: t.shape.reduce((a, b) => a * b, 1) * ELEM[dtype]! };
  });
  // Shards (greedy in state-dict order), each a complete safetensors file.
  const shards = planShards(plan, maxShard);
  const files: ExportedFile[] = [oneFile('config.json', new TextEncoder().encode(configWithDtype(info.configText, opts.dtype ? TORCH_DTYPE[ST_DTYPE[opts.dtype]]! : null)))];
  const tail: ExportedFile[] = [];
  if (shards.shards.length > 1) tail.push(oneFile(INDEX_FILE, new TextEncoder().encode(writeShardIndex(shards.totalSize, shards.weightMap))));
  for (const [name, bytes] of info.extras) {
    if (name === 'config.json' || name === INDEX_FILE || name.endsWith('.safetensors')) continue;
    tail.push(oneFile(name, bytes));
  }
  return { plan, shards, files, tail };
}

/** Throws naming the tensor and element when `bytes` (elements from `first` on) hold a NaN/±Inf. */
function assertFiniteValues(name: string, dtype: Dtype, bytes: Uint8Array, first: number): void {
  const bad = firstNonFinite(dtype, bytes);
  if (bad < 0) return;
  const v = toFloat32(dtype, bytes.subarray(bad * ELEM[dtype]!, (bad + 1) * ELEM[dtype]!))[0];
  throw new EngineError('encodeCheckpoint', `tensor '${name}' element ${first + bad} is ${v}: a checkpoint's weights must be finite`, 'the training diverged: export an earlier state, or lower the learning rate');
}

/**
 * One safetensors file laid out as the reference writer does (safetensors.ts): the header, then
 * each tensor's little-endian data in the header's order (F32 as a view of the input, BF16/F16
 * encoded into a new array).
 */
function encodeShard(file: string, tensors: { name: string; dtype: Dtype; shape: readonly number[]; values: Float32Array }[]): ExportedFile {
  const { bytes: head, tensors: layout } = encodeSafetensorsHeader(tensors);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const parts: Uint8Array[] = [head];
  for (const l of layout) {
    const t = byName.get(l.name)!;
    if (t.dtype === 'F32') {
      parts.push(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
      continue;
    }
    const words = (t.dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits)(t.values);
    const bytes = new Uint8Array(words.buffer);
    if (t.dtype === 'F16') {
      const bad = firstNonFinite('F16', bytes);
      if (bad >= 0) {
        throw new EngineError('encodeCheckpoint', `tensor '${t.name}' element ${bad} is ${t.values[bad]}, beyond float16's range (±65504): as F16 it would be infinite`, "export as 'bf16' or 'f32'");
      }
    }
    parts.push(bytes);
  }
  return { path: file, parts, size: head.length + (layout.length ? layout[layout.length - 1].end : 0) };
}

// ---------------------------------------------------------------------------------------------
// streamed export: one tensor in memory at a time

/** Consecutive values of one tensor as little-endian bytes in a loadable dtype (whole elements). */
export interface TensorPiece {
  dtype: Dtype;
  bytes: Uint8Array;
}

/** Each tensor's values by Hugging Face name, in order, as pieces (asked for one tensor at a time). */
export type TensorReader = (name: string) => AsyncIterable<TensorPiece>;

/**
 * A file whose bytes are produced when written: `chunks()` yields them in order (a shard reads one
 * tensor at a time through a TensorReader). `size` is known in advance.
 */
export interface StreamedFile {
  path: string;
  size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * encodeCheckpoint's files, with each tensor's values read from `read` while the shard is written,
 * so memory holds one tensor piece (or one merged tensor) at a time, not the model. Pieces in the
 * output dtype pass through unchanged (bit for bit); others are decoded to f32 and rounded to
 * nearest even. Non-finite values, values beyond F16's range, and a tensor with more or fewer
 * bytes than its shape holds fail the write, naming the tensor.
 */
export function encodeCheckpointStream(info: CheckpointInfo, read: TensorReader, opts: ExportOptions = {}): (ExportedFile | StreamedFile)[] {
  const { plan, shards, files, tail } = planExport(info, opts);
  const byName = new Map(plan.map((p) => [p.name, p]));
  const out: (ExportedFile | StreamedFile)[] = [...files];
  for (const s of shards.shards) {
    const { bytes: head, tensors: layout } = encodeSafetensorsHeader(s.tensors.map((n) => byName.get(n)!));
    const size = head.length + (layout.length ? layout[layout.length - 1].end : 0);
    out.push({
      path: s.file,
      size,
      async *chunks() {
        yield head;
        for (const l of layout) {
          const want = l.end - l.begin;
          let done = 0;
          for await (const piece of read(l.name)) {
            const bytes = convertPiece(l.name, piece, l.dtype, done / ELEM[l.dtype]!);
            done += bytes.length;
            if (done > want) break;
            yield bytes;
          }
          if (done !== want) throw new EngineError('encodeCheckpoint', `tensor '${l.name}' gave ${done > want ? 'more than' : done} of the ${want} bytes its shape [${l.shape.join(', ')}] holds as ${l.dtype}`, 'the source checkpoint changed or is damaged: open it again');
        }
      },
    });
  }
  return [...out, ...tail];
}

/** A piece in `dtype`: as is when it already is, else decoded and rounded to nearest even. */
function convertPiece(name: string, p: TensorPiece, dtype: Dtype, first: number): Uint8Array {
  if (ELEM[p.dtype] === undefined || p.bytes.length % ELEM[p.dtype]! !== 0) throw new EngineError('encodeCheckpoint', `tensor '${name}': a piece of ${p.bytes.length} ${p.dtype} bytes is not whole F32/BF16/F16 elements`);
  assertFiniteValues(name, p.dtype, p.bytes, first);
  if (p.dtype === dtype) return p.bytes;
  const f = toFloat32(p.dtype, p.bytes);
  if (dtype === 'F32') return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  const bytes = new Uint8Array((dtype === 'BF16' ? f32ToBf16Bits : f32ToF16Bits)(f).buffer);
  const bad = dtype === 'F16' ? firstNonFinite('F16', bytes) : -1;
  if (bad >= 0) throw new EngineError('encodeCheckpoint', `tensor '${name}' element ${first + bad} is ${f[bad]}, beyond float16's range (±65504): as F16 it would be infinite`, "export as 'bf16' or 'f32'");
  return bytes;
}

/**
 * The tensors of an opened checkpoint as a TensorReader, read from its files piece by piece; with an
 * adapter, each weight it targets is W + scale·B·A (peft.ts mergeFactors: float64, rounded once to
 * f32), read and merged whole. The adapter must fit the checkpoint's shapes (peft.ts openPeftAdapter
 * checks a file's; one made for this model does).
 */
export function checkpointTensors(ckpt: OpenedCheckpoint, adapter: HostLoraAdapter | null = null, opts: { pieceBytes?: number } = {}): TensorReader {
  const pieceBytes = opts.pieceBytes ?? PIECE_BYTES;
  const byName = new Map(ckpt.report.tensors.map((t) => [t.name, t]));
  const scale = adapter ? loraScale(adapter.config) : 0;
  if (adapter && adapter.layers.length !== ckpt.cfg.L) throw new EngineError('checkpointTensors', `the adapter has ${adapter.layers.length} layers, ${ckpt.source} has ${ckpt.cfg.L}`, 'merge an adapter made for this base model');
  const readBytes = async (t: { name: string; file: string; offset: number }, at: number, n: number): Promise<Uint8Array> => {
    const b = await ckpt.files.get(t.file)!.read(t.offset + at, n);
    if (b.length !== n) throw new EngineError('checkpointTensors', `${ckpt.source}/${t.file}, tensor '${t.name}': reading ${n} bytes at ${t.offset + at} returned ${b.length}`, 'the file changed or was truncated: copy it again');
    return b;
  };
  return async function* (name: string): AsyncGenerator<TensorPiece> {
    const t = byName.get(name);
    if (!t) throw new EngineError('checkpointTensors', `tensor '${name}' is not in ${ckpt.source}`);
    const at = loraTargetOfWeight(name);
    const f = at && adapter ? adapter.layers[at.layer]?.[at.target] : undefined;
    if (at && f) {
      const [out, inn] = t.shape;
      const r = adapter!.config.r;
      if (f.A.length !== r * inn || f.B.length !== out * r) {
        throw new EngineError('checkpointTensors', `the adapter's factors for '${name}' hold ${f.A.length} (A) and ${f.B.length} (B) values; [${t.shape.join(', ')}] with r = ${r} needs ${r * inn} and ${out * r}`, 'merge an adapter made for this base model');
      }
      const merged = mergeFactors(toFloat32(t.dtype, await readBytes(t, 0, t.nbytes)), f, scale, out, inn);
      yield { dtype: 'F32', bytes: new Uint8Array(merged.buffer) };
      return;
    }
    for (let o = 0; o < t.nbytes; o += pieceBytes) yield { dtype: t.dtype, bytes: await readBytes(t, o, Math.min(pieceBytes, t.nbytes - o)) };
  };
}

/**
 * config.json with its dtype set to `torchDtype` ("bfloat16" …): the value of every "torch_dtype"
 * and "dtype" key (transformers ≥ 5 writes "dtype") is replaced in the text itself, so everything
 * else stays byte for byte; without either key, "torch_dtype" is added. null: unchanged.
 */
export function configWithDtype(text: string, torchDtype: string | null): string {
  if (torchDtype === null) return text;
  const key = /("(?:torch_dtype|dtype)"\s*:\s*)(?:"[^"]*"|null)/g;
  if (text.search(key) >= 0) return text.replace(key, `$1"${torchDtype}"`);
  const open = text.indexOf('{');
  if (open < 0) throw new EngineError('encodeCheckpoint', 'config.json is not a JSON object');
  const empty = /^\{\s*\}/.test(text.slice(open));
  return `${text.slice(0, open)}{\n  "torch_dtype": "${torchDtype}"${empty ? '\n' : ','}${text.slice(open + 1)}`;
}

/**
 * A TensorReader over a model on the GPU (loadGemma2's tensors: f32, or frozen 16-bit ones; a split
 * embedding read part by part), one tensor read back at a time; with a LoRA adapter, each targeted
 * weight merged on the host as checkpointTensors does (W + scale·B·A in float64, rounded once).
 * The worker's export of a trained run: memory holds one tensor, not the model.
 */
export function gpuTensors(tensors: ReadonlyMap<string, Tensor | RowSplitTensor>, adapter: HostLoraAdapter | null = null): TensorReader {
  const scale = adapter ? loraScale(adapter.config) : 0;
  const DT: Partial<Record<string, Dtype>> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
  return async function* (name: string): AsyncGenerator<TensorPiece> {
    const t = tensors.get(name);
    if (!t) throw new EngineError('gpuTensors', `tensor '${name}' is not among the model's ${tensors.size} tensors`);
    const dtype = DT[t.dtype];
    if (!dtype) throw new EngineError('gpuTensors', `tensor '${name}' is ${t.dtype}, not a weight dtype`);
    const parts = isRowSplit(t) ? t.parts.map((p) => p.tensor) : [t];
    const at = loraTargetOfWeight(name);
    const f = at && adapter ? adapter.layers[at.layer]?.[at.target] : undefined;
    if (at && f && !isRowSplit(t)) {
      const raw = await t.engine.read(t);
      const W = toFloat32(dtype, new Uint8Array(raw.buffer, raw.byteOffset, t.size * (dtype === 'F32' ? 4 : 2)));
      const merged = mergeFactors(W, f, scale, t.shape[0], t.shape[1]);
      yield { dtype: 'F32', bytes: new Uint8Array(merged.buffer) };
      return;
    }
    for (const p of parts) {
      const raw = await p.engine.read(p);
      // 16-bit tensors of odd size are stored in whole u32 words: the read may carry a pad element.
      yield { dtype, bytes: new Uint8Array(raw.buffer, raw.byteOffset, p.size * (dtype === 'F32' ? 4 : 2)) };
    }
  };
}
