// PEFT LoRA adapters in the weight store, kept under the base model they adapt: the two files PEFT
// writes (adapter_config.json + adapter_model.safetensors), stored as given, in chunks.
//
//   adapter/<modelId>/<adapterId>/manifest            AdapterManifest (JSON). Written LAST: an
//                                                     adapter is listed exactly when this key exists.
//   adapter/<modelId>/<adapterId>/pending             PendingAdapter (JSON) while its import runs
//   adapter/<modelId>/<adapterId>/chunk/<file>/<i>    bytes: chunk i of the file (chunkSize bytes,
//                                                     the last one shorter)
//
//   importAdapter(backend, source, {modelId, …})   1. the base's manifest and config.json; 2. the
//       files read and checked with model/peft.ts openPeftAdapter against the base's config (every
//       setting the engine does not compute refused by field name, every factor's key and shape
//       against the base's weights, values finite) BEFORE anything is written; 3. the same files
//       already stored under this base → nothing written (`already`); 4. free space; 5. the chunks,
//       checksummed; 6. the manifest last. A quota error removes what this import wrote; any other
//       failure (or a crash) leaves keys without a manifest: never listed, removed by
//       discardIncompleteAdapters (the worker calls it before each adapter import) or deleteAdapter.
//   listAdapters(backend, modelId?)       listed adapters, by name
//   openStoredAdapter(backend, m, id)      the stored files read back (chunk checksums checked) and
//                                          opened with openPeftAdapter: a HostLoraAdapter for the GPU
//   storedAdapterSource(backend, a)        the stored files as a CheckpointSource
//   deleteAdapter(backend, modelId, id)    manifest first, then its chunks; returns the bytes freed
//   listIncompleteAdapters / discardIncompleteAdapters   imports that never wrote their manifest
//
// manifest.ts deleteModel removes a model's adapters with it (every key under adapter/<modelId>/).
// Keys live outside data/<modelId>/ on purpose: a model re-import deletes the keys under data/<id>/
// its new manifest does not use, and must not take the adapters with them.
//
// Not here: applying an adapter to a model (model/peft.ts uploadAdapter, the worker), the model
// store's own files (manifest.ts, import.ts).

import { parseGemma2Config, type Gemma2Config } from '../model/config.ts';
import { fileBytes, type ExportedFile } from '../model/export.ts';
import type { CheckpointFile, CheckpointSource } from '../model/load.ts';
import { LoadError, loadWhere } from '../model/load_error.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, openPeftAdapter, type HostLoraAdapter } from '../model/peft.ts';
import { fmtBytes, releaseBytes } from '../util/bytes.ts';
import { ProgressMeter, throwIfAborted, type ProgressCallback } from '../util/progress.ts';
import { chunkChecksum, xxh32 } from './checksum.ts';
import { isQuotaError, type JsonValue, type KVBackend } from './kv.ts';
import { adaptersPrefix, getManifest, type ChunkRecord, type ModelManifest } from './manifest.ts';

export const ADAPTER_FORMAT = 'prefstudio.adapter';
export const ADAPTER_VERSION = 1;
/** Chunks of 16 MiB, as the model store's (import.ts CHUNK_SIZE); most adapters fit in one. */
export const ADAPTER_CHUNK_SIZE = 16 * (1 << 20);
/** The files an adapter is stored as, in this order. */
export const ADAPTER_FILES = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE] as const;

/** One stored file of an adapter, cut into chunks. */
export interface StoredAdapterFile {
  name: string;
  size: number;
  chunks: ChunkRecord[];
}

/** A stored adapter. Plain JSON. */
export interface AdapterManifest {
  format: typeof ADAPTER_FORMAT;
  version: number;
  id: string;
  /** The base model it adapts (its ModelManifest.id). */
  modelId: string;
  /** Shown to the user (the folder's name, or a run's id, unless given). */
  name: string;
  importedAt: string; // ISO date
  /** 'import' (the user's files) or the id of the studio run that trained it. */
  source: string;
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  /** Adapted projections (q_proj, v_proj …), in the engine's order. */
  targets: string[];
  /** Adapted modules (layer × projection pairs). */
  modules: number;
  /** Elements of every factor (A and B). */
  parameters: number;
  /** base_model_name_or_path as written in adapter_config.json. */
  baseModel: string | null;
  /** xxh32 over both files' bytes (1 MiB pieces, chained): the same files give the same hash. */
  contentHash: string;
  chunkSize: number;
  files: StoredAdapterFile[];
  /** Bytes its chunks hold (what deleteAdapter frees). */
  storedBytes: number;
  warnings: string[];
}

/** An adapter import that started and has not written its manifest. */
export interface PendingAdapter {
  id: string;
  modelId: string;
  name: string;
  startedAt: string;
  storedBytes: number;
}

export const adapterPrefix = (modelId: string, id: string): string => `${adaptersPrefix(modelId)}${id}/`;
export const adapterManifestKey = (modelId: string, id: string): string => `${adapterPrefix(modelId, id)}manifest`;
export const adapterPendingKey = (modelId: string, id: string): string => `${adapterPrefix(modelId, id)}pending`;
export const adapterChunkKey = (modelId: string, id: string, file: string, i: number): string => `${adapterPrefix(modelId, id)}chunk/${file}/${i}`;

/** Adapter ids: as model ids (parts of keys). */
export const ADAPTER_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

function isAdapterManifest(v: unknown): v is AdapterManifest {
  return typeof v === 'object' && v !== null && (v as AdapterManifest).format === ADAPTER_FORMAT;
}

/** "adapter 'name' of stored model 'base'": how messages name a stored adapter. */
const adapterLabel = (a: Pick<AdapterManifest, 'name' | 'id'>, m: Pick<ModelManifest, 'name'> | null): string => `adapter '${a.name}' (${a.id})${m ? ` of stored model '${m.name}'` : ''}`;

// ---------------------------------------------------------------------------------------------
// reading the listing

/** The manifest of adapter `id` of model `modelId`, or null if it is not listed. */
export async function getAdapterManifest(backend: KVBackend, modelId: string, id: string): Promise<AdapterManifest | null> {
  const v = await backend.get(adapterManifestKey(modelId, id));
  return isAdapterManifest(v) ? v : null;
}

/** Every listed adapter (of `modelId`, or of every model), by name then id. */
export async function listAdapters(backend: KVBackend, modelId?: string): Promise<AdapterManifest[]> {
  const out: AdapterManifest[] = [];
  for (const key of await backend.keys(modelId === undefined ? 'adapter/' : adaptersPrefix(modelId))) {
    if (!key.endsWith('/manifest')) continue;
    const v = await backend.get(key);
    if (isAdapterManifest(v)) out.push(v);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** An adapter import that never finished: its keys, and the bytes they hold. */
export interface IncompleteAdapter {
  modelId: string;
  id: string;
  name: string | null; // from its pending record, if that was written
  keys: string[];
  bytesStored: number;
}

/** Adapter imports that stopped before their manifest (cancelled, failed, a closed tab). */
export async function listIncompleteAdapters(backend: KVBackend): Promise<IncompleteAdapter[]> {
  const groups = new Map<string, string[]>(); // "adapter/<modelId>/<id>/" → its keys
  for (const key of await backend.keys('adapter/')) {
    const m = /^(adapter\/[^/]+\/[^/]+\/)/.exec(key);
    if (m) groups.set(m[1], [...(groups.get(m[1]) ?? []), key]);
  }
  const out: IncompleteAdapter[] = [];
  for (const [prefix, keys] of groups) {
    if (keys.includes(`${prefix}manifest`)) continue;
    const [, modelId, id] = prefix.split('/');
    const pending = (await backend.get(`${prefix}pending`)) as PendingAdapter | undefined;
    let bytes = 0;
    for (const k of keys) {
      if (k.endsWith('/pending')) continue;
      const v = await backend.get(k);
      if (v instanceof Uint8Array) {
        bytes += v.byteLength;
        if (backend.freshGets) releaseBytes(v);
      }
    }
    out.push({ modelId, id, name: pending?.name ?? null, keys, bytesStored: bytes });
  }
  return out;
}

/** Removes what unfinished adapter imports left (call it when no adapter import runs). Returns the bytes freed. */
export async function discardIncompleteAdapters(backend: KVBackend): Promise<number> {
  let freed = 0;
  for (const x of await listIncompleteAdapters(backend)) {
    for (const k of x.keys) await backend.del(k);
    freed += x.bytesStored;
  }
  return freed;
}

/**
 * Removes adapter `id` of model `modelId`: the manifest first (it is no longer listed even if the
 * rest is interrupted), then its chunks. Returns the bytes freed (0 when it was not stored).
 */
export async function deleteAdapter(backend: KVBackend, modelId: string, id: string): Promise<number> {
  const a = await getAdapterManifest(backend, modelId, id);
  await backend.del(adapterManifestKey(modelId, id));
  for (const key of await backend.keys(adapterPrefix(modelId, id))) await backend.del(key);
  return a?.storedBytes ?? 0;
}

// ---------------------------------------------------------------------------------------------
// reading the files back

/** The stored files of an adapter as a CheckpointSource (each chunk's checksum checked when read). */
export function storedAdapterSource(backend: KVBackend, a: AdapterManifest, base: Pick<ModelManifest, 'name'> | null = null): CheckpointSource {
  const label = adapterLabel(a, base);
  const files: CheckpointFile[] = a.files.map((f) => {
    let cached: { i: number; bytes: Uint8Array } | null = null;
    const chunk = async (i: number): Promise<Uint8Array> => {
      if (cached?.i === i) return cached.bytes;
      const rec = f.chunks[i];
      const where = loadWhere(label, `${f.name} chunk ${i}`);
      const v = await backend.get(rec.key);
      if (!(v instanceof Uint8Array) || v.length !== rec.bytes) throw new LoadError(where, `is ${v === undefined ? 'missing' : 'not the size the manifest recorded'} in the ${backend.label}`, 'delete the adapter and add it again from its files');
      if (chunkChecksum(v) !== rec.checksum) throw new LoadError(where, `has checksum ${chunkChecksum(v)} but the manifest recorded ${rec.checksum}: the stored data is damaged`, 'delete the adapter and add it again from its files');
      cached = { i, bytes: v };
      return v;
    };
    const read = async (offset: number, length: number): Promise<Uint8Array> => {
      const end = Math.min(f.size, offset + length);
      const out = new Uint8Array(Math.max(0, end - offset));
      for (let i = Math.floor(offset / a.chunkSize); i * a.chunkSize < end; i++) {
        const c = await chunk(i);
        const c0 = i * a.chunkSize;
        const from = Math.max(offset, c0);
        const to = Math.min(end, c0 + c.length);
        out.set(c.subarray(from - c0, to - c0), from - offset);
      }
      return out;
    };
    return { name: f.name, size: f.size, read, fresh: true };
  });
  return { name: label, files };
}

/**
 * A stored adapter read back and checked against its base model's config (model/peft.ts
 * openPeftAdapter): the host factors, ready for uploadAdapter. Throws a LoadError naming the model,
 * adapter and chunk when something is missing or damaged.
 */
export async function openStoredAdapter(backend: KVBackend, modelId: string, id: string): Promise<{ manifest: AdapterManifest; adapter: HostLoraAdapter }> {
  const base = await getManifest(backend, modelId);
  if (!base) throw new LoadError(`model '${modelId}'`, `is not in the ${backend.label}`, 'pick a stored model; its adapters are stored with it');
  const a = await getAdapterManifest(backend, modelId, id);
  if (!a) throw new LoadError(`adapter '${id}' of stored model '${base.name}'`, `is not in the ${backend.label} (it was deleted, or its import did not finish)`, 'pick one of the adapters listed under the model, or add it again from its files');
  const cfg = parseGemma2Config(base.config, `stored model '${base.name}': config.json`);
  const opened = await openPeftAdapter(storedAdapterSource(backend, a, base), cfg);
  return { manifest: a, adapter: opened.adapter };
}

// ---------------------------------------------------------------------------------------------
// importing

export interface AdapterImportOptions {
  /** The stored base model (ModelManifest.id). */
  modelId: string;
  /** Shown in the list; default: the source's name (the folder's), else 'adapter'. */
  name?: string;
  /** 'import' (default) or the id of the run that trained it. */
  source?: string;
  /** Store id; default: the name as a slug plus 8 hex digits of the files' hash. */
  id?: string;
  chunkSize?: number;
  signal?: AbortSignal;
  /** validate (the files read and checked), then copy (bytes into the store). */
  onProgress?: ProgressCallback;
}

export interface AdapterImportResult {
  manifest: AdapterManifest;
  /** The same files were already stored under this base (manifest is that adapter's): nothing written. */
  already: boolean;
  bytesWritten: number;
}

const HASH_PIECE = 1 << 20;

/** xxh32 over the adapter's files (names and bytes), read in 1 MiB pieces: independent of the chunk size. */
async function filesHash(files: CheckpointFile[]): Promise<string> {
  let h = 0;
  for (const f of files) {
    h = xxh32(new TextEncoder().encode(`${f.name}:${f.size}`), h);
    for (let o = 0; o < f.size; o += HASH_PIECE) {
      const b = await readExactly(f, o, Math.min(HASH_PIECE, f.size - o));
      h = xxh32(b, h);
      if (f.fresh) releaseBytes(b);
    }
  }
  return h.toString(16).padStart(8, '0');
}

async function readExactly(f: CheckpointFile, offset: number, length: number): Promise<Uint8Array> {
  const b = await f.read(offset, length);
  if (b.length !== length) throw new LoadError(f.name, `reading bytes ${offset}…${offset + length} returned ${b.length} bytes`, 'the file changed or could not be read since it was checked; choose it again');
  return b;
}

const slug = (name: string): string => name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-._]+|-+$/g, '').slice(0, 60) || 'adapter';

/**
 * Stores a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors among `source`'s
 * files; others are ignored) under stored model `opts.modelId`, after checking it against that
 * model's config. Lists it (writes its manifest) when every byte is in.
 */
export async function importAdapter(backend: KVBackend, source: CheckpointSource, opts: AdapterImportOptions): Promise<AdapterImportResult> {
  const { modelId, signal, onProgress } = opts;
  const chunkSize = opts.chunkSize ?? ADAPTER_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1024) throw new LoadError('importAdapter', `chunkSize must be an integer of at least 1024 bytes, got ${chunkSize}`);
  throwIfAborted(signal);
  const base = await getManifest(backend, modelId);
  if (!base) throw new LoadError(`model '${modelId}'`, `is not in the ${backend.label}`, 'import the base model first; an adapter is stored under the model it adapts');
  const cfg: Gemma2Config = parseGemma2Config(base.config, `stored model '${base.name}': config.json`);
  const name = opts.name?.trim() || source.name || 'adapter';

  // --- 1. validate: every field, key, shape and value, before anything is written
  const byName = new Map(source.files.map((f) => [f.name, f]));
  const total = ADAPTER_FILES.reduce((n, f) => n + (byName.get(f)?.size ?? 0), 0);
  const check = new ProgressMeter('validate', total, onProgress);
  const opened = await openPeftAdapter({ name: source.name ?? name, files: source.files }, cfg);
  check.add(total, { file: ADAPTER_WEIGHTS_FILE }, true);
  const files = ADAPTER_FILES.map((f) => byName.get(f)!); // openPeftAdapter has checked both are there
  throwIfAborted(signal);

  // --- 2. the same files already under this base?
  const contentHash = await filesHash(files);
  const twin = (await listAdapters(backend, modelId)).find((a) => a.contentHash === contentHash && a.files.every((f, k) => f.size === files[k].size));
  if (twin) return { manifest: twin, already: true, bytesWritten: 0 };
  const id = opts.id ?? `${slug(name)}-${contentHash}`;
  if (!ADAPTER_ID_PATTERN.test(id)) throw new LoadError('importAdapter', `adapter id '${id}' is not allowed: use lower-case letters, digits, '.', '_' and '-' (at most 100)`);
  if (await getAdapterManifest(backend, modelId, id)) {
    throw new LoadError(name, `differs from the adapter already stored as '${id}' under model '${base.name}'`, 'delete that adapter first, or add this one under another name');
  }

  // --- 3. space
  const storedBytes = files.reduce((n, f) => n + f.size, 0);
  const free = await backend.freeSpace();
  if (free.available !== null && storedBytes > free.available) {
    throw new LoadError(name, `needs ${fmtBytes(storedBytes)} of storage but only ${fmtBytes(free.available)} is free in the ${backend.label} (${free.detail})`, 'free some space (delete models or adapters you no longer need) and add it again; nothing was written');
  }

  // --- 4. copy, the manifest last
  const meter = new ProgressMeter('copy', storedBytes, onProgress);
  let bytesWritten = 0;
  try {
    const pending: PendingAdapter = { id, modelId, name, startedAt: new Date().toISOString(), storedBytes };
    await backend.set(adapterPendingKey(modelId, id), pending as unknown as JsonValue);
    const stored: StoredAdapterFile[] = [];
    for (const f of files) {
      const chunks: ChunkRecord[] = [];
      for (let i = 0; i * chunkSize < f.size; i++) {
        throwIfAborted(signal);
        const n = Math.min(chunkSize, f.size - i * chunkSize);
        const bytes = await readExactly(f, i * chunkSize, n);
        const key = adapterChunkKey(modelId, id, f.name, i);
        const checksum = chunkChecksum(bytes);
        await backend.set(key, bytes);
        if (f.fresh) releaseBytes(bytes);
        bytesWritten += n;
        chunks.push({ key, bytes: n, checksum });
        meter.add(n, { file: f.name });
      }
      stored.push({ name: f.name, size: f.size, chunks });
    }
    throwIfAborted(signal);
    const c = opened.adapter.config;
    const layers = opened.adapter.layers;
    const manifest: AdapterManifest = {
      format: ADAPTER_FORMAT,
      version: ADAPTER_VERSION,
      id,
      modelId,
      name,
      importedAt: new Date().toISOString(),
      source: opts.source ?? 'import',
      r: c.r,
      alpha: c.alpha,
      dropout: c.dropout,
      useRslora: c.useRslora,
      targets: [...c.targets],
      modules: layers.reduce((n, l) => n + Object.keys(l).length, 0),
      parameters: layers.reduce((n, l) => n + Object.values(l).reduce((m, f) => m + (f ? f.A.length + f.B.length : 0), 0), 0),
      baseModel: opened.baseModel,
      contentHash,
      chunkSize,
      files: stored,
      storedBytes,
      warnings: [...opened.warnings],
    };
    await backend.set(adapterManifestKey(modelId, id), manifest as unknown as JsonValue);
    await backend.del(adapterPendingKey(modelId, id));
    meter.report({}, true);
    return { manifest, already: false, bytesWritten };
  } catch (e) {
    if (!isQuotaError(e)) throw e; // an abort or a read error: the keys stay unlisted until discarded
    for (const key of await backend.keys(adapterPrefix(modelId, id))) await backend.del(key);
    const err = new LoadError(
      name,
      `the ${backend.label} became full while storing the adapter: it needs ${fmtBytes(storedBytes)}, ${fmtBytes(bytesWritten)} were written when the store refused more; nothing was listed and what this import wrote was removed`,
      `free at least ${fmtBytes(storedBytes - bytesWritten)} more (delete models or adapters you no longer need) and add it again; everything stored before is intact`,
    );
    (err as Error & { cause?: unknown }).cause = e;
    throw err;
  }
}

/** Files in memory (a run's adapter: encodePeftAdapter's output) as a CheckpointSource. */
export function adapterSourceFromFiles(name: string, files: readonly ExportedFile[]): CheckpointSource {
  return {
    name,
    files: files.map((f) => {
      const bytes = fileBytes(f);
      return { name: f.path, size: bytes.length, read: (o: number, n: number) => Promise.resolve(bytes.subarray(o, o + n)) };
    }),
  };
}

