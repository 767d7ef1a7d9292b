// model/export.ts and export_node.ts without a GPU: a checkpoint encoded from f32 tensors reads back
// through the loader's own path (openCheckpoint → checkpointWeights → toFloat32) with the input's
// names, order and dtypes; BF16/F16 values equal the nearest-even 16-bit value found independently
// (a search over every 16-bit pattern decoded by the float64 reference decoders); sharding above a
// tiny maxShardSize; config.json's dtype; copied tokenizer files; refusals; and the folder writer's
// crash safety.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError } from '../errors.ts';
import { bf16BitsToF32, f16BitsToF32 } from '../reference/convert.ts';
import { sourceFromDirectory } from '../store/kv_node.ts';
import { configWithDtype, checkpointInfo, encodeCheckpoint, fileBytes, type CheckpointInfo, type ExportedFile } from './export.ts';
import { writeCheckpointDir } from './export_node.ts';
import { checkpointWeights, openCheckpoint, type CheckpointSource } from './load.ts';
import { bytesReader, readSafetensorsHeader, toFloat32, type Dtype } from './safetensors.ts';
import { INDEX_FILE, parseShardIndex } from './sharded.ts';

const FIXTURES = join(import.meta.dirname, '../../../e2e/fixtures/checkpoints');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'prefstudio-export-'));
  dirs.push(d);
  return d;
};

/** Every tensor of an opened source as f32 values, through the loader's byte source. */
async function readBack(src: CheckpointSource): Promise<{ dtypes: Map<string, Dtype>; values: Map<string, Float32Array>; order: string[] }> {
  const ckpt = await openCheckpoint(src);
  const w = checkpointWeights(ckpt);
  const raw = w.tensors.map((t) => new Uint8Array(t.nbytes));
  for await (const p of w.read()) raw[p.tensor].set(p.bytes, p.offset);
  return {
    order: w.tensors.map((t) => t.name),
    dtypes: new Map(w.tensors.map((t) => [t.name, t.dtype])),
    values: new Map(w.tensors.map((t, k) => [t.name, toFloat32(t.dtype, raw[k])])),
  };
}

const asSource = (files: ExportedFile[], name = 'exported'): CheckpointSource => ({ name, files: files.map((f) => ({ name: f.path, size: f.size, read: bytesReader(fileBytes(f)) })) });

/** The nearest 16-bit value of x, ties to the even pattern: searched over all finite patterns. */
function nearestEvenBy(decode: (b: Uint16Array) => Float32Array): (x: number) => number {
  const all = decode(Uint16Array.from({ length: 0x8000 }, (_, i) => i)); // non-negative patterns, increasing
  const finite = all.findIndex((v) => !Number.isFinite(v));
  return (x) => {
    const a = Math.abs(x);
    let lo = 0;
    let hi = finite - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (all[mid] <= a) lo = mid;
      else hi = mid - 1;
    }
    const up = Math.min(lo + 1, finite - 1);
    const dLo = a - all[lo];
    const dUp = all[up] - a;
    const k = dLo < dUp || (dLo === dUp && lo % 2 === 0) ? lo : up;
    return x < 0 || Object.is(x, -0) ? -all[k] : all[k];
  };
}
const nearestBf16 = nearestEvenBy(bf16BitsToF32);
const nearestF16 = nearestEvenBy(f16BitsToF32);

/** A fixture's info and its tensors (as f32 values), perturbed so that rounding matters. */
async function fixture(name: string): Promise<{ info: CheckpointInfo; tensors: Map<string, Float32Array> }> {
  const src = await sourceFromDirectory(join(FIXTURES, name));
  const info = await checkpointInfo(await openCheckpoint(src));
  const { values } = await readBack(src);
  let s = 1;
  for (const v of values.values()) {
    for (let i = 0; i < v.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      v[i] = Math.fround(v[i] * (1 + (s / 2 ** 32 - 0.5) * 1e-3)); // "trained": off the 16-bit grid
    }
  }
  // and exact ties, which must go to the even neighbour: bf16 (1 + 2⁻⁸, 1 + 3·2⁻⁸) and f16 (1 + 2⁻¹¹, 1 + 3·2⁻¹¹)
  values.get(info.tensors[0].name)!.set(new Float32Array(Uint32Array.from([0x3f808000, 0xbf818000, 0x3f801000, 0xbf803000]).buffer));
  return { info, tensors: values };
}

const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

describe('encodeCheckpoint → the loader', () => {
  it('each tensor in its input dtype by default: names, order, dtypes as the input; F32 exact, BF16 nearest-even', async () => {
    const { info, tensors } = await fixture('tiny-bf16-3shard');
    (info.tensors as CheckpointInfo['tensors'][number][]).splice(0, 3, ...info.tensors.slice(0, 3).map((t) => ({ ...t, dtype: 'F32' as Dtype }))); // a mixed-dtype input
    const files = encodeCheckpoint(info, tensors);
    expect(files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors']);
    expect(new TextDecoder().decode(fileBytes(files[0]))).toBe(info.configText); // unchanged: no dtype given
    const back = await readBack(asSource(files));
    expect(back.order).toEqual(info.tensors.map((t) => t.name));
    expect([...back.dtypes.values()]).toEqual(info.tensors.map((t) => t.dtype));
    let rounded = 0;
    for (const t of info.tensors) {
      const x = tensors.get(t.name)!;
      const want = t.dtype === 'F32' ? x : Float32Array.from(x, nearestBf16);
      const got = back.values.get(t.name)!;
      const i = bitsOf(got).findIndex((b, k) => b !== bitsOf(want)[k]);
      expect(i, `${t.name}[${i}]: ${got[i]} vs ${want[i]} (from ${x[i]})`).toBe(-1);
      if (t.dtype !== 'F32') rounded += x.filter((v, k) => v !== got[k]).length;
    }
    expect(rounded, 'the test values are off the bf16 grid').toBeGreaterThan(1000);
  });

  it("opts.dtype for every tensor: f16 nearest-even, f32 exact; config.json's dtype keys rewritten in place", async () => {
    for (const [name, key] of [['tiny-l3-f32-2shard', 'dtype'], ['tiny-f32-1shard', 'torch_dtype'], ['tiny-bf16-3shard', 'dtype']] as const) {
      const { info, tensors } = await fixture(name);
      for (const [dtype, st, torch] of [['f16', 'F16', 'float16'], ['f32', 'F32', 'float32'], ['bf16', 'BF16', 'bfloat16']] as const) {
        const files = encodeCheckpoint(info, tensors, { dtype });
        const back = await readBack(asSource(files));
        expect([...back.dtypes.values()].every((d) => d === st)).toBe(true);
        for (const t of info.tensors) {
          const x = tensors.get(t.name)!;
          const want = dtype === 'f32' ? x : Float32Array.from(x, dtype === 'f16' ? nearestF16 : nearestBf16);
          const got = back.values.get(t.name)!;
          const i = bitsOf(got).findIndex((b, k) => b !== bitsOf(want)[k]);
          expect(i, `${name} as ${dtype}: ${t.name}[${i}]: ${got[i]} vs ${want[i]}`).toBe(-1);
        }
        const cfg = new TextDecoder().decode(fileBytes(files.find((f) => f.path === 'config.json')!));
        const json = JSON.parse(cfg) as Record<string, unknown>;
        const orig = JSON.parse(info.configText) as Record<string, unknown>;
        expect(json[key], name).toBe(torch);
        expect({ ...json, torch_dtype: undefined, dtype: undefined }).toEqual({ ...orig, torch_dtype: undefined, dtype: undefined });
        expect(cfg.replace(torch, '')).toBe(info.configText.replace(orig[key] as string, '')); // the rest byte for byte
      }
    }
    // a config without either key gets torch_dtype
    expect(configWithDtype('{}', 'float16')).toBe('{\n  "torch_dtype": "float16"\n}');
    expect(JSON.parse(configWithDtype('{\n  "a": 1\n}', 'float16'))).toEqual({ torch_dtype: 'float16', a: 1 });
    expect(configWithDtype('{"a": 1, "torch_dtype": null}', 'bfloat16')).toBe('{"a": 1, "torch_dtype": "bfloat16"}');
  });

  it('shards above maxShardSize exactly as huggingface_hub: greedy in state-dict order, with the index', async () => {
    const { info, tensors } = await fixture('tiny-l3-f32-2shard');
    const cap = 6000; // bytes of bf16 data per shard
    const files = encodeCheckpoint(info, tensors, { dtype: 'bf16', maxShardSize: cap });
    // the expected split, by hand: a new shard when the next tensor would pass the cap
    const sizes = info.tensors.map((t) => 2 * t.shape.reduce((a, b) => a * b, 1));
    const groups: number[][] = [[]];
    let fill = 0;
    sizes.forEach((n, k) => {
      if (fill + n > cap && groups[groups.length - 1].length > 0) {
        groups.push([]);
        fill = 0;
      }
      groups[groups.length - 1].push(k);
      fill += n;
    });
    expect(groups.length).toBeGreaterThan(3);
    const K = String(groups.length).padStart(5, '0');
    const shardNames = groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${K}.safetensors`);
    expect(files.map((f) => f.path)).toEqual(['config.json', ...shardNames, INDEX_FILE]);
    const index = parseShardIndex(new TextDecoder().decode(fileBytes(files[files.length - 1])));
    expect(index.totalSize).toBe(sizes.reduce((a, b) => a + b, 0));
    groups.forEach((g, i) => g.forEach((k) => expect(index.weightMap.get(info.tensors[k].name)).toBe(shardNames[i])));
    for (const [i, g] of groups.entries()) {
      const f = files[i + 1];
      expect(f.parts.reduce((a, q) => a + q.length, 0)).toBe(f.size);
      const h = await readSafetensorsHeader(bytesReader(fileBytes(f)), f.size, f.path);
      expect(h.tensors.map((t) => t.name).sort()).toEqual(g.map((k) => info.tensors[k].name).sort());
      expect(h.dataSize).toBeLessThanOrEqual(cap);
      expect(h.metadata).toEqual({ format: 'pt' });
    }
    const back = await readBack(asSource(files)); // openCheckpoint validates the index against the shards
    for (const t of info.tensors) expect(Array.from(back.values.get(t.name)!)).toEqual(Array.from(tensors.get(t.name)!, nearestBf16));
  });

  it('copies the tokenizer and generation files; refuses missing, extra and mis-sized tensors and unrepresentable values', async () => {
    const { info, tensors } = await fixture('tiny-f32-1shard');
    const tok = new TextEncoder().encode('{"model": {}}');
    const gen = new TextEncoder().encode('{"do_sample": false}');
    const withExtras: CheckpointInfo = { ...info, extras: new Map([['tokenizer.json', tok], ['generation_config.json', gen]]) };
    const files = encodeCheckpoint(withExtras, tensors);
    expect(files.map((f) => f.path)).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json']);
    expect(files[2].parts).toEqual([tok]);
    expect(files[1].parts.some((q) => q.buffer === tensors.get('model.norm.weight')!.buffer), 'F32 data is a view of the input, not a copy').toBe(true);

    const fail = (t: Map<string, Float32Array>, opts = {}) => () => encodeCheckpoint(info, t, opts);
    const without = new Map(tensors);
    without.delete('model.norm.weight');
    expect(fail(without)).toThrow(/tensor 'model\.norm\.weight' is missing/);
    expect(fail(new Map([...tensors, ['lm_head.weight', new Float32Array(1)]]))).toThrow(/tensor 'lm_head\.weight' is not in the input checkpoint/);
    expect(fail(new Map([...tensors, ['model.norm.weight', new Float32Array(3)]]))).toThrow(/'model\.norm\.weight' has 3 values but its shape \[32\] holds 32/);
    const nan = new Map(tensors);
    nan.set('model.layers.1.mlp.up_proj.weight', tensors.get('model.layers.1.mlp.up_proj.weight')!.slice().fill(NaN, 5, 6));
    expect(fail(nan)).toThrow(/'model\.layers\.1\.mlp\.up_proj\.weight' element 5 is NaN/);
    const big = new Map(tensors);
    big.set('model.norm.weight', tensors.get('model.norm.weight')!.slice().fill(70000, 7, 8));
    expect(fail(big, { dtype: 'f16' })).toThrow(/'model\.norm\.weight' element 7 is 70000, beyond float16's range/);
    expect(() => encodeCheckpoint(info, big, { dtype: 'bf16' })).not.toThrow();
    expect(fail(tensors, { maxShardSize: 0 })).toThrow(EngineError);
  });
});

describe('writeCheckpointDir', () => {
  it('writes a folder the loader opens; replaces an existing one whole; a failed write leaves the old one and no leftovers', async () => {
    const { info, tensors } = await fixture('tiny-f32-1shard');
    const parent = tempDir();
    const dir = join(parent, 'final');
    const sharded = encodeCheckpoint(info, tensors, { dtype: 'bf16', maxShardSize: 5000 });
    await writeCheckpointDir(dir, sharded);
    expect(readdirSync(dir).sort()).toEqual(sharded.map((f) => f.path).sort());
    const back = await readBack(await sourceFromDirectory(dir));
    expect(back.order).toEqual(info.tensors.map((t) => t.name));

    // replaced by a single-file f32 checkpoint: the old shards and index are gone
    const single = encodeCheckpoint(info, tensors);
    writeFileSync(join(parent, 'final.tmp-stale1'), 'a leftover of a crashed write');
    await writeCheckpointDir(dir, single);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(Buffer.from(fileBytes(single[1])));
    expect(readdirSync(parent)).toEqual(['final']);

    // a write that fails half-way (the second file cannot be produced): the folder is untouched
    const broken = [single[0], Object.defineProperty({ path: 'model.safetensors', size: 8 }, 'parts', { get: () => { throw new Error('disk gone'); } }) as ExportedFile];
    await expect(writeCheckpointDir(dir, broken)).rejects.toThrow('disk gone');
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(Buffer.from(fileBytes(single[1])));
    expect(readdirSync(parent)).toEqual(['final']);

    await expect(writeCheckpointDir(dir, [{ path: '../x', parts: [new Uint8Array(1)], size: 1 }])).rejects.toThrow(/must be a plain name/);
    writeFileSync(join(parent, 'afile'), '');
    await expect(writeCheckpointDir(join(parent, 'afile'), single)).rejects.toThrow(/is not a folder/);
  });
});
