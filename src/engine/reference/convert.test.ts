import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, toF32Ref } from './convert.ts';

/** f32 values from raw bit patterns (to state exact ties and NaN payloads). */
function fromBits(...u: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(u).buffer);
}
const hex = (a: Uint16Array) => Array.from(a, (v) => '0x' + v.toString(16).padStart(4, '0'));

describe('f32ToF16Bits / f16BitsToF32', () => {
  it('matches numpy float32 → float16 (round to nearest even)', () => {
    // python3: import numpy as np; np.array(vals, np.float32).astype(np.float16).view(np.uint16)
    const vals = [1.0, -2.0, 0.1, 1 / 3, 65504, 65519, 65520, 1e5, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -14, 6.1e-5, 1e-7, -3.14159265, 1e-30, 0, -0, 2049, 2051, 1.0009765625, 1.00048828125, 1.00146484375];
    const want = [0x3c00, 0xc000, 0x2e66, 0x3555, 0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x0001, 0x0000, 0x0002, 0x0400, 0x03ff, 0x0002, 0xc248, 0x0000, 0x0000, 0x8000, 0x6800, 0x6802, 0x3c01, 0x3c00, 0x3c02];
    expect(hex(f32ToF16Bits(Float32Array.from(vals)))).toEqual(hex(Uint16Array.from(want)));
    // rng = np.random.default_rng(0); x = (rng.standard_normal(8) * [1,1e-3,1e-5,1e-6,100,1e4,3e4,0.5]).astype(np.float32)
    const x = [0.1257302165031433, -0.0001321048621321097, 6.404226496670162e-6, 1.0490011703723212e-7, -53.56693649291992, 3615.950439453125, 39120.0, 0.4735404849052429];
    expect(hex(f32ToF16Bits(Float32Array.from(x)))).toEqual(hex(Uint16Array.from([0x3006, 0x8854, 0x006b, 0x0002, 0xd2b2, 0x6b10, 0x78c6, 0x3794])));
  });

  it('keeps ±inf, NaN and ±0', () => {
    const b = f32ToF16Bits(Float32Array.from([Infinity, -Infinity, NaN, -0, 0]));
    expect(hex(b.subarray(0, 2))).toEqual(['0x7c00', '0xfc00']);
    expect((b[2] & 0x7c00) === 0x7c00 && (b[2] & 0x03ff) !== 0).toBe(true);
    expect(hex(b.subarray(3))).toEqual(['0x8000', '0x0000']);
    // A signalling f32 NaN whose payload sits only in the low 13 bits must not become inf.
    const s = f32ToF16Bits(fromBits(0x7f800001))[0];
    expect(s & 0x03ff).not.toBe(0);
  });

  it('decodes from the fields: subnormals, extremes, specials', () => {
    const y = f16BitsToF32(Uint16Array.from([0x0001, 0x03ff, 0x0400, 0x7bff, 0x3555, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xc248]));
    expect(Array.from(y.subarray(0, 6))).toEqual([2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, 0.333251953125, -0]);
    expect(Object.is(y[5], -0)).toBe(true);
    expect([y[6], y[7]]).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(y[8])).toBe(true);
    expect(y[9]).toBe(-3.140625);
  });

  it('round-trips all 65536 bit patterns (NaNs stay NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = f32ToF16Bits(f16BitsToF32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN) expect((back[i] & 0x7c00) === 0x7c00 && (back[i] & 0x3ff) !== 0).toBe(true);
      else if (back[i] !== i) expect(hex(back.subarray(i, i + 1))).toEqual(hex(all.subarray(i, i + 1)));
    }
  });
});

describe('f32ToBf16Bits / bf16BitsToF32', () => {
  it('rounds to nearest even on the dropped 16 bits', () => {
    // Hand-derived from the spec formula u16 = (u32 + 0x7FFF + ((u32 >> 16) & 1)) >> 16:
    // 1 + 2^-8 (0x3F808000) is a tie between 0x3F80 and 0x3F81 → even 0x3F80; 0x3F818000 → 0x3F82;
    // one bit above the tie (0x3F808001) rounds up; pi 0x40490FDB → 0x4049.
    const x = fromBits(0x3f800000, 0xc0000000, 0x3f808000, 0x3f818000, 0x3f808001, 0x40490fdb, 0x7f7f7fff, 0x7f7fffff, 0x00000001, 0x00018000, 0x80000000, 0x00000000, 0x7f800000, 0xff800000);
    const want = [0x3f80, 0xc000, 0x3f80, 0x3f82, 0x3f81, 0x4049, 0x7f7f, 0x7f80, 0x0000, 0x0002, 0x8000, 0x0000, 0x7f80, 0xff80];
    expect(hex(f32ToBf16Bits(x))).toEqual(hex(Uint16Array.from(want)));
  });

  it('keeps NaN a NaN (quiet bit set), including NaNs whose payload is only in the low half', () => {
    const b = f32ToBf16Bits(fromBits(0x7fc00000, 0x7f800001, 0xffc00000, 0xff800001));
    expect(hex(b)).toEqual(['0x7fc0', '0x7fc0', '0xffc0', '0xffc0']);
  });

  it('decodes from the fields: subnormals, extremes, specials', () => {
    const y = bf16BitsToF32(Uint16Array.from([0x3f80, 0x4049, 0x0001, 0x007f, 0x0080, 0x7f7f, 0x8000, 0x7f80, 0xff80, 0x7fc0]));
    // 0x7F7F = (1 + 127/128)·2^127 = 3.3895313892515355e38; 0x0001 = 2^-133 (an f32 subnormal).
    expect(Array.from(y.subarray(0, 7))).toEqual([1, 3.140625, 2 ** -133, 127 * 2 ** -133, 2 ** -126, 3.3895313892515355e38, -0]);
    expect(Object.is(y[6], -0)).toBe(true);
    expect([y[7], y[8]]).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(y[9])).toBe(true);
  });

  it('round-trips all 65536 bit patterns and equals the top half of the f32 bits', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const y = bf16BitsToF32(all);
    const yBits = new Uint32Array(y.buffer);
    const back = f32ToBf16Bits(y);
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (isNaN) {
        expect(Number.isNaN(y[i])).toBe(true);
        continue;
      }
      if (yBits[i] !== i << 16 >>> 0 || back[i] !== i) throw new Error(`bf16 0x${i.toString(16)}: decoded bits 0x${yBits[i].toString(16)}, re-encoded 0x${back[i].toString(16)}`);
    }
  });

  it('toF32Ref decodes raw patterns held as float64 numbers', () => {
    expect(Array.from(toF32Ref(Float64Array.from([0x3f80, 0xc000]), 'bf16'))).toEqual([1, -2]);
    expect(Array.from(toF32Ref(Float64Array.from([0x3c00, 0x0001]), 'f16'))).toEqual([1, 2 ** -24]);
  });
});
