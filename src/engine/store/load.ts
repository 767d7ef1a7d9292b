// Streaming a stored model from the weight store into GPU tensors, and turning those into the
// model's parameter struct.
//
//   loadModelToGpu(engine, backend, id)   chunk by chunk: read one chunk (the next one is already
//       being read), check its checksum, writeBuffer each tensor piece it holds straight to the
//       tensor's GPU buffer at a 4-aligned offset (manifest.ts aligns every tensor in the stream),
//       and drop it. JS memory: about two chunks whatever the model size. Each finished bf16/f16
//       tensor (or row part) is widened to f32 on the GPU (ops/convert.ts toF32) unless the caller
//       keeps 16-bit.
//       Every `syncEveryBytes` we wait for the GPU queue, so uploads do not pile up in staging.
//   gemma2ParamsFromTensors(cfg, tensors)  Gemma2Params from the loaded tensors, with a precise
//       error for a missing, mis-shaped or split tensor.
//
// Tensors over the device's limit: one storage binding may cover at most
// maxStorageBufferBindingSize bytes (128 MiB on lavapipe, 1 GiB on SwiftShader, ~2 GiB on big GPUs), and one
// buffer at most maxBufferSize. A tensor whose (converted) size exceeds either is split by rows
// into RowSplitTensor parts, e.g. gemma-2-2b's embedding (256000 × 2304 f32 = 2.36 GB) becomes
// 18 parts of 14563 rows under a 128 MiB limit. embedding(), logprobs() and generate.ts take such a
// split table (engine/table.ts), so gemma2ParamsFromTensors passes a split embedding through.
//
// Not here: importing (import.ts), the key layout (manifest.ts).

import type { Engine } from '../engine.ts';
import { fmtShape } from '../errors.ts';
import { expectedTensors, type Gemma2Config } from '../model/config.ts';
import { LAYER_TENSORS, type Gemma2Layer, type Gemma2Params } from '../model/gemma2.ts';
import { LoadError, loadWhere } from '../model/load_error.ts';
import { toF32 } from '../ops/convert.ts';
import { isRowSplit, type RowPart, type RowSplitTensor } from '../table.ts';
import { Tensor, numel, storageBytes, type DType } from '../tensor.ts';
import { chunkChecksum } from './checksum.ts';
import { fmtBytes, releaseBytes, type KVBackend } from './kv.ts';
import { getManifest, type ModelManifest, type StoredFile, type StoredTensor } from './manifest.ts';
import { ProgressMeter, throwIfAborted, type ProgressCallback } from './progress.ts';

// RowPart / RowSplitTensor are defined beside the ops' VocabTable (engine/table.ts) and re-exported
// here, so the store's API is unchanged and store → model → ops has no cycle.
export { isRowSplit, type RowPart, type RowSplitTensor } from '../table.ts';

/** What the loader returns per tensor: one GPU tensor, or row parts when it is over the limit. */
export type LoadedTensor = Tensor | RowSplitTensor;

/** Frees every GPU tensor of a loaded model. */
export function disposeLoaded(tensors: Iterable<LoadedTensor>): void {
  for (const t of tensors) {
    if (isRowSplit(t)) t.parts.forEach((p) => p.tensor.dispose());
    else t.dispose();
  }
}

export interface GpuLoadOptions {
  /** Keep BF16/F16 tensors as 16-bit storage tensors instead of widening them to f32 (default false). */
  keep16?: boolean;
  /** Check every chunk's checksum against the manifest (default true; ~1.5 GB/s of CPU). */
  verify?: boolean;
  /** Split tensors larger than this many bytes (default: the device's binding and buffer limits). */
  maxTensorBytes?: number;
  /** Wait for the GPU queue after this many uploaded bytes (default 64 MiB). */
  syncEveryBytes?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

const GPU_DTYPE: Record<string, DType> = { F32: 'f32', BF16: 'bf16', F16: 'f16' };
const ELEM_BYTES: Record<string, number> = { F32: 4, BF16: 2, F16: 2 };
const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/** One GPU destination of a tensor: rows [row0, row1), stream bytes [start, end). */
interface Dest {
  row0: number;
  row1: number;
  start: number; // stream offset of the part's first byte (a multiple of 4)
  end: number; // one past the last byte written (4-aligned; may include the stream's padding)
  stage: Tensor | null; // receives the bytes: the final tensor, or the 16-bit one that toF32 widens
  done: Tensor | null; // the finished part, once all its bytes are in
}

/** A tensor being uploaded. */
interface Upload {
  t: StoredTensor;
  dests: Dest[];
  limit: number; // the per-buffer limit the parts were cut for
  widen: boolean; // 16-bit storage → f32 with toF32
}

/**
 * Streams model `id` from the store to GPU tensors, keyed by Hugging Face name. bf16/f16 tensors
 * arrive as f32 (converted on the GPU) unless `keep16`; tensors over the device's limits arrive as
 * RowSplitTensor. On any error or abort, everything uploaded so far is freed.
 */
export async function loadModelToGpu(engine: Engine, backend: KVBackend, id: string, opts: GpuLoadOptions = {}): Promise<Map<string, LoadedTensor>> {
  const manifest = await getManifest(backend, id);
  if (!manifest) {
    throw new LoadError(`model '${id}'`, `is not in the ${backend.label} (no manifest: it was never imported, was deleted, or its import did not finish)`, 'list the stored models (listModels) and pick one, or import the checkpoint again (an unfinished import resumes)');
  }
  const verify = opts.verify ?? true;
  const limit = opts.maxTensorBytes ?? Math.min(engine.limits.maxStorageBufferBindingSize, engine.limits.maxBufferSize);
  const syncEvery = opts.syncEveryBytes ?? 64 * (1 << 20);
  const meter = new ProgressMeter('upload', manifest.files.reduce((a, f) => a + f.streamBytes, 0), opts.onProgress);
  const out = new Map<string, LoadedTensor>();
  const inFlight: Upload[] = [];
  let sinceSync = 0;

  try {
    for (const file of manifest.files) {
      const tensors = manifest.tensors.filter((t) => t.file === file.name).sort((a, b) => a.offset - b.offset);
      let j = 0; // first tensor not finished
      let next: Promise<Uint8Array> | null = file.chunks.length > 0 ? readChunk(backend, manifest, file, 0) : null;
      for (let i = 0; i < file.chunks.length; i++) {
        throwIfAborted(opts.signal);
        const chunk = await next!;
        // Prefetch the next chunk while this one goes to the GPU (two chunks in memory at most).
        next = i + 1 < file.chunks.length ? readChunk(backend, manifest, file, i + 1) : null;
        next?.catch(() => {}); // its error, if any, is rethrown when awaited
        if (verify && chunkChecksum(chunk) !== file.chunks[i].checksum) {
          throw chunkError(manifest, file, i, `has checksum ${chunkChecksum(chunk)} but the manifest recorded ${file.chunks[i].checksum}: the stored data is damaged`);
        }
        const c0 = i * manifest.chunkSize;
        const c1 = c0 + chunk.length;
        engine.flush(); // commands already encoded run before these writes land
        let current: string | undefined;
        for (let k = j; k < tensors.length && tensors[k].offset < c1; k++) {
          const t = tensors[k];
          const tEnd = t.offset + align4(t.nbytes);
          if (tEnd <= c0) continue;
          let up = inFlight.find((u) => u.t === t);
          if (!up) {
            const keep16 = opts.keep16 ?? false;
            up = { t, dests: makeDests(engine, t, keep16, limit), limit, widen: !keep16 && t.dtype !== 'F32' };
            inFlight.push(up);
          }
          current = t.name;
          writePieces(engine, up, chunk, c0, c1);
          // A part whose bytes are all in is widened now, so that at most one 16-bit part of a
          // split tensor is alive next to the f32 parts (not the whole 16-bit tensor).
          for (const d of up.dests) if (d.done === null && d.end <= c1) finishPart(d, up.widen);
          if (tEnd <= c1) {
            // all bytes are in: hand the tensor over and forget it
            out.set(t.name, assemble(up));
            inFlight.splice(inFlight.indexOf(up), 1);
            if (k === j) j++;
          }
        }
        while (j < tensors.length && out.has(tensors[j].name)) j++;
        const n = chunk.length;
        // writeBuffer has copied the bytes (WebGPU copies at the call): free the chunk now rather
        // than at the next GC, which would let several chunks of garbage pile up.
        if (backend.freshGets) releaseBytes(chunk);
        meter.add(n, { file: file.name, tensor: current });
        sinceSync += n;
        if (sinceSync >= syncEvery) {
          await engine.sync();
          sinceSync = 0;
        }
      }
      // Every tensor of the file must be complete now (the manifest's chunks cover the stream).
      const left = tensors.find((t) => !out.has(t.name));
      if (left) throw chunkError(manifest, file, file.chunks.length, `ends before tensor '${left.name}' (stream offset ${left.offset}, ${left.nbytes} bytes) is complete`);
    }
    await engine.sync();
    meter.report({}, true);
    return out;
  } catch (e) {
    disposeLoaded(out.values());
    for (const up of inFlight) up.dests.forEach((d) => (d.stage?.dispose(), d.done?.dispose()));
    throw e;
  }
}

/**
 * The raw bytes of one stored tensor, on the CPU (as in its safetensors file: little-endian,
 * row-major). For small tensors and checks; models go to the GPU with loadModelToGpu.
 */
export async function readStoredTensor(backend: KVBackend, m: ModelManifest, name: string): Promise<Uint8Array> {
  const t = m.tensors.find((x) => x.name === name);
  if (!t) throw new LoadError(loadWhere(`stored model '${m.name}' (${m.id})`, `tensor '${name}'`), 'is not in the model');
  const file = m.files.find((f) => f.name === t.file)!;
  const out = new Uint8Array(t.nbytes);
  for (let i = Math.floor(t.offset / m.chunkSize); i * m.chunkSize < t.offset + t.nbytes; i++) {
    const chunk = await readChunk(backend, m, file, i);
    const c0 = i * m.chunkSize;
    const a = Math.max(c0, t.offset);
    const b = Math.min(c0 + chunk.length, t.offset + t.nbytes);
    out.set(chunk.subarray(a - c0, b - c0), a - t.offset);
  }
  return out;
}

async function readChunk(backend: KVBackend, m: ModelManifest, file: StoredFile, i: number): Promise<Uint8Array> {
  const rec = file.chunks[i];
  const v = await backend.get(rec.key);
  if (v === undefined) throw chunkError(m, file, i, `is missing from the ${backend.label}`);
  if (!(v instanceof Uint8Array) || v.length !== rec.bytes) {
    throw chunkError(m, file, i, `should be ${rec.bytes} bytes but the store holds ${v instanceof Uint8Array ? `${v.length} bytes` : 'something else'}`);
  }
  return v;
}

function chunkError(m: ModelManifest, file: StoredFile, i: number, msg: string): LoadError {
  return new LoadError(loadWhere(`stored model '${m.name}' (${m.id})`, `${file.name} chunk ${i}`), msg, 'import the model again from its files: the import checks every stored chunk and rewrites damaged ones');
}

/** Splits a tensor into row parts that fit `limit` bytes (after widening) and allocates them. */
function makeDests(e: Engine, t: StoredTensor, keep16: boolean, limit: number): Dest[] {
  const storeDtype = GPU_DTYPE[t.dtype];
  const outDtype: DType = keep16 ? storeDtype : 'f32';
  // Gemma-2's tensors are 1-D (norms) or 2-D (matrices), every dimension ≥ 1 (config.ts).
  const rows = t.shape[0];
  const rest = t.shape.slice(1);
  const cols = numel(rest);
  const srcRow = cols * ELEM_BYTES[t.dtype]; // bytes of one row in the stream
  const n = numel(t.shape);
  let rowsPer = rows;
  if (storageBytes(outDtype, n) > limit) {
    rowsPer = Math.floor(limit / storageBytes(outDtype, cols));
    // A part must start at a 4-aligned stream offset: with an odd number of 16-bit columns, an
    // even number of rows per part.
    if (srcRow % 4 !== 0) rowsPer -= rowsPer % 2;
    if (rowsPer < 1) {
      throw new LoadError(loadWhere('loadModelToGpu', `tensor '${t.name}'`), `one row of ${t.dtype}${fmtShape(t.shape)} (${fmtBytes(storageBytes(outDtype, cols))} as ${outDtype}) does not fit this device's buffer limit of ${fmtBytes(limit)}`, 'this model is too large for this GPU');
    }
  }
  const dests: Dest[] = [];
  try {
    for (let r0 = 0; r0 < rows; r0 += rowsPer) {
      const r1 = Math.min(rows, r0 + rowsPer);
      const shape = [r1 - r0, ...rest];
      const label = rowsPer < rows ? `${t.name}[${r0}:${r1}]` : t.name;
      const start = t.offset + r0 * srcRow;
      const end = r1 === rows ? t.offset + align4(t.nbytes) : t.offset + r1 * srcRow;
      dests.push({ row0: r0, row1: r1, start, end, stage: e.empty(shape, storeDtype, label), done: null });
    }
  } catch (err) {
    dests.forEach((d) => d.stage?.dispose());
    throw err;
  }
  return dests;
}

/** Writes the part of `chunk` (stream bytes [c0, c1)) that belongs to each destination. */
function writePieces(e: Engine, up: Upload, chunk: Uint8Array, c0: number, c1: number): void {
  for (const d of up.dests) {
    const a = Math.max(c0, d.start);
    const b = Math.min(c1, d.end);
    if (a >= b || d.done !== null) continue;
    // a and b are 4-aligned (chunk size, tensor offsets, part starts and the padded end all are),
    // so this is a legal writeBuffer: offset and size multiples of 4, no CPU copy.
    e.device.queue.writeBuffer(d.stage!.buffer, a - d.start, chunk as Uint8Array<ArrayBuffer>, a - c0, b - a);
  }
}

/** A part with all its bytes: widened to f32 on the GPU if needed (the 16-bit stage is then freed). */
function finishPart(d: Dest, widen: boolean): void {
  const stage = d.stage!;
  d.stage = null;
  if (!widen) {
    d.done = stage;
    return;
  }
  const y = toF32(stage); // f32 copy on the GPU; the stage's buffer is reused only after it has run
  stage.dispose();
  d.done = new Tensor(y.engine, y.shape, 'f32', y.sharedStorage, stage.label); // same buffer, the HF name as label
  y.dispose();
}

/** The finished tensor, or its row parts. */
function assemble(up: Upload): LoadedTensor {
  const parts: RowPart[] = up.dests.map((d) => ({ row0: d.row0, row1: d.row1, tensor: d.done! }));
  if (parts.length === 1) return parts[0].tensor;
  return { kind: 'row-split', name: up.t.name, shape: [...up.t.shape], dtype: parts[0].tensor.dtype, limitBytes: up.limit, parts };
}

// ---------------------------------------------------------------------------------------------
// Gemma2Params from loaded tensors

const EMBED = 'model.embed_tokens.weight';

/**
 * Builds the model's parameter struct from loaded tensors (f32). The embedding may be split into
 * row parts (it is passed on as a split table: embedding, LM head and generation take one); any
 * other split tensor, and a missing, mis-shaped or non-f32 one, throws a LoadError naming it.
 */
export function gemma2ParamsFromTensors(cfg: Gemma2Config, tensors: ReadonlyMap<string, LoadedTensor>): Gemma2Params {
  const shapes = new Map(expectedTensors(cfg).map((t) => [t.name, t.shape]));
  const where = (name: string): string => loadWhere('gemma2ParamsFromTensors', `tensor '${name}'`);
  // Checks shared by whole tensors and split tables: present, f32, the shape config.json expects.
  const find = (name: string): LoadedTensor => {
    const want = shapes.get(name)!;
    const t = tensors.get(name);
    if (t === undefined) {
      throw new LoadError(where(name), `is not among the ${tensors.size} loaded tensors (config.json expects ${fmtShape(want)})`, 'load the whole model (loadModelToGpu) of the same checkpoint as config.json');
    }
    const dtype = t.dtype;
    if (dtype !== 'f32') {
      const desc = isRowSplit(t) ? `${dtype}${fmtShape(t.shape)} (in ${t.parts.length} row parts)` : t.describe();
      throw new LoadError(where(name), `is ${desc}; the model's ops take f32 weights`, 'load without keep16 (bf16/f16 are then widened to f32 on the GPU)');
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
  const embedT = find(EMBED);
  if (isRowSplit(embedT)) {
    for (const p of embedT.parts) {
      if (p.tensor.dtype !== 'f32' || p.tensor.shape[0] !== p.row1 - p.row0 || p.tensor.shape[1] !== embedT.shape[1]) {
        throw new LoadError(where(EMBED), `row part [${p.row0}, ${p.row1}) is ${p.tensor.describe()}, expected f32${fmtShape([p.row1 - p.row0, embedT.shape[1]])}`, 'reload the model (loadModelToGpu)');
      }
    }
  }
  const embed = embedT;
  const layers: Gemma2Layer[] = [];
  for (let i = 0; i < cfg.L; i++) {
    const layer = {} as Gemma2Layer;
    for (const [field, name] of Object.entries(LAYER_TENSORS) as [keyof Gemma2Layer, string][]) layer[field] = take(`model.layers.${i}.${name}`);
    layers.push(layer);
  }
  return { embed, layers, finalNorm: take('model.norm.weight') };
}
