// Host-side 16-bit float encoders and decoders, written from the formats' definitions and
// independent of convert.wgsl (which they test):
// - bfloat16: the upper 16 bits of an IEEE-754 binary32 pattern (1 sign, 8 exponent, 7 mantissa
//   bits). Encoding rounds to nearest, ties to even, on the dropped 16 bits; NaN stays NaN
//   (gemma2-and-formats.md §3 "bfloat16").
// - float16 (IEEE-754 binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals are
//   m·2⁻²⁴; exponent 31 is ±inf (m = 0) or NaN. Encoding rounds to nearest even, overflows to ±inf.
// Decoders compute the value in float64 from the fields (exact: every 16-bit value is an f32).

// One scratch word to read an f32's bit pattern.
const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

function bitsOf(v: number): number {
  scratchF[0] = v;
  return scratchU[0];
}

/** Rounds an integer `q` + fraction `rem / 2^shift` to nearest, ties to even. */
function roundNearestEven(q: number, rem: number, shift: number): number {
  const half = 2 ** (shift - 1);
  if (rem > half || (rem === half && q % 2 === 1)) return q + 1;
  return q;
}

/** f32 values → bf16 bit patterns, round-to-nearest-even; NaN → quiet NaN of the same sign. */
export function f32ToBf16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = bitsOf(x[i]);
    if ((u & 0x7fffffff) > 0x7f800000) {
      // NaN: keep sign and top payload, force the quiet bit so truncation cannot make it ±inf.
      out[i] = (u >>> 16) | 0x0040;
      continue;
    }
    // The high 16 bits rounded on the low 16. A carry out of the mantissa bumps the exponent,
    // which is exactly right (up to the next binade, or to ±inf past the largest finite bf16).
    out[i] = roundNearestEven(u >>> 16, u & 0xffff, 16);
  }
  return out;
}

/** bf16 bit patterns → f32 values. */
export function bf16BitsToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 7) & 0xff;
    const m = h & 0x7f;
    if (e === 0xff) out[i] = m ? NaN : sign * Infinity;
    else if (e === 0) out[i] = sign * m * 2 ** -133; // subnormal: m/2^7 · 2^(1-127)
    else out[i] = sign * (1 + m / 128) * 2 ** (e - 127);
  }
  return out;
}

/** f32 values → f16 bit patterns, round-to-nearest-even; beyond 65504 (after rounding) → ±inf. */
export function f32ToF16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = bitsOf(x[i]);
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

/** f16 bit patterns → f32 values. */
export function f16BitsToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 31) out[i] = m ? NaN : sign * Infinity;
    else if (e === 0) out[i] = sign * m * 2 ** -24;
    else out[i] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** The float64 reference of toF32 on raw 16-bit patterns (the GPU test's `cpu`). */
export function toF32Ref(bits: Float64Array, dtype: 'bf16' | 'f16'): Float64Array {
  const u = Uint16Array.from(bits);
  return Float64Array.from(dtype === 'bf16' ? bf16BitsToF32(u) : f16BitsToF32(u));
}
