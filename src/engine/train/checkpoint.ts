// Training checkpoints: a trainer's state (train/checkpoint_state.ts) and the metrics so far, as a
// manifest and named blobs, in any store; written so that a crash at any moment leaves every
// earlier checkpoint intact and never shows a half-written one.
//
// A checkpoint (HF's naming: checkpoint-<step>) holds
//   trainable.safetensors   the trainable tensors (F32) by trainer.namedParams name
//   optimizer.safetensors   "<state>/<tensor name>" (exp_avg/…, exp_avg_sq/…; square_avg/…, …)
//   reference.safetensors   "reference" [N, 2]: the run's reference sums (absent without one)
//   metrics.jsonl           the run's metrics lines so far (the caller's StepRecords)
//   manifest                JSON: format, version, step, every blob's size and XXH32 checksum
//                           (chained over 16 MiB windows), the trainer's state (TrainerStateMeta)
//
// Stores (CheckpointStore):
//   kvCheckpointStore(kv)   any KVBackend (IndexedDB in the studio, memory in tests): blob bytes in
//                           16 MiB chunks under <prefix>checkpoint-N/blob/<name>/<i>, the manifest
//                           under <prefix>checkpoint-N/manifest, written last. Keys of a checkpoint
//                           without a manifest are an unfinished write: ignored, removed by clean().
//   nodeCheckpointStore     checkpoint_node.ts: DIR/checkpoint-N/ folders, written as
//                           DIR/checkpoint-N.tmp-XXXXXX/ (fsynced) and renamed.
// saveCheckpoint writes one and then keeps the newest `saveTotalLimit` (older ones are removed only
// after the new one is complete). loadCheckpoint validates everything (manifest, version, every
// blob present with its size and checksum, every tensor) and names what is missing or damaged.
// No node: imports here: this runs in a page, a Worker and Node.

import { EngineError } from '../errors.ts';
import { encodeSafetensorsHeader, readSafetensorsHeader, toFloat32, type ByteReader, type SafetensorsHeader, type TensorToWrite } from '../model/safetensors.ts';
import { xxh32 } from '../store/checksum.ts';
import type { JsonValue, KVBackend } from '../store/kv.ts';
import { TRAINER_STATE_VERSION, type TrainerState, type TrainerStateMeta } from './checkpoint_state.ts';
import type { Trainer } from './trainer.ts';

export const CHECKPOINT_FORMAT = 'prefstudio-checkpoint';
export const CHECKPOINT_VERSION = 1;
/** HF Trainer's folder name of the checkpoint after optimizer step `step`. */
export const checkpointName = (step: number): string => `checkpoint-${step}`;
export const CHECKPOINT_NAME = /^checkpoint-(\d+)$/;

export const BLOB = { trainable: 'trainable.safetensors', optimizer: 'optimizer.safetensors', reference: 'reference.safetensors', metrics: 'metrics.jsonl' } as const;

/** Checksums and KV chunks cover windows of this many bytes. */
const WINDOW = 16 << 20;

/** A checkpoint's manifest (the file manifest.json, or the KV key …/manifest). */
export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  /** Every blob, with its size and checksum ("xxh32:" + hex, chained over 16 MiB windows). */
  blobs: { name: string; bytes: number; checksum: string }[];
  trainer: TrainerStateMeta;
}

/** A blob to write: its bytes are the concatenation of `parts`. */
export interface CheckpointBlob {
  name: string;
  parts: Uint8Array[];
}

/** One stored checkpoint, to read. */
export interface CheckpointSource {
  /** Where it is, for messages: a folder, or "IndexedDB …: checkpoint-4". */
  readonly label: string;
  /** The parsed manifest; undefined when there is none (an unfinished write). */
  manifest(): Promise<unknown>;
  /** A blob's size and reader; undefined when it is missing. */
  blob(name: string): Promise<{ size: number; read: ByteReader } | undefined>;
}

/** Test hooks of a write: `afterBlob` runs after each blob is stored (to stop a write halfway). */
export interface WriteHooks {
  afterBlob?(name: string): Promise<void>;
}

/** Where checkpoints of one run live. */
export interface CheckpointStore {
  readonly label: string;
  /**
   * Complete checkpoints (with a manifest), ascending by step; `partial`: what unfinished writes
   * left (removed by clean()); `ignored`: things named like checkpoints that are not complete ones.
   */
  scan(): Promise<{ steps: number[]; partial: string[]; ignored: string[] }>;
  /** Removes what unfinished writes left; returns their names. Never touches a complete checkpoint. */
  clean(): Promise<string[]>;
  /** Writes checkpoint `step` whole (blobs first, the manifest last; replaces one of the same step). Returns its label. */
  write(step: number, blobs: readonly CheckpointBlob[], manifest: CheckpointManifest, hooks?: WriteHooks): Promise<string>;
  open(step: number): CheckpointSource;
  remove(step: number): Promise<void>;
}

/** A validated checkpoint. */
export interface LoadedCheckpoint {
  step: number;
  label: string;
  manifest: CheckpointManifest;
  state: TrainerState;
  /** metrics.jsonl's lines (without newlines), in order. */
  metrics: string[];
}

export class CheckpointError extends EngineError {}

// ---------------------------------------------------------------------------------------------
// encoding

/** A trainer's state and the metrics lines → the blobs and the manifest of a checkpoint. */
export function encodeTrainerCheckpoint(state: TrainerState, metrics: readonly string[]): { blobs: CheckpointBlob[]; manifest: CheckpointManifest } {
  const f32 = (name: string, values: Float32Array, shape: readonly number[]): TensorToWrite => ({ name, dtype: 'F32', shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
  const shapes = new Map(state.meta.trainable.map((t) => [t.name, t.shape]));
  const trainable = [...state.params].map(([name, v]) => f32(name, v, shapes.get(name) ?? [v.length]));
  const optimizer = [...state.optimizer].flatMap(([name, slots]) => Object.entries(slots).map(([slot, v]) => f32(`${slot}/${name}`, v, shapes.get(name) ?? [v.length])));
  const blobs: CheckpointBlob[] = [
    { name: BLOB.trainable, parts: safetensorsParts(trainable) },
    { name: BLOB.optimizer, parts: safetensorsParts(optimizer) },
  ];
  if (state.reference) blobs.push({ name: BLOB.reference, parts: safetensorsParts([f32('reference', state.reference, [state.reference.length / 2, 2])]) });
  blobs.push({ name: BLOB.metrics, parts: [new TextEncoder().encode(metrics.map((l) => `${l}\n`).join(''))] });
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: state.meta.step,
    blobs: blobs.map((b) => ({ name: b.name, bytes: b.parts.reduce((s, p) => s + p.length, 0), checksum: '' })),
    trainer: state.meta,
  };
  return { blobs, manifest };
}

/** Fills in each blob's checksum (reads every byte once). */
async function withChecksums(blobs: readonly CheckpointBlob[], manifest: CheckpointManifest): Promise<CheckpointManifest> {
  const sums = await Promise.all(blobs.map((b) => blobChecksum(partsReader(b.parts), b.parts.reduce((s, p) => s + p.length, 0))));
  return { ...manifest, blobs: manifest.blobs.map((b, i) => ({ ...b, checksum: sums[i] })) };
}

/** A safetensors file as parts: the header, then each tensor's bytes (no copy of the data). */
function safetensorsParts(tensors: readonly TensorToWrite[]): Uint8Array[] {
  const { bytes, tensors: layout } = encodeSafetensorsHeader(tensors, { format: 'pt' });
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  return [bytes, ...layout.map((t) => byName.get(t.name)!)];
}

/** XXH32 chained over consecutive 16 MiB windows of the blob: "xxh32:" + 8 hex digits. */
export async function blobChecksum(read: ByteReader, size: number): Promise<string> {
  let h = 0;
  for (let off = 0; off < size; off += WINDOW) h = xxh32(await read(off, Math.min(WINDOW, size - off)), h);
  return `xxh32:${h.toString(16).padStart(8, '0')}`;
}

/** A ByteReader over the concatenation of `parts` (copies only across part boundaries). */
export function partsReader(parts: readonly Uint8Array[]): ByteReader {
  const starts: number[] = [];
  let total = 0;
  for (const p of parts) {
    starts.push(total);
    total += p.length;
  }
  return (offset, length) => {
    const end = Math.min(offset + length, total);
    let i = starts.findIndex((s, k) => offset >= s && offset < s + parts[k].length);
    if (i < 0 || end <= offset) return Promise.resolve(new Uint8Array(0));
    if (end <= starts[i] + parts[i].length) return Promise.resolve(parts[i].subarray(offset - starts[i], end - starts[i]));
    const out = new Uint8Array(end - offset);
    for (let pos = offset; pos < end; i++) {
      const from = pos - starts[i];
      const n = Math.min(parts[i].length - from, end - pos);
      out.set(parts[i].subarray(from, from + n), pos - offset);
      pos += n;
    }
    return Promise.resolve(out);
  };
}

// ---------------------------------------------------------------------------------------------
// saving

export interface SaveOptions {
  /** The run's metrics so far, one JSON line each (or the records, stringified here). */
  metrics: readonly (string | object)[];
  /** Keep only the newest N complete checkpoints (HF save_total_limit); null/undefined: all. */
  saveTotalLimit?: number | null;
  hooks?: WriteHooks;
}

export interface SavedCheckpoint {
  step: number;
  label: string;
  bytes: number;
  /** Steps of the older checkpoints removed by the limit. */
  removed: number[];
}

/**
 * Saves the trainer's state after its current step into `store` (call between steps), then removes
 * the oldest checkpoints beyond `saveTotalLimit` and what unfinished writes left.
 */
export async function saveCheckpoint(store: CheckpointStore, trainer: Pick<Trainer, 'exportState'>, opts: SaveOptions): Promise<SavedCheckpoint> {
  const limit = opts.saveTotalLimit ?? null;
  if (limit !== null && !(Number.isInteger(limit) && limit >= 1)) throw new CheckpointError('--save_total_limit', `must be an integer >= 1, got ${limit}`);
  const state = await trainer.exportState();
  const { blobs, manifest } = encodeTrainerCheckpoint(state, opts.metrics.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))));
  const full = await withChecksums(blobs, manifest);
  const label = await store.write(state.meta.step, blobs, full, opts.hooks);
  const removed: number[] = [];
  if (limit !== null) {
    const { steps } = await store.scan();
    const newest = new Set(steps.slice(-limit));
    newest.add(state.meta.step); // the one just written stays, whatever else is there
    for (const s of steps) {
      if (!newest.has(s)) {
        await store.remove(s);
        removed.push(s);
      }
    }
  }
  await store.clean();
  return { step: state.meta.step, label, bytes: full.blobs.reduce((s, b) => s + b.bytes, 0), removed };
}

/** The newest complete checkpoint's step in `store` (after removing unfinished writes), or null. */
export async function latestCheckpoint(store: CheckpointStore): Promise<number | null> {
  await store.clean();
  const { steps } = await store.scan();
  return steps.length > 0 ? steps[steps.length - 1] : null;
}

// ---------------------------------------------------------------------------------------------
// loading

const DAMAGED_HINT = 'this checkpoint is damaged: resume from an earlier one (--resume DIR/checkpoint-K), or start the run again';

/**
 * Reads and validates a checkpoint: its manifest (format, version), every blob (present, size,
 * checksum) and every tensor the state needs. Throws a CheckpointError naming everything that is
 * missing or damaged and what to do.
 */
export async function loadCheckpoint(src: CheckpointSource): Promise<LoadedCheckpoint> {
  const raw = await src.manifest();
  if (raw === undefined) {
    throw new CheckpointError(src.label, 'has no manifest: it was never completed (the process stopped while writing it)', 'resume from an earlier checkpoint; this one is removed by the next save, or delete it');
  }
  const manifest = checkManifest(raw, src.label);
  const problems: string[] = [];
  const readers = new Map<string, { size: number; read: ByteReader }>();
  for (const b of manifest.blobs) {
    const blob = await src.blob(b.name);
    if (!blob) problems.push(`${b.name} is missing`);
    else if (blob.size !== b.bytes) problems.push(`${b.name} is ${blob.size} bytes, the manifest says ${b.bytes}${blob.size < b.bytes ? ' (truncated)' : ''}`);
    else {
      const sum = await blobChecksum(blob.read, blob.size);
      if (sum !== b.checksum) problems.push(`${b.name} has checksum ${sum}, the manifest says ${b.checksum} (its bytes changed)`);
      else readers.set(b.name, blob);
    }
  }
  for (const name of [BLOB.trainable, BLOB.optimizer, BLOB.metrics]) if (!manifest.blobs.some((b) => b.name === name)) problems.push(`the manifest lists no ${name}`);
  if (problems.length > 0) throw new CheckpointError(src.label, problems.join('; '), DAMAGED_HINT);

  const meta = manifest.trainer;
  const trainable = await readF32Tensors(readers.get(BLOB.trainable)!, `${src.label}/${BLOB.trainable}`);
  const params = new Map<string, Float32Array>();
  for (const t of meta.trainable) {
    const got = trainable.get(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (!got) problems.push(`${BLOB.trainable} has no tensor ${t.name}`);
    else if (got.values.length !== n) problems.push(`${BLOB.trainable}: ${t.name} has ${got.values.length} values, the manifest's shape [${t.shape.join(', ')}] ${n}`);
    else params.set(t.name, got.values);
  }
  const optimizer = new Map<string, Record<string, Float32Array>>();
  for (const [key, t] of await readF32Tensors(readers.get(BLOB.optimizer)!, `${src.label}/${BLOB.optimizer}`)) {
    const cut = key.indexOf('/');
    const [slot, name] = [key.slice(0, cut), key.slice(cut + 1)];
    if (cut <= 0 || !meta.trainable.some((x) => x.name === name)) {
      problems.push(`${BLOB.optimizer} holds ${key}, which is not "<state>/<trainable tensor>"`);
      continue;
    }
    optimizer.set(name, { ...optimizer.get(name), [slot]: t.values });
  }
  for (const name of Object.keys(meta.optimizer.counters)) if (!optimizer.has(name)) problems.push(`${BLOB.optimizer} has no state for ${name}`);
  let reference: Float32Array | null = null;
  const ref = readers.get(BLOB.reference);
  if (ref) {
    const r = (await readF32Tensors(ref, `${src.label}/${BLOB.reference}`)).get('reference');
    if (!r || r.values.length !== 2 * meta.data.examples) problems.push(`${BLOB.reference} should hold "reference" with ${2 * meta.data.examples} values`);
    else reference = r.values;
  }
  const text = new TextDecoder().decode(await readers.get(BLOB.metrics)!.read(0, readers.get(BLOB.metrics)!.size));
  const metrics = text.split('\n').filter((l) => l !== '');
  metrics.forEach((l, i) => {
    try {
      JSON.parse(l);
    } catch {
      problems.push(`${BLOB.metrics} line ${i + 1} is not JSON`);
    }
  });
  if (problems.length > 0) throw new CheckpointError(src.label, problems.join('; '), DAMAGED_HINT);
  return { step: manifest.step, label: src.label, manifest, state: { meta, params, optimizer, reference }, metrics };
}

function checkManifest(raw: unknown, label: string): CheckpointManifest {
  const m = raw as Partial<CheckpointManifest> | null;
  if (typeof m !== 'object' || m === null || m.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(label, `its manifest is not a PrefStudio checkpoint manifest (format ${JSON.stringify((m as { format?: unknown } | null)?.format)})`, 'give --resume a folder written by prefstudio train --save_steps (DIR/checkpoint-N)');
  }
  if (m.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(label, `is a version ${String(m.version)} checkpoint; this build reads version ${CHECKPOINT_VERSION}`, 'resume with the PrefStudio version that wrote it, or start a new run');
  }
  const t = m.trainer;
  if (!Number.isSafeInteger(m.step) || !Array.isArray(m.blobs) || typeof t !== 'object' || t === null || t.version !== TRAINER_STATE_VERSION || t.step !== m.step || !Array.isArray(t.trainable)) {
    throw new CheckpointError(label, 'its manifest lacks fields or disagrees with itself (step, blobs, trainer state)', DAMAGED_HINT);
  }
  return m as CheckpointManifest;
}

/** Every F32 tensor of a safetensors blob by name. */
async function readF32Tensors(blob: { size: number; read: ByteReader }, file: string): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
  const header: SafetensorsHeader = await readSafetensorsHeader(blob.read, blob.size, file);
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const t of header.tensors) {
    if (t.dtype !== 'F32') throw new CheckpointError(`${file}, tensor '${t.name}'`, `is ${t.dtype}; checkpoints hold F32`, DAMAGED_HINT);
    out.set(t.name, { shape: t.shape, values: toFloat32('F32', await blob.read(header.dataStart + t.begin, t.end - t.begin)) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// a store over any KVBackend (IndexedDB in the studio)

/**
 * Checkpoints in a KVBackend under `prefix` (one run's; e.g. "checkpoints/<run id>/"): blobs in
 * 16 MiB chunks first, the manifest last, so a checkpoint whose write stopped has no manifest and
 * is ignored (and removed by clean()).
 */
export function kvCheckpointStore(kv: KVBackend, prefix = 'checkpoints/'): CheckpointStore {
  const dirKey = (step: number): string => `${prefix}${checkpointName(step)}/`;
  const manifestKey = (step: number): string => `${dirKey(step)}manifest`;
  const chunkKey = (step: number, name: string, i: number): string => `${dirKey(step)}blob/${name}/${String(i).padStart(6, '0')}`;
  const group = async (): Promise<Map<number, string[]>> => {
    const byStep = new Map<number, string[]>();
    for (const k of await kv.keys(prefix)) {
      const m = /^checkpoint-(\d+)\//.exec(k.slice(prefix.length));
      if (!m) continue;
      const step = Number(m[1]);
      byStep.set(step, [...(byStep.get(step) ?? []), k]);
    }
    return byStep;
  };
  const removeStep = async (step: number, keys: string[]): Promise<void> => {
    await kv.del(manifestKey(step)); // first: from here on the checkpoint no longer counts
    for (const k of keys) await kv.del(k);
  };
  const store: CheckpointStore = {
    label: `${kv.label}: ${prefix}`,
    async scan() {
      const steps: number[] = [];
      const partial: number[] = [];
      for (const [step, keys] of await group()) (keys.includes(manifestKey(step)) ? steps : partial).push(step);
      const up = (a: number, b: number): number => a - b;
      return { steps: steps.sort(up), partial: partial.sort(up).map(checkpointName), ignored: [] };
    },
    async clean() {
      const removed: string[] = [];
      for (const [step, keys] of await group()) {
        if (keys.includes(manifestKey(step))) continue;
        await removeStep(step, keys);
        removed.push(checkpointName(step));
      }
      return removed;
    },
    async write(step, blobs, manifest, hooks) {
      const old = (await group()).get(step);
      if (old) await removeStep(step, old);
      for (const b of blobs) {
        const read = partsReader(b.parts);
        const size = b.parts.reduce((s, p) => s + p.length, 0);
        for (let i = 0; i * WINDOW < size || i === 0; i++) await kv.set(chunkKey(step, b.name, i), (await read(i * WINDOW, Math.min(WINDOW, size - i * WINDOW))).slice());
        await hooks?.afterBlob?.(b.name);
      }
      await kv.set(manifestKey(step), manifest as unknown as JsonValue);
      return `${kv.label}: ${dirKey(step)}`;
    },
    open(step) {
      return {
        label: `${kv.label}: ${dirKey(step).slice(0, -1)}`,
        manifest: () => kv.get(manifestKey(step)),
        async blob(name) {
          const keys = await kv.keys(`${dirKey(step)}blob/${name}/`);
          if (keys.length === 0) return undefined;
          const chunks: Uint8Array[] = [];
          for (const k of keys) {
            const v = await kv.get(k);
            if (!(v instanceof Uint8Array)) return undefined;
            chunks.push(v);
          }
          return { size: chunks.reduce((s, c) => s + c.length, 0), read: partsReader(chunks) };
        },
      };
    },
    async remove(step) {
      const keys = (await group()).get(step);
      if (keys) await removeStep(step, keys);
    },
  };
  return store;
}
