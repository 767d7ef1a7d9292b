// attention_decode with *finite* poison in every cache row a query must not see: rows past
// p0 + Tq, rows outside the sliding window and left-padding rows hold 1e4 in K and V. The NaN-filled
// caches of attention_decode.ts catch a stray read only if NaN propagates, which WGSL lets drivers
// assume away; a stray read of 1e4 keys/values moves the output far from the float64 reference on
// any driver (the reference reads only visible rows). Forward only, as the op.
import { checkOp, Rng, type GpuCase } from '../harness.ts';
import { attentionDecode } from '../../ops/attention_decode.ts';
import type { Spec as DecodeSpec } from './attention_decode.ts';
import { attentionDecodeRef } from '../../reference/attention_decode.ts';

const POISON = 1e4;

/** The decode case's shapes plus left padding: the first pad[b] rows of sequence b are masked. */
type Spec = Omit<DecodeSpec, 'mask' | 'scale' | 'qkRange' | 'tol'> & { pad?: number[] };

function paddingCase(s: Spec, seed: number): GpuCase {
  return {
    name: `attention_decode: finite poison in invisible rows, ${s.name}`,
    run: async (e) => {
      const rng = new Rng(seed);
      const row = s.KVH * s.HD;
      const S = s.p0 + s.Tq;
      const firstVisible = (b: number, i: number): number => Math.max(s.pad?.[b] ?? 0, s.window ? s.p0 + i - s.window + 1 : 0);
      // A row is poisoned if no query of its sequence may see it.
      const invisible = (b: number, k: number): boolean => k >= S || Array.from({ length: s.Tq }, (_, i) => k < firstVisible(b, i) || k > s.p0 + i).every(Boolean);
      const cache = (): Float64Array => {
        const a = rng.array(s.B * s.S_max * row);
        for (let i = 0; i < a.length; i++) {
          const b = Math.floor(i / (s.S_max * row));
          if (invisible(b, Math.floor(i / row) % s.S_max)) a[i] = POISON;
        }
        return a;
      };
      const mask = s.pad ? Array.from({ length: s.B * s.S_max }, (_, i) => (i % s.S_max < s.pad![Math.floor(i / s.S_max)] ? 0 : 1)) : null;
      const poisoned = cache().filter((x) => x === POISON).length;
      if (poisoned === 0) throw new Error(`${s.name}: the spec poisons no row`);
      const scale = 1 / Math.sqrt(s.HD);
      const dims = { B: s.B, Tq: s.Tq, S_max: s.S_max, NH: s.NH, KVH: s.KVH, HD: s.HD };
      const opts = { p0: s.p0, scale, softcap: s.softcap, window: s.window };
      await checkOp(e, {
        name: `attention_decode poison ${s.name}`,
        inputs: [
          { data: rng.array(s.B * s.Tq * s.NH * s.HD), shape: [s.B, s.Tq, s.NH, s.HD] },
          { data: cache(), shape: [s.B, s.S_max, s.KVH, s.HD] },
          { data: cache(), shape: [s.B, s.S_max, s.KVH, s.HD] },
          ...(mask ? [{ data: mask, shape: [s.B, s.S_max], dtype: 'i32' as const, grad: false }] : []),
        ],
        gpu: ([q, k, v, m]) => attentionDecode(q, k, v, { ...opts, keyMask: m ?? null, tiles: s.tiles, splitLen: s.splitLen }),
        cpu: ([q, k, v, m]) => [attentionDecodeRef(q, k, v, dims, { ...opts, keyMask: m ?? null })],
        fwd: { atol: 2e-5, rtol: 1e-4 }, // as attention_decode.ts: o is a convex combination of v ∈ [−1, 1]
        bwd: { atol: 0, rtol: 0 },
        forwardOnly: true,
        seed,
      });
    },
  };
}

export const cases: GpuCase[] = [
  paddingCase({ name: 'Tq=1 p0=30 window=5 split 4, rows past S', B: 1, Tq: 1, S_max: 40, p0: 30, NH: 4, KVH: 2, HD: 8, window: 5, splitLen: 4 }, 21),
  paddingCase({ name: 'Tq=1 p0=20 B=2 left padding 0/9, softcap 50, split 6', B: 2, Tq: 1, S_max: 28, p0: 20, NH: 4, KVH: 2, HD: 4, softcap: 50, pad: [0, 9], splitLen: 6 }, 22),
  paddingCase({ name: 'Tq=5 prefill at p0=6 window=3, left padding 0/4, tiny tiles', B: 2, Tq: 5, S_max: 16, p0: 6, NH: 3, KVH: 1, HD: 6, window: 3, pad: [0, 4], tiles: { lanes: 2, rb: 4, bc: 4 } }, 23),
];
