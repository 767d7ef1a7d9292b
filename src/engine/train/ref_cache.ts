// Reference log-probs: one no-grad pass of the initial model over the whole dataset before
// training (TRL's precompute_ref_log_probs, spec preference-losses.md §1.2), so training never runs
// the reference model. Stored per example as (R_chosen, R_rejected) — summed completion log-probs,
// LD-weighted when ld_alpha is set — in a KV backend (IndexedDB in the browser, files in Node)
// under a key that hashes the model, the dataset's token ids and the settings that change the
// numbers. SimPO and reference_free need none (train/losses.ts needsReference).
// With a LoRA adapter the reference is the base model: the pass runs with the adapter off, and the
// key is the base's (an adapter never changes the reference).

import type { Engine } from '../engine.ts';
import { EngineError } from '../errors.ts';
import type { Gemma2Dims, Gemma2Params } from '../model/gemma2.ts';
import { withAdapterOff } from '../model/lora.ts';
import { SEQ_FIELD, SEQ_FIELDS } from '../ops/seq_stats.ts';
import { xxh32 } from '../store/checksum.ts';
import type { KVBackend } from '../store/kv.ts';
import { packPairs, sequenceForward, type PairSequenceIds } from './sequences.ts';

/** Progress of a long pass: done/total with a rate, for a bar with % and ETA. */
export interface PassProgress {
  done: number;
  total: number;
  percent: number;
  /** Pairs per second so far. */
  rate: number;
  /** Seconds left at that rate. */
  eta: number;
}

const CACHE_PREFIX = 'reflogps/';
const CACHE_VERSION = 1;

/** 64-bit hex digest (two XXH32 seeds) of a byte string. */
export function digest(bytes: Uint8Array): string {
  const a = xxh32(bytes, 0x9e3779b1).toString(16).padStart(8, '0');
  const b = xxh32(bytes, 0x85ebca77).toString(16).padStart(8, '0');
  return a + b;
}

/**
 * The cache key: the model's fingerprint (a digest of its weights; the caller computes it), every
 * example's token ids in order, and the settings that change the reference numbers.
 */
export function referenceKey(modelFingerprint: string, examples: readonly PairSequenceIds[], settings: { ldAlpha: number | null }): string {
  const ints: number[] = [CACHE_VERSION, examples.length];
  for (const x of examples) {
    ints.push(x.promptIds.length, x.chosenIds.length, x.rejectedIds.length, ...x.promptIds, ...x.chosenIds, ...x.rejectedIds);
  }
  const data = digest(new Uint8Array(Int32Array.from(ints).buffer));
  const cfg = digest(new TextEncoder().encode(JSON.stringify({ model: modelFingerprint, ldAlpha: settings.ldAlpha })));
  return `${CACHE_PREFIX}${cfg}-${data}`;
}

/**
 * Reference sums of every example, [2N] = (R_w, R_l) per example, computed `batchSize` pairs at a
 * time without gradients, by the base model (an adapter is turned off meanwhile, then restored).
 * One readback per batch.
 */
export function computeReferenceLogps(
  e: Engine,
  d: Gemma2Dims,
  params: Gemma2Params,
  examples: readonly PairSequenceIds[],
  opts: { batchSize?: number; ldAlpha?: number | null; onProgress?: (p: PassProgress) => void } = {},
): Promise<Float32Array> {
  return withAdapterOff(params.adapter, () => baseLogps(e, d, params, examples, opts));
}

async function baseLogps(...[e, d, params, examples, opts = {}]: Parameters<typeof computeReferenceLogps>): Promise<Float32Array> {
  const bs = opts.batchSize ?? 8;
  const out = new Float32Array(2 * examples.length);
  const t0 = performance.now();
  for (let s = 0; s < examples.length; s += bs) {
    const group = examples.slice(s, s + bs);
    const packed = packPairs(group, { ldAlpha: opts.ldAlpha ?? null });
    const { logp, lsp2, stats } = e.noGrad(() => sequenceForward(e, d, params, packed));
    logp.dispose();
    lsp2.dispose();
    const [st] = (await e.readMany([stats])) as Float32Array[];
    stats.dispose();
    const B = group.length;
    for (let b = 0; b < B; b++) {
      out[2 * (s + b)] = st[b * SEQ_FIELDS + SEQ_FIELD.S];
      out[2 * (s + b) + 1] = st[(B + b) * SEQ_FIELDS + SEQ_FIELD.S];
    }
    const bad = group.findIndex((_, b) => !Number.isFinite(out[2 * (s + b)]) || !Number.isFinite(out[2 * (s + b) + 1]));
    if (bad >= 0) {
      throw new EngineError('reference log-probs', `dataset row ${group[bad].row} has a non-finite reference log-prob`, 'the checkpoint holds NaN/Inf weights or the row holds an id outside the vocabulary');
    }
    const done = Math.min(s + bs, examples.length);
    const secs = Math.max((performance.now() - t0) / 1000, 1e-9);
    opts.onProgress?.({ done, total: examples.length, percent: (100 * done) / examples.length, rate: done / secs, eta: (examples.length - done) / (done / secs) });
  }
  return out;
}

/**
 * The reference sums from the cache, or computed and stored. Returns them and whether they came
 * from the cache. A cache that cannot be written (quota) is reported through `onWarning` and the
 * run goes on.
 */
export async function referenceLogps(
  e: Engine,
  d: Gemma2Dims,
  params: Gemma2Params,
  examples: readonly PairSequenceIds[],
  opts: { cache: KVBackend | null; key: string; batchSize?: number; ldAlpha?: number | null; onProgress?: (p: PassProgress) => void; onWarning?: (s: string) => void },
): Promise<{ values: Float32Array; cached: boolean }> {
  if (opts.cache) {
    const hit = await opts.cache.get(opts.key);
    if (hit instanceof Uint8Array && hit.byteLength === 8 * examples.length) {
      return { values: new Float32Array(hit.slice().buffer), cached: true };
    }
  }
  const values = await computeReferenceLogps(e, d, params, examples, opts);
  if (opts.cache) {
    try {
      await opts.cache.set(opts.key, new Uint8Array(values.buffer.slice(0)));
    } catch (err) {
      opts.onWarning?.(`could not store the reference log-probs in ${opts.cache.label} (${(err as Error).message}); they will be computed again next time`);
    }
  }
  return { values, cached: false };
}
