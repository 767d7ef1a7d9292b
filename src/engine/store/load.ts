// A model in the weight store as a WeightSource, the byte-source interface of the one loader
// (model/load.ts loadTensors / loadGemma2), and single stored tensors on the CPU.
//
//   storedWeights(backend, id)   reads the manifest; its read() streams chunk by chunk: read one
//       chunk (the next one is already being read), check its checksum, hand each tensor piece it
//       holds to the loader (which writes it straight to the GPU), and drop it. JS memory: about
//       two chunks whatever the model size. Every tensor starts at a 4-aligned stream offset and
//       chunks are multiples of 4 bytes (manifest.ts), so every piece is 4-aligned as the loader
//       needs, with no CPU copy.
//   readStoredTensor(backend, m, name)   one tensor's raw bytes (small tensors, checks)
//   storedCheckpointInfo(backend, id)    what export (model/export.ts) keeps of a stored model: its
//       tensor list, config.json and tokenizer files — for exporting a model trained in the studio
//   storedTokenizerFiles(backend, m)     its tokenizer.json / tokenizer_config.json parsed (null where
//       the import had none), as data/tokenizer_files.ts tokenizerForModel takes them
//
// Not here: importing (import.ts), the key layout (manifest.ts), GPU upload (model/load.ts).

import { parseGemma2Config } from '../model/config.ts';
import type { CheckpointInfo } from '../model/export.ts';
import type { WeightPiece, WeightSource, WeightTensor } from '../model/load.ts';
import { LoadError, loadWhere } from '../model/load_error.ts';
import { releaseBytes } from '../util/bytes.ts';
import { chunkChecksum } from './checksum.ts';
import type { KVBackend } from './kv.ts';
import { getManifest, type ModelManifest, type StoredFile } from './manifest.ts';

export interface StoredWeightsOptions {
  /** Check every chunk's checksum against the manifest (default true; ~1.5 GB/s of CPU). */
  verify?: boolean;
}

/** "stored model 'name' (id)": how messages name a stored model. */
const modelLabel = (m: ModelManifest): string => `stored model '${m.name}' (${m.id})`;

/**
 * Model `id` of the store as a WeightSource (load it with loadGemma2 / loadTensors). Throws a
 * LoadError when the store does not list it; read() names a missing or damaged chunk.
 */
export async function storedWeights(backend: KVBackend, id: string, opts: StoredWeightsOptions = {}): Promise<WeightSource> {
  const m = await getManifest(backend, id);
  if (!m) {
    throw new LoadError(`model '${id}'`, `is not in the ${backend.label} (no manifest: it was never imported, was deleted, or its import did not finish)`, 'list the stored models (listModels) and pick one, or import the checkpoint again (an unfinished import resumes)');
  }
  const verify = opts.verify ?? true;
  const label = modelLabel(m);
  const cfg = parseGemma2Config(m.config, `${label}: config.json`);
  const tensors: WeightTensor[] = m.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes, file: t.file, where: `${label}, ${t.file}` }));
  async function* read(): AsyncGenerator<WeightPiece> {
    for (const file of m!.files) {
      // this file's tensors, in stream order, with their index in `tensors`
      const inFile = m!.tensors.map((t, k) => ({ t, k })).filter(({ t }) => t.file === file.name).sort((a, b) => a.t.offset - b.t.offset);
      let j = 0; // first tensor not finished
      let next: Promise<Uint8Array> | null = file.chunks.length > 0 ? readChunk(backend, m!, file, 0) : null;
      try {
        for (let i = 0; i < file.chunks.length; i++) {
          const chunk = await next!;
          // Prefetch the next chunk while this one goes to the GPU (two chunks in memory at most).
          next = i + 1 < file.chunks.length ? readChunk(backend, m!, file, i + 1) : null;
          next?.catch(() => {}); // its error, if any, is rethrown when awaited
          if (verify && chunkChecksum(chunk) !== file.chunks[i].checksum) {
            throw chunkError(m!, file, i, `has checksum ${chunkChecksum(chunk)} but the manifest recorded ${file.chunks[i].checksum}: the stored data is damaged`);
          }
          const c0 = i * m!.chunkSize;
          const c1 = c0 + chunk.length;
          for (let q = j; q < inFile.length && inFile[q].t.offset < c1; q++) {
            const { t, k } = inFile[q];
            const a = Math.max(c0, t.offset);
            const b = Math.min(c1, t.offset + t.nbytes);
            if (a < b) yield { tensor: k, offset: a - t.offset, bytes: chunk.subarray(a - c0, b - c0) };
            if (t.offset + t.nbytes <= c1 && q === j) j++;
          }
          // The loader has written every piece (writeBuffer copies at the call): free the chunk now
          // rather than at the next GC, which would let several chunks of garbage pile up.
          if (backend.freshGets) releaseBytes(chunk);
        }
      } finally {
        next?.catch(() => {});
      }
      // Every tensor of the file must be complete now (the manifest's chunks cover the stream).
      if (j < inFile.length) {
        const left = inFile[j].t;
        throw chunkError(m!, file, file.chunks.length, `ends before tensor '${left.name}' (stream offset ${left.offset}, ${left.nbytes} bytes) is complete`);
      }
    }
  }
  return { label, cfg, tensors, read };
}

/**
 * The raw bytes of one stored tensor, on the CPU (as in its safetensors file: little-endian,
 * row-major). For small tensors and checks; models go to the GPU with loadGemma2(storedWeights()).
 */
export async function readStoredTensor(backend: KVBackend, m: ModelManifest, name: string): Promise<Uint8Array> {
  const t = m.tensors.find((x) => x.name === name);
  if (!t) throw new LoadError(loadWhere(modelLabel(m), `tensor '${name}'`), 'is not in the model');
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

/**
 * A stored model's tensor list, config.json and extra files, as encodeCheckpoint takes them. The
 * store keeps config.json as parsed JSON, so its text is re-serialised (2-space indent, as
 * transformers writes it; a float such as 50.0 comes out as 50, which transformers reads the same).
 */
export async function storedCheckpointInfo(backend: KVBackend, id: string): Promise<CheckpointInfo> {
  const m = await getManifest(backend, id);
  if (!m) throw new LoadError(`model '${id}'`, `is not in the ${backend.label}`, 'list the stored models (listModels) and pick one');
  const extras = new Map<string, Uint8Array>();
  for (const [name, x] of Object.entries(m.extras)) {
    const v = await backend.get(x.key);
    if (!(v instanceof Uint8Array) || v.length !== x.bytes) throw new LoadError(loadWhere(modelLabel(m), name), `is missing or damaged in the ${backend.label}`, 'import the model again from its files');
    extras.set(name, v);
  }
  return { tensors: m.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), configText: `${JSON.stringify(m.config, null, 2)}\n`, extras };
}

/**
 * A stored model's tokenizer.json and tokenizer_config.json as parsed JSON objects, null where the
 * import had none (a checkpoint without them imports with a note). Bytes the manifest lists but the
 * store lacks, or that are not a JSON object, are refused, naming the file.
 */
export async function storedTokenizerFiles(backend: KVBackend, m: ModelManifest): Promise<{ tokenizerJson: object | null; tokenizerConfig: object | null }> {
  const json = async (name: string): Promise<object | null> => {
    const x = m.extras[name];
    if (!x) return null;
    const where = loadWhere(modelLabel(m), name);
    const again = 'import the model again from its files';
    const bytes = await backend.get(x.key);
    if (!(bytes instanceof Uint8Array) || bytes.length !== x.bytes) throw new LoadError(where, `is missing or damaged in the ${backend.label}`, again);
    let v: unknown;
    try {
      v = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new LoadError(where, `is not valid JSON (${(e as Error).message})`, again);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new LoadError(where, 'is not a JSON object', again);
    return v;
  };
  return { tokenizerJson: await json('tokenizer.json'), tokenizerConfig: await json('tokenizer_config.json') };
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
  return new LoadError(loadWhere(modelLabel(m), `${file.name} chunk ${i}`), msg, 'import the model again from its files: the import checks every stored chunk and rewrites damaged ones');
}
