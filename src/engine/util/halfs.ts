// f32 → 16-bit float encoders on the host: bfloat16 and IEEE float16, both rounding to nearest,
// ties to even. Export (model/export.ts) writes trained f32 tensors as BF16/F16 with them, and the
// synthetic checkpoints (store/synthetic.ts) use them. Written from the formats' definitions
// (gemma2-and-formats.md §3 "bfloat16"):
// - bfloat16: the upper 16 bits of an IEEE-754 binary32 pattern (1 sign, 8 exponent, 7 mantissa
//   bits), rounded on the dropped 16 bits; NaN stays NaN (quiet bit set);
// - float16 (binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals are m·2⁻²⁴;
//   exponent 31 is ±inf (m = 0) or NaN. Values beyond 65504 after rounding become ±inf.
//
// Not here: decoding (safetensors.ts toFloat32 on the host, ops/convert.ts toF32 on the GPU; the
// float64 decoders that test them are in reference/convert.ts).

/** Rounds an integer `q` + fraction `rem / 2^shift` to nearest, ties to even. */
function roundNearestEven(q: number, rem: number, shift: number): number {
  const half = 2 ** (shift - 1);
  if (rem > half || (rem === half && q % 2 === 1)) return q + 1;
  return q;
}

/** The bit patterns of f32 values (a view: a Float32Array is always 4-aligned). */
const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

/** f32 values → bf16 bit patterns, round-to-nearest-even; NaN → quiet NaN of the same sign. */
export function f32ToBf16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  const bits = bitsOf(x);
  for (let i = 0; i < x.length; i++) {
    const u = bits[i];
    if ((u & 0x7fffffff) > 0x7f800000) {
      // NaN: keep sign and top payload, force the quiet bit so truncation cannot make it ±inf.
      out[i] = (u >>> 16) | 0x0040;
      continue;
    }
    // The high 16 bits rounded on the low 16: adding 0x7fff plus the kept part's lowest bit carries
    // into bit 16 exactly when the dropped half is above 0x8000, or equal to it and the kept part
    // odd. A carry out of the mantissa bumps the exponent, which is exactly right (up to the next
    // binade, or to ±inf past the largest finite bf16). u ≤ 0xff800000 here: the sum stays < 2^32.
    out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** f32 values → f16 bit patterns, round-to-nearest-even; beyond 65504 (after rounding) → ±inf. */
export function f32ToF16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  const bits = bitsOf(x);
  for (let i = 0; i < x.length; i++) {
    const u = bits[i];
    const sign = (u >>> 16) & 0x8000;
    const exp = (u >>> 23) & 0xff; // biased by 127
    const man = u & 0x7fffff;
    if (exp === 0xff) {
      // ±inf stays inf; NaN becomes a quiet NaN keeping the top of its payload.
      out[i] = sign | 0x7c00 | (man ? 0x0200 | (man >>> 13) : 0);
      continue;
    }
    const e = exp - 127 + 15; // exponent re-biased for f16
    if (e >= 31) {
      out[i] = sign | 0x7c00; // too large even before rounding
    } else if (e >= 1) {
      // Normal: keep 10 of the 23 mantissa bits. A rounding carry moves into the exponent field
      // (1023 + 1 = 1024), which also turns 65520 and up into inf (0x7c00).
      out[i] = sign | roundNearestEven((e << 10) | (man >>> 13), man & 0x1fff, 13);
    } else {
      // Subnormal or zero in f16: the value in units of 2^-24 is (1.man)·2^(exp-127) / 2^-24
      // = (man | 1<<23) >> (126 - exp). Past a shift of 25 everything rounds to ±0.
      const shift = 126 - exp;
      if (exp === 0 || shift > 25) {
        out[i] = sign; // f32 zeros/subnormals and values below 2^-25 (half the smallest f16 step)
      } else {
        const m24 = man | 0x800000;
        const q = Math.floor(m24 / 2 ** shift);
        out[i] = sign | roundNearestEven(q, m24 - q * 2 ** shift, shift); // may round up to the smallest normal 0x0400
      }
    }
  }
  return out;
}
