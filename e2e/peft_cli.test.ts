// `prefstudio export` and `--adapter` on logps / generate, as a user runs them, on the built-in demo
// (a bf16 Gemma-2 with a tokenizer) and a PEFT adapter folder made here with random factors:
// - export --adapter --dtype f32 writes base + (α/r)·B·A for every targeted weight (checked against a
//   float64 product computed here) and every other tensor exactly as the base's values;
// - logps --adapter (the LoRA branch in the forward) ≈ logps of the merged folder (≤ 1e-5), and the
//   adapter changes the log-probs; generate --adapter gives the merged folder's greedy text (with an
//   adapter strong enough to change it);
// - train --use_peft writes OUT/adapter/ and OUT/final/ (= export of that adapter, byte for byte), and
//   train --adapter continues an adapter;
// - export without --dtype keeps BF16 (the rounded merged weights) and shards above --max_shard_size;
// - mistakes fail with the file, key or flag named.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGemma2Config } from '../src/engine/model/config.ts';
import { writeCheckpointDir } from '../src/engine/model/export_node.ts';
import { checkpointWeights, openCheckpoint } from '../src/engine/model/load.ts';
import { loraScale, targetFeatures, type LoraConfig } from '../src/engine/model/lora.ts';
import { baseWeightName, encodePeftAdapter, type HostLoraAdapter } from '../src/engine/model/peft.ts';
import { toFloat32 } from '../src/engine/model/safetensors.ts';
import { sourceFromDirectory } from '../src/engine/store/kv_node.ts';
import { f32ToBf16Bits } from '../src/engine/util/halfs.ts';
import { expectClose } from './gpu/harness.ts';

const root = join(import.meta.dirname, '..');
const demo = join(root, 'public', 'demo', 'model');
let pairs: string; // three of the demo's samples as chat messages
let dir: string;
let adapterDir: string;
let strongDir: string; // the same factors with B × 20: enough to change the demo's greedy answer
let host: HostLoraAdapter;

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'prefstudio.mjs'), ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Every tensor of a checkpoint folder: dtype and f32 values. */
async function tensorsOf(folder: string): Promise<Map<string, { dtype: string; values: Float32Array; raw: Uint8Array }>> {
  const w = checkpointWeights(await openCheckpoint(await sourceFromDirectory(folder)));
  const raw = w.tensors.map((t) => new Uint8Array(t.nbytes));
  for await (const p of w.read()) raw[p.tensor].set(p.bytes, p.offset);
  return new Map(w.tensors.map((t, k) => [t.name, { dtype: t.dtype, values: toFloat32(t.dtype, raw[k]), raw: raw[k] }]));
}

interface Side { logp: number; token_logps: number[] }
const logpsOf = (r: { stdout: string }) => (JSON.parse(r.stdout) as { pairs: { chosen: Side; rejected: Side }[] }).pairs.flatMap((p) => [p.chosen, p.rejected]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prefstudio-peft-cli-'));
  adapterDir = join(dir, 'adapter');
  const samples = (JSON.parse(readFileSync(join(root, 'public', 'demo', 'samples.json'), 'utf8')) as { samples: { prompt: string; chosen: string; rejected: string }[] }).samples.slice(0, 3);
  pairs = join(dir, 'pairs.json');
  writeFileSync(pairs, JSON.stringify({ pairs: samples.map((x) => ({ prompt: [{ role: 'user', content: x.prompt }], chosen: [{ role: 'assistant', content: x.chosen }], rejected: [{ role: 'assistant', content: x.rejected }] })) }));
  const cfg = parseGemma2Config(JSON.parse(readFileSync(join(demo, 'config.json'), 'utf8')), 'config.json');
  const config: LoraConfig = { r: 4, alpha: 16, dropout: 0.1, targets: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'], useRslora: false };
  let s = 12345;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  host = {
    config,
    layers: Array.from({ length: cfg.L }, () => Object.fromEntries(config.targets.map((t) => {
      const sh = targetFeatures(cfg, t);
      return [t, { A: Float32Array.from({ length: config.r * sh.inF }, () => rnd() / Math.sqrt(sh.inF)), B: Float32Array.from({ length: sh.outF * config.r }, () => rnd() * 0.05) }];
    }))),
  };
  await writeCheckpointDir(adapterDir, encodePeftAdapter(host, { baseModel: demo }));
  strongDir = join(dir, 'strong');
  const strong = { config, layers: host.layers.map((l) => Object.fromEntries(Object.entries(l).map(([t, f]) => [t, { A: f.A, B: f.B.map((v) => v * 20) }]))) };
  await writeCheckpointDir(strongDir, encodePeftAdapter(strong));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prefstudio export / --adapter', () => {
  it('export --adapter --dtype f32 = base + (α/r)·B·A; logps --adapter ≈ logps of the merged folder; generate --adapter = the merged greedy text', async () => {
    const merged = join(dir, 'merged');
    const ex = cli('export', '--model', demo, '--adapter', adapterDir, '--out', merged, '--dtype', 'f32');
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stderr).toMatch(/adapter: .* \(LoRA r 4, alpha 16, q_proj, v_proj, o_proj, up_proj, down_proj\)/);
    expect(ex.stderr).toMatch(/merging: 100% \(\d+\/\d+ tensors\)/);
    expect(readdirSync(merged).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8')).torch_dtype).toBe('float32');

    const base = await tensorsOf(demo);
    const got = await tensorsOf(merged);
    const scale = loraScale(host.config);
    expect(scale).toBe(4);
    const cfg = parseGemma2Config(JSON.parse(readFileSync(join(demo, 'config.json'), 'utf8')), 'config.json');
    const targeted = new Set<string>();
    host.layers.forEach((layer, i) => {
      for (const [t, f] of Object.entries(layer) as [keyof typeof layer, { A: Float32Array; B: Float32Array }][]) {
        const name = baseWeightName(i, t);
        targeted.add(name);
        const { outF: out, inF: inn } = targetFeatures(cfg, t);
        const W = base.get(name)!.values;
        const v = got.get(name)!.values;
        let worst = 0;
        for (let o = 0; o < out; o++) {
          for (let c = 0; c < inn; c++) {
            let d = 0;
            for (let k = 0; k < host.config.r; k++) d += f.B[o * host.config.r + k] * f.A[k * inn + c];
            const want = W[o * inn + c] + scale * d; // float64
            worst = Math.max(worst, Math.abs(v[o * inn + c] - want) / Math.max(Math.abs(want), 2 ** -126));
          }
        }
        expect(worst, name).toBeLessThanOrEqual(2 ** -24); // one f32 rounding of the float64 value
      }
    });
    expect(targeted.size).toBe(cfg.L * 5);
    for (const [name, t] of got) if (!targeted.has(name)) expect(Array.from(t.values), name).toEqual(Array.from(base.get(name)!.values));

    const live = cli('logps', '--model', demo, '--adapter', adapterDir, '--pairs', pairs);
    expect(live.code, live.stderr).toBe(0);
    const viaMerged = cli('logps', '--model', merged, '--pairs', pairs);
    expect(viaMerged.code, viaMerged.stderr).toBe(0);
    const plain = cli('logps', '--model', demo, '--pairs', pairs);
    const a = logpsOf(live);
    const b = logpsOf(viaMerged);
    a.forEach((s, k) => {
      expectClose([s.logp], [b[k].logp], { atol: 1e-5, rtol: 1e-5 }, `sequence ${k} logp`);
      expectClose(s.token_logps, b[k].token_logps, { atol: 1e-5, rtol: 1e-5 }, `sequence ${k} token_logps`);
    });
    const moved = Math.max(...logpsOf(plain).map((s, k) => Math.abs(s.logp - a[k].logp)));
    expect(moved, 'the adapter changes the log-probs').toBeGreaterThan(1e-3);

    const strongMerged = join(dir, 'strong-merged');
    expect(cli('export', '--model', demo, '--adapter', strongDir, '--out', strongMerged, '--dtype', 'f32').code).toBe(0);
    const gen = (...model: string[]) => cli('generate', ...model, '--prompt', 'What is 5 plus 11?', '--max_new_tokens', '12');
    const g0 = gen('--model', demo);
    const g1 = gen('--model', demo, '--adapter', strongDir);
    const g2 = gen('--model', strongMerged);
    for (const g of [g0, g1, g2]) expect(g.code, g.stderr).toBe(0);
    expect(g2.stdout, 'the strong adapter changes the greedy answer').not.toBe(g0.stdout);
    expect(g1.stdout).toBe(g2.stdout);
  });

  it('export keeps BF16 (the rounded merged weights, bit for bit) and shards above --max_shard_size with an index', async () => {
    const f32 = join(dir, 'merged-f32');
    expect(cli('export', '--model', demo, '--adapter', adapterDir, '--out', f32, '--dtype', 'f32').code).toBe(0);
    const bf = join(dir, 'merged-bf16');
    const r = cli('export', '--model', demo, '--adapter', adapterDir, '--out', bf, '--max_shard_size', '0.5MB');
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(bf);
    expect(files).toContain('model.safetensors.index.json');
    const shards = files.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(1);
    for (const s of shards) expect(s).toMatch(new RegExp(`^model-\\d{5}-of-${String(shards.length).padStart(5, '0')}\\.safetensors$`));
    const index = JSON.parse(readFileSync(join(bf, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const wf = await tensorsOf(f32);
    expect(Object.keys(index.weight_map).sort()).toEqual([...wf.keys()].sort());
    const wb = await tensorsOf(bf);
    for (const [name, t] of wb) {
      expect(t.dtype, name).toBe('BF16');
      expect(Buffer.compare(Buffer.from(t.raw), Buffer.from(f32ToBf16Bits(wf.get(name)!.values).buffer)), name).toBe(0);
    }
  });

  it('mistakes are named: --out = --model, a bad size, an adapter for another model, a missing folder', async () => {
    const same = cli('export', '--model', demo, '--out', demo);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--out .* is the --model folder/);
    const size = cli('export', '--model', demo, '--out', join(dir, 'x'), '--max_shard_size', '5 parsecs');
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/--max_shard_size '5 parsecs' is not a size/);
    const other = cli('logps', '--model', join(root, 'e2e', 'fixtures', 'checkpoints', 'tiny-bf16-3shard'), '--adapter', adapterDir, '--pairs', pairs);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/adapter_model\.safetensors, tensor 'base_model\.model\.model\.layers\.\d\.\w+\.\w+\.lora_[AB]\.weight'/);
    const none = join(dir, 'empty');
    writeFileSync(join(dir, 'note.txt'), 'x');
    const missing = cli('export', '--model', demo, '--adapter', dir, '--out', none);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/needs adapter_config\.json and adapter_model\.safetensors/);
  });
  it('train --use_peft writes OUT/adapter/ (PEFT files) and OUT/final/ (= export of that adapter, byte for byte); train --adapter continues it (lr 0: the same factors)', async () => {
    const data = join(root, 'public', 'demo', 'preferences', 'train.jsonl');
    const run = join(dir, 'run');
    const common = ['--model', demo, '--data', data, '--use_peft', '--lora_r', '4', '--lora_target_modules', 'q_proj,v_proj', '--max_steps', '2', '--per_device_train_batch_size', '2', '--loss_type', 'simpo', '--cache_dir', join(dir, 'cache')];
    const t = cli('train', ...common, '--learning_rate', '1e-2', '--out', run);
    expect(t.code, t.stderr).toBe(0);
    expect(readdirSync(join(run, 'adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const cfgJson = JSON.parse(readFileSync(join(run, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfgJson).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 32, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: demo });
    // final/ is the base with that adapter merged, in the input's dtypes: what export writes
    const again = join(dir, 'final-again');
    expect(cli('export', '--model', demo, '--adapter', join(run, 'adapter'), '--out', again).code).toBe(0);
    const finalFiles = readdirSync(join(run, 'final')).sort();
    expect(finalFiles).toEqual(readdirSync(again).sort());
    for (const f of finalFiles) expect(Buffer.compare(readFileSync(join(run, 'final', f)), readFileSync(join(again, f))), `final/${f}`).toBe(0);
    const trained = await tensorsOf(join(run, 'final'));
    const base = await tensorsOf(demo);
    expect(Buffer.compare(Buffer.from(trained.get('model.layers.0.self_attn.q_proj.weight')!.raw), Buffer.from(base.get('model.layers.0.self_attn.q_proj.weight')!.raw)), 'training moved q_proj').not.toBe(0);
    expect(Buffer.compare(Buffer.from(trained.get('model.layers.0.self_attn.k_proj.weight')!.raw), Buffer.from(base.get('model.layers.0.self_attn.k_proj.weight')!.raw)), 'k_proj is not adapted').toBe(0);

    const cont = join(dir, 'run2');
    const c = cli('train', ...common, '--adapter', join(run, 'adapter'), '--learning_rate', '0', '--out', cont);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/adapter: .*run\/adapter \(LoRA r 4, alpha 32, q_proj, v_proj\)/);
    expect(Buffer.compare(readFileSync(join(cont, 'adapter', 'adapter_model.safetensors')), readFileSync(join(run, 'adapter', 'adapter_model.safetensors')))).toBe(0);
    const noPeft = cli('train', '--model', demo, '--data', data, '--adapter', join(run, 'adapter'), '--out', join(dir, 'run3'));
    expect(noPeft.code).toBe(2);
    expect(noPeft.stderr).toMatch(/--adapter .* --use_peft/);
  });
});
