// XXH32 against published test vectors (xxHash's reference implementation; e.g. Python
// `xxhash.xxh32_intdigest(b"abc")` = 0x32D153FF) and against itself on unaligned input.
import { describe, expect, it } from 'vitest';
import { chunkChecksum, xxh32 } from './checksum.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('xxh32', () => {
  it('matches the reference values', () => {
    expect(xxh32(text(''))).toBe(0x02cc5d05);
    expect(xxh32(text('a'))).toBe(0x550d7456);
    expect(xxh32(text('abc'))).toBe(0x32d153ff);
    expect(xxh32(text('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
    expect(xxh32(text('abc'), 1)).not.toBe(0x32d153ff); // the seed matters
  });

  it('gives the same hash for aligned and unaligned views of the same bytes, every length 0..70', () => {
    const base = Uint8Array.from({ length: 80 }, (_, i) => (i * 37 + 11) & 255);
    for (let n = 0; n <= 70; n++) {
      const aligned = base.slice(0, n); // offset 0
      const shifted = new Uint8Array(n + 3);
      shifted.set(aligned, 3);
      expect(xxh32(shifted.subarray(3)), `length ${n}`).toBe(xxh32(aligned));
    }
  });

  it('formats chunk checksums', () => {
    expect(chunkChecksum(text('abc'))).toBe('xxh32:32d153ff');
    expect(chunkChecksum(text(''))).toBe('xxh32:02cc5d05');
  });
});
