// Gradient checkpointing on the whole model (--gradient_checkpointing; src/engine/recompute.ts,
// used by gemma2.ts forwardHidden per layer): one training step on the built-in demo with and
// without it, full fine-tuning and LoRA with dropout 0.1 (its masks are seeded when the forward
// starts, so the re-run draws the same ones). Every gradient must be bitwise equal, and the pool's
// peak lower with recomputation. Each run gets a fresh engine, so the peaks are comparable.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/args.ts';
import { lossConfigFromFlags } from '../../src/cli/flags.ts';
import { loadExamples, openModelFolder, uploadModel } from '../../src/cli/model.ts';
import { createAdapter, LORA_DEFAULTS, type LoraConfig } from '../../src/engine/model/lora.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { TRAIN_DEFAULTS, Trainer } from '../../src/engine/train/trainer.ts';
import { Rng } from '../../src/engine/util/rng.ts';

const root = join(import.meta.dirname, '..', '..');
const quiet: CliIO = { stdout: () => {}, log: () => {} };

interface Run {
  grads: Map<string, Uint8Array>;
  peak: number;
}

async function oneStep(checkpointing: boolean, lora: LoraConfig | null): Promise<Run> {
  const opened = await openModelFolder(join(root, 'public/demo/model'), quiet);
  const loss = lossConfigFromFlags({ loss_type: ['sigmoid'] });
  const examples = (await loadExamples(opened, join(root, 'public/demo/preferences/train.jsonl'), loss, {}, quiet)).examples.slice(0, 8);
  const e = await createNodeEngine();
  try {
    const m = await uploadModel(opened, quiet, { trainable: lora === null, engine: e });
    if (lora) {
      m.params.adapter = createAdapter(e, m.dims, lora, 5);
      // B starts at zero (no gradient reaches A then): give it values, the same in every run
      const rng = new Rng(9);
      for (const layer of m.params.adapter.layers) for (const f of Object.values(layer)) f.B.write(Float32Array.from(rng.normals(f.B.size, 0.05)));
    }
    const reference = new Float32Array(2 * examples.length); // any fixed reference will do
    const trainer = new Trainer(e, m.dims, m.params, examples, reference, { ...TRAIN_DEFAULTS, loss, batchSize: 8, maxSteps: 1, learningRate: 0, shuffle: false, seed: 3, gradientCheckpointing: checkpointing });
    const grads = new Map<string, Uint8Array>();
    await trainer.trainStep({
      beforeUpdate: async () => {
        const named = trainer.namedParams;
        const host = await e.readMany(named.map(([name, t]) => {
          if (!t.grad) throw new Error(`${name} got no gradient (checkpointing ${checkpointing})`);
          return t.grad;
        }));
        named.forEach(([name], i) => grads.set(name, new Uint8Array(host[i].buffer, host[i].byteOffset, host[i].byteLength).slice()));
      },
    });
    const peak = e.pool.getStats().peak;
    trainer.dispose();
    m.dispose();
    return { grads, peak };
  } finally {
    e.destroy();
  }
}

describe('gradient checkpointing on the demo model', () => {
  for (const lora of [null, { ...LORA_DEFAULTS, r: 8, alpha: 16, dropout: 0.1 }]) {
    it(`${lora ? 'LoRA r 8, dropout 0.1' : 'full fine-tuning'}: every gradient bitwise equal with and without, and a lower pool peak`, async () => {
      const plain = await oneStep(false, lora);
      const ckpt = await oneStep(true, lora);
      expect([...ckpt.grads.keys()]).toEqual([...plain.grads.keys()]);
      let nonzero = 0;
      for (const [name, g] of plain.grads) {
        const c = ckpt.grads.get(name)!;
        const same = g.length === c.length && g.every((b, i) => b === c[i]);
        expect(same, `${name}: gradient with checkpointing differs from the plain one`).toBe(true);
        if (new Float32Array(g.buffer).some((x) => x !== 0)) nonzero++;
      }
      expect(nonzero, 'tensors with a nonzero gradient').toBeGreaterThan(plain.grads.size / 2);
      console.log(`[checkpointing] ${lora ? 'LoRA' : 'full'}: pool peak ${(plain.peak / 2 ** 20).toFixed(1)} MiB plain, ${(ckpt.peak / 2 ** 20).toFixed(1)} MiB with checkpointing`);
      expect(ckpt.peak).toBeLessThan(plain.peak);
    }, 600_000);
  }
});
