// cli/export.ts parseSize: --max_shard_size as huggingface_hub reads it (KB/MB/GB/TB powers of 1000,
// KiB/MiB/GiB/TiB powers of 1024, a lowercase final b = bits, plain integers are bytes); anything else is a usage error naming it.
import { describe, expect, it } from 'vitest';
import { UsageError } from './args.ts';
import { parseSize } from './export.ts';

describe('parseSize', () => {
  it('units as huggingface_hub takes them', () => {
    expect(parseSize('5GB')).toBe(5_000_000_000);
    expect(parseSize('500MB')).toBe(500_000_000);
    expect(parseSize('0.5MB')).toBe(500_000);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('10KiB')).toBe(10240);
    expect(parseSize('8Mb')).toBe(1_000_000); // bits, as huggingface_hub reads a lowercase b
    expect(parseSize('123')).toBe(123);
    expect(parseSize('7 B')).toBe(7);
  });
  it('refuses what is not a size', () => {
    for (const bad of ['', 'abc', '5 parsecs', '0', '-3GB', '5Gb!']) {
      expect(() => parseSize(bad), bad).toThrow(UsageError);
      expect(() => parseSize(bad), bad).toThrow(/is not a size: give bytes or a number with a unit/);
    }
  });
});
