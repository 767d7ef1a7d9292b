// Float64 reference of ops/convert.ts (toF32): 16-bit float decoders written from the formats'
// definitions and independent of convert.wgsl (which they test):
// - bfloat16: the upper 16 bits of an IEEE-754 binary32 pattern (1 sign, 8 exponent, 7 mantissa
//   bits) (gemma2-and-formats.md §3 "bfloat16");
// - float16 (IEEE-754 binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals are
//   m·2⁻²⁴; exponent 31 is ±inf (m = 0) or NaN.
// Decoders compute the value in float64 from the fields (exact: every 16-bit value is an f32).
// The encoders (f32 → bf16/f16, round to nearest even) are engine code: util/halfs.ts.

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
