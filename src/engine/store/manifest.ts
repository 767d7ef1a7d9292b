// What the weight store keeps for a model, and the keys it keeps it under.
//
//   manifest/<id>                       ModelManifest (JSON). Written LAST by an import: a model is
//                                       listed (usable) exactly when this key exists.
//   pending/<id>                        PendingImport (JSON): an import that started and has not
//                                       finished. Not a model; lets the UI offer "resume" or "delete".
//   data/<id>/chunk/<file>/<index>      bytes: chunk <index> of the tensor stream of shard <file>
//   data/<id>/file/<name>@<checksum>    bytes: tokenizer.json, tokenizer_config.json … as imported
//                                       (earlier imports used data/<id>/file/<name>; readers take the
//                                       key from the manifest)
//   adapter/<id>/<adapterId>/…          the model's PEFT adapters (adapters.ts); deleteModel removes them
//
// The tensor stream of a shard is the bytes of the tensors the model uses, in the shard's order,
// each starting at a multiple of 4 (zero padding between): so every piece of a tensor lands at a
// 4-byte-aligned GPU offset, as writeBuffer requires, and no tensor needs a CPU copy to realign.
// Tensors the model does not use (a tied lm_head.weight copy, unknown extras) are not stored.
// The stream is cut into chunks of `chunkSize` bytes (the last one shorter).
//
// Not here: writing (import.ts) or reading chunks to the GPU (load.ts).

import type { Dtype } from '../model/safetensors.ts';
import type { JsonValue, KVBackend } from './kv.ts';

export const MANIFEST_FORMAT = 'prefstudio.weights';
export const MANIFEST_VERSION = 1;

/** One stored chunk of a shard's tensor stream. */
export interface ChunkRecord {
  key: string;
  bytes: number;
  checksum: string; // chunkChecksum(bytes): "xxh32:…"
}

/** One source .safetensors file as stored: its stream, cut into chunks. */
export interface StoredFile {
  name: string; // the shard's file name, e.g. model-00001-of-00002.safetensors
  size: number; // the source file's size in bytes
  streamBytes: number; // length of its tensor stream (sum of the chunks' bytes)
  chunks: ChunkRecord[];
}

/** Where a tensor's bytes are: `file`'s stream, bytes [offset, offset + nbytes). */
export interface StoredTensor {
  name: string; // Hugging Face name, e.g. model.layers.0.mlp.up_proj.weight
  dtype: Dtype; // F32, BF16 or F16, as in the checkpoint
  shape: number[];
  file: string;
  offset: number; // in the stream; a multiple of 4. Chunk = floor(offset / chunkSize).
  nbytes: number;
}

/** A model in the store. Plain JSON. */
export interface ModelManifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  id: string;
  name: string; // shown to the user (the folder's name unless given)
  importedAt: string; // ISO date
  chunkSize: number;
  config: JsonValue; // config.json as imported (parse with parseGemma2Config)
  parameters: number; // number of parameters loaded (sum of tensor elements)
  tensorBytes: number; // bytes of the loaded tensors as stored (sum of nbytes)
  storedBytes: number; // bytes of every chunk and extra file
  files: StoredFile[];
  tensors: StoredTensor[]; // in the config's state-dict order
  extras: Record<string, { key: string; bytes: number; checksum: string }>; // tokenizer.json …
  warnings: string[]; // from validation: ignored/unknown tensors, config notes
}

/** An import that has started and not finished (its chunks may be partly written). */
export interface PendingImport {
  id: string;
  name: string;
  startedAt: string;
  storedBytes: number; // what the finished import will hold
}

export const manifestKey = (id: string): string => `manifest/${id}`;
export const pendingKey = (id: string): string => `pending/${id}`;
export const dataPrefix = (id: string): string => `data/${id}/`;
/** Every key of model `id`'s PEFT adapters (adapters.ts) starts with this. */
export const adaptersPrefix = (id: string): string => `adapter/${id}/`;
export const chunkKey = (id: string, file: string, index: number): string => `data/${id}/chunk/${file}/${index}`;
/** An extra file's key; versions differ by checksum, so a re-import never overwrites the listed bytes. */
export const extraKey = (id: string, name: string, checksum: string): string => `data/${id}/file/${name}@${checksum.replace(/^xxh32:/, '')}`;

/** Model ids: lower-case letters, digits, '.', '_', '-' (they are parts of keys and file names). */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

function isManifest(v: unknown): v is ModelManifest {
  return typeof v === 'object' && v !== null && (v as ModelManifest).format === MANIFEST_FORMAT;
}

/** The manifest of model `id`, or null if no such model is listed. */
export async function getManifest(backend: KVBackend, id: string): Promise<ModelManifest | null> {
  const v = await backend.get(manifestKey(id));
  return isManifest(v) ? v : null;
}

/** Every listed (completely imported) model, by name. Interrupted imports are not listed. */
export async function listModels(backend: KVBackend): Promise<ModelManifest[]> {
  const out: ModelManifest[] = [];
  for (const key of await backend.keys('manifest/')) {
    const v = await backend.get(key);
    if (isManifest(v)) out.push(v);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** Imports that started and did not finish (resume them with importCheckpoint, or deleteModel). */
export async function listIncomplete(backend: KVBackend): Promise<PendingImport[]> {
  const out: PendingImport[] = [];
  for (const key of await backend.keys('pending/')) {
    const id = key.slice('pending/'.length);
    if (await backend.get(manifestKey(id))) continue; // finished, record not yet removed
    const v = (await backend.get(key)) as PendingImport | undefined;
    if (v) out.push(v);
  }
  return out;
}

/**
 * Removes model `id`, everything an import of it left (chunks, extra files, the pending
 * record) and its PEFT adapters. The manifest goes first, so a delete interrupted half-way never leaves a listed model
 * with missing chunks. Returns the number of keys removed.
 */
export async function deleteModel(backend: KVBackend, id: string): Promise<number> {
  let n = 0;
  for (const key of [manifestKey(id), pendingKey(id)]) {
    if ((await backend.keys(key)).includes(key)) n++;
    await backend.del(key);
  }
  for (const key of await backend.keys(dataPrefix(id))) {
    await backend.del(key);
    n++;
  }
  // Its adapters: their manifests first (none listed without its chunks), then the rest.
  const adapterKeys = await backend.keys(adaptersPrefix(id));
  for (const key of [...adapterKeys.filter((k) => k.endsWith('/manifest')), ...adapterKeys.filter((k) => !k.endsWith('/manifest'))]) {
    await backend.del(key);
    n++;
  }
  return n;
}
