// attention_decode: Gemma-2 attention of Tq new queries against a key/value cache, for generation
// (spec gemma2-and-formats.md §1.4 "Attention" and "Masks"). Same math as ops/attention.ts —
//   s = ρ·q·kᵀ;  s = cap·tanh(s/cap) (before the mask);  causal + sliding window + key padding;
//   P = softmax(s);  o = P·V;  query head h reads kv head floor(h / (NH/KVH))
// — with positions taken as absolute cache rows: query i sits at row p0 + i and sees rows
// 0 … p0 + i (and only the last W of them on sliding layers). Tq = prompt length for the prefill,
// 1 per generated token after it.
//   q      [B, Tq, NH, HD]        the new queries (after RoPE)
//   kCache [B, S_max, KVH, HD]    rows < p0 + Tq valid: the new k/v must already be written there
//   vCache [B, S_max, KVH, HD]    (writeKVCache below)
//   o      [B, Tq, NH, HD]
// Forward only: generation runs under noGrad; if a gradient ever reaches it, NoBackwardError.
// Shader: src/gpu/shaders/attention_decode.wgsl. Reference: src/engine/reference/attention_decode.ts.

import { f32 } from '../engine.ts';
import type { Engine } from '../engine.ts';
import { EngineError, ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype, expectRank } from './util.ts';

/** Tile shape of attention_decode_partial (see the WGSL): LANES per row, RB rows, BC keys per tile. */
export interface DecodeTiles {
  /** Invocations per (query, head) row; a power of two dividing HD with HD / lanes ≤ 32. */
  lanes: number;
  /** Rows per workgroup; a row is one (query, head of the GQA group) pair. */
  rb: number;
  /** Keys per staged K/V tile. */
  bc: number;
}

export interface AttentionDecodeOptions {
  /** Cache row (absolute position) of the first query; the cache holds p0 + Tq valid rows. */
  p0: number;
  /** ρ, multiplies q·k before the cap. Gemma-2: query_pre_attn_scalar^-0.5. */
  scale: number;
  /** Attention softcap, applied before the mask. 0 / absent = none (Gemma-2: 50). */
  softcap?: number;
  /** Sliding window W over cache rows: row k visible to query row r iff r − W < k ≤ r. 0 = global. */
  window?: number;
  /** [B, S_max] u32, i32 or f32: 1 = real token, 0 = padding (left-padded batches). No gradient. */
  keyMask?: Tensor | null;
  /** Tile shape; default decodeTiles(HD, rows, device limits). Tests force small ones. */
  tiles?: DecodeTiles;
  /**
   * Keys per split (flash-decoding): the key band is cut into chunks done by separate workgroups
   * and merged. Default: splits only when the grid would be too small to fill a GPU (Tq = 1).
   */
  splitLen?: number;
}

const MAX_DPL = 32; // registers per lane in the shader
const MAX_ROWS = 16; // rows per workgroup
const TARGET_INVOCATIONS = 128; // rows × lanes per workgroup
const MIN_SPLIT_KEYS = 64; // a split shorter than this costs more in the merge than it saves
const TARGET_WORKGROUPS = 64; // about one per compute unit of a mid-range GPU

const tileBytes = (HD: number, t: DecodeTiles) => 4 * (t.bc * HD + t.rb * t.bc * t.lanes + t.rb * t.bc);

/**
 * The tile for `rows` (query, head) rows per kv head: RB = rows rounded up to a power of two
 * (≤ 16), lanes filling ~128 invocations (more lanes per row when there are few rows, as in
 * decoding where rows = G), BC = 16 keys halved until the workgroup storage fits the device.
 * gemma-2-2b decode (HD 256, G 2): 2 rows × 32 lanes, 16 keys, 20.6 KiB (8 keys on 16 KiB).
 */
export function decodeTiles(HD: number, rows: number, limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }): DecodeTiles {
  const maxInv = Math.min(256, limits.maxComputeInvocationsPerWorkgroup);
  let rb = 1;
  while (rb < rows && rb < MAX_ROWS) rb *= 2;
  // Largest power-of-two lane count dividing HD within the invocation target …
  let lanes = 1;
  while (lanes < 32 && HD % (lanes * 2) === 0 && rb * lanes * 2 <= TARGET_INVOCATIONS) lanes *= 2;
  // … raised if a lane would own more than MAX_DPL dims.
  while (HD / lanes > MAX_DPL && HD % (lanes * 2) === 0 && rb * lanes * 2 <= maxInv) lanes *= 2;
  if (HD % lanes !== 0 || HD / lanes > MAX_DPL) {
    throw new ShapeError('attention_decode', `head dim HD = ${HD} cannot be split into ≤ ${MAX_DPL} dims per lane`, 'use a head dim that is a multiple of 8 (Gemma-2 uses 256 or 128)');
  }
  for (let bc = 16; bc >= 1; bc /= 2) {
    const t = { lanes, rb, bc };
    if (tileBytes(HD, t) <= limits.maxComputeWorkgroupStorageSize) return t;
  }
  throw new ShapeError('attention_decode', `no tile for HD = ${HD} fits ${limits.maxComputeWorkgroupStorageSize} bytes of workgroup storage`, 'use a device with more workgroup storage or a smaller head dim');
}

/** o = softmax(cap(ρ·q·Kᵀ) + causal/window/padding mask by cache row)·V; see the file header. */
export function attentionDecode(q: Tensor, kCache: Tensor, vCache: Tensor, opts: AttentionDecodeOptions): Tensor {
  const op = 'attention_decode';
  // ---- checks
  for (const [name, t] of [['q', q], ['kCache', kCache], ['vCache', vCache]] as const) {
    expectDtype(op, name, t, 'f32');
    expectRank(op, name, t, 4);
  }
  const [B, Tq, NH, HD] = q.shape;
  const [, S_max, KVH] = kCache.shape;
  if (kCache.shape[0] !== B || kCache.shape[3] !== HD) {
    throw new ShapeError(op, `kCache ${fmtShape(kCache.shape)} must be [B, S_max, KVH, HD] = [${B}, S_max, KVH, ${HD}] to match q ${fmtShape(q.shape)}`);
  }
  if (vCache.shape.some((d, i) => d !== kCache.shape[i])) throw new ShapeError(op, `vCache ${fmtShape(vCache.shape)} must have the shape of kCache ${fmtShape(kCache.shape)}`);
  if (B === 0 || Tq === 0 || NH === 0 || HD === 0 || KVH === 0) throw new ShapeError(op, `empty dimension in q ${fmtShape(q.shape)} / kCache ${fmtShape(kCache.shape)}`);
  if (NH % KVH !== 0) throw new ShapeError(op, `query heads NH = ${NH} must be a multiple of kv heads KVH = ${KVH} (q ${fmtShape(q.shape)}, kCache ${fmtShape(kCache.shape)})`);
  const { p0, scale } = opts;
  const cap = opts.softcap ?? 0;
  const window = opts.window ?? 0;
  if (!Number.isInteger(p0) || p0 < 0 || p0 + Tq > S_max) {
    throw new ShapeError(op, `p0 = ${p0} with Tq = ${Tq} new tokens needs cache rows up to ${p0 + Tq}, but the cache has S_max = ${S_max}`, 'create the cache with S_max ≥ prompt length + max new tokens');
  }
  if (!Number.isFinite(scale)) throw new ShapeError(op, `scale must be a finite number, got ${scale}`, 'Gemma-2: scale = query_pre_attn_scalar ** -0.5');
  if (!(cap >= 0) || !Number.isFinite(cap)) throw new ShapeError(op, `softcap must be >= 0 (0 = none), got ${cap}`);
  if (!Number.isInteger(window) || window < 0) throw new ShapeError(op, `window must be an integer >= 0 (0 = global), got ${window}`);
  const mask = opts.keyMask ?? null;
  if (mask) {
    expectDtype(op, 'keyMask', mask, 'u32', 'i32', 'f32');
    if (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== S_max) throw new ShapeError(op, `keyMask ${fmtShape(mask.shape)} must be [B, S_max] = [${B}, ${S_max}]`);
    if (mask.requiresGrad) throw new ShapeError(op, 'keyMask is a 0/1 mask and cannot require a gradient', 'create it with requiresGrad: false');
  }

  // ---- launch geometry
  const e = q.engine;
  const G = NH / KVH;
  const rows = Tq * G; // (query, head) rows per (b, kv head)
  const tiles = opts.tiles ?? defaultTiles(e, HD, rows);
  checkTiles(tiles, HD);
  const nrb = Math.ceil(rows / tiles.rb);
  const S = p0 + Tq; // valid cache rows
  // A window ≥ S hides nothing: pass 0 (also keeps the shader's k + W in u32 range).
  const W = window >= S ? 0 : window;
  const kLo = W > 0 ? Math.max(0, p0 - W + 1) : 0; // first key query 0 can see
  const band = S - kLo;
  const rowBlocks = B * KVH * nrb;
  let splitLen = opts.splitLen ?? defaultSplitLen(band, rowBlocks, tiles.bc);
  if (!Number.isInteger(splitLen) || splitLen < 1) throw new ShapeError(op, `splitLen must be a positive integer, got ${splitLen}`);
  splitLen = Math.min(splitLen, band);
  const nSplit = Math.ceil(band / splitLen);
  const groups = rowBlocks * nSplit;
  // Uniform Params (attention_decode.wgsl), in declaration order.
  const params = (n: number) => [B, Tq, S_max, p0, NH, KVH, f32(scale), f32(cap), W, mask ? 1 : 0, n, nSplit, splitLen, kLo];
  const overrides = { HD, LANES: tiles.lanes, RB: tiles.rb, BC: tiles.bc };
  const maskIn = mask ?? q; // never read when has_mask = 0

  // ---- forward: partial (one split: writes o), then merge when split
  const o = e.empty(q.shape, 'f32', 'attention_decode.o'); // [B, Tq, NH, HD]
  const nRows = B * Tq * NH;
  // Split scratch, or 1-element placeholders (the bindings must exist; they are never written).
  const partAcc = e.empty(nSplit > 1 ? [nSplit, nRows, HD] : [1], 'f32', 'attention_decode.part_acc');
  const partMl = e.empty(nSplit > 1 ? [nSplit, nRows, 2] : [1], 'f32', 'attention_decode.part_ml');
  e.run({
    op: 'attention_decode.partial', shader: 'attention_decode', entry: 'attention_decode_partial',
    inputs: [q, kCache, vCache, maskIn], outputs: [o, partAcc, partMl], params: params(groups), workgroups: e.grid(groups, 1), overrides,
  });
  if (nSplit > 1) {
    const n = nRows * HD;
    e.run({
      op: 'attention_decode.merge', shader: 'attention_decode', entry: 'attention_decode_merge',
      inputs: [partAcc, partMl], outputs: [o], params: params(n), workgroups: e.grid(n, 64), overrides: { HD },
    });
  }
  partAcc.dispose();
  partMl.dispose();
  // No backward: a gradient reaching this op throws NoBackwardError (generation is noGrad).
  e.tape.record({ op, inputs: [q, kCache, vCache], outputs: [o] });
  return o;
}

/**
 * Writes the new keys and values of a step into the cache: kCache[b, p0 + t] = k[b, t] (and v),
 * for k, v [B, Tq, KVH, HD] (after RoPE for k) and caches [B, S_max, KVH, HD]. In place, not an
 * autograd op: refuses inputs that require a gradient while grad mode is on.
 */
export function writeKVCache(kCache: Tensor, vCache: Tensor, k: Tensor, v: Tensor, p0: number): void {
  const op = 'kv_cache_write';
  for (const [name, t] of [['kCache', kCache], ['vCache', vCache], ['k', k], ['v', v]] as const) {
    expectDtype(op, name, t, 'f32');
    expectRank(op, name, t, 4);
  }
  const [B, Tq, KVH, HD] = k.shape;
  const S_max = kCache.shape[1];
  if (v.shape.some((d, i) => d !== k.shape[i])) throw new ShapeError(op, `v ${fmtShape(v.shape)} must have the shape of k ${fmtShape(k.shape)}`);
  if (vCache.shape.some((d, i) => d !== kCache.shape[i])) throw new ShapeError(op, `vCache ${fmtShape(vCache.shape)} must have the shape of kCache ${fmtShape(kCache.shape)}`);
  if (kCache.shape[0] !== B || kCache.shape[2] !== KVH || kCache.shape[3] !== HD) {
    throw new ShapeError(op, `kCache ${fmtShape(kCache.shape)} must be [B, S_max, KVH, HD] = [${B}, S_max, ${KVH}, ${HD}] to hold k ${fmtShape(k.shape)}`);
  }
  if (!Number.isInteger(p0) || p0 < 0 || p0 + Tq > S_max) {
    throw new ShapeError(op, `writing ${Tq} rows at p0 = ${p0} overruns the cache (S_max = ${S_max})`, 'create the cache with S_max ≥ prompt length + max new tokens');
  }
  const e = k.engine;
  if (e.tape.enabled && (k.requiresGrad || v.requiresGrad)) {
    throw new EngineError(op, 'the KV cache is written in place and has no gradient', 'run generation under engine.noGrad()');
  }
  const n = k.size;
  if (n === 0) return;
  e.run({
    op, shader: 'attention_decode', entry: 'kv_cache_write', inputs: [k, v], outputs: [kCache, vCache],
    params: [B, Tq, S_max, p0, 0, KVH, f32(0), f32(0), 0, 0, n, 1, 0, 0], workgroups: e.grid(n, 256), overrides: { HD },
  });
}

/** Keys per split: no split while the row blocks alone give ≥ TARGET_WORKGROUPS / 2 workgroups. */
function defaultSplitLen(band: number, rowBlocks: number, bc: number): number {
  if (rowBlocks >= TARGET_WORKGROUPS / 2) return band;
  const want = Math.ceil(TARGET_WORKGROUPS / rowBlocks);
  const len = Math.max(MIN_SPLIT_KEYS, Math.ceil(band / want));
  return Math.ceil(len / bc) * bc;
}

/** decodeTiles for this device, cached per (HD, row class) in engine.tuning. */
function defaultTiles(e: Engine, HD: number, rows: number): DecodeTiles {
  const key = `attention_decode.tiles.HD${HD}.rows${Math.min(rows, MAX_ROWS)}`;
  let t = e.tuning.get(key) as DecodeTiles | undefined;
  if (!t) {
    t = decodeTiles(HD, rows, e.limits);
    e.tuning.set(key, t);
  }
  return t;
}

function checkTiles(t: DecodeTiles, HD: number): void {
  const ok = [t.lanes, t.rb, t.bc].every((x) => Number.isInteger(x) && x >= 1) && HD % t.lanes === 0 && HD / t.lanes <= MAX_DPL && t.rb * t.lanes <= 256;
  if (!ok) throw new ShapeError('attention_decode', `invalid tile shape ${JSON.stringify(t)} for HD = ${HD}`, 'lanes must divide HD with HD / lanes ≤ 32, rb·lanes ≤ 256; or omit tiles');
}
