// `prefstudio train` prints the memory planner's figure before any weights load and refuses a run
// that cannot fit the adapter, saying what to change. The checkpoint is gemma-2-2b-it's config with
// a sparse model.safetensors (a valid header; the data is never read), so the run is refused before
// a byte of it would be uploaded: 64 pairs of 1000 tokens need [128000, 9216] f32 activations
// (4.4 GiB), over any adapter's per-buffer limit.
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, ftruncateSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedTensors, parseGemma2Config } from '../src/engine/model/config.ts';

const root = join(import.meta.dirname, '..');

/** A checkpoint folder whose model.safetensors has a full bf16 header and sparse (unwritten) data. */
function sparseCheckpoint(dir: string, configFile: string): void {
  copyFileSync(configFile, join(dir, 'config.json'));
  const cfg = parseGemma2Config(JSON.parse(String(spawnSync('cat', [configFile]).stdout)), configFile);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of expectedTensors(cfg)) {
    const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  writeSync(fd, len);
  writeSync(fd, json);
  ftruncateSync(fd, 8 + json.length + offset); // sparse: the 5.2 GB of weights take no disk
  closeSync(fd);
}

describe('prefstudio train: the memory plan', () => {
  it('is printed before any weights load, and a run that cannot fit is refused with what to change', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prefstudio-memory-'));
    const model = join(dir, 'model');
    spawnSync('mkdir', [model]);
    sparseCheckpoint(model, join(root, 'e2e/fixtures/configs/gemma-2-2b-it.config.json'));
    const ids = (n: number, k: number): number[] => Array.from({ length: n }, (_, i) => 3 + ((i * 7 + k) % 5000));
    writeFileSync(join(dir, 'pairs.jsonl'), Array.from({ length: 64 }, (_, k) => JSON.stringify({ prompt: ids(500, k), chosen: ids(500, k + 1), rejected: ids(500, k + 2) })).join('\n'));
    const r = spawnSync(process.execPath, [join(root, 'bin', 'prefstudio.mjs'), 'train', '--model', model, '--data', join(dir, 'pairs.jsonl'), '--use_peft', '--per_device_train_batch_size', '64', '--max_length', '1000', '--max_prompt_length', '500', '--max_steps', '1', '--out', join(dir, 'out'), '--cache_dir', join(dir, 'cache')], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/memory: about [\d.]+ GiB of GPU memory for 128 sequences × 1000 tokens \(activations [\d.]+ GiB, .*frozen weights 4\.87 GiB/);
    expect(r.stderr).toMatch(/memory: this run does not fit the adapter: gate_proj\.base of 128 sequences × 1000 tokens takes 4\.39 GiB, over this adapter's [\d.]+ [GM]iB per buffer/);
    expect(r.stderr).toMatch(/HINT: change, in this order until it fits: at most \d+ tokens per micro-batch: --per_device_train_batch_size \d+ .* or --max_length \d+/);
    expect(r.stderr).not.toMatch(/loading weights/);
  }, 300_000);
});
