// What unfinished imports have left in the weight store, with the bytes they hold: a read-only
// listing for the studio's Model screen (an import that was cancelled, or interrupted by a closed
// tab or a crash, keeps its chunks for a resume until deleteModel removes them; manifest.ts
// listIncomplete gives the records but not their size).
//
// Sizes without reading every chunk: an import writes a shard's chunks in order, each of them the
// import's chunk size except the stream's last one, so a shard whose chunks 0…k are stored holds
// k · chunkSize bytes plus chunk k's length. Only chunk k of each shard is read, the small extra
// files, and — when some shard has two chunks or more — one chunk 0, whose length is the chunk size
// (the pending record does not say it). At most one chunk more than there are shards, whatever
// the model's size.
//
// Light on purpose: the studio's page calls this on its main thread (src/ui/engine/storage.ts), so
// it imports the store's keys and types only, never import.ts (which brings the loader).
//
// Not here: deleting (manifest.ts deleteModel), importing (import.ts).

import { releaseBytes } from '../util/bytes.ts';
import { type KVBackend, valueBytes } from './kv.ts';
import { dataPrefix, listIncomplete } from './manifest.ts';

/** An import that started and did not finish, and what it has stored so far. */
export interface PartialImport {
  id: string;
  name: string;
  startedAt: string; // ISO date
  /** Bytes its chunks and extra files hold now (what deleteModel frees). */
  bytesStored: number;
  /** Bytes the finished import would hold. */
  bytesTotal: number;
}

/** Every unfinished import (not listed as a model) with the bytes it holds, oldest first. */
export async function listPartialImports(backend: KVBackend): Promise<PartialImport[]> {
  const out: PartialImport[] = [];
  for (const p of await listIncomplete(backend)) {
    out.push({ id: p.id, name: p.name, startedAt: p.startedAt, bytesStored: await storedBytes(backend, p.id), bytesTotal: p.storedBytes });
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
}

/** The length of the value under `key` (0 if it is gone); bytes read are released at once. */
async function measure(backend: KVBackend, key: string): Promise<number> {
  const v = await backend.get(key);
  if (v === undefined) return 0; // removed since keys() was read
  if (v instanceof Uint8Array && backend.freshGets) {
    const n = v.byteLength;
    releaseBytes(v);
    return n;
  }
  return valueBytes(v);
}

/** Bytes under data/<id>/: whole chunks counted, each shard's last stored chunk and extra files measured. */
async function storedBytes(backend: KVBackend, id: string): Promise<number> {
  const prefix = dataPrefix(id);
  const lastChunk = new Map<string, { index: number; key: string }>(); // shard → its highest stored chunk
  const measured: string[] = []; // keys read for their length
  for (const key of await backend.keys(prefix)) {
    const m = /^chunk\/(.+)\/(\d+)$/.exec(key.slice(prefix.length));
    if (!m) {
      measured.push(key); // data/<id>/file/<name>@<checksum>: a tokenizer file, small
      continue;
    }
    const index = Number(m[2]);
    const seen = lastChunk.get(m[1]);
    if (!seen || index > seen.index) lastChunk.set(m[1], { index, key });
  }
  let total = 0;
  const shards = [...lastChunk];
  const long = shards.find(([, c]) => c.index > 0); // a shard whose chunk 0 is a whole chunk
  const chunkSize = long ? await measure(backend, `${prefix}chunk/${long[0]}/0`) : 0;
  for (const [, { index, key }] of shards) {
    total += index * chunkSize;
    measured.push(key);
  }
  for (const key of measured) total += await measure(backend, key);
  return total;
}
