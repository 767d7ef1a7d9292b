// Importing a Hugging Face Gemma-2 checkpoint into the weight store.
//
//   importCheckpoint(backend, source, opts)
//     1. validate   config.json, the index (if sharded) and every safetensors header are read and
//                   checked against each other (model/config.ts, safetensors.ts, sharded.ts)
//                   BEFORE anything is written; only headers are read, never tensor data.
//     2. plan       each shard's tensor stream (manifest.ts) and its chunks; the model id.
//     3. space      free space (navigator.storage.estimate() / statfs) against what is still missing.
//     4. copy       chunk by chunk: read the source bytes, refuse NaN/±Inf weights (naming the
//                   tensor and element), checksum, skip if the store already holds that exact chunk
//                   (resume), else write. Then tokenizer.json & co.
//     5. list       the manifest is written LAST: an import that stops anywhere before is never
//                   listed. Its chunks stay for a resume (same source → same id → chunks skipped)
//                   until deleteModel removes them. Keys the new manifest does not use are deleted
//                   only after it is written, and a listed model's keys are never overwritten with
//                   other bytes: a crash at any point leaves the listed model complete.
// Re-importing a listed model (same id) checks and repairs its chunks (other weights under the
// same id are refused); tokenizer files given replace the stored ones, files not given are kept.
//
// Memory: one chunk (plus the pieces it is read from) at a time, whatever the model size.
// Failures: a LoadError naming the file and tensor (validation), the free space (space), or how
// much was needed when the store fills up mid-copy (the partial copy is then removed, and models
// imported earlier are untouched: their keys are never written by another import). An aborted
// signal stops between chunks and throws the signal's reason; the partial copy stays for a resume.
//
// Not here: the backends (kv*.ts), loading to the GPU (load.ts). No node: imports (kv_node.ts has
// sourceFromDirectory for Node).

import { EXTRA_FILES, assertFinite, openCheckpoint, readWholeFile, type CheckpointFile, type CheckpointSource, type OpenedCheckpoint } from '../model/load.ts';
import { LoadError, loadWhere } from '../model/load_error.ts';
import { blobReader } from '../model/safetensors.ts';
import type { CheckpointTensor } from '../model/sharded.ts';
import { chunkChecksum, xxh32 } from './checksum.ts';
import { fmtBytes, releaseBytes } from '../util/bytes.ts';
import { isQuotaError, type FreeSpace, type JsonValue, type KVBackend } from './kv.ts';
import {
  MANIFEST_FORMAT, MANIFEST_VERSION, MODEL_ID_PATTERN, chunkKey, dataPrefix, extraKey, getManifest, manifestKey, pendingKey,
  type ChunkRecord, type ModelManifest, type PendingImport, type StoredFile, type StoredTensor,
} from './manifest.ts';
import { ProgressMeter, throwIfAborted, type ProgressCallback } from '../util/progress.ts';

const MiB = 1 << 20;

/**
 * Default chunk size: 16 MiB, from e2e/store/bench.ts in headless Chromium 156 on this project's
 * 2-core Linux machine: IndexedDB on an on-disk profile, sequential put then get of incompressible
 * chunks, three runs (256, 512, 512 MiB per size), MB/s:
 *
 *   chunk      write             read
 *    1 MiB     166 / 173 / 167   338 / 286 / 320
 *    4 MiB     267 / 211 / 227   472 / 453 / 418
 *   16 MiB     244 / 274 / 242   502 / 507 / 467
 *   32 MiB     303 / 273 / 286   549 / 562 / 528
 *   64 MiB     290 / 266 / 331   528 / 572 / 420
 *
 * Throughput climbs up to 16 MiB and then flattens (32 MiB reads ~10 % faster, 64 MiB is noisy),
 * while a chunk is also the upload granule: peak JS memory while streaming is about two chunks
 * (measured: +18 MB importing and +17 MB uploading a 291 MB model, e2e/store.chromium.test.ts), and
 * the GPU upload itself (~70–80 MB/s on SwiftShader) is far slower than either. So 16 MiB: near the
 * plateau at half the memory of 32. (WebLLM's shards are 32 MiB, spec §6.) Re-measure elsewhere
 * with `npx tsx e2e/store/bench.ts`.
 */
export const CHUNK_SIZE = 16 * MiB;

/** Files stored next to the weights when present (the tokenizer and chat template live in them). */
export { EXTRA_FILES };

/** One file of the checkpoint the user gave (model/load.ts CheckpointFile). */
export type SourceFile = CheckpointFile;

/** The user's checkpoint: a dropped folder, picked files, or a directory (kv_node.ts). */
export type ImportSource = CheckpointSource;

export interface ImportOptions {
  /** Store id; default: the name as a slug plus a fingerprint of config + headers + first bytes. */
  id?: string;
  /** Name shown in the model list; default: the source's folder name, else "model". */
  name?: string;
  /** Bytes per chunk, a multiple of 4 and ≥ 1 KiB (tests use small ones); default CHUNK_SIZE. */
  chunkSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface ImportResult {
  manifest: ModelManifest;
  chunksWritten: number;
  chunksSkipped: number; // already in the store with the right checksum (a resume)
  bytesWritten: number;
  bytesSkipped: number;
}

/**
 * Files picked with <input type=file> (also `webkitdirectory`) or dropped, as an ImportSource.
 * Files inside sub-folders of a picked folder are left out (HF repos keep e.g. original/ there).
 */
export function sourceFromFiles(files: Iterable<File>, name?: string): ImportSource {
  let folder: string | undefined;
  const out: SourceFile[] = [];
  for (const f of files) {
    const parts = (f.webkitRelativePath || f.name).split('/');
    if (parts.length > 2) continue;
    if (parts.length === 2) folder ??= parts[0];
    out.push({ name: parts[parts.length - 1], size: f.size, read: blobReader(f), fresh: true });
  }
  return { name: name ?? folder, files: out };
}

// ---------------------------------------------------------------------------------------------
// 1. validate

interface Validated extends OpenedCheckpoint {
  configJson: JsonValue;
}

/** Step 1 is model/load.ts' openCheckpoint, metered for the progress bar. */
async function validateSource(source: ImportSource, meter: ProgressMeter): Promise<Validated> {
  const opened = await openCheckpoint(source, {
    onTotal: (bytes) => {
      meter.bytesTotal = bytes;
    },
    onFile: (file, bytes) => meter.add(bytes, { file }),
  });
  return { ...opened, configJson: opened.configJson as JsonValue };
}

// ---------------------------------------------------------------------------------------------
// 2. plan: tensor streams and chunks

/** A shard's stream: its used tensors at 4-aligned offsets, and where each came from. */
interface StreamPlan {
  file: SourceFile;
  tensors: { t: CheckpointTensor; offset: number }[]; // in source order; offset in the stream
  bytes: number; // stream length (a multiple of 4)
  chunks: number;
}

const align4 = (n: number): number => Math.ceil(n / 4) * 4;

function planStreams(v: Validated, chunkSize: number): StreamPlan[] {
  const byFile = new Map<string, CheckpointTensor[]>();
  for (const t of v.report.tensors) byFile.set(t.file, [...(byFile.get(t.file) ?? []), t]);
  const plans: StreamPlan[] = [];
  for (const name of [...byFile.keys()].sort()) {
    const ts = byFile.get(name)!.sort((a, b) => a.offset - b.offset);
    let pos = 0;
    const tensors = ts.map((t) => {
      const offset = pos;
      pos = align4(pos + t.nbytes);
      return { t, offset };
    });
    plans.push({ file: v.files.get(name)!, tensors, bytes: pos, chunks: Math.ceil(pos / chunkSize) });
  }
  return plans;
}

/**
 * Chunk `i` of a stream, read from the source (pieces contiguous in both merged into one read).
 * `owned`: nobody else holds the bytes, so they may be released once stored.
 */
async function readChunk(plan: StreamPlan, i: number, chunkSize: number): Promise<{ bytes: Uint8Array; owned: boolean }> {
  const c0 = i * chunkSize;
  const c1 = Math.min(plan.bytes, c0 + chunkSize);
  // pieces: [source offset, length, offset in the chunk]
  const pieces: [number, number, number][] = [];
  for (const { t, offset } of plan.tensors) {
    const a = Math.max(c0, offset);
    const b = Math.min(c1, offset + t.nbytes);
    if (a >= b) continue;
    const src = t.offset + (a - offset);
    const last = pieces[pieces.length - 1];
    if (last && last[0] + last[1] === src && last[2] + last[1] === a - c0) last[1] += b - a;
    else pieces.push([src, b - a, a - c0]);
  }
  const read = async ([src, len]: [number, number, number]): Promise<Uint8Array> => {
    const got = await plan.file.read(src, len);
    if (got.length !== len) {
      throw new LoadError(plan.file.name, `reading bytes ${src}…${src + len} returned ${got.length} bytes`, 'the file changed or could not be read since it was checked; choose it again');
    }
    return got;
  };
  // One piece filling the whole chunk (the common case inside big tensors): no copy.
  if (pieces.length === 1 && pieces[0][1] === c1 - c0) return { bytes: await read(pieces[0]), owned: plan.file.fresh === true };
  const out = new Uint8Array(c1 - c0); // padding between tensors stays 0
  for (const p of pieces) {
    const got = await read(p);
    out.set(got, p[2]);
    if (plan.file.fresh) releaseBytes(got);
  }
  return { bytes: out, owned: true };
}

/** Refuses NaN/±Inf weights in chunk `i` (bytes) of a stream, naming the file, tensor and element. */
function checkFinite(source: string, plan: StreamPlan, i: number, chunkSize: number, bytes: Uint8Array): void {
  const c0 = i * chunkSize;
  for (const { t, offset } of plan.tensors) {
    const a = Math.max(c0, offset);
    const b = Math.min(c0 + bytes.length, offset + t.nbytes);
    if (a < b) assertFinite({ ...t, where: `${source}/${t.file}` }, a - offset, bytes.subarray(a - c0, b - c0));
  }
}

/** Model id: a slug of the name plus 8 hex digits of the checkpoint's fingerprint. */
async function defaultId(name: string, v: Validated, plans: StreamPlan[]): Promise<string> {
  // The fingerprint covers config.json, every header, and the first 64 KiB of each stream: the
  // same files give the same id (so a re-import resumes), a fine-tune with identical shapes does not.
  const parts: string[] = [v.configText];
  for (const h of v.headers) parts.push(`${h.file}:${h.fileSize}:${JSON.stringify(h.tensors)}`);
  let h = xxh32(new TextEncoder().encode(parts.join('\n')));
  for (const p of plans) {
    if (p.bytes > 0) h = xxh32((await readChunk(p, 0, Math.min(64 * 1024, p.bytes))).bytes, h);
  }
  const slug = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-._]+|-+$/g, '').slice(0, 60) || 'model';
  return `${slug}-${h.toString(16).padStart(8, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// the import

/**
 * Imports a checkpoint into the store and lists it (writes its manifest) when every byte is in.
 * Re-importing the same files resumes an interrupted import (chunks already stored with the right
 * checksum are skipped) or, for a listed model, verifies and repairs it.
 */
export async function importCheckpoint(backend: KVBackend, source: ImportSource, opts: ImportOptions = {}): Promise<ImportResult> {
  const { signal, onProgress } = opts;
  const requested = opts.chunkSize ?? CHUNK_SIZE;
  if (!Number.isInteger(requested) || requested % 4 !== 0 || requested < 1024) {
    throw new LoadError('importCheckpoint', `chunkSize must be a multiple of 4 of at least 1024 bytes, got ${requested}`);
  }
  throwIfAborted(signal);

  // --- 1. validate: nothing is written before this has passed
  const v = await validateSource(source, new ProgressMeter('validate', 0, onProgress));
  throwIfAborted(signal);

  // --- 2. plan
  const name = opts.name ?? source.name ?? 'model';
  let plans = planStreams(v, requested);
  const id = opts.id ?? (await defaultId(name, v, plans));
  if (!MODEL_ID_PATTERN.test(id)) {
    throw new LoadError('importCheckpoint', `model id '${id}' is not allowed: use lower-case letters, digits, '.', '_' and '-' (at most 100)`);
  }
  const listed = await getManifest(backend, id);
  const warnings = [...v.cfg.warnings, ...v.report.warnings];
  let chunkSize = requested;
  if (listed && listed.chunkSize !== requested) {
    // Keep a listed model's layout: its chunks are rewritten only if damaged, never re-cut.
    chunkSize = listed.chunkSize;
    plans = planStreams(v, chunkSize);
  }
  // Extra files (tokenizer.json & co., small): those given replace or add to a listed model's, the
  // ones not given are kept (the id's fingerprint leaves them out, so a folder without its tokenizer
  // files re-imports onto the same model). A changed file goes under a key of its own, so the listed
  // manifest keeps pointing at intact bytes until the new one replaces it.
  const extras: ModelManifest['extras'] = { ...listed?.extras };
  const extraData = new Map<string, Uint8Array>(); // key → the bytes to store
  for (const f of v.extras) {
    const bytes = await readWholeFile(f, 1 << 30);
    const checksum = chunkChecksum(bytes);
    const old = listed?.extras[f.name];
    const key = old?.checksum === checksum && old.bytes === bytes.length ? old.key : extraKey(id, f.name, checksum);
    extras[f.name] = { key, bytes: bytes.length, checksum };
    extraData.set(key, bytes);
  }
  const storedBytes = plans.reduce((a, p) => a + p.bytes, 0) + Object.values(extras).reduce((a, x) => a + x.bytes, 0);

  // --- 3. space: count only what is not in the store yet (a resume needs less)
  const present = new Set(await backend.keys(dataPrefix(id)));
  let missing = 0;
  for (const p of plans) {
    for (let i = 0; i < p.chunks; i++) if (!present.has(chunkKey(id, p.file.name, i))) missing += Math.min(chunkSize, p.bytes - i * chunkSize);
  }
  for (const [key, bytes] of extraData) if (!present.has(key)) missing += bytes.length;
  const free = await backend.freeSpace();
  if (free.available !== null && missing > free.available) {
    throw new LoadError(
      name,
      `needs ${fmtBytes(missing)} of storage${missing < storedBytes ? ` (${fmtBytes(storedBytes)} in all, the rest is already stored)` : ''} but only ${fmtBytes(free.available)} is free in the ${backend.label} (${free.detail})`,
      'free some space (delete models you no longer need, or free disk space) and import again; nothing was written',
    );
  }

  // --- 4. copy
  const meter = new ProgressMeter('copy', storedBytes, onProgress);
  const result = { chunksWritten: 0, chunksSkipped: 0, bytesWritten: 0, bytesSkipped: 0 };
  /**
   * Writes `bytes` under `key` unless the store holds exactly them. `expected`: a listed model's
   * checksum for this key, which the bytes must have (weights are never replaced under a listed id).
   */
  const put = async (key: string, bytes: Uint8Array, checksum: string, expected: string | undefined | null, what: string): Promise<void> => {
    if (listed && expected !== null && expected !== checksum) {
      throw new LoadError(
        loadWhere(what, `bytes of store key '${key}'`),
        `differ from the model '${listed.name}' (${id}) already in the store under this id (checksum ${checksum}, stored ${expected ?? 'none'})`,
        'these are different weights with the same file names and shapes: delete the stored model first, or import under another name (ImportOptions.id / name)',
      );
    }
    if (present.has(key)) {
      const old = await backend.get(key);
      const same = old instanceof Uint8Array && old.length === bytes.length && chunkChecksum(old) === checksum;
      if (old instanceof Uint8Array && backend.freshGets) releaseBytes(old);
      if (same) {
        result.chunksSkipped++;
        result.bytesSkipped += bytes.length;
        return;
      }
    }
    await backend.set(key, bytes);
    result.chunksWritten++;
    result.bytesWritten += bytes.length;
  };

  const files: StoredFile[] = [];
  try {
    if (!listed) {
      const pending: PendingImport = { id, name, startedAt: new Date().toISOString(), storedBytes };
      await backend.set(pendingKey(id), pending as unknown as JsonValue);
    }
    for (const p of plans) {
      const chunks: ChunkRecord[] = [];
      const listedFile = listed?.files.find((f) => f.name === p.file.name);
      for (let i = 0; i < p.chunks; i++) {
        throwIfAborted(signal);
        const { bytes, owned } = await readChunk(p, i, chunkSize);
        checkFinite(v.source, p, i, chunkSize, bytes);
        const key = chunkKey(id, p.file.name, i);
        const checksum = chunkChecksum(bytes);
        const n = bytes.length;
        await put(key, bytes, checksum, listedFile?.chunks[i]?.checksum, p.file.name);
        if (owned) releaseBytes(bytes); // stored (every backend has copied it by now): free it now, not at the next GC
        chunks.push({ key, bytes: n, checksum });
        meter.add(n, { file: p.file.name });
      }
      files.push({ name: p.file.name, size: p.file.size, streamBytes: p.bytes, chunks });
    }
    for (const [name, x] of Object.entries(extras)) {
      throwIfAborted(signal);
      const bytes = extraData.get(x.key);
      if (bytes === undefined) continue; // kept from the listed model, not given this time
      await put(x.key, bytes, x.checksum, null, name);
      meter.add(bytes.length, { file: name });
    }
    throwIfAborted(signal);

    // --- 5. list: the manifest last
    const tensors: StoredTensor[] = [];
    const where = new Map(plans.flatMap((p) => p.tensors.map(({ t, offset }) => [t.name, offset] as const)));
    for (const t of v.report.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, file: t.file, offset: where.get(t.name)!, nbytes: t.nbytes });
    const manifest: ModelManifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      id,
      name,
      importedAt: listed?.importedAt ?? new Date().toISOString(),
      chunkSize,
      config: v.configJson,
      parameters: v.report.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0),
      tensorBytes: v.report.totalBytes,
      storedBytes,
      files,
      tensors,
      extras,
      warnings,
    };
    await backend.set(manifestKey(id), manifest as unknown as JsonValue);
    // Only now, with the new manifest listed, remove what it does not use: chunks of an earlier,
    // differently cut attempt, and extra files it replaced. A crash before this point leaves the old
    // manifest with all its keys; after it, at worst unused keys (the next import or delete removes them).
    const used = new Set([...files.flatMap((f) => f.chunks.map((c) => c.key)), ...Object.values(extras).map((x) => x.key)]);
    for (const key of present) if (!used.has(key)) await backend.del(key);
    await backend.del(pendingKey(id));
    meter.report({}, true);
    return { manifest, ...result };
  } catch (e) {
    if (!isQuotaError(e)) throw e; // an abort or a read error: the partial copy stays for a resume
    if (!listed) await removePartial(backend, id);
    throw quotaLoadError(name, id, storedBytes, result.bytesWritten, free, backend, listed !== null, e);
  }
}

/** Deletes an unlisted import's keys (best effort: the store is full, deletes still work). */
async function removePartial(backend: KVBackend, id: string): Promise<void> {
  for (const key of await backend.keys(dataPrefix(id))) await backend.del(key);
  await backend.del(pendingKey(id));
}

function quotaLoadError(name: string, id: string, needed: number, written: number, free: FreeSpace, backend: KVBackend, listed: boolean, cause: unknown): LoadError {
  const what = listed
    ? `the model was already listed and stays as it was (repairing it needed more space)`
    : `nothing was listed and the ${fmtBytes(written)} written by this import were removed`;
  const err = new LoadError(
    name,
    `the ${backend.label} became full while storing the model: it needs ${fmtBytes(needed)} in all, ${fmtBytes(written)} were written when the store refused more (${describe(cause)}; before the import: ${free.detail}); ${what}`,
    `free at least ${fmtBytes(Math.max(0, needed - written))} more (delete models you no longer need, or free disk space) and import again; models imported earlier are intact (id ${id} is the one that failed)`,
  );
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

/** "QuotaExceededError: message" (browsers often leave the message empty). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return e.message ? `${e.name}: ${e.message}` : e.name;
}
