// Export on a real adapter, as the trainer does it at the end of a run: a model on the GPU (its
// embedding split into row parts) → readParamsF32 → encodeCheckpoint → writeCheckpointDir → the
// folder loaded back by the loader (loadGemma2 over checkpointWeights, the CLI's path). F32 comes
// back bit for bit and gives bit-identical log-probs; BF16 comes back as the round-to-nearest-even
// values of the exported f32 ones (checked against the float64 reference decoder of the nearest
// pattern), sharded, with the input's names.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { sequenceLogprobs } from '../../src/engine/model/gemma2.ts';
import { shiftLabels } from '../../src/engine/train/sequences.ts';
import { checkpointInfo, encodeCheckpoint, readParamsF32 } from '../../src/engine/model/export.ts';
import { writeCheckpointDir } from '../../src/engine/model/export_node.ts';
import { checkpointWeights, loadGemma2, openCheckpoint, type LoadedGemma2, type LoadOptions } from '../../src/engine/model/load.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { bf16BitsToF32 } from '../../src/engine/reference/convert.ts';
import { sourceFromDirectory } from '../../src/engine/store/kv_node.ts';
import { isRowSplit } from '../../src/engine/table.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'checkpoints');
const EMBED = 'model.embed_tokens.weight';
let e: Engine;
const dirs: string[] = [];
beforeAll(async () => {
  e = await createNodeEngine();
});
afterAll(() => {
  e?.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const loadDir = async (dir: string, opts?: LoadOptions): Promise<LoadedGemma2> => loadGemma2(e, checkpointWeights(await openCheckpoint(await sourceFromDirectory(dir))), opts);

/** Σ completion log-probs per row of a fixed batch: the model's output as numbers. */
async function logps(m: LoadedGemma2): Promise<Float32Array> {
  const V = m.cfg.V;
  const ids = Int32Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % V);
  const { logp, lse, lsp2 } = e.noGrad(() => sequenceLogprobs(e, m.dims, m.params, { B: 2, T: 8, ids }, shiftLabels(ids, Int32Array.from(ids, (_, i) => (i % 8 >= 3 ? 1 : 0)), 2, 8).labels));
  const out = await logp.readF32();
  [logp, lse, lsp2].forEach((t) => t.dispose());
  return out;
}

describe('export from the GPU → folder → loader', () => {
  it('f32: the same tensors bit for bit and the same log-probs; bf16: nearest-even values, sharded', async () => {
    const src = join(FIXTURES, 'tiny-bf16-3shard');
    const ckpt = await openCheckpoint(await sourceFromDirectory(src));
    const info = await checkpointInfo(ckpt);
    // "trained": loaded trainable with the embedding in row parts, then moved off the bf16 grid
    const m = await loadGemma2(e, checkpointWeights(ckpt), { trainable: true, maxTensorBytes: (n) => (n === EMBED ? 40 * 48 * 4 : Infinity) });
    expect(isRowSplit(m.params.embed)).toBe(true);
    const host = await readParamsF32(m.params);
    expect([...host.keys()].sort()).toEqual(info.tensors.map((t) => t.name).sort());
    for (const v of host.values()) for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i] * (1 + ((i % 7) - 3) * 1e-4));
    m.dispose();

    const parent = mkdtempSync(join(tmpdir(), 'prefstudio-export-gpu-'));
    dirs.push(parent);
    const f32Dir = join(parent, 'f32');
    await writeCheckpointDir(f32Dir, encodeCheckpoint(info, host, { dtype: 'f32' }));
    const a = await loadDir(f32Dir);
    for (const [name, t] of a.tensors) {
      const got = await (isRowSplit(t) ? null : t)!.readF32();
      expect(Buffer.compare(Buffer.from(got.buffer), Buffer.from(host.get(name)!.buffer)), name).toBe(0);
    }
    // the same weights uploaded directly give the same log-probs as the exported folder
    const direct = await loadGemma2(e, checkpointWeights(ckpt));
    for (const [name, t] of direct.tensors) if (!isRowSplit(t)) e.write(t, host.get(name)!);
    expect(Array.from(await logps(a))).toEqual(Array.from(await logps(direct)));
    a.dispose();
    direct.dispose();

    const bf16Dir = join(parent, 'bf16');
    await writeCheckpointDir(bf16Dir, encodeCheckpoint(info, host, { maxShardSize: 8000 })); // input dtype: BF16
    const files = readdirSync(bf16Dir).sort();
    expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(3);
    expect(files).toContain('model.safetensors.index.json');
    const b = await loadDir(bf16Dir);
    expect([...b.tensors.keys()]).toEqual(info.tensors.map((t) => t.name));
    const table = bf16BitsToF32(Uint16Array.from({ length: 0x8000 }, (_, i) => i)); // every non-negative bf16, increasing
    const nearestEven = (x: number): number => {
      let lo = 0;
      while (lo + 1 < 0x7f80 && table[lo + 1] <= Math.abs(x)) lo++; // linear is fine: values are < 1
      const d0 = Math.abs(x) - table[lo];
      const d1 = table[lo + 1] - Math.abs(x);
      return Math.sign(x) * (d0 < d1 || (d0 === d1 && lo % 2 === 0) ? table[lo] : table[lo + 1]);
    };
    for (const name of ['model.norm.weight', 'model.layers.0.self_attn.k_proj.weight']) {
      const got = await (b.tensors.get(name) as { readF32(): Promise<Float32Array> }).readF32();
      expect(Array.from(got), name).toEqual(Array.from(host.get(name)!, nearestEven));
    }
    b.dispose();
  });
});
