// PEFT adapters in the weight store (adapters.ts) on the memory and file backends, under the tiny
// f32 fixture model (e2e/fixtures/checkpoints/tiny-f32-1shard, 2 layers, C 32): adapters written
// here with model/peft.ts encodePeftAdapter from seeded random factors. Checked: listed with what
// the files say (r, alpha, targets, parameters = Σ r·(in+out), bytes = the files' sizes), the stored
// files read back byte for byte and opened to the same f32 factors; the same files again are
// "already" stored; refusals (a DoRA config by field name, a shape for another base, a corrupt
// header, a truncated tensor, a missing base) write nothing; a write failing half-way lists nothing
// and its keys are discarded; a full store removes what the import wrote; deleting an adapter
// frees its bytes; deleting the model removes its adapters; re-importing the model keeps them.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadError } from '../errors.ts';
import { parseGemma2Config, type Gemma2Config } from '../model/config.ts';
import { fileBytes } from '../model/export.ts';
import type { CheckpointSource } from '../model/load.ts';
import { LORA_TARGETS, targetFeatures, type LoraConfig, type LoraTarget } from '../model/lora.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, encodePeftAdapter, type HostLoraAdapter } from '../model/peft.ts';
import { bytesReader } from '../model/safetensors.ts';
import {
  adapterSourceFromFiles, deleteAdapter, discardIncompleteAdapters, getAdapterManifest, importAdapter, listAdapters, listIncompleteAdapters, openStoredAdapter, storedAdapterSource,
} from './adapters.ts';
import { importCheckpoint, type ImportSource } from './import.ts';
import { createMemoryBackend, quotaError, type KVBackend, type MemoryBackend } from './kv.ts';
import { createFileBackend } from './kv_node.ts';
import { deleteModel, getManifest } from './manifest.ts';

const FIXTURE = join(import.meta.dirname, '../../../e2e/fixtures/checkpoints/tiny-f32-1shard');
const cfg: Gemma2Config = parseGemma2Config(JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')), 'config.json');

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function modelSource(): ImportSource {
  return { name: 'tiny', files: readdirSync(FIXTURE).sort().map((f) => {
    const b = new Uint8Array(readFileSync(join(FIXTURE, f)));
    return { name: f, size: b.length, read: bytesReader(b) };
  }) };
}

/** Seeded random factors for `config` on the fixture's shapes. */
function hostAdapter(config: LoraConfig, seed = 7): HostLoraAdapter {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  return {
    config,
    layers: Array.from({ length: cfg.L }, () => Object.fromEntries(config.targets.map((t) => {
      const { inF, outF } = targetFeatures(cfg, t);
      return [t, { A: Float32Array.from({ length: config.r * inF }, rnd), B: Float32Array.from({ length: outF * config.r }, rnd) }];
    }))),
  };
}

const R4: LoraConfig = { r: 4, alpha: 8, dropout: 0.05, targets: ['q_proj', 'v_proj', 'down_proj'], useRslora: false };

/** The adapter's two files as a folder source; `tweak` may change a file's bytes. */
function adapterFolder(host: HostLoraAdapter, name = 'my-adapter', tweak?: (file: string, bytes: Uint8Array) => Uint8Array): CheckpointSource & { bytes: Map<string, Uint8Array> } {
  const bytes = new Map(encodePeftAdapter(host, { baseModel: 'tiny' }).map((f) => [f.path, fileBytes(f)] as const));
  if (tweak) for (const [k, v] of bytes) bytes.set(k, tweak(k, v));
  const readme = new TextEncoder().encode('# an adapter\n'); // other files in the folder are ignored
  return {
    name,
    bytes,
    files: [...[...bytes].map(([n, b]) => ({ name: n, size: b.length, read: bytesReader(b) })), { name: 'README.md', size: readme.length, read: bytesReader(readme) }],
  };
}

const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
const editConfig = (edit: (c: Record<string, unknown>) => void) => (file: string, b: Uint8Array): Uint8Array => {
  if (file !== ADAPTER_CONFIG_FILE) return b;
  const c = JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;
  edit(c);
  return json(c);
};

/** Every key and value of a backend (to show that nothing changed). */
async function snapshot(kv: KVBackend): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of await kv.keys('')) {
    const v = await kv.get(k);
    out.set(k, v instanceof Uint8Array ? `bytes:${v.length}:${Buffer.from(v).toString('base64').slice(0, 64)}` : JSON.stringify(v));
  }
  return out;
}

const backends: [string, () => Promise<KVBackend>][] = [
  ['memory', async () => createMemoryBackend()],
  ['files', () => {
    const d = mkdtempSync(join(tmpdir(), 'prefstudio-adapters-'));
    dirs.push(d);
    return createFileBackend(d);
  }],
];

describe.each(backends)('adapters in the weight store (%s backend)', (_, make) => {
  it('stores an adapter under its model: listed with r/alpha/targets/parameters/bytes, files read back exactly, factors equal', async () => {
    const kv = await make();
    const { manifest: base } = await importCheckpoint(kv, modelSource(), { chunkSize: 4096 });
    const host = hostAdapter(R4);
    const folder = adapterFolder(host);
    const progress: string[] = [];
    const r = await importAdapter(kv, folder, { modelId: base.id, chunkSize: 1024, onProgress: (p) => progress.push(`${p.phase}:${Math.round(p.percent)}`) });
    expect(r.already).toBe(false);
    const a = r.manifest;
    expect(a.id).toMatch(/^my-adapter-[0-9a-f]{8}$/);
    expect(a).toMatchObject({ modelId: base.id, name: 'my-adapter', source: 'import', r: 4, alpha: 8, dropout: 0.05, useRslora: false, targets: ['q_proj', 'v_proj', 'down_proj'], baseModel: 'tiny' });
    expect(a.modules).toBe(cfg.L * 3);
    // parameters: Σ over layers and targets of r·(in + out), counted here from the fixture's dims
    const want = cfg.L * (['q_proj', 'v_proj', 'down_proj'] as LoraTarget[]).reduce((n, t) => n + 4 * (targetFeatures(cfg, t).inF + targetFeatures(cfg, t).outF), 0);
    expect(a.parameters).toBe(want);
    const sizes = [folder.bytes.get(ADAPTER_CONFIG_FILE)!.length, folder.bytes.get(ADAPTER_WEIGHTS_FILE)!.length];
    expect(a.storedBytes).toBe(sizes[0] + sizes[1]);
    expect(a.files.map((f) => [f.name, f.size])).toEqual([[ADAPTER_CONFIG_FILE, sizes[0]], [ADAPTER_WEIGHTS_FILE, sizes[1]]]);
    expect(a.files[1].chunks.length).toBe(Math.ceil(sizes[1] / 1024)); // several chunks
    expect(progress[0]).toMatch(/^validate/);
    expect(progress.at(-1)).toBe('copy:100');

    expect((await listAdapters(kv)).map((x) => x.id)).toEqual([a.id]);
    expect((await listAdapters(kv, base.id)).map((x) => x.id)).toEqual([a.id]);
    expect(await listAdapters(kv, 'other-model')).toEqual([]);
    expect(await getAdapterManifest(kv, base.id, a.id)).toEqual(a);

    // the files as stored, byte for byte
    const src = storedAdapterSource(kv, a);
    for (const f of src.files) expect(Buffer.from(await f.read(0, f.size)).equals(Buffer.from(folder.bytes.get(f.name)!)), f.name).toBe(true);
    // a read across a chunk boundary
    const w = src.files.find((f) => f.name === ADAPTER_WEIGHTS_FILE)!;
    expect(Buffer.from(await w.read(1000, 100)).equals(Buffer.from(folder.bytes.get(ADAPTER_WEIGHTS_FILE)!.subarray(1000, 1100)))).toBe(true);

    // opened again: the same f32 factors (F32 files, so exactly)
    const opened = await openStoredAdapter(kv, base.id, a.id);
    expect(opened.adapter.config).toEqual(R4);
    for (let i = 0; i < cfg.L; i++) {
      for (const t of LORA_TARGETS) {
        const f = host.layers[i][t];
        const g = opened.adapter.layers[i][t];
        if (!f) expect(g).toBeUndefined();
        else expect([Array.from(g!.A), Array.from(g!.B)]).toEqual([Array.from(f.A), Array.from(f.B)]);
      }
    }

    // the same files again (any name): already stored, nothing written
    const before = await snapshot(kv);
    const again = await importAdapter(kv, adapterFolder(host, 'another name'), { modelId: base.id });
    expect(again.already).toBe(true);
    expect(again.manifest.id).toBe(a.id);
    expect(await snapshot(kv)).toEqual(before);
  });

  it('refuses what the engine does not compute, shapes of another base, a corrupt header and a truncated tensor, writing nothing', async () => {
    const kv = await make();
    const { manifest: base } = await importCheckpoint(kv, modelSource());
    const before = await snapshot(kv);
    const refused = async (src: CheckpointSource, modelId = base.id): Promise<LoadError> => {
      const e = await importAdapter(kv, src, { modelId }).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(LoadError);
      expect(await snapshot(kv)).toEqual(before);
      return e as LoadError;
    };
    const host = hostAdapter(R4);

    const dora = await refused(adapterFolder(host, 'dora', editConfig((c) => (c.use_dora = true))));
    expect(dora.where).toBe(`dora/${ADAPTER_CONFIG_FILE}, field 'use_dora'`);
    expect(dora.message).toMatch(/DoRA/);

    const pattern = await refused(adapterFolder(host, 'ranks', editConfig((c) => (c.rank_pattern = { q_proj: 8 }))));
    expect(pattern.where).toMatch(/field 'rank_pattern'/);

    // r 8 in the config, r 4 in the weights: the first factor in the file (sorted by key) does not fit
    const shape = await refused(adapterFolder(host, 'shape', editConfig((c) => (c.r = 8))));
    expect(shape.where).toBe(`shape/${ADAPTER_WEIGHTS_FILE}, tensor 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight'`);
    expect(shape.message).toMatch(/has shape \[4, 64\] but r = 8/);

    // an adapter for a wider model: C 64 instead of 32
    const wide = { ...R4, targets: ['q_proj'] as LoraTarget[] };
    const wideHost: HostLoraAdapter = { config: wide, layers: Array.from({ length: cfg.L }, () => ({ q_proj: { A: new Float32Array(4 * 64), B: new Float32Array(32 * 4) } })) };
    const other = await refused(adapterFolder(wideHost, 'wide'));
    expect(other.where).toMatch(/tensor 'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight'/);
    expect(other.message).toMatch(/\[4, 64\]/);

    // the header's JSON cut: the file is named
    const corrupt = await refused(adapterFolder(host, 'corrupt', (f, b) => {
      if (f !== ADAPTER_WEIGHTS_FILE) return b;
      const c = b.slice();
      c.fill(0x7b, 8, 40); // '{{{{…' over the header's start
      return c;
    }));
    expect(corrupt.where).toMatch(new RegExp(`^corrupt/${ADAPTER_WEIGHTS_FILE}`));
    expect(corrupt.message.length).toBeGreaterThan(10);

    // the data cut short: the header names a tensor beyond the file's end
    const cut = await refused(adapterFolder(host, 'cut', (f, b) => (f === ADAPTER_WEIGHTS_FILE ? b.subarray(0, b.length - 16) : b)));
    expect(cut.where).toBe(`cut/${ADAPTER_WEIGHTS_FILE}`);
    expect(cut.message).toMatch(/the last tensor 'base_model\.model\.model\.layers\.\d\.[a-z_]+\.[a-z_]+\.lora_[AB]\.weight' ends at \d+\) but the file holds only \d+: the file is truncated/);

    // a file missing
    const missing = await refused({ name: 'half', files: adapterFolder(host).files.filter((f) => f.name !== ADAPTER_WEIGHTS_FILE) });
    expect(missing.message).toMatch(/needs adapter_config\.json and adapter_model\.safetensors/);

    // a base that is not stored
    const nobase = await refused(adapterFolder(host), 'no-such-model-00000000');
    expect(nobase.where).toBe("model 'no-such-model-00000000'");
  });

  it('a write failing half-way lists nothing; its keys are discarded; then the import succeeds', async () => {
    const kv = await make();
    const { manifest: base } = await importCheckpoint(kv, modelSource());
    const before = await snapshot(kv);
    let sets = 0;
    const failing: KVBackend = {
      ...kv,
      label: kv.label,
      freshGets: kv.freshGets,
      get: (k) => kv.get(k),
      del: (k) => kv.del(k),
      keys: (p) => kv.keys(p),
      freeSpace: () => kv.freeSpace(),
      set: async (k, v) => {
        if (++sets === 3) throw new Error('disk I/O error (simulated)'); // pending, chunk 0, then this
        return kv.set(k, v);
      },
    };
    const folder = adapterFolder(hostAdapter(R4));
    await expect(importAdapter(failing, folder, { modelId: base.id, chunkSize: 1024 })).rejects.toThrow(/simulated/);
    expect(await listAdapters(kv)).toEqual([]);
    const partial = await listIncompleteAdapters(kv);
    expect(partial.length).toBe(1);
    expect(partial[0]).toMatchObject({ modelId: base.id, name: 'my-adapter' });
    expect(partial[0].bytesStored).toBe(folder.bytes.get(ADAPTER_CONFIG_FILE)!.length > 1024 ? 1024 : folder.bytes.get(ADAPTER_CONFIG_FILE)!.length);
    expect(await discardIncompleteAdapters(kv)).toBe(partial[0].bytesStored);
    expect(await snapshot(kv)).toEqual(before);

    // an aborted import: the same
    const ctl = new AbortController();
    let copied = 0;
    await expect(importAdapter(kv, folder, { modelId: base.id, chunkSize: 1024, signal: ctl.signal, onProgress: (p) => { if (p.phase === 'copy' && ++copied === 2) ctl.abort(); } })).rejects.toThrow();
    expect(await listAdapters(kv)).toEqual([]);
    await discardIncompleteAdapters(kv);
    expect(await snapshot(kv)).toEqual(before);

    const ok = await importAdapter(kv, folder, { modelId: base.id, chunkSize: 1024 });
    expect((await listAdapters(kv)).map((a) => a.id)).toEqual([ok.manifest.id]);
    expect(await listIncompleteAdapters(kv)).toEqual([]);
  });

  it('deleting an adapter frees its keys; deleting the model removes its adapters; re-importing the model keeps them', async () => {
    const kv = await make();
    const { manifest: base } = await importCheckpoint(kv, modelSource());
    const before = await snapshot(kv);
    const a = (await importAdapter(kv, adapterFolder(hostAdapter(R4), 'one'), { modelId: base.id })).manifest;
    const b = (await importAdapter(kv, adapterFolder(hostAdapter({ ...R4, r: 2, alpha: 4, targets: ['k_proj'] }, 9), 'two', undefined), { modelId: base.id })).manifest;
    expect((await listAdapters(kv, base.id)).map((x) => [x.name, x.r, x.alpha, x.targets.join()])).toEqual([['one', 4, 8, 'q_proj,v_proj,down_proj'], ['two', 2, 4, 'k_proj']]);

    // the model imported again (same files): its adapters stay
    await importCheckpoint(kv, modelSource());
    expect((await listAdapters(kv, base.id)).map((x) => x.id)).toEqual([a.id, b.id]);
    expect((await openStoredAdapter(kv, base.id, b.id)).adapter.config.r).toBe(2);

    expect(await deleteAdapter(kv, base.id, a.id)).toBe(a.storedBytes);
    expect((await listAdapters(kv)).map((x) => x.id)).toEqual([b.id]);
    expect((await kv.keys(`adapter/${base.id}/${a.id}/`)).length).toBe(0);
    await expect(openStoredAdapter(kv, base.id, a.id)).rejects.toThrow(/is not in the/);
    expect(await deleteAdapter(kv, base.id, a.id)).toBe(0); // twice: nothing to do

    await deleteAdapter(kv, base.id, b.id);
    expect(await snapshot(kv)).toEqual(before); // every byte of both adapters gone

    await importAdapter(kv, adapterFolder(hostAdapter(R4), 'three'), { modelId: base.id });
    await deleteModel(kv, base.id);
    expect(await getManifest(kv, base.id)).toBeNull();
    expect(await kv.keys('')).toEqual([]);
  });
});

describe('adapters in a memory store with a quota', () => {
  it('a full store removes what the import wrote and names the sizes; the model is intact; memory use returns', async () => {
    const probe = createMemoryBackend();
    const { manifest: base } = await importCheckpoint(probe, modelSource());
    const folder = adapterFolder(hostAdapter(R4));
    const need = [...folder.bytes.values()].reduce((n, b) => n + b.length, 0);
    // room for the model and half the adapter; the estimate lies (says there is room)
    const kv: MemoryBackend = createMemoryBackend({ quota: probe.usedBytes() + 400 + need / 2, reportedFree: null });
    await importCheckpoint(kv, modelSource());
    const used = kv.usedBytes();
    const before = await snapshot(kv);
    const e = await importAdapter(kv, folder, { modelId: base.id, chunkSize: 1024 }).then(() => null, (x: unknown) => x as LoadError);
    expect(e).toBeInstanceOf(LoadError);
    expect(e!.message).toMatch(/became full while storing the adapter/);
    expect(e!.message).toMatch(/nothing was listed and what this import wrote was removed/);
    expect(kv.usedBytes()).toBe(used);
    expect(await snapshot(kv)).toEqual(before);

    // an honest estimate refuses before writing
    const honest = createMemoryBackend({ quota: probe.usedBytes() + 400 + need / 2 });
    await importCheckpoint(honest, modelSource());
    await expect(importAdapter(honest, folder, { modelId: base.id })).rejects.toThrow(/nothing was written/);
    void quotaError;
  });

  it('deleting an adapter gives back exactly the bytes it used', async () => {
    const kv = createMemoryBackend();
    const { manifest: base } = await importCheckpoint(kv, modelSource());
    const used = kv.usedBytes();
    const files = encodePeftAdapter(hostAdapter(R4));
    const a = (await importAdapter(kv, adapterSourceFromFiles('run-1', files), { modelId: base.id, source: 'run-1' })).manifest;
    expect(a).toMatchObject({ name: 'run-1', source: 'run-1' });
    expect(kv.usedBytes() - used).toBeGreaterThanOrEqual(a.storedBytes); // + the manifest's JSON
    await deleteAdapter(kv, base.id, a.id);
    expect(kv.usedBytes()).toBe(used);
  });
});
