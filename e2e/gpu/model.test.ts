// Whole-model check: Gemma-2 on the engine against PyTorch goldens (scripts/goldens/gemma2_reference.py,
// an independent float64/float32 implementation of transformers' eager Gemma2ForCausalLM).
// For each tiny checkpoint (f32 and bf16 storage, 1–3 shards, GQA, sliding window < T, softcaps
// that bend, old and new config keys, non-default layer_types) it compares, at real positions:
//   per-token log-probs and per-sequence sums (TRL convention), logsumexp, log Σp² (WPO term), the
//   final hidden states — and the gradients of Σ completion log-probs w.r.t. every parameter.
// Each checkpoint runs twice: with the embedding as one tensor, and split into 3 ragged row parts
// (one of a single row), as the weight store loads a table over one storage binding; the split
// run's embedding gradient is reassembled from its parts and held to the same goldens.
// Tolerances: per-sequence log-probs 1e-4 relative (the bound), gradients 1e-3 of each
// tensor's max |grad|; the f32 golden differs from the f64 one by ~1e-5, so these leave margin
// for our different (but f32) summation orders.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { parseGemma2Config } from '../../src/engine/model/config.ts';
import { dimsFromConfig, LAYER_TENSORS, namedParams, tokenLogprobs, forwardHidden, type Gemma2Layer, type Gemma2Params } from '../../src/engine/model/gemma2.ts';
import { parseSafetensorsHeader, tensorBytes, toFloat32 } from '../../src/engine/model/safetensors.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { readGolden, type Golden } from '../fixtures/goldens/read.ts';
import { isRowSplit, splitRowsFromHost } from '../../src/engine/table.ts';
import type { Tensor } from '../../src/engine/tensor.ts';
import { expectClose } from './harness.ts';
import { planMemory } from '../../src/engine/model/planner.ts';

const root = join(import.meta.dirname, '..', 'fixtures');
const FIXTURES = ['tiny-f32-1shard', 'tiny-bf16-3shard', 'tiny-l3-f32-2shard'];

let e: Engine;
beforeAll(async () => {
  e = await createNodeEngine();
});
afterAll(() => e?.destroy());

/** Row bounds of the split-embedding runs: 3 ragged parts, the middle one a single row. */
const splitBounds = (V: number): number[] => [0, Math.floor(V / 2), Math.floor(V / 2) + 1, V];

/**
 * Reads every safetensors file of a checkpoint directory into f32 GPU tensors (bf16 widened
 * exactly); with `split`, the embedding becomes row parts cut at splitBounds (on the host).
 */
function loadParams(dir: string, split = false): { params: Gemma2Params; cfg: ReturnType<typeof parseGemma2Config> } {
  const cfg = parseGemma2Config(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
  const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.safetensors'))) {
    const bytes = new Uint8Array(readFileSync(join(dir, f)));
    const header = parseSafetensorsHeader(bytes, bytes.length, f);
    for (const t of header.tensors) tensors.set(t.name, { data: toFloat32(t.dtype as 'F32' | 'BF16' | 'F16', tensorBytes(bytes, header, t)), shape: [...t.shape] });
  }
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${dir}: missing ${name}`);
    return e.tensor(t.data, t.shape, { requiresGrad: true, label: name });
  };
  const layers: Gemma2Layer[] = [];
  for (let i = 0; i < cfg.L; i++) {
    layers.push(Object.fromEntries(Object.entries(LAYER_TENSORS).map(([field, name]) => [field, get(`model.layers.${i}.${name}`)])) as unknown as Gemma2Layer);
  }
  const emb = tensors.get('model.embed_tokens.weight')!;
  const embed = split ? splitRowsFromHost(e, emb.data, [cfg.V, cfg.C], splitBounds(cfg.V), { requiresGrad: true, name: 'model.embed_tokens.weight' }) : get('model.embed_tokens.weight');
  return { cfg, params: { embed, layers, finalNorm: get('model.norm.weight') } };
}

/** Every parameter's gradient by HF name; a split embedding's parts are joined back into [V, C]. */
async function gradsByName(p: Gemma2Params): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const read = async (name: string, t: Tensor): Promise<Float32Array> => {
    if (!t.grad) throw new Error(`${name} (${t.label}) received no gradient`);
    return t.grad.readF32();
  };
  for (const [name, t] of namedParams(p)) if (!name.startsWith('model.embed_tokens.weight')) out.set(name, await read(name, t));
  const E = p.embed;
  if (isRowSplit(E)) {
    const dE = new Float32Array(E.shape[0] * E.shape[1]);
    for (const part of E.parts) dE.set(await read(part.tensor.label, part.tensor), part.row0 * E.shape[1]);
    out.set('model.embed_tokens.weight', dE);
  } else {
    out.set('model.embed_tokens.weight', await read('model.embed_tokens.weight', E));
  }
  return out;
}

/** Values of a [B·T] array at positions where mask is 1. */
function at(values: ArrayLike<number>, mask: Int32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.push(values[i]);
  return out;
}

describe('Gemma-2 vs PyTorch goldens', () => {
  for (const [name, split] of FIXTURES.flatMap((n) => [[n, false], [n, true]] as const)) {
    it(`${name}${split ? ' (embedding in 3 row parts)' : ''}: log-probs, lse, log Σp², hidden states and every parameter gradient`, async () => {
      const golden: Golden = readGolden(readFileSync(join(root, 'goldens', `${name}.bin`)).buffer as ArrayBuffer, name);
      const { cfg, params } = loadParams(join(root, 'checkpoints', name), split);
      if (split) expect(namedParams(params).filter(([n]) => n.startsWith('model.embed_tokens.weight')).map(([n]) => n)).toEqual(splitBounds(cfg.V).slice(1).map((r1, i) => `model.embed_tokens.weight[${splitBounds(cfg.V)[i]}:${r1}]`));
      const d = dimsFromConfig(cfg);
      const [B, T] = golden.get('input_ids').shape;
      const ids = golden.i32('input_ids');
      const attentionMask = golden.i32('attention_mask');
      const completionMask = golden.i32('completion_mask');
      const batch = { B, T, ids, attentionMask };

      // Final hidden states (the LM-head input) at real positions.
      const hidden = e.noGrad(() => forwardHidden(e, d, params, batch));
      const hRead = await hidden.readF32();
      const C = d.C;
      const hWant = golden.f64('f32/final_norm');
      const hGot: number[] = [];
      const hRef: number[] = [];
      for (let p = 0; p < B * T; p++) {
        if (!attentionMask[p]) continue;
        for (let c = 0; c < C; c++) {
          hGot.push(hRead[p * C + c]);
          hRef.push(hWant[p * C + c]);
        }
      }
      expectClose(hGot, hRef, { atol: 2e-4, rtol: 2e-4 }, `${name} final_norm`);
      hidden.dispose();

      // Log-probs with grad, then backward of Σ completion log-probs.
      const { logp, lse, lsp2 } = tokenLogprobs(e, d, params, batch, completionMask);
      const lp = await logp.readF32();
      const labels = golden.i32('labels');
      const labelMask = Int32Array.from(labels, (l) => (l >= 0 ? 1 : 0));
      expectClose(at(lp, labelMask), at(golden.f64('f64/logp'), labelMask), { atol: 1e-4, rtol: 1e-4 }, `${name} per-token logp`);
      const seq = new Float64Array(B);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) seq[b] += lp[b * T + t];
      expectClose(seq, golden.f64('f64/seq_logp'), { atol: 1e-5, rtol: 1e-4 }, `${name} per-sequence logp`);
      expectClose(at(await lse.readF32(), labelMask), at(golden.f64('f64/lse'), labelMask), { atol: 1e-4, rtol: 1e-5 }, `${name} logsumexp`);
      expectClose(at(await lsp2.readF32(), labelMask), at(golden.f64('f64/lsp2'), labelMask), { atol: 1e-4, rtol: 1e-4 }, `${name} log Σp²`);

      const seed = e.full([B * T], 1);
      e.backward([logp], { seeds: [seed] });
      let checked = 0;
      for (const [hfName, got] of await gradsByName(params)) {
        const want = golden.f64(`f64/grad/${hfName}`);
        const maxAbs = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expectClose(got, want, { atol: 1e-3 * Math.max(maxAbs, 1e-6), rtol: 1e-3 }, `${name} grad ${hfName}`);
        checked++;
      }
      expect(checked).toBe(2 + 11 * d.L);
      [seed, logp, lse, lsp2].forEach((t) => t.dispose());
      for (const [, p] of namedParams(params)) p.dispose();
    });
  }

  it('a training-style step reuses pooled memory: no new buffers and no growth from step 2 on', async () => {
    const golden = readGolden(readFileSync(join(root, 'goldens', 'tiny-bf16-3shard.bin')).buffer as ArrayBuffer, 'tiny-bf16-3shard');
    const { cfg, params } = loadParams(join(root, 'checkpoints', 'tiny-bf16-3shard'));
    const d = dimsFromConfig(cfg);
    const [B, T] = golden.get('input_ids').shape;
    const batch = { B, T, ids: golden.i32('input_ids'), attentionMask: golden.i32('attention_mask') };
    const step = async (): Promise<void> => {
      const { logp, lse, lsp2 } = tokenLogprobs(e, d, params, batch, golden.i32('completion_mask'));
      const seed = e.full([B * T], 1);
      e.backward([logp], { seeds: [seed] });
      [seed, logp, lse, lsp2].forEach((t) => t.dispose());
      for (const [, p] of namedParams(params)) p.zeroGrad();
      await e.sync();
    };
    await step();
    const after1 = e.pool.getStats();
    await step();
    await step();
    const after3 = e.pool.getStats();
    expect(after3.created, 'createBuffer calls in steps 2-3').toBe(after1.created);
    expect(after3.inUse, 'bytes held after step 3 vs step 1').toBe(after1.inUse);
    for (const [, p] of namedParams(params)) p.dispose();
  });

  it('the memory planner predicts what a forward with grad really holds (within pool rounding)', async () => {
    const golden = readGolden(readFileSync(join(root, 'goldens', 'tiny-l3-f32-2shard.bin')).buffer as ArrayBuffer, 'tiny-l3-f32-2shard');
    const { cfg, params } = loadParams(join(root, 'checkpoints', 'tiny-l3-f32-2shard'));
    const d = dimsFromConfig(cfg);
    const [B, T] = golden.get('input_ids').shape;
    const batch = { B, T, ids: golden.i32('input_ids'), attentionMask: golden.i32('attention_mask') };
    await e.sync();
    const before = e.pool.getStats().inUse;
    const { logp, lse, lsp2 } = tokenLogprobs(e, d, params, batch, golden.i32('completion_mask'));
    await e.sync();
    const held = e.pool.getStats().inUse - before;
    const plan = planMemory(cfg, { mode: 'full-finetune', B, T });
    const predicted = plan.activations + plan.logprobs - Math.min(16 * 1024 * 1024, B * T * cfg.V * 4); // forward part only
    // The pool rounds every buffer up to a size class of at least 256 B, so tiny tensors cost more
    // than their bytes: the measured figure must be at least the prediction and not far above it.
    expect(held).toBeGreaterThanOrEqual(predicted * 0.9);
    expect(held).toBeLessThan(predicted * 1.5);
    e.releaseGraph([logp, lse, lsp2]);
    [logp, lse, lsp2].forEach((t) => t.dispose());
    await e.sync();
    expect(e.pool.getStats().inUse, 'releaseGraph frees everything the tape held').toBe(before);
    for (const [, p] of namedParams(params)) p.dispose();
    console.log(`[planner] ${name(cfg)}: predicted ${predicted} B of activations, measured ${held} B held by the tape`);
  });
});

function name(cfg: { L: number; C: number }): string {
  return `L${cfg.L} C${cfg.C}`;
}
