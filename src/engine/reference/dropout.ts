// float64 reference of inverted dropout with the counter-based mask of ops/dropout.ts:
//   key = lowbias32(seed XOR 0x9e3779b9), h(i) = lowbias32(lowbias32(i XOR key) + key) mod 2³²,
//   keep element i iff h(i) ≥ round(p·2³²), y = x·keep / (1 − p).
// lowbias32 (Chris Wellons): xor-shift 16, ·0x7feb352d, xor-shift 15, ·0x846ca68b, xor-shift 16.
// Written here in BigInt arithmetic mod 2³², not from the WGSL's u32 code.

const M32 = (1n << 32n) - 1n;

function lowbias32Ref(v: bigint): bigint {
  let h = v & M32;
  h ^= h >> 16n;
  h = (h * 0x7feb352dn) & M32;
  h ^= h >> 15n;
  h = (h * 0x846ca68bn) & M32;
  return h ^ (h >> 16n);
}

/** The mask's hash of element i under `seed`, as an unsigned 32-bit integer. */
export function dropoutHashRef(seed: number, i: number): number {
  const key = lowbias32Ref(BigInt(seed) ^ 0x9e3779b9n);
  return Number(lowbias32Ref((lowbias32Ref(BigInt(i) ^ key) + key) & M32));
}

/** 1 where element i of n is kept, 0 where it is dropped. */
export function dropoutMaskRef(n: number, p: number, seed: number): Uint8Array {
  const threshold = Math.min(2 ** 32 - 1, Math.round(p * 2 ** 32));
  return Uint8Array.from({ length: n }, (_, i) => (dropoutHashRef(seed, i) >= threshold ? 1 : 0));
}

/** y = x · mask / (1 − p). */
export function dropoutRef(x: Float64Array, p: number, seed: number): Float64Array {
  const mask = dropoutMaskRef(x.length, p, seed);
  return x.map((v, i) => (mask[i] ? v / (1 - p) : 0));
}
