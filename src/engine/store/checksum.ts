// Content checksums of stored chunks: xxHash32 (Yann Collet's XXH32, seed 0), in plain JS.
//
// Why not SHA-256: crypto.subtle is async, copies its input and is missing outside secure contexts;
// the checksum only has to catch a chunk that is missing, truncated, torn or from another import,
// and to decide on a resume whether a stored chunk can be kept. XXH32 does that at about
// 1.5–2 GB/s in V8 (measured in Node 20 on this machine over 64 MiB: 1.4–2.3 GB/s), so hashing
// costs less than the IndexedDB write or read it guards.
//
// Algorithm (xxhash.h, XXH32): four lanes over 16-byte stripes, v = rotl(v + lane·P2, 13)·P1;
// merge rotl(v1,1)+rotl(v2,7)+rotl(v3,12)+rotl(v4,18) (or seed + P5 below 16 bytes); add the
// length; fold the remaining 4-byte words (P3, rotl 17, P4) and bytes (P5, rotl 11, P1); avalanche.

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;
const P5 = 0x165667b1 | 0;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** XXH32 of `bytes` with `seed`, as an unsigned 32-bit integer. */
export function xxh32(bytes: Uint8Array, seed = 0): number {
  const n = bytes.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  // Aligned input (every chunk we hash) is read as u32 words; safetensors data is little-endian
  // and so is every platform WebGPU runs on (safetensors.ts checks).
  const words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2) : null;
  const word = (i: number): number => (words ? words[i >>> 2] : dv.getUint32(i, true));
  let i = 0;
  let h: number;
  if (n >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    if (words) {
      // hot loop: one 16-byte stripe per iteration, straight from the u32 view
      const last = (n - 16) >>> 2;
      let k = 0;
      for (; k <= last; k += 4) {
        v1 = Math.imul(rotl((v1 + Math.imul(words[k], P2)) | 0, 13), P1);
        v2 = Math.imul(rotl((v2 + Math.imul(words[k + 1], P2)) | 0, 13), P1);
        v3 = Math.imul(rotl((v3 + Math.imul(words[k + 2], P2)) | 0, 13), P1);
        v4 = Math.imul(rotl((v4 + Math.imul(words[k + 3], P2)) | 0, 13), P1);
      }
      i = k * 4;
    } else {
      for (; i + 16 <= n; i += 16) {
        v1 = Math.imul(rotl((v1 + Math.imul(dv.getUint32(i, true), P2)) | 0, 13), P1);
        v2 = Math.imul(rotl((v2 + Math.imul(dv.getUint32(i + 4, true), P2)) | 0, 13), P1);
        v3 = Math.imul(rotl((v3 + Math.imul(dv.getUint32(i + 8, true), P2)) | 0, 13), P1);
        v4 = Math.imul(rotl((v4 + Math.imul(dv.getUint32(i + 12, true), P2)) | 0, 13), P1);
      }
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + n) | 0; // the length mod 2^32
  for (; i + 4 <= n; i += 4) h = Math.imul(rotl((h + Math.imul(word(i), P3)) | 0, 17), P4);
  for (; i < n; i++) h = Math.imul(rotl((h + Math.imul(bytes[i], P5)) | 0, 11), P1);
  // avalanche
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The checksum recorded per chunk in a manifest: "xxh32:" + 8 hex digits. */
export function chunkChecksum(bytes: Uint8Array): string {
  return `xxh32:${xxh32(bytes).toString(16).padStart(8, '0')}`;
}
