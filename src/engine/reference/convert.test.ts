// The float64 decoders (the reference of toF32) from the formats' fields, and round trips of every
// 16-bit pattern through the host encoders (util/halfs.ts, tested on their own in halfs.test.ts).
import { describe, expect, it } from 'vitest';
import { f32ToBf16Bits, f32ToF16Bits } from '../util/halfs.ts';
import { bf16BitsToF32, f16BitsToF32, toF32Ref } from './convert.ts';
const hex = (a: Uint16Array) => Array.from(a, (v) => '0x' + v.toString(16).padStart(4, '0'));

describe('f16BitsToF32 (and f32ToF16Bits on every pattern)', () => {
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

describe('bf16BitsToF32 (and f32ToBf16Bits on every pattern)', () => {
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
