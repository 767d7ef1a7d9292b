// convert: toF32 of bf16 and f16 storage tensors — odd and even sizes (the last u32 word half
// filled), exact bit-for-bit results including ±0, subnormals, ±inf and NaN — and the rules
// around it: no backward (NoBackwardError), f32 input rejected.
import type { Engine } from '../../engine.ts';
import { NoBackwardError, ShapeError } from '../../errors.ts';
import { toF32 } from '../../ops/convert.ts';
import { sum } from '../../ops/reduce.ts';
import { toF32Ref } from '../../reference/convert.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../../util/halfs.ts';
import { checkOp, Rng, type GpuCase } from '../harness.ts';

const rng = new Rng(41);
// Widening bf16/f16 to f32 is exact: every 16-bit value is an f32.
const exact = { atol: 0, rtol: 0 };

type Dtype16 = 'bf16' | 'f16';

/** Random 16-bit patterns of finite values over a wide range of magnitudes (incl. f16 subnormals). */
function randomBits(n: number, dtype: Dtype16): number[] {
  const x = Float32Array.from({ length: n }, () => rng.normal() * 10 ** rng.uniform(-7, 4));
  return Array.from(dtype === 'bf16' ? f32ToBf16Bits(x) : f32ToF16Bits(x));
}

// Every special class, in an odd count so the last word is half filled.
const SPECIALS: Record<Dtype16, number[]> = {
  // ±0, smallest/largest subnormal, smallest normal, largest finite, ±inf, quiet/signalling/negative NaN, 1, −π.
  bf16: [0x0000, 0x8000, 0x0001, 0x807f, 0x0080, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffc1, 0x3f80, 0xc049, 0x0042],
  f16: [0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe01, 0x3c00, 0xc248, 0x0155],
};

async function specialsCase(e: Engine, dtype: Dtype16): Promise<void> {
  const bits = SPECIALS[dtype];
  const x = e.tensor(Uint16Array.from(bits), [bits.length], { dtype });
  const y = toF32(x);
  const got = await y.readF32();
  const want = toF32Ref(Float64Array.from(bits), dtype);
  const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const wantBits = new Uint32Array(Float32Array.from(want).buffer);
  bits.forEach((b, i) => {
    const ok = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : gotBits[i] === wantBits[i]; // bits: ±0 and subnormals exact
    if (!ok) throw new Error(`toF32(${dtype}) of 0x${b.toString(16)} (element ${i}): got ${got[i]} (0x${gotBits[i].toString(16)}), expected ${want[i]} (0x${wantBits[i].toString(16)})`);
  });
  [x, y].forEach((t) => t.dispose());
}

export const cases: GpuCase[] = [
  ...(['bf16', 'f16'] as const).flatMap((dtype) => [
    ...[1, 2, 7, 1001].map((n) => ({
      name: `convert: toF32 ${dtype} n=${n}`,
      run: (e) =>
        checkOp(e, {
          name: `toF32 ${dtype} n=${n}`,
          inputs: [{ data: randomBits(n, dtype), shape: [n], dtype }],
          gpu: ([x]) => toF32(x),
          cpu: ([bits]) => [toF32Ref(bits, dtype)],
          fwd: exact,
          bwd: exact,
          forwardOnly: true,
        }),
    }) satisfies GpuCase),
    {
      name: `convert: toF32 ${dtype} shape [3,5] (2-D, odd size)`,
      run: (e) => checkOp(e, { name: `toF32 ${dtype} [3,5]`, inputs: [{ data: randomBits(15, dtype), shape: [3, 5], dtype }], gpu: ([x]) => toF32(x), cpu: ([bits]) => [toF32Ref(bits, dtype)], fwd: exact, bwd: exact, forwardOnly: true }),
    } satisfies GpuCase,
    { name: `convert: toF32 ${dtype} ±0, subnormals, extremes, ±inf, NaN (bit-exact)`, run: (e) => specialsCase(e, dtype) } satisfies GpuCase,
  ]),
  {
    name: 'convert: toF32 of an empty tensor',
    run: async (e) => {
      const x = e.tensor(new Uint16Array(0), [0, 3], { dtype: 'bf16' });
      const y = toF32(x);
      if (y.size !== 0 || y.dtype !== 'f32' || (await y.read()).length !== 0) throw new Error(`toF32 of bf16[0, 3] gave ${y.describe()}`);
      [x, y].forEach((t) => t.dispose());
    },
  },
  {
    name: 'convert: a gradient reaching toF32 throws NoBackwardError',
    run: async (e) => {
      const x = e.tensor(Uint16Array.from([0x3f80, 0x4000, 0x4040]), [3], { dtype: 'bf16', requiresGrad: true });
      const y = toF32(x);
      const s = sum(y, 0);
      let err: unknown = null;
      try {
        e.backward(s);
      } catch (caught) {
        err = caught;
      }
      if (!(err instanceof NoBackwardError) || !/toF32/.test(err.message)) throw new Error(`expected NoBackwardError naming toF32, got ${String(err)}`);
      // Under noGrad (the normal use: frozen weights) nothing is recorded.
      const y2 = e.noGrad(() => toF32(x));
      if (y2.requiresGrad || y2.node) throw new Error('toF32 under noGrad recorded a tape node');
      [x, y, s, y2].forEach((t) => t.dispose());
    },
  },
  {
    name: 'convert: toF32 rejects f32 and i32 inputs',
    run: async (e) => {
      for (const [t, pattern] of [
        [e.zeros([2]), /got f32\[2\][\s\S]*already f32/],
        [e.tensor([1, 2], [2], { dtype: 'i32' }), /got i32\[2\]/],
      ] as const) {
        let err: unknown = null;
        try {
          toF32(t);
        } catch (caught) {
          err = caught;
        }
        if (!(err instanceof ShapeError) || !pattern.test(err.message)) throw new Error(`expected a ShapeError matching ${pattern}, got ${String(err)}`);
        t.dispose();
      }
    },
  },
];
