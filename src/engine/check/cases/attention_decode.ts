// GPU cases for the KV-cache attention op (generation): forward vs the float64 reference, which is
// written independently from the spec. Forward only (the op has no backward; a case checks that a
// gradient reaching it throws NoBackwardError). Shapes are awkward on purpose: Tq = 1 (decode) and
// Tq > 1 (prefill, and a chunk of new tokens at p0 > 0), S = p0 + Tq up to 40 inside a larger cache
// whose unused rows hold NaN (they must never be read), windows shorter than S, GQA groups of 2
// and 3, head dims 4, 6, 8 and 256, the softcap bending |s| ≈ 100, left-padded batches (including
// a query whose every visible key is padding: o = 0), and forced small tiles and key splits so the
// multi-tile loop, the split/merge path and empty splits run at tiny S. Also: the op equals the
// training attention op when S = Tq, and the cache write lands in the right rows only.
import { checkOp, expectClose, Rng, type GpuCase, type InputSpec, type Tol } from '../harness.ts';
import { attention } from '../../ops/attention.ts';
import { attentionDecode, decodeTiles, writeKVCache, type DecodeTiles } from '../../ops/attention_decode.ts';
import { attentionDecodeRef } from '../../reference/attention_decode.ts';
import { NoBackwardError } from '../../errors.ts';

// Forward: o is a convex combination of v ∈ [−1, 1]; f32 dots, exp, the online rescaling and the
// split merge give ~1e-6 absolute (same bound as the training attention's forward).
const fwd: Tol = { atol: 2e-5, rtol: 1e-4 };
// ρ = 6 with |q·k| up to ~16 puts scores at ±100 before the cap: f32 rounding of the dot grows 6×.
const fwdBig: Tol = { atol: 1e-4, rtol: 1e-4 };

/** A decode case's shapes and options (attention_decode_padding.ts reuses it). */
export interface Spec {
  name: string;
  B: number;
  Tq: number;
  S_max: number;
  p0: number;
  NH: number;
  KVH: number;
  HD: number;
  scale?: number;
  softcap?: number;
  window?: number;
  /** [B, S_max] 1/0. */
  mask?: number[];
  tiles?: DecodeTiles;
  splitLen?: number;
  qkRange?: number;
  tol?: Tol;
}

/** q, the two caches (rows ≥ p0 + Tq are NaN: never read), optional mask, as checkOp inputs. */
function decodeInputs(s: Spec, rng: Rng): InputSpec[] {
  const r = s.qkRange ?? 1;
  const S = s.p0 + s.Tq;
  const row = s.KVH * s.HD;
  const cache = (lo: number, hi: number) => {
    const a = rng.array(s.B * s.S_max * row, lo, hi);
    for (let i = 0; i < a.length; i++) if (Math.floor(i / row) % s.S_max >= S) a[i] = NaN;
    return a;
  };
  const inputs: InputSpec[] = [
    { data: rng.array(s.B * s.Tq * s.NH * s.HD, -r, r), shape: [s.B, s.Tq, s.NH, s.HD] },
    { data: cache(-r, r), shape: [s.B, s.S_max, s.KVH, s.HD] },
    { data: cache(-1, 1), shape: [s.B, s.S_max, s.KVH, s.HD] },
  ];
  if (s.mask) inputs.push({ data: s.mask, shape: [s.B, s.S_max], dtype: 'i32', grad: false });
  return inputs;
}

function decodeCase(s: Spec, seed: number): GpuCase {
  return {
    name: `attention_decode: ${s.name}`,
    run: async (e) => {
      const dims = { B: s.B, Tq: s.Tq, S_max: s.S_max, NH: s.NH, KVH: s.KVH, HD: s.HD };
      const scale = s.scale ?? 1 / Math.sqrt(s.HD);
      const opts = { p0: s.p0, scale, softcap: s.softcap, window: s.window };
      await checkOp(e, {
        name: s.name,
        inputs: decodeInputs(s, new Rng(seed)),
        gpu: ([q, k, v, m]) => attentionDecode(q, k, v, { ...opts, keyMask: m ?? null, tiles: s.tiles, splitLen: s.splitLen }),
        cpu: ([q, k, v, m]) => [attentionDecodeRef(q, k, v, dims, { ...opts, keyMask: m ?? null })],
        fwd: s.tol ?? fwd,
        bwd: fwd,
        forwardOnly: true,
        seed,
      });
    },
  };
}

/** Tiny tiles: 2 lanes, 4 rows, 4 keys — multi-tile loops and idle rows at small S. */
const tiny: DecodeTiles = { lanes: 2, rb: 4, bc: 4 };
/** What decodeTiles picks on a device with `bytes` of workgroup storage. */
const tilesFor = (HD: number, rows: number, bytes: number) => decodeTiles(HD, rows, { maxComputeWorkgroupStorageSize: bytes, maxComputeInvocationsPerWorkgroup: 256 });

// Left padding for B = 2, S_max = 40: sequence 0 unpadded, sequence 1 padded on its first 9 rows.
const leftPad40 = [...Array<number>(40).fill(1), ...Array.from({ length: 40 }, (_, t) => (t < 9 ? 0 : 1))];
// B = 2, S_max = 12: sequence 1 padded on rows 0..6, so with window 3 its query at row 6 sees only padding.
const leftPad12 = [...Array<number>(12).fill(1), ...Array.from({ length: 12 }, (_, t) => (t < 7 ? 0 : 1))];

export const cases: GpuCase[] = [
  decodeCase({ name: 'Tq=1 p0=0 (first token) MHA HD=8', B: 1, Tq: 1, S_max: 3, p0: 0, NH: 2, KVH: 2, HD: 8 }, 1),
  decodeCase({ name: 'Tq=1 p0=36 GQA 4:2 HD=8 global', B: 1, Tq: 1, S_max: 40, p0: 36, NH: 4, KVH: 2, HD: 8 }, 2),
  decodeCase({ name: 'Tq=1 p0=38 GQA 4:2 HD=8 window=5 softcap=50', B: 1, Tq: 1, S_max: 40, p0: 38, NH: 4, KVH: 2, HD: 8, window: 5, softcap: 50 }, 3),
  decodeCase({ name: 'Tq=1 p0=38 GQA 3:1 HD=6 split into 7-key chunks, tiny tiles', B: 1, Tq: 1, S_max: 40, p0: 38, NH: 3, KVH: 1, HD: 6, splitLen: 7, tiles: tiny }, 4),
  decodeCase({ name: 'Tq=1 p0=33 B=2 left padding, window=9, split 5, softcap=50', B: 2, Tq: 1, S_max: 40, p0: 33, NH: 4, KVH: 2, HD: 4, window: 9, softcap: 50, mask: leftPad40, splitLen: 5 }, 5),
  decodeCase({ name: 'Tq=7 prefill p0=0 GQA 3:1 HD=6 window=3 tiny tiles', B: 1, Tq: 7, S_max: 9, p0: 0, NH: 3, KVH: 1, HD: 6, window: 3, tiles: tiny }, 6),
  decodeCase({ name: 'Tq=17 prefill p0=0 B=2 GQA 4:2 HD=8 window=4 left padding', B: 2, Tq: 17, S_max: 40, p0: 0, NH: 4, KVH: 2, HD: 8, window: 4, mask: leftPad40 }, 7),
  decodeCase({ name: 'Tq=4 at p0=30 B=2 left padding window=8 softcap=50, split 3 (empty splits)', B: 2, Tq: 4, S_max: 40, p0: 30, NH: 4, KVH: 2, HD: 8, window: 8, softcap: 50, mask: leftPad40, splitLen: 3, tiles: tiny }, 8),
  decodeCase({ name: 'Tq=2 p0=5 window=3: a query that sees only padding gives o = 0', B: 2, Tq: 2, S_max: 12, p0: 5, NH: 2, KVH: 1, HD: 4, window: 3, mask: leftPad12, splitLen: 2 }, 9),
  decodeCase({ name: 'Tq=1 p0=20 GQA 4:2 HD=16 softcap=50 |s|≈100', B: 1, Tq: 1, S_max: 24, p0: 20, NH: 4, KVH: 2, HD: 16, scale: 6, softcap: 50, qkRange: 1, tol: fwdBig }, 10),
  decodeCase({ name: 'Tq=1 p0=19 GQA 2:1 HD=256 softcap=50 (gemma-2-2b head, default tiles)', B: 1, Tq: 1, S_max: 20, p0: 19, NH: 2, KVH: 1, HD: 256, scale: 1 / 16, softcap: 50 }, 11),
  decodeCase({ name: 'Tq=3 p0=9 GQA 2:1 HD=256 window=6, tiles for a 16 KiB device, split 4', B: 1, Tq: 3, S_max: 14, p0: 9, NH: 2, KVH: 1, HD: 256, scale: 1 / 16, softcap: 50, window: 6, tiles: tilesFor(256, 6, 16384), splitLen: 4 }, 12),
  {
    // At p0 = 0 with S_max = Tq the cache is the whole k/v: the op must equal the training kernel.
    name: 'attention_decode: equals the training attention op when S = Tq (GQA, window, mask, softcap)',
    run: async (e) => {
      const rng = new Rng(13);
      const [B, T, NH, KVH, HD] = [2, 12, 4, 2, 8];
      const q = e.tensor(Float32Array.from(rng.array(B * T * NH * HD)), [B, T, NH, HD]);
      const k = e.tensor(Float32Array.from(rng.array(B * T * KVH * HD)), [B, T, KVH, HD]);
      const v = e.tensor(Float32Array.from(rng.array(B * T * KVH * HD)), [B, T, KVH, HD]);
      const m = e.tensor(Int32Array.from(leftPad12), [B, T], { dtype: 'i32' });
      const opts = { scale: 0.9, softcap: 5, window: 5, keyMask: m };
      const want = attention(q, k, v, opts);
      for (const splitLen of [undefined, 4]) {
        const got = attentionDecode(q, k, v, { ...opts, p0: 0, splitLen });
        expectClose(await got.readF32(), await want.readF32(), { atol: 1e-6, rtol: 1e-5 }, `decode (splitLen ${splitLen}) vs training attention`);
        got.dispose();
      }
      for (const t of [q, k, v, m, want]) t.dispose();
    },
  },
  {
    name: 'attention_decode: kv_cache_write fills rows p0 … p0+Tq−1 of each sequence, nothing else',
    run: async (e) => {
      const [B, Tq, S_max, KVH, HD, p0] = [2, 3, 7, 2, 5, 2];
      const row = KVH * HD;
      const kc = e.full([B, S_max, KVH, HD], -1);
      const vc = e.full([B, S_max, KVH, HD], -2);
      const kNew = Float32Array.from({ length: B * Tq * row }, (_, i) => i);
      const vNew = Float32Array.from({ length: B * Tq * row }, (_, i) => 1000 + i);
      const k = e.tensor(kNew, [B, Tq, KVH, HD]);
      const v = e.tensor(vNew, [B, Tq, KVH, HD]);
      writeKVCache(kc, vc, k, v, p0);
      const want = (fill: number, src: Float32Array) =>
        Float32Array.from({ length: B * S_max * row }, (_, i) => {
          const b = Math.floor(i / (S_max * row));
          const s = Math.floor(i / row) % S_max;
          return s >= p0 && s < p0 + Tq ? src[(b * Tq + s - p0) * row + (i % row)] : fill;
        });
      expectClose(await kc.readF32(), want(-1, kNew), { atol: 0, rtol: 0 }, 'k cache');
      expectClose(await vc.readF32(), want(-2, vNew), { atol: 0, rtol: 0 }, 'v cache');
      for (const t of [kc, vc, k, v]) t.dispose();
    },
  },
  {
    name: 'attention_decode: a gradient reaching the op throws NoBackwardError',
    run: async (e) => {
      const q = e.tensor(new Float32Array(8), [1, 1, 2, 4], { requiresGrad: true });
      const kc = e.zeros([1, 3, 1, 4]);
      const vc = e.zeros([1, 3, 1, 4]);
      const o = attentionDecode(q, kc, vc, { p0: 0, scale: 1 });
      const seed = e.full(o.shape, 1);
      let threw: unknown = null;
      try {
        e.backward(o, { seeds: [seed] });
      } catch (err) {
        threw = err;
      }
      if (!(threw instanceof NoBackwardError)) throw new Error(`expected NoBackwardError, got ${String(threw)}`);
      e.releaseGraph(o);
      for (const t of [q, kc, vc, o, seed]) t.dispose();
    },
  },
];
