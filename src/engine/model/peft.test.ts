// model/peft.ts and the merged export (export.ts encodeCheckpointStream + checkpointTensors) without a
// GPU: adapter_config.json's keys are PEFT's (the list below is copied by hand from PEFT's source,
// independently of peft.ts's own table); an adapter written and read back is bit for bit the same;
// PEFT's variants are read (target_modules as list / regex / 'all-linear', `.default` keys,
// layers_to_transform, exclude_modules, BF16 factors) and unsupported features refused by name; a
// merged checkpoint holds fround(W + (α/r)·B·A) computed here in float64, tensor by tensor, every
// other tensor bit for bit; a BF16 merged export is the nearest-even rounding of the merged f32
// weights; sharding and the index; the streamed encoder gives the same bytes as the eager one.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadError } from '../errors.ts';
import { sourceFromDirectory } from '../store/kv_node.ts';
import { f32ToBf16Bits } from '../util/halfs.ts';
import { parseGemma2Config, type Gemma2Config } from './config.ts';
import { checkpointInfo, checkpointTensors, encodeCheckpoint, encodeCheckpointStream, fileBytes, type ExportedFile, type StreamedFile } from './export.ts';
import { writeCheckpointDir } from './export_node.ts';
import { checkpointWeights, openCheckpoint, type CheckpointSource } from './load.ts';
import { LORA_TARGETS, loraScale, peftKey, targetFeatures, type LoraConfig, type LoraTarget } from './lora.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterConfigObject, baseWeightName, encodePeftAdapter, mergeFactors, openPeftAdapter, type HostLoraAdapter } from './peft.ts';
import { bytesReader, readSafetensorsHeader, toFloat32, writeSafetensors, type Dtype } from './safetensors.ts';
import { INDEX_FILE, parseShardIndex } from './sharded.ts';

const FIXTURES = join(import.meta.dirname, '../../../e2e/fixtures/checkpoints');
const BF16_DIR = join(FIXTURES, 'tiny-bf16-3shard'); // L 2, C 48, FF 80, NH 6, KVH 2, HD 12, BF16
const cfg: Gemma2Config = parseGemma2Config(JSON.parse(readFileSync(join(BF16_DIR, 'config.json'), 'utf8')), 'config.json');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'prefstudio-peft-'));
  dirs.push(d);
  return d;
};

/**
 * PEFT's LoraConfig + PeftConfig fields, read from github.com/huggingface/peft:
 * src/peft/tuners/lora/config.py @ 00a4d0808579f9bcac82c6b329cb8894bcfbd7fd (class LoraConfig; its
 * to_dict pops runtime_config) and src/peft/config.py @ 0397041dcf4eb15839a2fb9e894271ee0d8fe60f
 * (PeftConfigMixin: task_type, peft_type, auto_mapping; PeftConfig: base_model_name_or_path,
 * revision, peft_type, task_type, inference_mode).
 */
const PEFT_FIELDS = new Set([
  'task_type', 'peft_type', 'auto_mapping', 'base_model_name_or_path', 'revision', 'inference_mode',
  'r', 'target_modules', 'exclude_modules', 'lora_alpha', 'lora_dropout', 'fan_in_fan_out', 'bias', 'use_rslora', 'modules_to_save',
  'init_lora_weights', 'layers_to_transform', 'layers_pattern', 'rank_pattern', 'alpha_pattern', 'megatron_config', 'megatron_core',
  'loftq_config', 'use_dora', 'layer_replication',
]);

/** A small deterministic generator (independent of the engine's Rng). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** An adapter with random A and B (B non-zero, so merging changes the weights). */
function randomAdapter(config: LoraConfig, seed = 1, layers: number[] = [...Array(cfg.L).keys()]): HostLoraAdapter {
  const rnd = lcg(seed);
  return {
    config,
    layers: Array.from({ length: cfg.L }, (_, i) => {
      const out: HostLoraAdapter['layers'][number] = {};
      if (!layers.includes(i)) return out;
      for (const t of config.targets) {
        const s = targetFeatures(cfg, t);
        out[t] = { A: Float32Array.from({ length: config.r * s.inF }, () => rnd() * 0.5), B: Float32Array.from({ length: s.outF * config.r }, () => rnd() * 0.1) };
      }
      return out;
    }),
  };
}

const CONFIG: LoraConfig = { r: 4, alpha: 8, dropout: 0.05, targets: ['q_proj', 'v_proj', 'down_proj'], useRslora: false };
const asSource = (files: (ExportedFile | { path: string; bytes: Uint8Array })[], name = 'adapter'): CheckpointSource => ({
  name,
  files: files.map((f) => {
    const bytes = 'bytes' in f ? f.bytes : fileBytes(f);
    return { name: f.path, size: bytes.length, read: bytesReader(bytes) };
  }),
});
const bitsEqual = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** An adapter folder's files with adapter_config.json changed and/or the tensors replaced. */
function variant(base: HostLoraAdapter, change: Record<string, unknown>, tensors?: { name: string; dtype: Dtype; shape: number[]; data: Uint8Array }[]): CheckpointSource {
  const files = encodePeftAdapter(base);
  const json = { ...adapterConfigObject(base), ...change };
  const weights = tensors ? writeSafetensors(tensors) : fileBytes(files[0]);
  return asSource([{ path: ADAPTER_WEIGHTS_FILE, bytes: weights }, { path: ADAPTER_CONFIG_FILE, bytes: new TextEncoder().encode(JSON.stringify(json)) }]);
}

/** The adapter's tensors as safetensors entries under `key(layer, target, which)`. */
function tensorsOf(ad: HostLoraAdapter, key: (i: number, t: LoraTarget, w: 'A' | 'B') => string, dtype: Dtype = 'F32') {
  return ad.layers.flatMap((l, i) =>
    LORA_TARGETS.flatMap((t) => {
      const f = l[t];
      if (!f) return [];
      return (['A', 'B'] as const).map((w) => {
        const v = f[w];
        const r = ad.config.r;
        const data = dtype === 'BF16' ? new Uint8Array(f32ToBf16Bits(v).buffer) : new Uint8Array(v.buffer.slice(0));
        return { name: key(i, t, w), dtype, shape: w === 'A' ? [r, v.length / r] : [v.length / r, r], data };
      });
    }),
  );
}

async function expectLoadError(p: Promise<unknown>, ...parts: (string | RegExp)[]): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'expected a LoadError').toBeInstanceOf(LoadError);
  for (const s of parts) expect((err as Error).message).toMatch(s);
}

describe('adapter_config.json', () => {
  it("holds only PEFT's LoraConfig/PeftConfig fields, sorted and indented as save_pretrained writes them, with this adapter's settings", () => {
    const files = encodePeftAdapter(randomAdapter({ ...CONFIG, useRslora: true }), { baseModel: 'google/gemma-2-2b-it' });
    expect(files.map((f) => f.path)).toEqual([ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE]);
    const text = new TextDecoder().decode(fileBytes(files[1]));
    const json = JSON.parse(text) as Record<string, unknown>;
    for (const k of Object.keys(json)) expect(PEFT_FIELDS.has(k), `adapter_config.json key '${k}' is not a PEFT LoraConfig field`).toBe(true);
    expect(Object.keys(json)).toEqual(Object.keys(json).sort());
    expect(text).toBe(`${JSON.stringify(json, null, 2)}\n`);
    expect(json).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0.05, use_rslora: true, bias: 'none', fan_in_fan_out: false,
      base_model_name_or_path: 'google/gemma-2-2b-it', inference_mode: true, init_lora_weights: true, modules_to_save: null, use_dora: false,
      target_modules: ['q_proj', 'v_proj', 'down_proj'], layers_to_transform: null,
    });
    // only some layers: layers_to_transform
    expect(adapterConfigObject(randomAdapter(CONFIG, 1, [1])).layers_to_transform).toEqual([1]);
  });

  it('adapter_model.safetensors: PEFT keys, [r, in] / [out, r] shapes, F32 (or the dtype asked for), {"format": "pt"}', async () => {
    const ad = randomAdapter(CONFIG);
    const bytes = fileBytes(encodePeftAdapter(ad)[0]);
    const h = await readSafetensorsHeader(bytesReader(bytes), bytes.length, ADAPTER_WEIGHTS_FILE);
    expect(h.metadata).toEqual({ format: 'pt' });
    const keys = h.tensors.map((t) => t.name).sort();
    expect(keys).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(keys).toContain('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight');
    expect(keys.length).toBe(cfg.L * 3 * 2);
    const q = h.tensors.find((t) => t.name === peftKey(0, 'q_proj', 'A'))!;
    expect([q.dtype, q.shape]).toEqual(['F32', [4, cfg.C]]);
    const d = h.tensors.find((t) => t.name === peftKey(1, 'down_proj', 'B'))!;
    expect(d.shape).toEqual([cfg.C, 4]);
    const b16 = fileBytes(encodePeftAdapter(ad, { dtype: 'bf16' })[0]);
    expect((await readSafetensorsHeader(bytesReader(b16), b16.length, 'x')).tensors.every((t) => t.dtype === 'BF16')).toBe(true);
  });
});

describe('openPeftAdapter', () => {
  it('reads back what encodePeftAdapter wrote, bit for bit (also through a folder written by writeCheckpointDir)', async () => {
    const ad = randomAdapter({ ...CONFIG, useRslora: true }, 7, [0]);
    const dir = join(tempDir(), 'adapter');
    await writeCheckpointDir(dir, encodePeftAdapter(ad, { baseModel: 'base' }));
    const got = await openPeftAdapter(await sourceFromDirectory(dir), cfg);
    expect(got.baseModel).toBe('base');
    expect(got.warnings).toEqual([]);
    expect(got.adapter.config).toEqual({ ...CONFIG, useRslora: true });
    expect(Object.keys(got.adapter.layers[1])).toEqual([]);
    for (const t of CONFIG.targets) for (const w of ['A', 'B'] as const) expect(bitsEqual(got.adapter.layers[0][t]![w], ad.layers[0][t]![w]), `${t}.${w}`).toBe(true);
  });

  it("PEFT's variants: target_modules as a regex string, 'all-linear' or suffixes; `.default` keys; BF16 factors; exclude_modules; layers_to_transform as an int", async () => {
    const all = randomAdapter({ ...CONFIG, targets: [...LORA_TARGETS] }, 3);
    const withDefault = tensorsOf(all, (i, t, w) => peftKey(i, t, w).replace('.weight', '.default.weight'), 'BF16');
    const a = await openPeftAdapter(variant(all, { target_modules: 'all-linear' }, withDefault), cfg);
    expect(a.adapter.config.targets).toEqual([...LORA_TARGETS]);
    const v = all.layers[1].up_proj!.B;
    expect(bitsEqual(a.adapter.layers[1].up_proj!.B, toFloat32('BF16', new Uint8Array(f32ToBf16Bits(v).buffer)))).toBe(true);

    const qv = randomAdapter({ ...CONFIG, targets: ['q_proj', 'v_proj'] }, 4);
    const re = await openPeftAdapter(variant(qv, { target_modules: '.*\\.(q_proj|v_proj)' }), cfg);
    expect(re.adapter.config.targets).toEqual(['q_proj', 'v_proj']);
    const suffix = await openPeftAdapter(variant(qv, { target_modules: ['self_attn.q_proj', 'v_proj'] }), cfg);
    expect(suffix.adapter.config.targets).toEqual(['q_proj', 'v_proj']);

    // exclude_modules drops layer 0's v_proj; layers_to_transform: 1 keeps layer 1 only
    const partial = randomAdapter({ ...CONFIG, targets: ['q_proj', 'v_proj'] }, 5);
    delete partial.layers[0].v_proj;
    const ex = await openPeftAdapter(variant(partial, { target_modules: ['q_proj', 'v_proj'], exclude_modules: ['model.layers.0.self_attn.v_proj'] }, tensorsOf(partial, peftKey)), cfg);
    expect(Object.keys(ex.adapter.layers[0])).toEqual(['q_proj']);
    const one = randomAdapter(CONFIG, 6, [1]);
    const lt = await openPeftAdapter(variant(one, { layers_to_transform: 1 }), cfg);
    expect(Object.keys(lt.adapter.layers[0])).toEqual([]);
    // the irregular adapter is written back as an exact regex, which reads back the same modules
    const back = await openPeftAdapter(asSource(encodePeftAdapter(ex.adapter)), cfg);
    expect(Object.keys(back.adapter.layers[0])).toEqual(['q_proj']);
    expect(Object.keys(back.adapter.layers[1])).toEqual(['q_proj', 'v_proj']);
    // a newer PEFT's extra fields at their defaults are fine; an unknown set field is a warning
    const newer = await openPeftAdapter(variant(qv, { lora_bias: false, use_qalora: false, peft_version: '0.18.0', target_parameters: null, some_future_field: 3 }), cfg);
    expect(newer.warnings.join('\n')).toMatch(/'some_future_field'/);
  });

  it('refuses what the engine does not compute, naming the field or key and what to do', async () => {
    const ad = randomAdapter(CONFIG);
    await expectLoadError(openPeftAdapter(variant(ad, { peft_type: 'IA3' }), cfg), /peft_type/, /LoRA adapters/, /merge_and_unload/);
    await expectLoadError(openPeftAdapter(variant(ad, { use_dora: true }), cfg), /use_dora/, /DoRA/);
    await expectLoadError(openPeftAdapter(variant(ad, { bias: 'all' }), cfg), /'bias'/, /biases/);
    await expectLoadError(openPeftAdapter(variant(ad, { modules_to_save: ['lm_head'] }), cfg), /modules_to_save/);
    await expectLoadError(openPeftAdapter(variant(ad, { rank_pattern: { q_proj: 8 } }), cfg), /rank_pattern/);
    await expectLoadError(openPeftAdapter(variant(ad, { init_lora_weights: 'pissa' }), cfg), /init_lora_weights/, /path_initial_model_for_weight_conversion/);
    await expectLoadError(openPeftAdapter(variant(ad, { target_modules: ['q_proj', 'lm_head'] }), cfg), /target_modules/, /'lm_head'/);
    await expectLoadError(openPeftAdapter(variant(ad, { layers_to_transform: [0, 5] }), cfg), /layers_to_transform/, /layer 5/, /2 layers/);
    await expectLoadError(openPeftAdapter(variant(ad, { task_type: 'SEQ_CLS' }), cfg), /task_type/);
    // a key for a module the config does not target
    await expectLoadError(openPeftAdapter(variant(ad, { target_modules: ['q_proj', 'v_proj'] }), cfg), new RegExp(`tensor '${peftKey(0, 'down_proj', 'A').replace(/\./g, '\\.')}'`), /does not target/);
    // a factor missing
    const fewer = tensorsOf(ad, peftKey).filter((t) => t.name !== peftKey(1, 'v_proj', 'B'));
    await expectLoadError(openPeftAdapter(variant(ad, {}, fewer), cfg), /layers\.1\.self_attn\.v_proj\.lora_B/, /is missing/);
    // a wrong shape: r 4 in the file, r 8 in the config
    await expectLoadError(openPeftAdapter(variant(ad, { r: 8 }), cfg), /lora_A\.weight'/, /has shape \[4, \d+\] but r = 8 .* imply \[8, \d+\]/, /base model it was trained on/);
    // DoRA's magnitude vector
    const dora = [...tensorsOf(ad, peftKey), { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector', dtype: 'F32' as Dtype, shape: [72], data: new Uint8Array(288) }];
    await expectLoadError(openPeftAdapter(variant(ad, {}, dora), cfg), /lora_magnitude_vector/, /DoRA/);
    // a non-finite factor
    const nan = tensorsOf(ad, peftKey);
    new Float32Array(nan[0].data.buffer)[3] = NaN;
    await expectLoadError(openPeftAdapter(variant(ad, {}, nan), cfg), /element 3 is not finite/);
    // missing files
    await expectLoadError(openPeftAdapter({ name: 'x', files: [] }, cfg), /adapter_config\.json and adapter_model\.safetensors/);
  });
});

describe('merged export', () => {
  /** fround(W + scale·Σ_k B[o,k]·A[k,i]), summed in float64 in the textbook order. */
  function mergeRef(W: Float32Array, A: Float32Array, B: Float32Array, scale: number, out: number, inn: number, r: number): Float32Array {
    const res = new Float32Array(out * inn);
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inn; i++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += B[o * r + k] * A[k * inn + i];
        res[o * inn + i] = W[o * inn + i] + scale * d;
      }
    }
    return res;
  }

  it('mergeFactors = W + scale·B·A to f32 rounding (float64 reference)', () => {
    const rnd = lcg(9);
    const [out, inn, r] = [7, 5, 3];
    const W = Float32Array.from({ length: out * inn }, rnd);
    const f = { A: Float32Array.from({ length: r * inn }, rnd), B: Float32Array.from({ length: out * r }, rnd) };
    const got = mergeFactors(W, f, 2.5, out, inn);
    const want = mergeRef(W, f.A, f.B, 2.5, out, inn, r);
    // the sums differ only in float64 association order: equal after rounding to f32 but for rare ties
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-30));
    expect(diff).toBeLessThanOrEqual(2 ** -24);
  });

  it('a checkpoint with an adapter merged: targeted weights = base + (α/r)·B·A, the rest bit for bit; BF16 = the rounded merged f32; sharded; the same bytes as the eager encoder', async () => {
    const ckpt = await openCheckpoint({ ...(await sourceFromDirectory(BF16_DIR)), name: BF16_DIR });
    const info = await checkpointInfo(ckpt);
    const ad = randomAdapter({ ...CONFIG, useRslora: true }, 11);
    const scale = loraScale(ad.config);
    expect(scale).toBe(8 / 2); // α/√r

    // The base's values, read independently of the exporter (the loader's byte source).
    const base = new Map<string, Float32Array>();
    {
      const w = checkpointWeights(ckpt);
      const raw = w.tensors.map((t) => new Uint8Array(t.nbytes));
      for await (const p of w.read()) raw[p.tensor].set(p.bytes, p.offset);
      w.tensors.forEach((t, k) => base.set(t.name, toFloat32(t.dtype, raw[k])));
    }
    const want = new Map(base);
    for (let i = 0; i < cfg.L; i++) {
      for (const t of ad.config.targets) {
        const s = targetFeatures(cfg, t);
        const name = baseWeightName(i, t);
        want.set(name, mergeRef(base.get(name)!, ad.layers[i][t]!.A, ad.layers[i][t]!.B, scale, s.outF, s.inF, ad.config.r));
      }
    }

    const parent = tempDir();
    const readBack = async (dir: string) => {
      const c = await openCheckpoint(await sourceFromDirectory(dir));
      const w = checkpointWeights(c);
      const raw = w.tensors.map((t) => new Uint8Array(t.nbytes));
      for await (const p of w.read()) raw[p.tensor].set(p.bytes, p.offset);
      return new Map(w.tensors.map((t, k) => [t.name, { dtype: t.dtype, raw: raw[k] }]));
    };

    // f32, small pieces (the reader's piece size does not change the bytes)
    const f32Dir = join(parent, 'f32');
    await writeCheckpointDir(f32Dir, encodeCheckpointStream(info, checkpointTensors(ckpt, ad, { pieceBytes: 64 }), { dtype: 'f32' }));
    const f32 = await readBack(f32Dir);
    let merged = 0;
    for (const [name, v] of want) {
      const got = toFloat32('F32', f32.get(name)!.raw);
      const changed = !bitsEqual(v, base.get(name)!);
      merged += changed ? 1 : 0;
      // targeted: within one f32 rounding of the float64 value (association order); others exact
      if (!changed) expect(bitsEqual(got, v), name).toBe(true);
      else for (let i = 0; i < v.length; i++) expect(Math.abs(got[i] - v[i]), `${name}[${i}]`).toBeLessThanOrEqual(Math.abs(v[i]) * 2 ** -23);
    }
    expect(merged).toBe(cfg.L * 3);

    // input dtype (BF16), sharded: every tensor = f32ToBf16Bits(merged f32), the others untouched bytes
    const bfDir = join(parent, 'bf16');
    await writeCheckpointDir(bfDir, encodeCheckpointStream(info, checkpointTensors(ckpt, ad), { maxShardSize: 6000 }));
    const bf = await readBack(bfDir);
    const mergedF32 = new Map([...f32].map(([n, t]) => [n, toFloat32('F32', t.raw)]));
    for (const [name, t] of bf) {
      expect(t.dtype, name).toBe('BF16');
      expect(Buffer.compare(Buffer.from(t.raw), Buffer.from(f32ToBf16Bits(mergedF32.get(name)!).buffer)), name).toBe(0);
    }
    const files = readdirSync(bfDir).sort();
    const shards = files.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(3);
    const index = parseShardIndex(readFileSync(join(bfDir, INDEX_FILE), 'utf8'));
    let total = 0;
    for (const s of shards) {
      const bytes = new Uint8Array(readFileSync(join(bfDir, s)));
      const h = await readSafetensorsHeader(bytesReader(bytes), bytes.length, s);
      for (const t of h.tensors) {
        expect(index.weightMap.get(t.name), t.name).toBe(s);
        total += t.end - t.begin;
      }
    }
    expect(index.weightMap.size).toBe(info.tensors.length);
    expect(index.totalSize).toBe(total);
    for (const f of ['config.json']) expect(files).toContain(f);

    // the streamed encoder and the eager one (all tensors in memory) write the same bytes
    const eager = encodeCheckpoint(info, mergedF32, { maxShardSize: 6000 });
    const streamed = encodeCheckpointStream(info, checkpointTensors(ckpt, ad), { maxShardSize: 6000 });
    expect(streamed.map((f) => f.path)).toEqual(eager.map((f) => f.path));
    for (let k = 0; k < eager.length; k++) {
      const s = streamed[k];
      const chunks: Uint8Array[] = [];
      if ('parts' in s) chunks.push(...s.parts);
      else for await (const c of (s as StreamedFile).chunks()) chunks.push(c);
      expect(Buffer.compare(Buffer.concat(chunks), Buffer.from(fileBytes(eager[k]))), eager[k].path).toBe(0);
    }
  });

  it('a failing tensor source leaves the previous folder in place and names the tensor', async () => {
    const ckpt = await openCheckpoint(await sourceFromDirectory(BF16_DIR));
    const info = await checkpointInfo(ckpt);
    const dir = join(tempDir(), 'out');
    await writeCheckpointDir(dir, encodeCheckpointStream(info, checkpointTensors(ckpt)));
    const before = readdirSync(dir).sort();
    const bad = async function* (name: string) {
      const v = new Float32Array(info.tensors.find((t) => t.name === name)!.shape.reduce((a, b) => a * b, 1));
      if (name === 'model.norm.weight') v[2] = Infinity;
      yield { dtype: 'F32' as Dtype, bytes: new Uint8Array(v.buffer) };
    };
    await expect(writeCheckpointDir(dir, encodeCheckpointStream(info, bad, { dtype: 'f32' }))).rejects.toThrow(/tensor 'model\.norm\.weight' element 2 is Infinity/);
    expect(readdirSync(dir).sort()).toEqual(before);
    const short = async function* () {
      yield { dtype: 'F32' as Dtype, bytes: new Uint8Array(8) };
    };
    await expect(writeCheckpointDir(dir, encodeCheckpointStream(info, short, { dtype: 'f32' }))).rejects.toThrow(/gave 8 of the \d+ bytes/);
  });
});
