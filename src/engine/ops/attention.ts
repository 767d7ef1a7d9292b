// attention: fused causal grouped-query attention for Gemma-2 (spec gemma2-and-formats.md §1.4
// "Attention" and "Masks", §1.5; kernel design kernels.md §3, FlashAttention-2):
//   s = ρ·q·kᵀ;  s = cap·tanh(s/cap) (before the mask);  causal + sliding window + key padding mask;
//   P = softmax(s);  o = P·V.   Query head h reads kv head floor(h / (NH/KVH)).
// q [B, T, NH, HD], k and v [B, T, KVH, HD] (the q/k/v projections [B·T, NH·HD] viewed per head),
// o [B, T, NH, HD]. The T×T score matrix is never written: the forward keeps an online softmax per
// query row and saves only L = m + log(l) per (b, q, h) ([B, T, NH], owned) for the backward, which
// recomputes P. Backward (no atomics, deterministic): Δ = rowsum(dO∘O); a dK/dV kernel per
// (b, kv head, key block) that sums the GQA group inside the workgroup; a dQ kernel per
// (b, head, query block). Key blocks entirely outside the causal/sliding band are skipped.
// A query with no visible key (every key padded) gives o = 0 and gradient 0, never NaN.
// Shader: src/gpu/shaders/attention.wgsl. Reference: src/engine/reference/attention.ts.

import { f32 } from '../engine.ts';
import type { Engine } from '../engine.ts';
import { ShapeError, fmtShape } from '../errors.ts';
import type { Tensor } from '../tensor.ts';
import { expectDtype, expectRank } from './util.ts';

export interface AttentionOptions {
  /** ρ, multiplies q·k before the cap. Gemma-2: query_pre_attn_scalar^-0.5 (1/16 for 2B/9B). */
  scale: number;
  /** Attention softcap s = cap·tanh(s/cap), applied before the mask. 0 / absent = none (Gemma-2: 50). */
  softcap?: number;
  /** Sliding window W: key k visible to query q iff q − W < k ≤ q. 0 / absent = global. */
  window?: number;
  /** [B, T] u32, i32 or f32: 1 = keep the key, 0 = padding (masked for every query). No gradient. */
  keyMask?: Tensor | null;
  /** Tile sizes; default from attentionBlocks(HD, device limits). Tests force small ones. */
  blocks?: AttentionBlocks;
}

/** Tile shape of the three block kernels (see attention.wgsl). */
export interface AttentionBlocks {
  /** Invocations per row; divides HD, HD / lanes ≤ 32. */
  lanes: number;
  /** Forward: br query rows × bc keys per tile. */
  fwd: { br: number; bc: number };
  /** dK/dV: bc keys per workgroup, br queries per staged tile. */
  dkv: { br: number; bc: number };
  /** dQ: br query rows per workgroup, bc keys per staged tile. */
  dq: { br: number; bc: number };
}

/** Registers per lane in the shader (MAX_DPL): HD / lanes must not exceed it. */
const MAX_DPL = 32;

/** Lanes per row: the largest power of two ≤ 8 dividing HD, raised (16, 32) only if HD / lanes > 32. */
export function attentionLanes(HD: number): number {
  let lanes = 1;
  while (lanes < 8 && HD % (lanes * 2) === 0) lanes *= 2;
  while (HD / lanes > MAX_DPL && HD % (lanes * 2) === 0 && lanes < 32) lanes *= 2;
  if (HD / lanes > MAX_DPL) {
    throw new ShapeError('attention', `head dim HD = ${HD} cannot be split into ≤ ${MAX_DPL} dims per lane with a power-of-two lane count ≤ 32`, 'use a head dim that is a multiple of 8 (Gemma-2 uses 256 or 128)');
  }
  return lanes;
}

// Workgroup bytes of each kernel (f32 arrays declared in attention.wgsl).
const fwdBytes = (HD: number, L: number, br: number, bc: number) => 4 * (bc * HD + br * bc * L + br * bc);
const dkvBytes = (HD: number, L: number, br: number, bc: number) => 4 * (2 * br * HD + 2 * bc * br * L + 2 * bc * br);
const dqBytes = (HD: number, L: number, br: number, bc: number) => 4 * (2 * bc * HD + 2 * br * bc * L + br * bc);

/**
 * Largest tiles (in preference order, kernels.md §3: 16×16 forward, 16 keys × 8 queries for dK/dV)
 * that fit the device's workgroup storage and invocation limits. At HD = 256, 8 lanes, 32 KiB:
 * forward 16 rows × 16 keys (25 KiB), dK/dV 16 keys × 8 queries (25 KiB), dQ 16 rows × 8 keys
 * (24.5 KiB). With the 16 KiB default: forward 16 × 8, dK/dV 8 keys × 4 queries, dQ 16 rows × 4 keys.
 */
export function attentionBlocks(HD: number, limits: { maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number }): AttentionBlocks {
  const L = attentionLanes(HD);
  const maxBytes = limits.maxComputeWorkgroupStorageSize;
  const maxInv = Math.min(256, limits.maxComputeInvocationsPerWorkgroup);
  const pick = (what: string, cands: [number, number][], bytes: typeof fwdBytes, rowsOfWg: (br: number, bc: number) => number) => {
    for (const [br, bc] of cands) {
      if (bytes(HD, L, br, bc) <= maxBytes && rowsOfWg(br, bc) * L <= maxInv) return { br, bc };
    }
    throw new ShapeError('attention', `no ${what} tile for HD = ${HD} fits ${maxBytes} bytes of workgroup storage and ${maxInv} invocations`, 'use a device with more workgroup storage (request maxComputeWorkgroupStorageSize) or a smaller head dim');
  };
  // [br, bc] candidates, biggest first; each step halves the larger dimension.
  const ladder: [number, number][] = [[16, 16], [16, 8], [8, 8], [8, 4], [4, 4], [4, 2], [2, 2], [2, 1], [1, 1]];
  const dkvLadder: [number, number][] = [[16, 16], [8, 16], [8, 8], [4, 8], [4, 4], [2, 4], [2, 2], [1, 2], [1, 1]];
  const dqLadder: [number, number][] = [[16, 16], [16, 8], [16, 4], [8, 4], [8, 2], [4, 2], [2, 2], [2, 1], [1, 1]];
  return {
    lanes: L,
    fwd: pick('forward', ladder, fwdBytes, (br) => br),
    dkv: pick('dK/dV', dkvLadder, dkvBytes, (_br, bc) => bc),
    dq: pick('dQ', dqLadder, dqBytes, (br) => br),
  };
}

/** o = softmax(cap(ρ·q·kᵀ) + causal/window/padding mask)·v per head; q [B,T,NH,HD], k, v [B,T,KVH,HD]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  // ---- checks
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    expectDtype('attention', name, t, 'f32');
    expectRank('attention', name, t, 4);
  }
  const [B, T, NH, HD] = q.shape;
  const KVH = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== T || k.shape[3] !== HD) {
    throw new ShapeError('attention', `k ${fmtShape(k.shape)} must be [B, T, KVH, HD] = [${B}, ${T}, KVH, ${HD}] to match q ${fmtShape(q.shape)}`);
  }
  if (v.shape.some((d, i) => d !== k.shape[i])) throw new ShapeError('attention', `v ${fmtShape(v.shape)} must have the shape of k ${fmtShape(k.shape)}`);
  if (B === 0 || T === 0 || NH === 0 || HD === 0 || KVH === 0) throw new ShapeError('attention', `empty dimension in q ${fmtShape(q.shape)} / k ${fmtShape(k.shape)}`);
  if (NH % KVH !== 0) throw new ShapeError('attention', `query heads NH = ${NH} must be a multiple of kv heads KVH = ${KVH} (q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)})`);
  const scale = opts.scale;
  const cap = opts.softcap ?? 0;
  const window = opts.window ?? 0;
  if (!Number.isFinite(scale)) throw new ShapeError('attention', `scale must be a finite number, got ${scale}`, 'Gemma-2: scale = query_pre_attn_scalar ** -0.5');
  if (!(cap >= 0) || !Number.isFinite(cap)) throw new ShapeError('attention', `softcap must be >= 0 (0 = none), got ${cap}`);
  if (!Number.isInteger(window) || window < 0) throw new ShapeError('attention', `window must be an integer >= 0 (0 = global), got ${window}`);
  const mask = opts.keyMask ?? null;
  if (mask) {
    expectDtype('attention', 'keyMask', mask, 'u32', 'i32', 'f32');
    if (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== T) throw new ShapeError('attention', `keyMask ${fmtShape(mask.shape)} must be [B, T] = [${B}, ${T}]`);
    if (mask.requiresGrad) throw new ShapeError('attention', 'keyMask is a 0/1 mask and cannot require a gradient', 'create it with requiresGrad: false');
  }

  // ---- forward
  const e = q.engine;
  const blocks = opts.blocks ?? defaultBlocks(e, HD);
  checkBlocks(blocks, HD);
  const L = blocks.lanes;
  // Uniform Params (attention.wgsl): B, T, NH, KVH, scale, cap, window, has_mask, n_groups.
  // A window ≥ T hides nothing (q − W < 0 ≤ k): pass it as 0, which also keeps u32 sums in range.
  const W = window >= T ? 0 : window;
  const params = (groups: number) => [B, T, NH, KVH, f32(scale), f32(cap), W, mask ? 1 : 0, groups];
  // Without a mask, q's buffer fills the keyMask binding (never read: has_mask = 0).
  const maskIn = mask ?? q;

  const o = e.empty(q.shape, 'f32', 'attention.o'); // [B, T, NH, HD]
  const lse = e.empty([B, T, NH], 'f32', 'attention.lse'); // [B, T, NH] logsumexp per row, for the backward
  const fwdGroups = B * NH * Math.ceil(T / blocks.fwd.br);
  e.run({
    op: 'attention.forward', shader: 'attention', entry: 'attention_forward',
    inputs: [q, k, v, maskIn], outputs: [o, lse], params: params(fwdGroups), workgroups: e.grid(fwdGroups, 1),
    overrides: { HD, LANES: L, BR: blocks.fwd.br, BC: blocks.fwd.bc },
  });

  e.tape.record({
    op: 'attention',
    inputs: [q, k, v],
    outputs: [o],
    owned: [lse],
    keep: mask ? [mask] : [],
    backward: ([dO]) => {
      if (!dO) return [null, null, null];
      // (1) stats = (L, Δ = Σ_d dO·O) per (b, q, h).
      const rows = B * T * NH;
      const stats = e.empty([B, T, NH, 2], 'f32', 'attention.stats');
      e.run({ op: 'attention.delta', shader: 'attention', entry: 'attention_delta', inputs: [dO, o, lse], outputs: [stats], params: params(rows), workgroups: e.grid(rows, 64), overrides: { HD } });
      // (2) dK, dV (computed together; both need p and dS).
      let dk: Tensor | null = null;
      let dv: Tensor | null = null;
      if (k.requiresGrad || v.requiresGrad) {
        dk = e.empty(k.shape, 'f32', 'attention.dk');
        dv = e.empty(v.shape, 'f32', 'attention.dv');
        const groups = B * KVH * Math.ceil(T / blocks.dkv.bc);
        e.run({
          op: 'attention.backward_dkv', shader: 'attention', entry: 'attention_backward_dkv',
          inputs: [q, k, v, maskIn, dO, stats], outputs: [dk, dv], params: params(groups), workgroups: e.grid(groups, 1),
          overrides: { HD, LANES: L, BR: blocks.dkv.br, BC: blocks.dkv.bc },
        });
        if (!k.requiresGrad) { dk.dispose(); dk = null; }
        if (!v.requiresGrad) { dv.dispose(); dv = null; }
      }
      // (3) dQ.
      let dq: Tensor | null = null;
      if (q.requiresGrad) {
        dq = e.empty(q.shape, 'f32', 'attention.dq');
        const groups = B * NH * Math.ceil(T / blocks.dq.br);
        e.run({
          op: 'attention.backward_dq', shader: 'attention', entry: 'attention_backward_dq',
          inputs: [q, k, v, maskIn, dO, stats], outputs: [dq], params: params(groups), workgroups: e.grid(groups, 1),
          overrides: { HD, LANES: L, BR: blocks.dq.br, BC: blocks.dq.bc },
        });
      }
      stats.dispose();
      return [dq, dk, dv];
    },
  });
  return o;
}

/** attentionBlocks for this device, cached per head dim in engine.tuning. */
function defaultBlocks(e: Engine, HD: number): AttentionBlocks {
  const key = `attention.blocks.HD${HD}`;
  let b = e.tuning.get(key) as AttentionBlocks | undefined;
  if (!b) {
    b = attentionBlocks(HD, e.limits);
    e.tuning.set(key, b);
  }
  return b;
}

function checkBlocks(b: AttentionBlocks, HD: number): void {
  const ok = HD % b.lanes === 0 && HD / b.lanes <= MAX_DPL && [b.fwd, b.dkv, b.dq].every((t) => t.br >= 1 && t.bc >= 1 && Number.isInteger(t.br) && Number.isInteger(t.bc));
  if (!ok) throw new ShapeError('attention', `invalid tile shape ${JSON.stringify(b)} for HD = ${HD}`, 'lanes must divide HD with HD / lanes ≤ 32, tiles ≥ 1; or omit blocks');
}
