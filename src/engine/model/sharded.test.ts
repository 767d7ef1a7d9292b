// sharded.ts: shard names, huggingface_hub's split, the index (read, and written byte for byte as
// transformers does), and validateCheckpoint's checks — one test per failure with its message.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectLoadError } from './expect_load_error.ts';
import { expectedTensors, parseGemma2Config, type Gemma2Config } from './config.ts';
import { parseSafetensorsHeader, tensorNbytes, writeSafetensors, type Dtype, type SafetensorsHeader } from './safetensors.ts';
import {
  INDEX_FILE, parseShardFileName, parseShardIndex, planShards, shardFileName, validateCheckpoint, writeShardIndex,
  type ShardIndex,
} from './sharded.ts';

const config = (name: string): Gemma2Config =>
  parseGemma2Config(JSON.parse(readFileSync(join(import.meta.dirname, '../../../e2e/fixtures/configs', name), 'utf8')));


describe('shard file names', () => {
  it('model-0000i-of-0000K.safetensors, 1-based; a single shard is model.safetensors', () => {
    expect(shardFileName(1, 3)).toBe('model-00001-of-00003.safetensors');
    expect(shardFileName(3, 3)).toBe('model-00003-of-00003.safetensors');
    expect(shardFileName(1, 1)).toBe('model.safetensors');
    expect(parseShardFileName('model-00002-of-00004.safetensors')).toEqual({ index: 2, count: 4 });
    expect(parseShardFileName('adapter-00001-of-00002.safetensors')).toEqual({ index: 1, count: 2 });
    expect(parseShardFileName('model.safetensors')).toBeNull();
    expect(parseShardFileName('model-00005-of-00004.safetensors')).toBeNull();
  });
});

describe('planShards (huggingface_hub split_state_dict_into_shards_factory)', () => {
  const sizes = (xs: number[]) => xs.map((nbytes, i) => ({ name: `t${i}`, nbytes }));
  const groups = (p: ReturnType<typeof planShards>) => p.shards.map((s) => s.tensors.map((n) => Number(n.slice(1))));

  it("the docstring's example: [6, 6, 2, 6, 2, 2] with cap 10 → [6], [6+2], [6+2+2]", () => {
    const p = planShards(sizes([6, 6, 2, 6, 2, 2]), 10);
    expect(groups(p)).toEqual([[0], [1, 2], [3, 4, 5]]);
    expect(p.shards.map((s) => s.bytes)).toEqual([6, 8, 10]); // a shard may fill the cap exactly
    expect(p.shards.map((s) => s.file)).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(p.totalSize).toBe(24);
    expect(p.weightMap.get('t4')).toBe('model-00003-of-00003.safetensors');
  });

  it('a tensor over the cap gets a shard of its own, listed before the shard still being filled', () => {
    expect(groups(planShards(sizes([2, 12, 3]), 10))).toEqual([[1], [0, 2]]);
    // 9 fills a shard; 12 is listed at once; 3 does not fit next to 9 (that shard closes); 12 again; 3 last
    expect(groups(planShards(sizes([9, 12, 3, 12]), 10))).toEqual([[1], [0], [3], [2]]);
  });

  it('one shard → model.safetensors; nothing → no shards', () => {
    const p = planShards(sizes([1, 2, 3]), 10);
    expect(p.shards).toEqual([{ file: 'model.safetensors', tensors: ['t0', 't1', 't2'], bytes: 6 }]);
    expect(planShards([], 10)).toEqual({ shards: [], weightMap: new Map(), totalSize: 0 });
  });

  it('gives the published shard counts of gemma-2 (5 GB cap): 2b f32 3, 2b-it bf16 2, 9b f32 8, 9b-it bf16 4', () => {
    const plan = (cfg: Gemma2Config, dtype: Dtype) => planShards(expectedTensors(cfg).map((t) => ({ name: t.name, nbytes: tensorNbytes(dtype, t.shape) as number })));
    const twoB = plan(config('gemma-2-2b.config.json'), 'F32');
    expect([twoB.shards.length, twoB.totalSize]).toEqual([3, 10_457_367_552]);
    const twoBit = plan(config('gemma-2-2b-it.config.json'), 'BF16');
    expect([twoBit.shards.length, twoBit.totalSize]).toEqual([2, 5_228_683_776]);
    expect(plan(config('gemma-2-9b-it.config.json'), 'F32').shards.length).toBe(8);
    const nineBit = plan(config('gemma-2-9b-it.config.json'), 'BF16');
    expect([nineBit.shards.length, nineBit.totalSize]).toEqual([4, 18_483_411_968]);
    for (const s of [...twoB.shards, ...nineBit.shards]) expect(s.bytes).toBeLessThanOrEqual(5_000_000_000);
  });
});

describe('the index: writeShardIndex / parseShardIndex', () => {
  it("writes exactly Python's json.dumps(index, indent=2, sort_keys=True) + '\\n'", () => {
    // /usr/bin/python3: json.dumps({"metadata": {"total_size": 10457367552}, "weight_map": wm}, indent=2, sort_keys=True) + "\n"
    const wm = new Map([
      ['model.layers.9.w', 'model-00001-of-00002.safetensors'],
      ['model.layers.10.w', 'model-00002-of-00002.safetensors'],
      ['10', 'model-00001-of-00002.safetensors'],
      ['2', 'model-00001-of-00002.safetensors'],
      ['\u00e9\u{1F600}\uff01', 'model-00002-of-00002.safetensors'],
      ['q"\\\t\x7f', 'model-00002-of-00002.safetensors'],
    ]);
    const python =
      '{\n  "metadata": {\n    "total_size": 10457367552\n  },\n  "weight_map": {\n    "10": "model-00001-of-00002.safetensors",\n    "2": "model-00001-of-00002.safetensors",\n    "model.layers.10.w": "model-00002-of-00002.safetensors",\n    "model.layers.9.w": "model-00001-of-00002.safetensors",\n    "q\\"\\\\\\t\\u007f": "model-00002-of-00002.safetensors",\n    "\\u00e9\\ud83d\\ude00\\uff01": "model-00002-of-00002.safetensors"\n  }\n}\n';
    expect(writeShardIndex(10_457_367_552, wm)).toBe(python);
    expect(writeShardIndex(0, new Map())).toBe('{\n  "metadata": {\n    "total_size": 0\n  },\n  "weight_map": {}\n}\n');
    const back = parseShardIndex(python);
    expect(back.weightMap).toEqual(wm);
    expect(back.totalSize).toBe(10_457_367_552);
  });

  it('ignores unknown keys; accepts parsed JSON; metadata and total_size are optional', () => {
    const idx = parseShardIndex({ metadata: { total_size: 8, total_parameters: 2 }, weight_map: { w: 'model.safetensors' }, extra: true }, 'dir/index.json');
    expect(idx).toEqual({ file: 'dir/index.json', totalSize: 8, weightMap: new Map([['w', 'model.safetensors']]), metadata: { total_size: 8, total_parameters: 2 } });
    expect(parseShardIndex('{"weight_map": {}}').totalSize).toBeNull();
  });

  it('malformed indexes (one message each)', () => {
    const I = INDEX_FILE;
    expectLoadError(() => parseShardIndex('{"weight_map": '), I, 'is not valid JSON (');
    expectLoadError(() => parseShardIndex('[1]'), I, 'is not a JSON object (found [1])');
    expectLoadError(() => parseShardIndex('{"metadata": {}}'), `${I}, key 'weight_map'`, 'must be an object mapping tensor names to shard files, found nothing');
    expectLoadError(() => parseShardIndex({ weight_map: ['a'] }), `${I}, key 'weight_map'`, 'found ["a"]');
    expectLoadError(() => parseShardIndex({ weight_map: { w: 3 } }), `${I}, tensor 'w'`, 'weight_map must name a .safetensors file, found 3');
    const bin = expectLoadError(() => parseShardIndex({ weight_map: { w: 'pytorch_model-00001-of-00002.bin' } }), `${I}, tensor 'w'`, 'found "pytorch_model-00001-of-00002.bin"');
    expect(bin.hint).toContain('PyTorch .bin checkpoint');
    expectLoadError(() => parseShardIndex({ metadata: [], weight_map: {} }), `${I}, key 'metadata'`, 'must be an object, found []');
    expectLoadError(() => parseShardIndex({ metadata: { total_size: '10' }, weight_map: {} }), `${I}, key 'metadata.total_size'`, 'must be a non-negative integer (bytes), found "10"');
    expectLoadError(() => parseShardIndex({ metadata: { total_size: -1 }, weight_map: {} }), `${I}, key 'metadata.total_size'`, 'found -1');
    const deep = `{"weight_map": {"w": ${'['.repeat(50_000)}${']'.repeat(50_000)}}}`;
    expectLoadError(() => parseShardIndex(deep), I, 'it nests objects/arrays 50002 levels deep (more than 64');
    expectLoadError(
      () => parseShardIndex('{"weight_map": {"w": "model-00001-of-00002.safetensors", "w": "model-00002-of-00002.safetensors"}}'),
      `${I}, key 'w'`, 'appears twice in "weight_map"',
    );
  });
});

describe('validateCheckpoint', () => {
  // A tiny Gemma-2: V 16, C 8, FF 12, L 2, NH 2, KVH 1, HD 6 (so q is [12, 8], k/v [6, 8], o [8, 12]).
  const cfg = parseGemma2Config({ model_type: 'gemma2', vocab_size: 16, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 6, torch_dtype: null });
  const expected = expectedTensors(cfg);
  type Spec = { name: string; shape: number[]; dtype?: Dtype };

  /** A parsed header of a file holding these tensors (F32 unless said). */
  function shard(file: string, specs: Spec[]): SafetensorsHeader {
    const bytes = writeSafetensors(specs.map((s) => {
      const dtype = s.dtype ?? 'F32';
      return { name: s.name, dtype, shape: s.shape, data: new Uint8Array(tensorNbytes(dtype, s.shape) as number) };
    }));
    return parseSafetensorsHeader(bytes, bytes.length, file);
  }
  const all = (patch: (s: Spec) => Spec = (s) => s): Spec[] => expected.map((e) => patch({ ...e }));
  const without = (name: string) => expected.filter((e) => e.name !== name);

  /** The tiny checkpoint split into shards of ≤ 2000 bytes, with its index. */
  function sharded(): { headers: SafetensorsHeader[]; index: ShardIndex } {
    const plan = planShards(expected.map((e) => ({ name: e.name, nbytes: tensorNbytes('F32', e.shape) as number })), 2000);
    const headers = plan.shards.map((s) => shard(s.file, s.tensors.map((n) => expected.find((e) => e.name === n)!)));
    return { headers, index: parseShardIndex(writeShardIndex(plan.totalSize, plan.weightMap)) };
  }

  it('a complete single file: every tensor located, nothing ignored or unknown', () => {
    const h = shard('model.safetensors', all());
    const r = validateCheckpoint(cfg, [h]);
    expect(r.tensors.map((t) => t.name)).toEqual(expected.map((e) => e.name));
    expect(r.tensors).toHaveLength(1 + 11 * 2 + 1);
    const q = r.tensors.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight')!;
    const hq = h.tensors.find((t) => t.name === q.name)!;
    expect(q).toEqual({ name: q.name, shape: [12, 8], dtype: 'F32', file: 'model.safetensors', offset: h.dataStart + hq.begin, nbytes: 12 * 8 * 4 });
    expect([r.ignored, r.unknown, r.warnings]).toEqual([[], [], []]);
    expect(r.totalBytes).toBe(h.dataSize);
  });

  it('a sharded checkpoint with its index', () => {
    const { headers, index } = sharded();
    expect(headers.length).toBeGreaterThan(2);
    const r = validateCheckpoint(cfg, headers, index);
    for (const t of r.tensors) expect(t.file).toBe(index.weightMap.get(t.name));
    expect(r.warnings).toEqual([]);
  });

  it('tolerates lm_head.weight (ignored) and reports unknown tensors (not an error)', () => {
    const r = validateCheckpoint(cfg, [shard('model.safetensors', [...all(), { name: 'lm_head.weight', shape: [16, 8] }, { name: 'score.weight', shape: [2, 8] }])]);
    expect(r.ignored).toEqual(['lm_head.weight']);
    expect(r.unknown).toEqual(['score.weight']);
    expect(r.warnings).toEqual([
      "lm_head.weight is ignored: Gemma-2's output matrix is model.embed_tokens.weight (tied)",
      "1 tensors are not part of Gemma-2 and are not loaded: 'score.weight'",
    ]);
    expect(r.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
  });

  it('BF16 and F16 load; a mismatch with config.json torch_dtype is a warning', () => {
    const mixed = all((s) => ({ ...s, dtype: s.name.includes('norm') ? 'F16' : 'BF16' }));
    expect(validateCheckpoint(cfg, [shard('model.safetensors', mixed)]).warnings).toEqual([]);
    const f32cfg = { ...cfg, dtype: 'float32' as const };
    expect(validateCheckpoint(f32cfg, [shard('model.safetensors', mixed)]).warnings).toEqual([
      'config.json says the weights are float32 but the tensors are stored as BF16 and F16 (each tensor\'s own dtype is used)',
    ]);
  });

  it('missing tensors are named (first five, then a count)', () => {
    expectLoadError(() => validateCheckpoint(cfg, [shard('model.safetensors', without('model.layers.1.mlp.up_proj.weight'))]), 'model.safetensors', "1 of the 24 tensors a Gemma-2 with 2 layers needs is missing: 'model.layers.1.mlp.up_proj.weight'");
    const few = shard('model.safetensors', expected.slice(0, 10));
    expectLoadError(() => validateCheckpoint(cfg, [few]), 'model.safetensors', '14 of the 24 tensors', "'model.layers.0.pre_feedforward_layernorm.weight', 'model.layers.0.post_feedforward_layernorm.weight', 'model.layers.1.self_attn.q_proj.weight'", '(and 9 more)');
    expectLoadError(() => validateCheckpoint(cfg, [few, shard('b.safetensors', [])]), 'the 2 safetensors files', '14 of the 24 tensors');
  });

  it('a wrong shape names tensor, file, actual and expected shapes and the config fields', () => {
    const bad = all((s) => (s.name === 'model.layers.1.self_attn.q_proj.weight' ? { ...s, shape: [8, 12] } : s));
    expectLoadError(
      () => validateCheckpoint(cfg, [shard('model.safetensors', bad)]),
      "model.safetensors, tensor 'model.layers.1.self_attn.q_proj.weight'",
      'has shape [8, 12] but config.json (num_attention_heads 2 × head_dim 6, hidden_size 8) expects [12, 8]',
    );
    const vec = all((s) => (s.name === 'model.norm.weight' ? { ...s, shape: [1, 8] } : s));
    expectLoadError(() => validateCheckpoint(cfg, [shard('model.safetensors', vec)]), "model.safetensors, tensor 'model.norm.weight'", 'has shape [1, 8] but config.json (hidden_size 8) expects [8]');
    const emb = all((s) => (s.name === 'model.embed_tokens.weight' ? { ...s, shape: [17, 8] } : s));
    expectLoadError(() => validateCheckpoint(cfg, [shard('model.safetensors', emb)]), "model.safetensors, tensor 'model.embed_tokens.weight'", '(vocab_size 16, hidden_size 8) expects [16, 8]');
  });

  it('dtypes other than F32 / BF16 / F16 are refused', () => {
    const bad = all((s) => (s.name === 'model.layers.0.mlp.down_proj.weight' ? { ...s, dtype: 'I8' } : s));
    const e = expectLoadError(() => validateCheckpoint(cfg, [shard('model.safetensors', bad)]), "model.safetensors, tensor 'model.layers.0.mlp.down_proj.weight'", 'has dtype I8; PrefStudio loads F32, BF16, F16');
    expect(e.hint).toContain('quantized');
  });

  it('a tensor stored in two files', () => {
    const a = shard('a.safetensors', all());
    const b = shard('b.safetensors', [{ name: 'model.norm.weight', shape: [8] }]);
    expectLoadError(() => validateCheckpoint(cfg, [a, b]), "b.safetensors, tensor 'model.norm.weight'", 'is also in a.safetensors; a checkpoint stores each tensor once');
  });

  it('the same file given twice', () => {
    const a = shard('model.safetensors', all());
    expectLoadError(() => validateCheckpoint(cfg, [a, a]), 'model.safetensors', 'was given twice');
  });

  it('index: a missing shard names the shard and the index', () => {
    const { headers, index } = sharded();
    const e = expectLoadError(() => validateCheckpoint(cfg, [headers[0], ...headers.slice(2)], index), INDEX_FILE, `names shard '${headers[1].file}' (holding e.g. '`, 'which was not provided');
    expect(e.hint).toContain(`add every shard listed in ${INDEX_FILE} (${headers.length} files)`);
    expectLoadError(() => validateCheckpoint(cfg, [headers[0]], index), INDEX_FILE, `names shards '${headers[1].file}', '${headers[2].file}'`, 'which were not provided');
  });

  it('index: weight_map points at a file without that tensor', () => {
    const { headers, index } = sharded();
    const moved = new Map(index.weightMap);
    moved.set('model.norm.weight', headers[0].file);
    const idx = parseShardIndex(writeShardIndex(index.totalSize!, moved));
    expectLoadError(() => validateCheckpoint(cfg, headers, idx), `${headers[0].file}, tensor 'model.norm.weight'`, `${INDEX_FILE} places this tensor in ${headers[0].file}, which does not contain it`);
  });

  it('index: total_size must equal the data bytes of the shards', () => {
    const { headers, index } = sharded();
    const idx = parseShardIndex(writeShardIndex(index.totalSize! + 4, index.weightMap));
    expectLoadError(() => validateCheckpoint(cfg, headers, idx), `${INDEX_FILE}, key 'metadata.total_size'`, `says ${index.totalSize! + 4} bytes of tensor data but the shards hold ${index.totalSize!}`);
  });

  it('index: files it does not name are ignored, tensors it does not list are reported', () => {
    const { headers, index } = sharded();
    const stray = shard('old.safetensors', all()); // would duplicate every tensor if it were used
    const extra = shard(headers[0].file, [...headers[0].tensors.map((t) => ({ name: t.name, shape: t.shape })), { name: 'extra.bias', shape: [3] }]);
    const idx = { ...index, totalSize: null };
    const r = validateCheckpoint(cfg, [extra, ...headers.slice(1), stray], idx);
    expect(r.unknown).toEqual(['extra.bias']);
    expect(r.warnings).toContain(`old.safetensors is not named in ${INDEX_FILE}; ignored`);
    expect(r.warnings).toContain(`${headers[0].file}: tensor 'extra.bias' is not listed in ${INDEX_FILE}`);
  });

  it('no index: a gap in model-0000i-of-0000K names the missing shards', () => {
    const { headers } = sharded();
    const K = headers.length;
    const e = expectLoadError(() => validateCheckpoint(cfg, [headers[0], headers[K - 1]]), headers[0].file, `is shard 1 of ${K}, but 'model-00002-of-0000${K}.safetensors'`);
    expect(e.hint).toBe(`add all ${K} shards (and ${INDEX_FILE})`);
    expect(validateCheckpoint(cfg, headers).tensors).toHaveLength(24); // all shards, no index: fine
  });
});
