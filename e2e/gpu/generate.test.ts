// Generation with a KV cache (src/engine/model/generate.ts) on the tiny HF-layout checkpoints
// (f32 and bf16 storage, 1–3 shards, GQA, sliding windows of 3–4 shorter than the sequences here,
// softcaps, old and new config keys):
//   (a) the cached path's logits at every step equal the full no-cache forward's
//       (forwardHidden → h·Eᵀ → final softcap) at the same position;
//   (b) greedy generation equals the argmax chain recomputed without a cache;
//   (c) sampling: a seed reproduces a generation, temperature → 0 and top-p → 0 give greedy;
//   (d) generation stops at a stop id (and reports 'length' otherwise);
//   plus a chunked prefill (Tq > 1 at p0 > 0), a left-padded batch against single runs, the
//   embedding split into row parts (as the store loads a table over one storage binding) against
//   the whole one, and the host-side sampler against its definition.
// Tolerance: logits within 1e-4 (|z| ≤ 30): the two paths run the same f32 ops with different
// matrix shapes (M = 1 vs T rows, split attention), which moves results by ~1e-6.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.ts';
import { parseGemma2Config } from '../../src/engine/model/config.ts';
import { dimsFromConfig, forwardHidden, LAYER_TENSORS, type Gemma2Dims, type Gemma2Layer, type Gemma2Params } from '../../src/engine/model/gemma2.ts';
import { argmax, createKVCache, decodeStep, DEFAULT_STOP_IDS, disposeKVCache, generate, sampleToken } from '../../src/engine/model/generate.ts';
import { bytesReader, readSafetensorsHeader, tensorBytes, toFloat32 } from '../../src/engine/model/safetensors.ts';
import { createNodeEngine } from '../../src/engine/node.ts';
import { matmul } from '../../src/engine/ops/matmul.ts';
import { softcap } from '../../src/engine/ops/softcap.ts';
import { isRowSplit, splitRowsFromHost } from '../../src/engine/table.ts';
import { Rng } from '../../src/engine/util/rng.ts';
import { expectClose } from './harness.ts';

const root = join(import.meta.dirname, '..', 'fixtures', 'checkpoints');
const FIXTURES = ['tiny-f32-1shard', 'tiny-bf16-3shard', 'tiny-l3-f32-2shard'];
const logitTol = { atol: 1e-4, rtol: 1e-4 };

let e: Engine;
const models = new Map<string, { d: Gemma2Dims; params: Gemma2Params }>();

beforeAll(async () => {
  e = await createNodeEngine();
  for (const name of FIXTURES) models.set(name, await loadModel(join(root, name)));
});
afterAll(() => e?.destroy());

/** A tiny local loader: every safetensors file of a checkpoint directory → f32 GPU tensors. */
async function loadModel(dir: string): Promise<{ d: Gemma2Dims; params: Gemma2Params }> {
  const cfg = parseGemma2Config(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
  const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.safetensors'))) {
    const bytes = new Uint8Array(readFileSync(join(dir, f)));
    const header = await readSafetensorsHeader(bytesReader(bytes), bytes.length, f);
    for (const t of header.tensors) tensors.set(t.name, { data: toFloat32(t.dtype, tensorBytes(bytes, header, t)), shape: [...t.shape] });
  }
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${dir}: missing ${name}`);
    return e.tensor(t.data, t.shape, { label: name });
  };
  const layers: Gemma2Layer[] = [];
  for (let i = 0; i < cfg.L; i++) {
    layers.push(Object.fromEntries(Object.entries(LAYER_TENSORS).map(([field, name]) => [field, get(`model.layers.${i}.${name}`)])) as unknown as Gemma2Layer);
  }
  return { d: dimsFromConfig(cfg), params: { embed: get('model.embed_tokens.weight'), layers, finalNorm: get('model.norm.weight') } };
}

/** The no-cache reference: soft-capped logits (T, V) of one sequence from the full forward. */
async function fullLogits(d: Gemma2Dims, params: Gemma2Params, ids: number[]): Promise<Float32Array> {
  if (isRowSplit(params.embed)) throw new Error('fullLogits takes a whole embedding');
  const embed = params.embed;
  const { h, z, zc } = e.noGrad(() => {
    const h = forwardHidden(e, d, params, { B: 1, T: ids.length, ids: Int32Array.from(ids) }); // (T, C)
    const z = matmul(h, embed, { transB: true }); // (T, V)
    const zc = d.finalSoftcap > 0 ? softcap(z, d.finalSoftcap) : z;
    return { h, z, zc };
  });
  const out = await zc.readF32();
  [h, z, zc].forEach((t) => t.dispose());
  return out;
}

/** A prompt of n ids in [3, V): <bos>-free, deterministic. */
const promptOf = (n: number, V: number, seed: number) => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(3, V));
};

describe('generation with a KV cache', () => {
  it('default stop ids are <eos> and <end_of_turn>', () => {
    expect(DEFAULT_STOP_IDS).toEqual([1, 107]);
  });

  for (const name of FIXTURES) {
    it(`${name}: (a) cached logits equal the full forward at every step; (b) greedy = no-cache argmax chain`, async () => {
      const { d, params } = models.get(name)!;
      const prompt = promptOf(6, d.V, 1);
      const n = 12; // prompt + 12 > every sliding window here (3, 4)
      const steps: Float32Array[] = [];
      const r = await generate(e, d, params, prompt, { maxNewTokens: n, stopIds: [], onStep: (s) => steps.push(s.logits.slice()) });
      expect(r.tokens[0]).toHaveLength(n);
      expect(r.finish).toEqual(['length']);
      expect(steps).toHaveLength(n);
      expect(r.stepMs).toHaveLength(n);
      expect(r.tokensPerSecond).toBeGreaterThan(0);
      const seq = [...prompt, ...r.tokens[0]];
      const full = await fullLogits(d, params, seq);
      for (let j = 0; j < n; j++) {
        const pos = prompt.length - 1 + j; // position whose logits choose new token j
        expectClose(steps[j], full.subarray(pos * d.V, (pos + 1) * d.V), logitTol, `${name} step ${j} logits`);
      }
      // (b) the argmax chain, each step a fresh full forward over the sequence so far.
      const chain = [...prompt];
      for (let j = 0; j < n; j++) {
        const z = await fullLogits(d, params, chain);
        chain.push(argmax(z, (chain.length - 1) * d.V, d.V));
      }
      expect(r.tokens[0]).toEqual(chain.slice(prompt.length));
    });
  }

  it('chunked prefill (Tq = 4 then 3 at p0 = 4, then Tq = 1) gives the one-shot prefill logits', async () => {
    const { d, params } = models.get('tiny-l3-f32-2shard')!;
    const ids = promptOf(8, d.V, 2);
    const full = await fullLogits(d, params, ids);
    const cache = createKVCache(e, d, 1, 10);
    const row = (pos: number) => full.subarray(pos * d.V, (pos + 1) * d.V);
    expectClose(await decodeStep(e, d, params, cache, Int32Array.from(ids.slice(0, 4))), row(3), logitTol, 'chunk 1');
    expectClose(await decodeStep(e, d, params, cache, Int32Array.from(ids.slice(4, 7))), row(6), logitTol, 'chunk 2');
    expectClose(await decodeStep(e, d, params, cache, Int32Array.from(ids.slice(7))), row(7), logitTol, 'single token');
    expect(cache.length).toBe(8);
    await expect(decodeStep(e, d, params, cache, Int32Array.from([5, 6, 7]))).rejects.toThrow(/do not fit the cache/);
    disposeKVCache(cache);
  });

  it('(c) sampling: a seed reproduces, seeds differ, temperature → 0 and top-p → 0 give greedy', async () => {
    // The tiny random models are very peaked (logit range ~45, p_max ≈ 1), so sampling only
    // varies at high temperature: T = 20 flattens them to a spread of ~2.
    const { d, params } = models.get('tiny-f32-1shard')!;
    const prompt = promptOf(5, d.V, 3);
    const base = { maxNewTokens: 10, stopIds: [] };
    const sample = async (o: object) => (await generate(e, d, params, prompt, { ...base, ...o })).tokens[0];
    const greedy = await sample({});
    const a = await sample({ temperature: 20, topP: 0.95, seed: 7 });
    expect(a).not.toEqual(greedy);
    expect(await sample({ temperature: 20, topP: 0.95, seed: 7 })).toEqual(a);
    expect(await sample({ temperature: 20, topP: 0.95, seed: 8 })).not.toEqual(a);
    expect(await sample({ temperature: 1e-4, seed: 7 })).toEqual(greedy);
    expect(await sample({ temperature: 20, topP: 1e-6, seed: 7 })).toEqual(greedy);
    expect(await sample({ temperature: 0, topP: 0.5, seed: 123 })).toEqual(greedy);
  });

  it('(d) stops right after a stop id and says why', async () => {
    const { d, params } = models.get('tiny-bf16-3shard')!;
    const prompt = promptOf(4, d.V, 4);
    const free = (await generate(e, d, params, prompt, { maxNewTokens: 10, stopIds: [] })).tokens[0];
    const stopId = free[5];
    const first = free.indexOf(stopId);
    const r = await generate(e, d, params, prompt, { maxNewTokens: 10, stopIds: [stopId, 107] });
    expect(r.tokens[0]).toEqual(free.slice(0, first + 1));
    expect(r.finish).toEqual(['stop']);
    expect(r.stepMs).toHaveLength(first + 1);
    const one = await generate(e, d, params, prompt, { maxNewTokens: 1, stopIds: [] });
    expect(one.tokens[0]).toEqual(free.slice(0, 1));
    expect(one.finish).toEqual(['length']);
  });

  it('a left-padded batch of 3 prompts generates what each prompt generates alone', async () => {
    const { d, params } = models.get('tiny-l3-f32-2shard')!;
    const prompts = [promptOf(7, d.V, 5), promptOf(3, d.V, 6), promptOf(1, d.V, 7)];
    const n = 9;
    const batchSteps: Float32Array[] = [];
    const r = await generate(e, d, params, prompts, { maxNewTokens: n, stopIds: [], onStep: (s) => batchSteps.push(s.logits.slice()) });
    for (let b = 0; b < prompts.length; b++) {
      const steps: Float32Array[] = [];
      const single = await generate(e, d, params, prompts[b], { maxNewTokens: n, stopIds: [], onStep: (s) => steps.push(s.logits.slice()) });
      expect(r.tokens[b], `sequence ${b}`).toEqual(single.tokens[0]);
      for (let j = 0; j < n; j++) expectClose(batchSteps[j].subarray(b * d.V, (b + 1) * d.V), steps[j], logitTol, `sequence ${b} step ${j}`);
    }
    // Sequences stop independently: stop sequence 1 at its third token, the others run on.
    const stopId = r.tokens[1][2];
    const early = await generate(e, d, params, prompts, { maxNewTokens: n, stopIds: [stopId] });
    prompts.forEach((_, b) => {
      const at = r.tokens[b].indexOf(stopId);
      expect(early.tokens[b]).toEqual(at < 0 ? r.tokens[b] : r.tokens[b].slice(0, at + 1));
      expect(early.finish[b]).toBe(at < 0 ? 'length' : 'stop');
    });
  });
});

describe('generation with a split embedding', () => {
  for (const name of FIXTURES) {
    it(`${name}: embedding in 3 row parts generates what the whole embedding generates`, async () => {
      const { d, params } = models.get(name)!;
      if (isRowSplit(params.embed)) throw new Error('fixture embedding should be whole');
      // Same layers, the embedding cut on the host into ragged parts (the middle one a single row).
      const bounds = [0, Math.floor(d.V / 3), Math.floor(d.V / 3) + 1, d.V];
      const embed = splitRowsFromHost(e, await params.embed.readF32(), [d.V, d.C], bounds, { name: 'embed' });
      const split = { ...params, embed };
      const prompts = [promptOf(6, d.V, 11), promptOf(2, d.V, 12)]; // left-padded batch of 2
      // Prompts whose tokens fall in every part, the single-row one included.
      prompts[0][1] = bounds[1];
      prompts[1][0] = d.V - 1;
      const n = 10;
      const run = async (p: typeof params) => {
        const steps: Float32Array[] = [];
        const r = await generate(e, d, p, prompts, { maxNewTokens: n, stopIds: [], onStep: (s) => steps.push(s.logits.slice()) });
        return { tokens: r.tokens, steps };
      };
      const want = await run(params);
      const got = await run(split);
      expect(got.tokens).toEqual(want.tokens);
      for (let j = 0; j < n; j++) expectClose(got.steps[j], want.steps[j], { atol: 1e-5, rtol: 1e-5 }, `${name} split step ${j} logits`);
      embed.parts.forEach((p) => p.tensor.dispose());
    });
  }
});

describe('sampleToken (host side)', () => {
  const z = Float32Array.from([1, 3, 2.5, -1, 3 - 1e-3]); // p ∝ e^z: ~[0.048, 0.357, 0.217, 0.007, 0.357]
  it('temperature 0 is argmax (first of ties)', () => {
    expect(sampleToken(z, { temperature: 0, topP: 1 }, new Rng(1))).toBe(1);
    expect(argmax([2, 5, 5, 1])).toBe(1);
    expect(argmax([9, 2, 5, 7], 2, 2)).toBe(1);
  });
  it('draws follow softmax(z / T) and the top-p nucleus; a seed repeats the draws', () => {
    const draw = (T: number, topP: number, n: number, seed = 1) => {
      const rng = new Rng(seed);
      const counts = new Array<number>(z.length).fill(0);
      for (let i = 0; i < n; i++) counts[sampleToken(z, { temperature: T, topP }, rng)]++;
      return counts.map((c) => c / n);
    };
    const p = Array.from(z, (x) => Math.exp(x));
    const sum = p.reduce((a, b) => a + b, 0);
    draw(1, 1, 20000).forEach((f, i) => expect(Math.abs(f - p[i] / sum)).toBeLessThan(0.015));
    // top-p 0.6: tokens 1 and 4 (0.357 each) reach 0.714 ≥ 0.6, so only they remain, ~50/50.
    const nucleus = draw(1, 0.6, 4000);
    expect(nucleus[0] + nucleus[2] + nucleus[3]).toBe(0);
    expect(Math.abs(nucleus[1] - 0.5)).toBeLessThan(0.04);
    // top-p 0.3: the most likely token alone (token 1, 0.3571 vs token 4's 0.3568) reaches 0.3.
    expect(draw(1, 0.3, 200)[1]).toBe(1);
    // Low temperature concentrates on the maximum; same seed, same draws.
    expect(draw(1e-5, 1, 200)[1]).toBe(1);
    expect(draw(0.7, 0.9, 500, 42)).toEqual(draw(0.7, 0.9, 500, 42));
  });
});
