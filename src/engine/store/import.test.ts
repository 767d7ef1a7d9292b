// importCheckpoint / listModels / deleteModel on the memory and file backends, with the tiny
// HF-layout fixture checkpoints (e2e/fixtures/checkpoints: f32 1 shard, bf16 3 shards, f32 2
// shards) and synthetic ones. Small chunks (4 KiB) so that every fixture spans many chunks.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadError } from '../errors.ts';
import { expectedTensors, parseGemma2Config } from '../model/config.ts';
import { bytesReader, readSafetensorsHeader } from '../model/safetensors.ts';
import { importCheckpoint, type ImportSource, type SourceFile } from './import.ts';
import { createMemoryBackend, quotaError, type KVBackend } from './kv.ts';
import { createFileBackend, sourceFromDirectory } from './kv_node.ts';
import { readStoredTensor, storedCheckpointInfo } from './load.ts';
import { chunkChecksum } from './checksum.ts';
import { deleteModel, getManifest, listIncomplete, listModels, manifestKey, type ModelManifest } from './manifest.ts';
import type { StoreProgress } from '../util/progress.ts';
import { syntheticCheckpoint, syntheticReaderSource } from './synthetic.ts';

const FIXTURES = join(import.meta.dirname, '../../../e2e/fixtures/checkpoints');
const FIXTURE_NAMES = ['tiny-f32-1shard', 'tiny-bf16-3shard', 'tiny-l3-f32-2shard'];
const CHUNK = 4096;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const backends: [string, () => Promise<KVBackend>][] = [
  ['memory', async () => createMemoryBackend()],
  [
    'files',
    () => {
      const d = mkdtempSync(join(tmpdir(), 'prefstudio-store-'));
      dirs.push(d);
      return createFileBackend(d);
    },
  ],
];

/** A fixture's files in memory; `tweak` may replace a file's bytes or drop it (null). */
function fixtureSource(name: string, tweak?: (file: string, bytes: Uint8Array) => Uint8Array | null): ImportSource {
  const files: SourceFile[] = [];
  for (const f of readdirSync(join(FIXTURES, name)).sort()) {
    let bytes: Uint8Array | null = new Uint8Array(readFileSync(join(FIXTURES, name, f)));
    if (tweak) bytes = tweak(f, bytes);
    if (bytes !== null) files.push({ name: f, size: bytes.length, read: bytesReader(bytes) });
  }
  return { name, files };
}

/** Wraps a backend so that writes fail with QuotaExceededError once `limit` bytes were written. */
function fillsUpAfter(kv: KVBackend, limit: number): KVBackend & { written: () => number } {
  let written = 0;
  return {
    ...kv,
    label: `${kv.label} (full after ${limit} bytes)`,
    written: () => written,
    set: async (key, value) => {
      const n = value instanceof Uint8Array ? value.length : JSON.stringify(value).length;
      if (written + n > limit) throw quotaError(`the store is full (${written} + ${n} > ${limit} bytes)`);
      written += n;
      return kv.set(key, value);
    },
    freeSpace: async () => ({ available: null, detail: 'unknown (test)' }),
  };
}

/** Awaits `p`, expects a LoadError whose message contains every fragment; returns it. */
async function expectLoadError(p: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<LoadError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a LoadError').toBeInstanceOf(LoadError);
  const le = err as LoadError;
  for (const f of fragments) expect(le.message).toMatch(f);
  expect(le.hint, 'every LoadError says what to do').toBeTruthy();
  return le;
}

/** Checks every stored tensor against the bytes in the fixture's safetensors files. */
async function expectSameTensors(kv: KVBackend, m: ModelManifest, name: string): Promise<void> {
  const dir = join(FIXTURES, name);
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.safetensors'))) {
    const bytes = new Uint8Array(readFileSync(join(dir, f)));
    const h = await readSafetensorsHeader(bytesReader(bytes), bytes.length, f);
    for (const t of h.tensors) {
      if (!m.tensors.some((x) => x.name === t.name)) continue;
      const want = bytes.subarray(h.dataStart + t.begin, h.dataStart + t.end);
      const got = await readStoredTensor(kv, m, t.name);
      expect(Buffer.compare(got, want), `${name}: ${t.name}`).toBe(0);
    }
  }
}

/** The listed model `id` is complete: every key its manifest names holds bytes with the recorded size and checksum. */
async function expectComplete(kv: KVBackend, id: string): Promise<ModelManifest> {
  const m = await getManifest(kv, id);
  expect(m, `model ${id} is listed`).not.toBeNull();
  const recs = [...m!.files.flatMap((f) => f.chunks), ...Object.values(m!.extras)];
  for (const r of recs) {
    const v = await kv.get(r.key);
    expect(v instanceof Uint8Array && v.length === r.bytes && chunkChecksum(v) === r.checksum, `key ${r.key}`).toBe(true);
  }
  return m!;
}

/** `kv` whose set() of `key` (or first del()) throws, as if the process died there. */
function crashesAt(kv: KVBackend, at: { set?: string; del?: boolean }): KVBackend {
  return {
    ...kv,
    set: async (key, value) => {
      if (key === at.set) throw new Error(`crash before writing ${key}`);
      return kv.set(key, value);
    },
    del: async (key) => {
      if (at.del) throw new Error(`crash before deleting ${key}`);
      return kv.del(key);
    },
  };
}

describe.each(backends)('weight store import (%s backend)', (_, make) => {
  it('imports each fixture checkpoint; the stored bytes are the safetensors bytes', async () => {
    const kv = await make();
    for (const name of FIXTURE_NAMES) {
      const r = await importCheckpoint(kv, fixtureSource(name), { chunkSize: CHUNK });
      const m = r.manifest;
      const cfg = parseGemma2Config(m.config);
      expect(m.name).toBe(name);
      expect(m.tensors.map((t) => t.name)).toEqual(expectedTensors(cfg).map((t) => t.name));
      expect(m.tensors.every((t) => t.offset % 4 === 0)).toBe(true);
      expect(r.chunksSkipped).toBe(0);
      expect(r.bytesWritten).toBe(m.storedBytes);
      expect(m.files.length).toBe(readdirSync(join(FIXTURES, name)).filter((f) => f.endsWith('.safetensors')).length);
      for (const f of m.files) {
        expect(f.chunks.length).toBe(Math.ceil(f.streamBytes / CHUNK));
        expect(f.chunks.slice(0, -1).every((c) => c.bytes === CHUNK)).toBe(true);
      }
      await expectSameTensors(kv, m, name);
    }
    expect((await listModels(kv)).map((m) => m.name)).toEqual([...FIXTURE_NAMES].sort());
    expect(await listIncomplete(kv)).toEqual([]);
    expect(await kv.keys('pending/')).toEqual([]);
  });

  it('reports progress: validate, then copy up to 100 %, with MB/s and file names', async () => {
    const kv = await make();
    const events: StoreProgress[] = [];
    await importCheckpoint(kv, fixtureSource('tiny-bf16-3shard'), { chunkSize: CHUNK, onProgress: (p) => events.push(p) });
    const phases = [...new Set(events.map((e) => e.phase))];
    expect(phases).toEqual(['validate', 'copy']);
    const copy = events.filter((e) => e.phase === 'copy');
    expect(copy[copy.length - 1].percent).toBe(100);
    expect(copy[copy.length - 1].bytesDone).toBe(copy[0].bytesTotal);
    for (let i = 1; i < copy.length; i++) expect(copy[i].bytesDone).toBeGreaterThanOrEqual(copy[i - 1].bytesDone);
    expect(copy.every((e) => e.mbPerSec >= 0 && Number.isFinite(e.mbPerSec))).toBe(true);
    expect(copy.some((e) => e.file === 'model-00002-of-00003.safetensors')).toBe(true);
  });

  it('an aborted import is not listed, keeps the earlier model, and a re-import resumes, skipping stored chunks', async () => {
    const kv = await make();
    const first = (await importCheckpoint(kv, fixtureSource('tiny-f32-1shard'), { chunkSize: CHUNK })).manifest;

    const ctl = new AbortController();
    const err = await importCheckpoint(kv, fixtureSource('tiny-bf16-3shard'), {
      chunkSize: CHUNK,
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.phase === 'copy' && p.percent > 40) ctl.abort();
      },
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((await listModels(kv)).map((m) => m.id)).toEqual([first.id]); // nothing new is listed
    const pending = await listIncomplete(kv);
    expect(pending.map((p) => p.name)).toEqual(['tiny-bf16-3shard']);
    await expectSameTensors(kv, (await getManifest(kv, first.id))!, 'tiny-f32-1shard'); // intact

    const r = await importCheckpoint(kv, fixtureSource('tiny-bf16-3shard'), { chunkSize: CHUNK });
    expect(r.manifest.id).toBe(pending[0].id); // same files, same id
    const total = r.manifest.files.reduce((a, f) => a + f.chunks.length, 0);
    expect(r.chunksSkipped).toBeGreaterThan(0); // what the aborted run stored is kept
    expect(r.chunksWritten + r.chunksSkipped).toBe(total);
    expect(r.bytesSkipped / r.manifest.storedBytes).toBeGreaterThan(0.35);
    expect((await listModels(kv)).length).toBe(2);
    expect(await listIncomplete(kv)).toEqual([]);
    await expectSameTensors(kv, r.manifest, 'tiny-bf16-3shard');
  });

  it('deleteModel removes every key of the model, and of an interrupted import', async () => {
    const kv = await make();
    const keep = (await importCheckpoint(kv, fixtureSource('tiny-f32-1shard'), { chunkSize: CHUNK })).manifest;
    const before = await kv.keys('');
    const gone = (await importCheckpoint(kv, fixtureSource('tiny-bf16-3shard'), { chunkSize: CHUNK })).manifest;
    expect((await kv.keys('')).length).toBeGreaterThan(before.length);
    const removed = await deleteModel(kv, gone.id);
    expect(removed).toBe(1 + gone.files.reduce((a, f) => a + f.chunks.length, 0));
    expect(await kv.keys('')).toEqual(before);
    expect((await listModels(kv)).map((m) => m.id)).toEqual([keep.id]);

    // an interrupted import's leftovers (chunks + pending record) go too
    const ctl = new AbortController();
    await importCheckpoint(kv, fixtureSource('tiny-l3-f32-2shard'), {
      chunkSize: CHUNK,
      signal: ctl.signal,
      onProgress: (p) => p.phase === 'copy' && p.percent > 50 && ctl.abort(),
    }).catch(() => {});
    const [partial] = await listIncomplete(kv);
    expect(partial).toBeDefined();
    await deleteModel(kv, partial.id);
    expect(await kv.keys('')).toEqual(before);
    await expectSameTensors(kv, keep, 'tiny-f32-1shard');
  });

  it('a store that fills up mid-copy: a LoadError with the sizes, nothing listed, the partial copy removed, the earlier model intact', async () => {
    const inner = await make();
    const first = (await importCheckpoint(inner, fixtureSource('tiny-f32-1shard'), { chunkSize: CHUNK })).manifest;
    const before = await inner.keys('');
    const kv = fillsUpAfter(inner, 40_000); // the bf16 model needs 93 kB
    const err = await expectLoadError(
      importCheckpoint(kv, fixtureSource('tiny-bf16-3shard'), { chunkSize: CHUNK }),
      /became full while storing the model: it needs 93\.0 kB in all, 35\.8 kB were written when the store refused more/,
      /nothing was listed and the 35\.8 kB written by this import were removed/,
    );
    expect(err.where).toBe('tiny-bf16-3shard');
    expect(err.hint).toMatch(/free at least 57\.2 kB more/);
    expect(await inner.keys('')).toEqual(before);
    expect((await listModels(inner)).map((m) => m.id)).toEqual([first.id]);
    await expectSameTensors(inner, first, 'tiny-f32-1shard');
  });

  it('refuses before writing anything when the free space is too small, naming both sizes', async () => {
    const inner = await make();
    const kv: KVBackend = { ...inner, freeSpace: async () => ({ available: 50_000, detail: 'test estimate: quota 1 MB, used 950 kB' }) };
    await expectLoadError(
      importCheckpoint(kv, fixtureSource('tiny-f32-1shard'), { chunkSize: CHUNK }),
      /needs 83\.1 kB of storage but only 50\.0 kB is free in the .* \(test estimate: quota 1 MB, used 950 kB\)/,
    );
    expect(await inner.keys('')).toEqual([]);
  });

  it('a missing shard is named, and nothing is written', async () => {
    const kv = await make();
    const src = fixtureSource('tiny-bf16-3shard', (f, b) => (f === 'model-00002-of-00003.safetensors' ? null : b));
    const err = await expectLoadError(importCheckpoint(kv, src, { chunkSize: CHUNK }), "names shard 'model-00002-of-00003.safetensors'", 'which was not provided');
    expect(err.where).toBe('model.safetensors.index.json');
    expect(await kv.keys('')).toEqual([]);
  });

  it('a corrupt header names the file and the tensor; a truncated file names the file; nothing is written', async () => {
    const kv = await make();
    const flipDtype = (f: string, b: Uint8Array): Uint8Array => {
      if (f !== 'model-00003-of-00003.safetensors') return b;
      const text = new TextDecoder('latin1').decode(b);
      const at = text.indexOf('"dtype":"BF16"');
      const out = b.slice();
      out.set(new TextEncoder().encode('"dtype":"BX16"'), at);
      return out;
    };
    const err = await expectLoadError(importCheckpoint(kv, fixtureSource('tiny-bf16-3shard', flipDtype), { chunkSize: CHUNK }), 'unknown dtype "BX16"');
    expect(err.where).toMatch(/^model-00003-of-00003\.safetensors, tensor 'model\.[a-z_0-9.]+'$/);

    const truncate = (f: string, b: Uint8Array): Uint8Array => (f === 'model.safetensors' ? b.subarray(0, b.length - 10) : b);
    const err2 = await expectLoadError(importCheckpoint(kv, fixtureSource('tiny-f32-1shard', truncate), { chunkSize: CHUNK }), 'the file is truncated');
    expect(err2.where).toBe('model.safetensors');

    await expectLoadError(importCheckpoint(kv, fixtureSource('tiny-f32-1shard', (f, b) => (f === 'config.json' ? null : b))), 'config.json', 'is missing');
    await expectLoadError(importCheckpoint(kv, fixtureSource('tiny-f32-1shard', (f, b) => (f.endsWith('.safetensors') ? null : b))), 'has no .safetensors file');
    expect(await kv.keys('')).toEqual([]);
  });

  it('re-importing a listed model writes nothing; other weights under the same id are refused and the model stays', async () => {
    const kv = await make();
    const m = (await importCheckpoint(kv, fixtureSource('tiny-f32-1shard'), { chunkSize: CHUNK })).manifest;
    const again = await importCheckpoint(kv, fixtureSource('tiny-f32-1shard'), { chunkSize: 8192 }); // a listed model keeps its chunking
    expect(again.chunksWritten).toBe(0);
    expect(again.manifest.id).toBe(m.id);
    expect(again.manifest.chunkSize).toBe(CHUNK);

    // "fine-tunes": same shapes and names, one weight changed. The default id fingerprints the
    // first 64 KiB of each stream: a change there (any real fine-tune's embedding) gets its own id…
    const tuned = (at: (n: number) => number): ImportSource =>
      fixtureSource('tiny-f32-1shard', (f, b) => {
        if (f !== 'model.safetensors') return b;
        const out = b.slice();
        out[at(out.length)] ^= 0x40;
        return out;
      });
    const early = await importCheckpoint(kv, tuned((n) => n - 80_000), { chunkSize: CHUNK });
    expect(early.manifest.id).not.toBe(m.id);
    await deleteModel(kv, early.manifest.id);
    // …a change beyond it lands on the same id, and is refused rather than mixed into the model
    await expectLoadError(importCheckpoint(kv, tuned((n) => n - 100)), 'differ from the model', 'already in the store under this id');
    await expectSameTensors(kv, (await getManifest(kv, m.id))!, 'tiny-f32-1shard');
  });

  it('stores tokenizer files next to the weights', async () => {
    const kv = await make();
    const src = fixtureSource('tiny-f32-1shard');
    const tok = new TextEncoder().encode(JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 } } }));
    src.files.push({ name: 'tokenizer.json', size: tok.length, read: bytesReader(tok) }, { name: 'README.md', size: 3, read: bytesReader(new Uint8Array(3)) });
    const m = (await importCheckpoint(kv, src, { chunkSize: CHUNK })).manifest;
    expect(Object.keys(m.extras)).toEqual(['tokenizer.json']);
    const stored = (await kv.get(m.extras['tokenizer.json'].key)) as Uint8Array;
    expect(new TextDecoder().decode(stored)).toBe(new TextDecoder().decode(tok));
  });

  it('re-importing without tokenizer files keeps them; given ones replace them; a crash at any step leaves a complete listed model', async () => {
    const kv = await make();
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    const withFiles = (files: Record<string, Uint8Array>): ImportSource => {
      const src = fixtureSource('tiny-f32-1shard');
      for (const [name, b] of Object.entries(files)) src.files.push({ name, size: b.length, read: bytesReader(b) });
      return src;
    };
    const tok = enc({ model: { type: 'BPE', vocab: { a: 0 } } });
    const cfg1 = enc({ chat_template: 'v1' });
    const cfg2 = enc({ chat_template: 'v2, longer' });
    const m1 = (await importCheckpoint(kv, withFiles({ 'tokenizer.json': tok, 'tokenizer_config.json': cfg1 }), { chunkSize: CHUNK })).manifest;

    // 1. the same weights from a folder without the tokenizer files: nothing is lost
    const m2 = (await importCheckpoint(kv, fixtureSource('tiny-f32-1shard'), { chunkSize: CHUNK })).manifest;
    expect(m2.id).toBe(m1.id);
    expect(m2.extras).toEqual(m1.extras);
    expect(m2.storedBytes).toBe(m1.storedBytes);
    await expectComplete(kv, m1.id);
    expect(new TextDecoder().decode((await kv.get(m2.extras['tokenizer.json'].key)) as Uint8Array)).toBe(new TextDecoder().decode(tok));

    // 2. a changed tokenizer_config.json, and the process dies just before the manifest write:
    //    the listed model is the old one, complete, with the old file
    const changed = withFiles({ 'tokenizer_config.json': cfg2 });
    await expect(importCheckpoint(crashesAt(kv, { set: manifestKey(m1.id) }), changed, { chunkSize: CHUNK })).rejects.toThrow(/crash before writing manifest/);
    expect((await expectComplete(kv, m1.id)).extras).toEqual(m1.extras);

    // 3. it dies just after the manifest write, before removing anything: the new model is complete
    await expect(importCheckpoint(crashesAt(kv, { del: true }), changed, { chunkSize: CHUNK })).rejects.toThrow(/crash before deleting/);
    const m3 = await expectComplete(kv, m1.id);
    expect(m3.extras['tokenizer.json']).toEqual(m1.extras['tokenizer.json']); // kept: not given
    expect(m3.extras['tokenizer_config.json'].checksum).toBe(chunkChecksum(cfg2));
    expect(m3.extras['tokenizer_config.json'].key).not.toBe(m1.extras['tokenizer_config.json'].key);

    // 4. the next import removes the replaced file: the store holds exactly what the manifest names
    const m4 = (await importCheckpoint(kv, changed, { chunkSize: CHUNK })).manifest;
    expect(m4.extras).toEqual(m3.extras);
    const named = [...m4.files.flatMap((f) => f.chunks.map((c) => c.key)), ...Object.values(m4.extras).map((x) => x.key)];
    expect(await kv.keys(`data/${m4.id}/`)).toEqual(named.sort());
    expect(new TextDecoder().decode((await kv.get(m4.extras['tokenizer_config.json'].key)) as Uint8Array)).toBe(new TextDecoder().decode(cfg2));
  });

  it('storedCheckpointInfo gives export the stored tensor list, config and tokenizer files', async () => {
    const kv = await make();
    const src = fixtureSource('tiny-bf16-3shard');
    const tok = new TextEncoder().encode('{"model": {}}');
    src.files.push({ name: 'tokenizer.json', size: tok.length, read: bytesReader(tok) });
    const m = (await importCheckpoint(kv, src, { chunkSize: CHUNK })).manifest;
    const info = await storedCheckpointInfo(kv, m.id);
    const cfgText = readFileSync(join(FIXTURES, 'tiny-bf16-3shard', 'config.json'), 'utf8');
    expect(JSON.parse(info.configText)).toEqual(JSON.parse(cfgText));
    expect(info.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(expectedTensors(parseGemma2Config(JSON.parse(cfgText))).map((t) => [t.name, 'BF16', t.shape]));
    expect([...info.extras.keys()]).toEqual(['tokenizer.json']);
    expect(Buffer.compare(info.extras.get('tokenizer.json')!, tok)).toBe(0);
    await expectLoadError(storedCheckpointInfo(kv, 'nope'), /model 'nope': is not in the/);
  });

  it('refuses NaN / Inf weights, naming the file, tensor and element; nothing is listed', async () => {
    const kv = await make();
    const src = fixtureSource('tiny-l3-f32-2shard', (f, b) => {
      if (f !== 'model-00002-of-00002.safetensors') return b;
      const out = b.slice();
      out.set([0, 0, 0xc0, 0x7f], out.length - 8); // the second-to-last f32 of the file's last tensor: NaN
      return out;
    });
    const err = await expectLoadError(importCheckpoint(kv, src, { chunkSize: CHUNK }), / is NaN: weights must be finite/);
    expect(err.where).toMatch(/^tiny-l3-f32-2shard\/model-00002-of-00002\.safetensors, tensor '[^']+'$/);
    expect(err.message).toMatch(/element \d+ (\(row \d+, column \d+\) )?of F32\[\d+(, \d+)?\] is NaN/);
    expect(await listModels(kv)).toEqual([]);
  });

  it('a resume with another chunk size rewrites the chunks and leaves no stale ones', async () => {
    const kv = await make();
    const ctl = new AbortController();
    await importCheckpoint(kv, fixtureSource('tiny-l3-f32-2shard'), {
      chunkSize: CHUNK,
      signal: ctl.signal,
      onProgress: (p) => p.phase === 'copy' && p.percent > 70 && ctl.abort(),
    }).catch(() => {});
    const m = (await importCheckpoint(kv, fixtureSource('tiny-l3-f32-2shard'), { chunkSize: 3 * CHUNK })).manifest;
    const keys = new Set(m.files.flatMap((f) => f.chunks.map((c) => c.key)));
    expect(await kv.keys(`data/${m.id}/`)).toEqual([...keys].sort());
    await expectSameTensors(kv, m, 'tiny-l3-f32-2shard');
  });
});

describe('directory sources and synthetic checkpoints', () => {
  it('imports a checkpoint directory from disk into a file store', async () => {
    const d = mkdtempSync(join(tmpdir(), 'prefstudio-store-'));
    dirs.push(d);
    const kv = await createFileBackend(d);
    const src = await sourceFromDirectory(join(FIXTURES, 'tiny-bf16-3shard'));
    expect(src.name).toBe('tiny-bf16-3shard');
    const m = (await importCheckpoint(kv, src, { chunkSize: CHUNK })).manifest;
    await expectSameTensors(kv, m, 'tiny-bf16-3shard');
    await expectLoadError(sourceFromDirectory(join(d, 'no-such-dir')), 'cannot be read as a checkpoint directory');
  });

  it('a synthetic sharded checkpoint with unaligned tensors (odd bf16 sizes) is stored 4-aligned', async () => {
    const kv = createMemoryBackend();
    const c = syntheticCheckpoint({ dtype: 'BF16', config: { hidden_size: 45, vocab_size: 77 }, maxShardBytes: 20_000 });
    expect(c.shards.length).toBeGreaterThan(1);
    const src = syntheticReaderSource(c);
    const m = (await importCheckpoint(kv, src, { chunkSize: 1024 })).manifest;
    expect(m.tensors.every((t) => t.offset % 4 === 0)).toBe(true);
    // every tensor round-trips: compare with the generated source bytes
    for (const s of c.shards) {
      const f = src.files.find((x) => x.name === s.name)!;
      const bytes = await f.read(0, f.size);
      const h = await readSafetensorsHeader(bytesReader(bytes), bytes.length, s.name);
      for (const t of h.tensors) {
        const got = await readStoredTensor(kv, m, t.name);
        expect(Buffer.compare(got, bytes.subarray(h.dataStart + t.begin, h.dataStart + t.end)), t.name).toBe(0);
      }
    }
  });
});
