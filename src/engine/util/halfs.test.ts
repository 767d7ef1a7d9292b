// The host encoders f32 → bf16 / f16 against values computed independently (numpy, and the
// spec's bf16 rounding formula worked by hand). Decoding and round trips over every 16-bit pattern
// are tested with the float64 decoders in reference/convert.test.ts.
import { describe, expect, it } from 'vitest';
import { f32ToBf16Bits, f32ToF16Bits } from './halfs.ts';

/** f32 values from raw bit patterns (to state exact ties and NaN payloads). */
function fromBits(...u: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(u).buffer);
}
const hex = (a: Uint16Array) => Array.from(a, (v) => '0x' + v.toString(16).padStart(4, '0'));

describe('f32ToF16Bits', () => {
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
});

describe('f32ToBf16Bits', () => {
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

  it('rounds every tie to the even neighbour and everything else to the nearer one (1000 random patterns)', () => {
    // Definition check in exact integer arithmetic: the bf16 value is the nearer of the two
    // neighbours ⌊u / 2^16⌋ and ⌊u / 2^16⌋ + 1 (even one on a tie).
    let s = 12345;
    for (let n = 0; n < 1000; n++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const u = s & 0x7f7fffff; // positive, finite
      const lo = Math.floor(u / 65536);
      const rem = u - lo * 65536;
      const want = rem > 32768 || (rem === 32768 && lo % 2 === 1) ? lo + 1 : lo;
      expect(f32ToBf16Bits(fromBits(u))[0], `0x${u.toString(16)}`).toBe(want);
      expect(f32ToBf16Bits(fromBits(u | 0x80000000))[0], `-0x${u.toString(16)}`).toBe(want | 0x8000);
    }
  });
});
