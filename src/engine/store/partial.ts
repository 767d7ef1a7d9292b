// What unfinished imports have left in the weight store, with the bytes they hold: a read-only
// listing for the studio's Model screen (an import that was cancelled, or interrupted by a closed
// tab or a crash, keeps its chunks for a resume until deleteModel removes them; manifest.ts
// listIncomplete gives the records but not their size).
//
// Sizes without reading every chunk: an import writes a shard's chunks in order, each of them
// `chunkSize` bytes except the stream's last one, so a shard whose chunks 0…k are stored holds
// k · chunkSize bytes plus chunk k's length — only chunk k (and the small extra files) are read.
// `chunkSize` must be the one the import used (importCheckpoint's default, CHUNK_SIZE, unless the
// caller chose another; the studio always uses the default).
//
// Not here: deleting (manifest.ts deleteModel), importing (import.ts).

import { releaseBytes } from '../util/bytes.ts';
import { CHUNK_SIZE } from './import.ts';
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
export async function listPartialImports(backend: KVBackend, chunkSize = CHUNK_SIZE): Promise<PartialImport[]> {
  const out: PartialImport[] = [];
  for (const p of await listIncomplete(backend)) {
    out.push({ id: p.id, name: p.name, startedAt: p.startedAt, bytesStored: await storedBytes(backend, p.id, chunkSize), bytesTotal: p.storedBytes });
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
}

/** Bytes under data/<id>/: whole chunks counted, each shard's last stored chunk and extra files measured. */
async function storedBytes(backend: KVBackend, id: string, chunkSize: number): Promise<number> {
  const prefix = dataPrefix(id);
  const lastChunk = new Map<string, { index: number; key: string }>(); // shard → its highest stored chunk
  const measure: string[] = []; // keys read for their length
  for (const key of await backend.keys(prefix)) {
    const m = /^chunk\/(.+)\/(\d+)$/.exec(key.slice(prefix.length));
    if (!m) {
      measure.push(key); // data/<id>/file/<name>@<checksum>: a tokenizer file, small
      continue;
    }
    const index = Number(m[2]);
    const seen = lastChunk.get(m[1]);
    if (!seen || index > seen.index) lastChunk.set(m[1], { index, key });
  }
  let total = 0;
  for (const { index, key } of lastChunk.values()) {
    total += index * chunkSize;
    measure.push(key);
  }
  for (const key of measure) {
    const v = await backend.get(key);
    if (v === undefined) continue; // removed since keys() was read
    total += valueBytes(v);
    if (v instanceof Uint8Array && backend.freshGets) releaseBytes(v);
  }
  return total;
}
