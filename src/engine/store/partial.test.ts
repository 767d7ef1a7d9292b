// listPartialImports on the memory backend, with 4 KiB chunks (it infers the size): imports of the
// fixture checkpoints stopped at several points (inside the first shard, inside a later shard,
// after the tokenizer file) report exactly the bytes their keys hold (every stored value measured
// here), finished and deleted imports are not listed, and a resumed import leaves nothing behind.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesReader } from '../model/safetensors.ts';
import { importCheckpoint, type ImportSource } from './import.ts';
import { createMemoryBackend, valueBytes, type KVBackend } from './kv.ts';
import { sourceFromDirectory } from './kv_node.ts';
import { dataPrefix, deleteModel } from './manifest.ts';
import { listPartialImports } from './partial.ts';

const FIXTURES = join(import.meta.dirname, '../../../e2e/fixtures/checkpoints');
const CHUNK = 4096;

/** Bytes under data/<id>/, every value read and measured (the independent count). */
async function measured(kv: KVBackend, id: string): Promise<number> {
  let n = 0;
  for (const key of await kv.keys(dataPrefix(id))) n += valueBytes((await kv.get(key))!);
  return n;
}

/** A fixture folder as a source, plus a 10 000-byte tokenizer.json. */
async function withTokenizer(name: string): Promise<ImportSource> {
  const src = await sourceFromDirectory(join(FIXTURES, name));
  const tok = new TextEncoder().encode(JSON.stringify({ model: { vocab: 'x'.repeat(10_000 - 22) } }));
  expect(tok.length).toBe(10_000);
  return { ...src, files: [...src.files, { name: 'tokenizer.json', size: tok.length, read: bytesReader(tok), fresh: true }] };
}

/** Imports `source` and aborts at the first progress event `stop` accepts; returns the pending id. */
async function stopped(kv: KVBackend, source: ImportSource, stop: (p: { phase: string; percent: number; file?: string }) => boolean): Promise<void> {
  const ctl = new AbortController();
  const err = await importCheckpoint(kv, source, { chunkSize: CHUNK, signal: ctl.signal, onProgress: (p) => stop(p) && ctl.abort() }).catch((e: unknown) => e);
  expect((err as Error).name, 'the import was expected to stop').toBe('AbortError');
}

describe('listPartialImports', () => {
  it('an empty store and a store of finished imports list nothing', async () => {
    const kv = createMemoryBackend();
    expect(await listPartialImports(kv)).toEqual([]);
    await importCheckpoint(kv, await sourceFromDirectory(join(FIXTURES, 'tiny-f32-1shard')), { chunkSize: CHUNK });
    expect(await listPartialImports(kv)).toEqual([]);
  });

  for (const [what, fixture, stop] of [
    ['inside the first shard', 'tiny-bf16-3shard', (p: { phase: string; percent: number }) => p.phase === 'copy' && p.percent > 10],
    ['inside a later shard', 'tiny-bf16-3shard', (p: { phase: string; percent: number; file?: string }) => p.phase === 'copy' && p.file === 'model-00002-of-00003.safetensors'],
    ['after the last chunk of a one-shard model (its last chunk is short)', 'tiny-f32-1shard', (p: { phase: string; percent: number }) => p.phase === 'copy' && p.percent >= 100],
  ] as const) {
    it(`an import stopped ${what} reports the bytes its keys hold`, async () => {
      const kv = createMemoryBackend();
      await stopped(kv, await sourceFromDirectory(join(FIXTURES, fixture)), stop);
      const [p, ...rest] = await listPartialImports(kv);
      expect(rest).toEqual([]);
      expect(p.name).toBe(fixture);
      expect(p.bytesStored).toBe(await measured(kv, p.id));
      expect(p.bytesStored).toBeGreaterThan(0);
      expect(p.bytesStored).toBeLessThanOrEqual(p.bytesTotal);
      expect(Number.isNaN(Date.parse(p.startedAt))).toBe(false);
    });
  }

  it('counts the tokenizer file an import stored before it stopped; a resume and a delete clear the listing', async () => {
    const kv = createMemoryBackend();
    await stopped(kv, await withTokenizer('tiny-l3-f32-2shard'), (p) => p.file === 'tokenizer.json');
    const [p] = await listPartialImports(kv);
    expect(p.bytesStored).toBe(await measured(kv, p.id));
    expect(p.bytesStored).toBe(p.bytesTotal); // everything but the manifest was in
    // the same files again: the import finishes, nothing is partial
    await importCheckpoint(kv, await withTokenizer('tiny-l3-f32-2shard'), { chunkSize: CHUNK });
    expect(await listPartialImports(kv)).toEqual([]);

    // two partial imports, oldest first; deleteModel removes one
    await stopped(kv, await sourceFromDirectory(join(FIXTURES, 'tiny-bf16-3shard')), (p) => p.phase === 'copy' && p.percent > 30);
    await new Promise((r) => setTimeout(r, 5));
    await stopped(kv, await sourceFromDirectory(join(FIXTURES, 'tiny-f32-1shard')), (p) => p.phase === 'copy' && p.percent > 30);
    const two = await listPartialImports(kv);
    expect(two.map((x) => x.name)).toEqual(['tiny-bf16-3shard', 'tiny-f32-1shard']);
    await deleteModel(kv, two[0].id);
    expect((await listPartialImports(kv)).map((x) => x.name)).toEqual(['tiny-f32-1shard']);
  });
});
