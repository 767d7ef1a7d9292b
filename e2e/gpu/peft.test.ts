// LoRA adapter files on a real adapter, in one process: a live adapter (random factors on the GPU,
// B non-zero) → readAdapterF32 → encodePeftAdapter → openPeftAdapter → uploadAdapter gives
// bit-identical log-probs; the merged export (export.ts checkpointTensors, float64 merge) loaded as an
// ordinary f32 checkpoint gives the live adapter's log-probs within 1e-5, over an f32 base and over
// a frozen bf16 base (FROZEN_16BIT: the matrices stay 16-bit on the GPU, decoded in the matmul).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { sequenceLogprobs } from '../../src/engine/model/gemma2.ts';
import { checkpointInfo, checkpointTensors, encodeCheckpointStream } from '../../src/engine/model/export.ts';
import { writeCheckpointDir } from '../../src/engine/model/export_node.ts';
import { FROZEN_16BIT, checkpointWeights, loadGemma2, openCheckpoint, type LoadedGemma2, type LoadOptions } from '../../src/engine/model/load.ts';
import { disposeAdapter, targetFeatures, type LoraConfig } from '../../src/engine/model/lora.ts';
import { encodePeftAdapter, openPeftAdapter, readAdapterF32, uploadAdapter, type HostLoraAdapter } from '../../src/engine/model/peft.ts';
import { bytesReader } from '../../src/engine/model/safetensors.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { sourceFromDirectory } from '../../src/engine/store/kv_node.ts';
import { shiftLabels } from '../../src/engine/train/sequences.ts';
import { expectClose } from './harness.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'checkpoints');
let e: Engine;
let tmp: string;
beforeAll(async () => {
  e = await createNodeEngine();
  tmp = mkdtempSync(join(tmpdir(), 'prefstudio-peft-gpu-'));
});
afterAll(() => {
  e?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

const loadDir = async (dir: string, opts?: LoadOptions): Promise<LoadedGemma2> => loadGemma2(e, checkpointWeights(await openCheckpoint(await sourceFromDirectory(dir))), opts);

/** Per-position log-probs of a fixed batch (2 rows of 8 tokens, the last 5 of each scored). */
async function logps(m: LoadedGemma2): Promise<Float32Array> {
  const V = m.cfg.V;
  const ids = Int32Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % V);
  const labels = shiftLabels(ids, Int32Array.from(ids, (_, i) => (i % 8 >= 3 ? 1 : 0)), 2, 8).labels;
  const { logp, lse, lsp2 } = e.noGrad(() => sequenceLogprobs(e, m.dims, m.params, { B: 2, T: 8, ids }, labels));
  const out = await logp.readF32();
  [logp, lse, lsp2].forEach((t) => t.dispose());
  return out;
}

/** Random factors for every layer of `m` (A ~ U(±0.5/√in), B ~ U(±0.05): the adapter matters). */
function randomAdapter(m: LoadedGemma2, config: LoraConfig, seed: number): HostLoraAdapter {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  return {
    config,
    layers: Array.from({ length: m.cfg.L }, () => Object.fromEntries(config.targets.map((t) => {
      const sh = targetFeatures(m.cfg, t);
      return [t, { A: Float32Array.from({ length: config.r * sh.inF }, () => rnd() / Math.sqrt(sh.inF)), B: Float32Array.from({ length: sh.outF * config.r }, () => rnd() * 0.1) }];
    }))),
  };
}

/** Frees the model's adapter and takes it off. */
const dropAdapter = (m: LoadedGemma2): void => {
  if (m.params.adapter) disposeAdapter(m.params.adapter);
  m.params.adapter = undefined;
};

describe('PEFT adapter files on the GPU', () => {
  for (const [fixture, frozen16] of [['tiny-l3-f32-2shard', false], ['tiny-bf16-3shard', true]] as const) {
    it(`${fixture}${frozen16 ? ' (bf16 base kept 16-bit)' : ''}: written and read back = the live adapter bit for bit; the merged export ≈ the live adapter (1e-5)`, async () => {
      const dir = join(FIXTURES, fixture);
      const m = await loadDir(dir, frozen16 ? { keep16: FROZEN_16BIT } : {});
      if (frozen16) expect(m.params.layers[0].wq.dtype).toBe('bf16');
      const base = await logps(m);
      const config: LoraConfig = { r: 3, alpha: 6, dropout: 0.05, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: true };
      m.params.adapter = uploadAdapter(e, randomAdapter(m, config, 77), { trainable: true });
      const live = await logps(m);
      const moved = Math.max(...Array.from(live, (v, i) => Math.abs(v - base[i])));
      expect(moved, 'the adapter changes the log-probs').toBeGreaterThan(1e-3);

      // the files, read back from bytes, uploaded again: the same numbers bit for bit
      const host = await readAdapterF32(m.params.adapter);
      const files = encodePeftAdapter(host);
      dropAdapter(m);
      const opened = await openPeftAdapter({ name: 'adapter', files: files.map((f) => ({ name: f.path, size: f.size, read: bytesReader(f.parts[0]) })) }, m.cfg);
      m.params.adapter = uploadAdapter(e, opened.adapter);
      expect(Array.from(await logps(m))).toEqual(Array.from(live));
      dropAdapter(m);
      m.dispose();

      // merged into the checkpoint (f32 out), loaded as an ordinary model without an adapter
      const ckpt = await openCheckpoint(await sourceFromDirectory(dir));
      const out = join(tmp, `${fixture}-merged`);
      await writeCheckpointDir(out, encodeCheckpointStream(await checkpointInfo(ckpt), checkpointTensors(ckpt, opened.adapter), { dtype: 'f32' }));
      const merged = await loadDir(out);
      expectClose(Array.from(await logps(merged)), Array.from(live), { atol: 1e-5, rtol: 1e-5 }, `${fixture}: merged vs live log-probs`);
      merged.dispose();
    });
  }
});
