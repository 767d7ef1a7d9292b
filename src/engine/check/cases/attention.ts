// GPU cases for the fused attention op: forward vs the unfused float64 reference, backward (dq,
// dk, dv) vs central finite differences of that reference. Shapes are awkward on purpose: T not a
// tile multiple (1, 5, 17, 33), MHA and GQA groups of 2 and 3, head dims 4, 6, 8, 16 and 256,
// padding masks (a key padded in the middle, a sequence with every key padded), sliding windows
// shorter and longer than T, the softcap bending scores of |s| ≈ 100, and forced small tiles so
// that block skipping and multi-block loops run at tiny T.
import { checkOp, Rng, type GpuCase, type InputSpec, type Tol } from '../harness.ts';
import { attention, attentionBlocks, type AttentionBlocks } from '../../ops/attention.ts';
import { attentionRef } from '../../reference/attention.ts';
import type { Engine } from '../../engine.ts';
import type { DType, Tensor } from '../../tensor.ts';

// Tolerances. Forward: o is a convex combination of v ∈ [−1, 1]; f32 dots, exp and the online
// rescaling give ~1e-6 absolute. Backward: the f32 kernel vs f64 central differences (h = 1e-5,
// truncation ~1e-9); gradients are O(1) sums of T terms with f32 rounding ~1e-6 each.
const fwd: Tol = { atol: 2e-5, rtol: 1e-4 };
const bwd: Tol = { atol: 1e-4, rtol: 1e-3 };
// Large-score softcap cases: ρ = 6 magnifies every f32 rounding of q·k by 6 (scores ≈ ±100 carry
// ~1e-5 absolute error before the cap), so allow 10× more.
const bwdBig: Tol = { atol: 1e-3, rtol: 5e-3 };

interface Spec {
  name: string;
  B: number;
  T: number;
  NH: number;
  KVH: number;
  HD: number;
  scale?: number;
  softcap?: number;
  window?: number;
  /** [B, T] 1/0, and the dtype it is uploaded as. */
  mask?: { data: number[]; dtype: DType };
  blocks?: AttentionBlocks;
  /** Range of the uniform q/k values (v is always in [−1, 1]). */
  qkRange?: number;
  bwd?: Tol;
}

function attentionCase(s: Spec, seed: number): GpuCase {
  return {
    name: `attention: ${s.name}`,
    run: async (e) => {
      const rng = new Rng(seed);
      const r = s.qkRange ?? 1;
      const qn = s.B * s.T * s.NH * s.HD;
      const kn = s.B * s.T * s.KVH * s.HD;
      const dims = { B: s.B, T: s.T, NH: s.NH, KVH: s.KVH, HD: s.HD };
      const scale = s.scale ?? 1 / Math.sqrt(s.HD);
      const inputs: InputSpec[] = [
        { data: rng.array(qn, -r, r), shape: [s.B, s.T, s.NH, s.HD] },
        { data: rng.array(kn, -r, r), shape: [s.B, s.T, s.KVH, s.HD] },
        { data: rng.array(kn), shape: [s.B, s.T, s.KVH, s.HD] },
      ];
      if (s.mask) inputs.push({ data: s.mask.data, shape: [s.B, s.T], dtype: s.mask.dtype, grad: false });
      await checkOp(e, {
        name: s.name,
        inputs,
        gpu: ([q, k, v, m]) => attention(q, k, v, { scale, softcap: s.softcap, window: s.window, keyMask: m ?? null, blocks: s.blocks }),
        cpu: ([q, k, v, m]) => [attentionRef(q, k, v, dims, { scale, softcap: s.softcap, window: s.window, keyMask: m ?? null })],
        fwd,
        bwd: s.bwd ?? bwd,
        seed,
      });
    },
  };
}

/** Tiles for a device with `bytes` of workgroup storage (what attentionBlocks picks there). */
const blocksFor = (HD: number, bytes: number) => attentionBlocks(HD, { maxComputeWorkgroupStorageSize: bytes, maxComputeInvocationsPerWorkgroup: 256 });
/** Tiny tiles (4 queries × 4 keys, 2 lanes) so block loops and band skipping run at small T. */
const tiny: AttentionBlocks = { lanes: 2, fwd: { br: 4, bc: 4 }, dkv: { br: 4, bc: 4 }, dq: { br: 4, bc: 4 } };
/** Unequal tiles: forward/dq rows ≠ keys, dkv keys ≠ queries (catches a swapped br/bc). */
const skew: AttentionBlocks = { lanes: 4, fwd: { br: 8, bc: 2 }, dkv: { br: 2, bc: 8 }, dq: { br: 2, bc: 8 } };

// Padding masks for B = 2, T = 17: sequence 0 pads key 8 (the middle) and the last key;
// sequence 1 pads every key (a zero-length sequence: o = 0, gradients 0, no NaN).
const mask17 = [...Array.from({ length: 17 }, (_, t) => (t === 8 || t === 16 ? 0 : 1)), ...Array<number>(17).fill(0)];
// B = 2, T = 33: sequence 0 keeps everything, sequence 1 is right-padded after 20 tokens and
// pads key 3.
const mask33 = [...Array<number>(33).fill(1), ...Array.from({ length: 33 }, (_, t) => (t < 20 && t !== 3 ? 1 : 0))];

export const cases: GpuCase[] = [
  attentionCase({ name: 'T=1 MHA NH=KVH=2 HD=8', B: 1, T: 1, NH: 2, KVH: 2, HD: 8 }, 1),
  attentionCase({ name: 'T=5 GQA NH=4 KVH=2 HD=16', B: 1, T: 5, NH: 4, KVH: 2, HD: 16 }, 2),
  attentionCase({ name: 'T=17 GQA NH=3 KVH=1 HD=8 B=2, u32 mask: middle key padded / all padded', B: 2, T: 17, NH: 3, KVH: 1, HD: 8, mask: { data: mask17, dtype: 'u32' } }, 3),
  attentionCase({ name: 'T=17 MHA NH=KVH=2 HD=8 window=4', B: 1, T: 17, NH: 2, KVH: 2, HD: 8, window: 4 }, 4),
  attentionCase({ name: 'T=17 GQA NH=4 KVH=2 HD=4 window=4 softcap=50 u32 mask, tiny tiles', B: 2, T: 17, NH: 4, KVH: 2, HD: 4, window: 4, softcap: 50, mask: { data: mask17, dtype: 'u32' }, blocks: tiny }, 5),
  attentionCase({ name: 'T=33 GQA NH=2 KVH=1 HD=4 B=2 window=40 (≥ T) f32 mask', B: 2, T: 33, NH: 2, KVH: 1, HD: 4, window: 40, mask: { data: mask33, dtype: 'f32' } }, 6),
  attentionCase({ name: 'T=33 GQA NH=3 KVH=1 HD=6 window=5 skewed tiles', B: 1, T: 33, NH: 3, KVH: 1, HD: 6, window: 5, blocks: { ...skew, lanes: 2 } }, 7),
  attentionCase({ name: 'T=17 GQA NH=4 KVH=2 HD=16 softcap=50 |s|≈100', B: 1, T: 17, NH: 4, KVH: 2, HD: 16, scale: 6, softcap: 50, qkRange: 2, bwd: bwdBig }, 8),
  attentionCase({ name: 'T=17 GQA NH=4 KVH=2 HD=16 no softcap, scale 1.5', B: 1, T: 17, NH: 4, KVH: 2, HD: 16, scale: 1.5 }, 9),
  attentionCase({ name: 'T=3 GQA NH=2 KVH=1 HD=256 softcap=50 (Gemma head dim, 32 dims per lane)', B: 1, T: 3, NH: 2, KVH: 1, HD: 256, scale: 1 / 16, softcap: 50 }, 10),
  attentionCase({ name: 'T=4 MHA NH=KVH=1 HD=256 window=3, tiles for a 16 KiB device', B: 1, T: 4, NH: 1, KVH: 1, HD: 256, scale: 1 / 16, softcap: 50, window: 3, blocks: blocksFor(256, 16384) }, 11),
  {
    // No atomics: the same inputs give bit-identical gradients, and asking for only dv gives the
    // same dv as asking for all three (the dkv kernel runs either way; dq is skipped).
    name: 'attention: deterministic backward; v-only gradient equals the full run',
    run: async (e) => {
      const rng = new Rng(12);
      const [B, T, NH, KVH, HD] = [2, 17, 4, 2, 8];
      const qd = Float32Array.from(rng.array(B * T * NH * HD));
      const kd = Float32Array.from(rng.array(B * T * KVH * HD));
      const vd = Float32Array.from(rng.array(B * T * KVH * HD));
      const dO = Float32Array.from(rng.array(B * T * NH * HD));
      const mask = Uint32Array.from(mask17);
      const grads = async (want: [boolean, boolean, boolean]) => {
        const q = e.tensor(qd, [B, T, NH, HD], { requiresGrad: want[0] });
        const k = e.tensor(kd, [B, T, KVH, HD], { requiresGrad: want[1] });
        const v = e.tensor(vd, [B, T, KVH, HD], { requiresGrad: want[2] });
        const m = e.tensor(mask, [B, T], { dtype: 'u32' });
        const o = attention(q, k, v, { scale: 0.7, softcap: 50, window: 6, keyMask: m });
        const seed = e.tensor(dO, o.shape);
        e.backward(o, { seeds: [seed] });
        const out = await Promise.all([q, k, v].map((t) => (t.grad ? readBits(e, t.grad) : Promise.resolve(null))));
        for (const t of [q, k, v, m, o, seed]) t.dispose();
        return out;
      };
      const a = await grads([true, true, true]);
      const b = await grads([true, true, true]);
      const c = await grads([false, false, true]);
      for (let i = 0; i < 3; i++) {
        if (!sameBits(a[i], b[i])) throw new Error(`gradient of input ${i} differs between two identical runs`);
      }
      if (c[0] !== null || c[1] !== null) throw new Error('inputs without requiresGrad received a gradient');
      if (!sameBits(a[2], c[2])) throw new Error('dv with only v requiring a gradient differs from the full run');
    },
  },
];

async function readBits(e: Engine, t: Tensor): Promise<Uint32Array> {
  const d = await e.read(t);
  return new Uint32Array(d.buffer, d.byteOffset, d.length);
}

function sameBits(a: Uint32Array | null, b: Uint32Array | null): boolean {
  return a !== null && b !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}
