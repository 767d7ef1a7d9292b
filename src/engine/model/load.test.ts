// model/load.ts without a GPU: openCheckpoint refuses JSON files nested too deeply (by name, no
// stack overflow), and checkpointWeights — the file side of the loader's byte-source interface —
// delivers every byte of every tensor once, in order, in 4-aligned pieces, equal to the file bytes.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadError } from '../errors.ts';
import { syntheticCheckpoint, syntheticReaderSource } from '../store/synthetic.ts';
import { checkpointWeights, openCheckpoint, type CheckpointSource } from './load.ts';
import { bytesReader } from './safetensors.ts';

const FIXTURES = join(import.meta.dirname, '../../../e2e/fixtures/checkpoints');

function fixtureSource(name: string, tweak: (file: string, text: string) => string = (_, t) => t): CheckpointSource {
  return {
    name,
    files: readdirSync(join(FIXTURES, name)).map((f) => {
      let bytes = new Uint8Array(readFileSync(join(FIXTURES, name, f)));
      if (f.endsWith('.json')) bytes = new TextEncoder().encode(tweak(f, new TextDecoder().decode(bytes)));
      return { name: f, size: bytes.length, read: bytesReader(bytes) };
    }),
  };
}

describe('openCheckpoint', () => {
  it('refuses a config.json or index nested thousands of levels deep, naming the file', async () => {
    for (const file of ['config.json', 'model.safetensors.index.json']) {
      const src = fixtureSource('tiny-bf16-3shard', (f, t) => (f === file ? t.replace(/^\{/, `{"deep": ${'['.repeat(100_000)}${']'.repeat(100_000)},`) : t));
      const err = await openCheckpoint(src).catch((x: unknown) => x);
      expect(err, file).toBeInstanceOf(LoadError);
      expect((err as LoadError).where).toBe(file);
      expect((err as LoadError).message).toContain('nests objects/arrays 100001 levels deep');
    }
  });
});

describe('checkpointWeights', () => {
  it('every byte of every tensor once, in order, in 4-aligned pieces equal to the file bytes', async () => {
    // odd 16-bit sizes (C = 45) at unaligned file offsets, 3 shards
    const c = syntheticCheckpoint({ dtype: 'F16', config: { hidden_size: 45, vocab_size: 77 }, maxShardBytes: 20_000 });
    const src = syntheticReaderSource(c);
    const ckpt = await openCheckpoint(src);
    for (const pieceBytes of [4, 1000, 1 << 20]) {
      const w = checkpointWeights(ckpt, { pieceBytes });
      expect(w.tensors.map((t) => t.name)).toEqual(ckpt.report.tensors.map((t) => t.name));
      expect(w.tensors[0].where).toBe(`synthetic-gemma2/${ckpt.report.tensors[0].file}`);
      const got = w.tensors.map((t) => new Uint8Array(t.nbytes));
      const next = w.tensors.map(() => 0);
      for await (const p of w.read()) {
        const t = w.tensors[p.tensor];
        expect(p.offset, t.name).toBe(next[p.tensor]);
        expect(p.offset % 4).toBe(0);
        expect(p.bytes.length <= pieceBytes && (p.bytes.length % 4 === 0 || p.offset + p.bytes.length === t.nbytes), `${t.name} @${p.offset}`).toBe(true);
        got[p.tensor].set(p.bytes, p.offset);
        next[p.tensor] += p.bytes.length;
      }
      expect(next).toEqual(w.tensors.map((t) => t.nbytes));
      for (const [k, t] of ckpt.report.tensors.entries()) {
        const f = src.files.find((x) => x.name === t.file)!;
        expect(Buffer.compare(got[k], await f.read(t.offset, t.nbytes)), t.name).toBe(0);
      }
    }
    expect(() => checkpointWeights(ckpt, { pieceBytes: 6 })).toThrow(/pieceBytes must be a positive multiple of 4/);
  });

  it('a file that shrinks while loading is named with the range', async () => {
    const src = fixtureSource('tiny-f32-1shard');
    const ckpt = await openCheckpoint(src);
    const f = ckpt.files.get('model.safetensors')!;
    ckpt.files.set('model.safetensors', { ...f, read: async (o, n) => (await f.read(o, n)).subarray(0, Math.max(0, n - 1)) });
    const it = checkpointWeights(ckpt).read()[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/tiny-f32-1shard\/model\.safetensors, tensor '.*': reading bytes \d+…\d+ returned \d+ bytes/);
  });
});
