// The ONE way from checkpoint bytes to GPU tensors and Gemma2Params, for the CLI, the studio's
// worker, the trainer and the tests:
//
//   openCheckpoint(source)           config.json + every safetensors header (+ the sharded index),
//                                    validated against the config before a single tensor byte is
//                                    read (the weight store's import starts with it too)
//   checkpointWeights(ckpt)          the opened files as a WeightSource
//   store/load.ts storedWeights()    a model in the weight store (IndexedDB / files) as a WeightSource
//   loadTensors(e, source, opts)     streams a WeightSource to GPU tensors, one piece (≤ 16 MiB or
//                                    one stored chunk) in JS memory at a time: F32 written as is,
//                                    BF16/F16 written as 16-bit storage and widened on the GPU
//                                    (toF32) unless kept 16-bit; a tensor larger than one storage
//                                    binding is split into row parts (RowSplitTensor); NaN/±Inf
//                                    weights are refused, naming the tensor, element and file
//   gemma2ParamsFromTensors(cfg, m)  the model's parameter struct, with precise errors
//   loadGemma2(e, source, opts)      all of it: {cfg, dims, params, tensors, dispose}
//
// Tensors over the device's limit: one storage binding may cover at most
// maxStorageBufferBindingSize bytes (128 MiB on lavapipe, 1 GiB on SwiftShader, ~2 GiB on big
// GPUs), one buffer at most maxBufferSize. A tensor whose (converted) size exceeds either is split
// by rows: gemma-2-2b's embedding (256000 × 2304 f32 = 2.36 GB) becomes 18 parts of 14563 rows
// under 128 MiB. embedding(), logprobs() and generate.ts take such a split table (engine/table.ts);
// only the embedding may be split (gemma2ParamsFromTensors names any other).
//
// Files come as {name, size, read(offset, length)}: File objects from a dropped folder in the
// studio (store/import.ts sourceFromFiles), or a directory in Node (store/kv_node.ts
// sourceFromDirectory).
// Not here: tokenization (data/), the model math (gemma2.ts), the store's chunks (store/load.ts).

import type { Engine } from '../engine.ts';
import { LoadError, fmtShape } from '../errors.ts';
import { toF32 } from '../ops/convert.ts';
import { isRowSplit, type RowPart, type RowSplitTensor } from '../table.ts';
import { Tensor, numel, storageBytes, type DType } from '../tensor.ts';
import { fmtBytes, releaseBytes } from '../util/bytes.ts';
import { ProgressMeter, throwIfAborted, type ProgressCallback } from '../util/progress.ts';
import { expectedTensors, parseGemma2Config, type Gemma2Config } from './config.ts';
import { LAYER_TENSORS, dimsFromConfig, type Gemma2Dims, type Gemma2Layer, type Gemma2Params } from './gemma2.ts';
import { loadWhere } from './load_error.ts';
import { checkJsonDepth, firstNonFinite, readSafetensorsHeader, toFloat32, type ByteReader, type Dtype, type SafetensorsHeader } from './safetensors.ts';
import { INDEX_FILE, parseShardIndex, validateCheckpoint, type CheckpointReport } from './sharded.ts';

// ---------------------------------------------------------------------------------------------
// checkpoint files

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
  checkJsonDepth(text, f.name, 'it');
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


// ---------------------------------------------------------------------------------------------
// the byte-source interface

/** One tensor a WeightSource delivers. */
export interface WeightTensor {
  name: string; // Hugging Face name
  dtype: Dtype; // F32, BF16 or F16 (validateCheckpoint refuses others)
  shape: number[];
  nbytes: number;
  file: string; // the .safetensors file it comes from
  where: string; // that file as messages name it: "DIR/model.safetensors", "stored model 'x' (id), model.safetensors"
}

/**
 * Bytes [offset, offset + bytes.length) of tensor `tensor` (an index into WeightSource.tensors).
 * `offset` is a multiple of 4, and so is the length, except for a tensor's last piece.
 */
export interface WeightPiece {
  tensor: number;
  offset: number;
  bytes: Uint8Array;
}

/**
 * Where weights come from: checkpoint files (checkpointWeights) or the weight store
 * (store/load.ts storedWeights). read() yields every byte of every tensor exactly once, each
 * tensor's pieces in order (pieces of different tensors may alternate: a stored chunk holds the end
 * of one tensor and the start of the next). A piece's bytes are valid until the next one is asked
 * for: the source may free or reuse them then.
 */
export interface WeightSource {
  label: string; // "DIR", "stored model 'x' (id)"
  cfg: Gemma2Config;
  tensors: readonly WeightTensor[]; // state-dict order
  read(): AsyncIterable<WeightPiece>;
}

/** Largest piece checkpointWeights reads at once (a multiple of 4). */
export const PIECE_BYTES = 16 * MiB;

/**
 * An opened checkpoint's files as a WeightSource: each tensor read in pieces of at most
 * `pieceBytes` (the next piece is read while the current one uploads).
 */
export function checkpointWeights(ckpt: OpenedCheckpoint, opts: { pieceBytes?: number } = {}): WeightSource {
  const pieceBytes = opts.pieceBytes ?? PIECE_BYTES;
  if (!(pieceBytes >= 4 && pieceBytes % 4 === 0)) throw new LoadError('checkpointWeights', `pieceBytes must be a positive multiple of 4, got ${pieceBytes}`);
  const tensors = ckpt.report.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes, file: t.file, where: `${ckpt.source}/${t.file}` }));
  async function* read(): AsyncGenerator<WeightPiece> {
    const jobs: WeightPiece[] = []; // without bytes yet: [tensor, offset, length]
    ckpt.report.tensors.forEach((t, k) => {
      for (let o = 0; o < t.nbytes; o += pieceBytes) jobs.push({ tensor: k, offset: o, bytes: new Uint8Array(0) });
    });
    const fetch = async (j: WeightPiece): Promise<Uint8Array> => {
      const t = ckpt.report.tensors[j.tensor];
      const n = Math.min(pieceBytes, t.nbytes - j.offset);
      const b = await ckpt.files.get(t.file)!.read(t.offset + j.offset, n);
      if (b.length !== n) {
        throw new LoadError(loadWhere(tensors[j.tensor].where, `tensor '${t.name}'`), `reading bytes ${t.offset + j.offset}…${t.offset + j.offset + n} returned ${b.length} bytes`, 'the file changed or was truncated while loading: copy it again');
      }
      return b;
    };
    let next = jobs.length > 0 ? fetch(jobs[0]) : null;
    try {
      for (let i = 0; i < jobs.length; i++) {
        const bytes = await next!;
        next = i + 1 < jobs.length ? fetch(jobs[i + 1]) : null;
        next?.catch(() => {}); // rethrown when awaited
        yield { tensor: jobs[i].tensor, offset: jobs[i].offset, bytes };
        // The loader has written the piece (writeBuffer copies at the call): free it now, not at
        // the next GC, when nobody else holds it.
        if (ckpt.files.get(ckpt.report.tensors[jobs[i].tensor].file)!.fresh) releaseBytes(bytes);
      }
    } finally {
      next?.catch(() => {});
    }
  }
  return { label: ckpt.source, cfg: ckpt.cfg, tensors, read };
}

// ---------------------------------------------------------------------------------------------
// the loader

/** What the loader returns per tensor: one GPU tensor, or row parts when it is over the limit. */
export type LoadedTensor = Tensor | RowSplitTensor;

/** Frees every GPU tensor of a load. */
export function disposeLoaded(tensors: Iterable<LoadedTensor>): void {
  for (const t of tensors) {
    if (isRowSplit(t)) t.parts.forEach((p) => p.tensor.dispose());
    else t.dispose();
  }
}

export interface LoadOptions {
  /**
   * Keep BF16/F16 tensors as 16-bit storage tensors instead of widening them to f32: all (true) or
   * those the function picks (FROZEN_16BIT: every matrix, norms widened). Default: widen every
   * tensor (the trainable form). Frozen 16-bit weights feed matmul, embedding and the LM head
   * directly (the kernels widen in their loads); norm weights are always f32 (rmsnorm takes f32).
   */
  keep16?: boolean | ((name: string) => boolean);
  /** requiresGrad on every f32 tensor (each row part of a split one), for full fine-tuning. Default false. */
  trainable?: boolean;
  /**
   * Split tensors larger than this many bytes into row parts; per tensor when a function (tests
   * split just the embedding). Default: the device's min(maxStorageBufferBindingSize, maxBufferSize).
   */
  maxTensorBytes?: number | ((name: string) => number);
  /** Refuse NaN/±Inf weights (default true; a host bit test per piece, ~1 GB/s). */
  checkFinite?: boolean;
  /** Wait for the GPU queue after this many uploaded bytes (default 64 MiB), so staging does not pile up. */
  syncEveryBytes?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * The keep16 rule of a frozen model (LoRA base, reference, logps, generation): the checkpoint's
 * 16-bit matrices stay 16-bit on the GPU (2 bytes per parameter), the small norm vectors are widened.
 */
export const FROZEN_16BIT = (name: string): boolean => !isNormWeight(name);

/** `*norm.weight`: Gemma-2's RMSNorm scales (f32 on the GPU, never decayed). */
export function isNormWeight(name: string): boolean {
  return /norm\.weight$/.test(name);
}

const GPU_DTYPE: Partial<Record<Dtype, DType>> = { F32: 'f32', BF16: 'bf16', F16: 'f16' };
const ELEM_BYTES: Partial<Record<Dtype, number>> = { F32: 4, BF16: 2, F16: 2 };

/** One GPU destination of a tensor: rows [row0, row1) = tensor bytes [start, end). */
interface Dest {
  row0: number;
  row1: number;
  shape: number[];
  label: string;
  start: number; // a multiple of 4
  end: number;
  filled: number; // bytes written so far
  stage: Tensor | null; // receives the bytes (allocated at the first one): the final tensor, or the 16-bit one toF32 widens
  done: Tensor | null; // the finished part
}

/** A tensor being uploaded. */
interface Upload {
  t: WeightTensor;
  dests: Dest[];
  limit: number; // the per-buffer limit the parts were cut for
  widen: boolean; // 16-bit storage → f32 with toF32
  left: number; // parts not finished
}

/**
 * Streams every tensor of `source` to the GPU, keyed by Hugging Face name: f32 unless kept 16-bit,
 * RowSplitTensor when over the per-buffer limit. Throws a LoadError naming the tensor and file
 * for NaN/±Inf weights (unless checkFinite is false) and for a source that ends early. On any error
 * or abort, everything uploaded so far is freed.
 */
export async function loadTensors(e: Engine, source: WeightSource, opts: LoadOptions = {}): Promise<Map<string, LoadedTensor>> {
  const deviceLimit = Math.min(e.limits.maxStorageBufferBindingSize, e.limits.maxBufferSize);
  const limitOf = (name: string): number => {
    const m = opts.maxTensorBytes;
    return m === undefined ? deviceLimit : Math.min(deviceLimit, typeof m === 'function' ? m(name) : m);
  };
  const keepOf = (name: string): boolean => (typeof opts.keep16 === 'function' ? opts.keep16(name) : opts.keep16 ?? false);
  const checkFinite = opts.checkFinite ?? true;
  const syncEvery = opts.syncEveryBytes ?? 64 * MiB;
  const meter = new ProgressMeter('upload', source.tensors.reduce((a, t) => a + t.nbytes, 0), opts.onProgress);
  const uploads: (Upload | null)[] = source.tensors.map(() => null);
  const out = new Map<string, LoadedTensor>();
  let sinceSync = 0;
  try {
    for await (const piece of source.read()) {
      throwIfAborted(opts.signal);
      const t = source.tensors[piece.tensor];
      const { offset, bytes } = piece;
      const end = offset + bytes.length;
      if (offset % 4 !== 0 || end > t.nbytes || (end % 4 !== 0 && end !== t.nbytes)) {
        throw new LoadError(loadWhere(t.where, `tensor '${t.name}'`), `internal: ${source.label} gave bytes ${offset}…${end} of its ${t.nbytes} (pieces must start at a multiple of 4 and end at one or at the tensor's end)`);
      }
      if (checkFinite) assertFinite(t, offset, bytes);
      let up = uploads[piece.tensor];
      if (up === null) {
        const keep = keepOf(t.name);
        const limit = limitOf(t.name);
        const dests = planDests(t, keep, limit);
        up = uploads[piece.tensor] = { t, dests, limit, widen: !keep && t.dtype !== 'F32', left: dests.length };
      }
      writePiece(e, up, offset, bytes);
      for (const d of up.dests) {
        // A part whose bytes are all in is widened now, so at most one 16-bit part of a split
        // tensor is alive next to the f32 parts (not the whole 16-bit tensor).
        if (d.done === null && d.filled === d.end - d.start) {
          finishPart(d, up.widen, opts.trainable ?? false);
          up.left--;
        }
      }
      if (up.left === 0) {
        out.set(t.name, assemble(up));
        uploads[piece.tensor] = null;
      }
      meter.add(bytes.length, { file: t.file, tensor: t.name });
      sinceSync += bytes.length;
      if (sinceSync >= syncEvery) {
        await e.sync();
        sinceSync = 0;
      }
    }
    const missing = source.tensors.find((t) => !out.has(t.name));
    if (missing) throw new LoadError(loadWhere(missing.where, `tensor '${missing.name}'`), `${source.label} ended before all ${missing.nbytes} bytes of this tensor were read`, 'the files or the stored model are incomplete: import or copy the checkpoint again');
    await e.sync();
    meter.report({}, true);
    return out;
  } catch (err) {
    disposeLoaded(out.values());
    for (const up of uploads) up?.dests.forEach((d) => (d.stage?.dispose(), d.done?.dispose()));
    throw err;
  }
}

/**
 * Throws a LoadError naming the file, tensor and element (row, column) when tensor bytes
 * [offset, offset + bytes.length) hold a NaN or ±Inf (used by the loader and the store's import).
 */
export function assertFinite(t: Pick<WeightTensor, 'name' | 'dtype' | 'shape' | 'where'>, offset: number, bytes: Uint8Array): void {
  const bad = firstNonFinite(t.dtype, bytes);
  if (bad < 0) return;
  const elem = ELEM_BYTES[t.dtype]!;
  const index = offset / elem + bad;
  const v = toFloat32(t.dtype, bytes.subarray(bad * elem, (bad + 1) * elem))[0];
  const cols = numel(t.shape.slice(1));
  const at = t.shape.length === 2 ? ` (row ${Math.floor(index / cols)}, column ${index % cols})` : '';
  throw new LoadError(
    loadWhere(t.where, `tensor '${t.name}'`),
    `element ${index}${at} of ${t.dtype}${fmtShape(t.shape)} is ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'}: weights must be finite (the model would give NaN log-probs)`,
    'the checkpoint is damaged or was saved from a diverged run: use the original weights or an earlier checkpoint',
  );
}

/** Cuts a tensor into row parts that fit `limit` bytes (after widening); allocates nothing yet. */
function planDests(t: WeightTensor, keep16: boolean, limit: number): Dest[] {
  const outDtype: DType = keep16 ? GPU_DTYPE[t.dtype]! : 'f32';
  // Gemma-2's tensors are 1-D (norms) or 2-D (matrices), every dimension ≥ 1 (config.ts).
  const rows = t.shape[0];
  const rest = t.shape.slice(1);
  const cols = numel(rest);
  const srcRow = cols * ELEM_BYTES[t.dtype]!; // bytes of one row as stored
  let rowsPer = rows;
  if (storageBytes(outDtype, numel(t.shape)) > limit) {
    rowsPer = Math.floor(limit / storageBytes(outDtype, cols));
    // A part must start at a multiple of 4 bytes: with an odd number of 16-bit columns, an even
    // number of rows per part.
    if (srcRow % 4 !== 0) rowsPer -= rowsPer % 2;
    if (rowsPer < 1) {
      throw new LoadError(loadWhere(t.where, `tensor '${t.name}'`), `one row of ${t.dtype}${fmtShape(t.shape)} (${fmtBytes(storageBytes(outDtype, cols))} as ${outDtype}) does not fit this device's buffer limit of ${fmtBytes(limit)}`, 'this model is too large for this GPU');
    }
  }
  const dests: Dest[] = [];
  for (let r0 = 0; r0 < rows; r0 += rowsPer) {
    const r1 = Math.min(rows, r0 + rowsPer);
    const label = rowsPer < rows ? `${t.name}[${r0}:${r1}]` : t.name;
    dests.push({ row0: r0, row1: r1, shape: [r1 - r0, ...rest], label, start: r0 * srcRow, end: r1 === rows ? t.nbytes : r1 * srcRow, filled: 0, stage: null, done: null });
  }
  return dests;
}

/** Writes tensor bytes [offset, offset + bytes.length) into the parts they belong to. */
function writePiece(e: Engine, up: Upload, offset: number, bytes: Uint8Array): void {
  const end = offset + bytes.length;
  for (const d of up.dests) {
    const a = Math.max(offset, d.start);
    const b = Math.min(end, d.end);
    if (a >= b) continue;
    // emptyForHost: never a buffer an encoded, unsubmitted command (a toF32 of a freed stage) still reads.
    d.stage ??= e.emptyForHost(d.shape, GPU_DTYPE[up.t.dtype]!, d.label);
    // a is 4-aligned (pieces and parts start at multiples of 4); so is b - a except at the
    // tensor's end, whose last 1–3 bytes are written as one zero-padded word (the buffer is
    // rounded up to 4 bytes). writeBuffer copies at the call: no CPU copy of the piece.
    const whole = (b - a) & ~3;
    const buf = d.stage.buffer;
    if (whole > 0) e.device.queue.writeBuffer(buf, a - d.start, bytes as Uint8Array<ArrayBuffer>, a - offset, whole);
    if (whole < b - a) {
      const word = new Uint8Array(4);
      word.set(bytes.subarray(a - offset + whole, b - offset));
      e.device.queue.writeBuffer(buf, a - d.start + whole, word, 0, 4);
    }
    d.filled += b - a;
  }
}

/** A part with all its bytes: widened to f32 on the GPU if needed (the 16-bit stage is then freed). */
function finishPart(d: Dest, widen: boolean, trainable: boolean): void {
  const stage = d.stage!;
  d.stage = null;
  if (widen) {
    const y = toF32(stage); // f32 copy on the GPU; the stage's buffer is reused only after it has run
    stage.dispose();
    d.done = new Tensor(y.engine, y.shape, 'f32', y.sharedStorage, stage.label); // same buffer, the HF name as label
    y.dispose();
  } else {
    d.done = stage;
  }
  if (trainable && d.done.dtype === 'f32') d.done.requiresGrad = true;
}

/** The finished tensor, or its row parts. */
function assemble(up: Upload): LoadedTensor {
  const parts: RowPart[] = up.dests.map((d) => ({ row0: d.row0, row1: d.row1, tensor: d.done! }));
  if (parts.length === 1) return parts[0].tensor;
  return { kind: 'row-split', name: up.t.name, shape: [...up.t.shape], dtype: parts[0].tensor.dtype, limitBytes: up.limit, parts };
}

// ---------------------------------------------------------------------------------------------
// Gemma2Params

const EMBED = 'model.embed_tokens.weight';

/**
 * Builds the model's parameter struct from loaded tensors: f32, or 16-bit (bf16/f16) matrices of a
 * frozen model — the norm weights must be f32. The embedding may be split into row parts (it is
 * passed on as a split table: embedding, LM head and generation take one); any other split tensor,
 * and a missing, mis-shaped or wrongly typed one, throws a LoadError naming it.
 */
export function gemma2ParamsFromTensors(cfg: Gemma2Config, tensors: ReadonlyMap<string, LoadedTensor>): Gemma2Params {
  const shapes = new Map(expectedTensors(cfg).map((t) => [t.name, t.shape]));
  const where = (name: string): string => loadWhere('gemma2ParamsFromTensors', `tensor '${name}'`);
  // Checks shared by whole tensors and split tables: present, f32, the shape config.json expects.
  const find = (name: string): LoadedTensor => {
    const want = shapes.get(name)!;
    const t = tensors.get(name);
    if (t === undefined) {
      throw new LoadError(where(name), `is not among the ${tensors.size} loaded tensors (config.json expects ${fmtShape(want)})`, 'load the whole model (loadTensors / loadGemma2) of the same checkpoint as config.json');
    }
    const ok = t.dtype === 'f32' || ((t.dtype === 'bf16' || t.dtype === 'f16') && !isNormWeight(name));
    if (!ok) {
      const desc = isRowSplit(t) ? `${t.dtype}${fmtShape(t.shape)} (in ${t.parts.length} row parts)` : t.describe();
      const what = isNormWeight(name) ? 'norm weights must be f32 (rmsnorm takes f32)' : 'weights must be f32, bf16 or f16';
      throw new LoadError(where(name), `is ${desc}; ${what}`, 'load with keep16: FROZEN_16BIT (norms widened), or without keep16 (everything widened to f32)');
    }
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new LoadError(where(name), `has shape ${fmtShape(t.shape)} but config.json expects ${fmtShape(want)}`, 'the loaded weights and config.json are from different checkpoints');
    }
    return t;
  };
  const take = (name: string): Tensor => {
    const t = find(name);
    if (isRowSplit(t)) {
      const bytes = storageBytes(t.dtype, numel(t.shape));
      throw new LoadError(
        where(name),
        `${t.dtype}${fmtShape(t.shape)} is ${fmtBytes(bytes)}, over this device's limit of ${fmtBytes(t.limitBytes)} per buffer (maxStorageBufferBindingSize / maxBufferSize), so it was loaded as ${t.parts.length} row parts; only the embedding may be split (the other ops take whole tensors)`,
        `use a device whose maxStorageBufferBindingSize is at least ${fmtBytes(bytes)}, or a smaller model`,
      );
    }
    return t;
  };
  // First, as in the state dict; the likeliest to be split, and the only tensor that may be.
  const embed = find(EMBED);
  if (isRowSplit(embed)) {
    for (const p of embed.parts) {
      if (p.tensor.dtype !== embed.dtype || p.tensor.shape[0] !== p.row1 - p.row0 || p.tensor.shape[1] !== embed.shape[1]) {
        throw new LoadError(where(EMBED), `row part [${p.row0}, ${p.row1}) is ${p.tensor.describe()}, expected ${embed.dtype}${fmtShape([p.row1 - p.row0, embed.shape[1]])}`, 'reload the model (loadGemma2)');
      }
    }
  }
  const layers: Gemma2Layer[] = [];
  for (let i = 0; i < cfg.L; i++) {
    const layer = {} as Gemma2Layer;
    for (const [field, name] of Object.entries(LAYER_TENSORS) as [keyof Gemma2Layer, string][]) layer[field] = take(`model.layers.${i}.${name}`);
    layers.push(layer);
  }
  return { embed, layers, finalNorm: take('model.norm.weight') };
}

/** A model on the GPU. */
export interface LoadedGemma2 {
  cfg: Gemma2Config;
  dims: Gemma2Dims;
  params: Gemma2Params;
  /** Every loaded tensor by Hugging Face name (a split embedding as its RowSplitTensor). */
  tensors: ReadonlyMap<string, LoadedTensor>;
  /** Where it came from, for messages (WeightSource.label). */
  source: string;
  /** Frees every GPU tensor of the model. */
  dispose(): void;
}

/**
 * Loads a Gemma-2 from a WeightSource (checkpointWeights(await openCheckpoint(files)) or
 * store/load.ts storedWeights(backend, id)) into GPU tensors and its Gemma2Params; every option of
 * loadTensors applies (trainable: true for full fine-tuning). Frees what it uploaded on failure.
 */
export async function loadGemma2(e: Engine, source: WeightSource, opts: LoadOptions = {}): Promise<LoadedGemma2> {
  const tensors = await loadTensors(e, source, opts);
  try {
    const params = gemma2ParamsFromTensors(source.cfg, tensors);
    return { cfg: source.cfg, dims: dimsFromConfig(source.cfg), params, tensors, source: source.label, dispose: () => disposeLoaded(tensors.values()) };
  } catch (err) {
    disposeLoaded(tensors.values());
    throw err;
  }
}
