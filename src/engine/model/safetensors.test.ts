// safetensors.ts: one test per malformed header (spec §3 checks, each with its message), the
// reference writer's own test vectors (safetensors tensor.rs tests), writer → parser round trips,
// streaming reads, and a file written by Python/torch (scripts/fixtures/make_safetensors_fixture.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectLoadError } from './expect_load_error.ts';
import { bf16BitsToF32, f16BitsToF32 } from '../reference/convert.ts';
import { LoadError } from './load_error.ts';
import {
  blobReader, bytesReader, compareCodePoints, encodeSafetensorsHeader, findDuplicateKey, findTensor, firstNonFinite,
  jsonDepth, parseSafetensorsHeader, readSafetensorsHeader, show, tensorBytes, tensorNbytes, toFloat32, writeSafetensors,
  type ByteReader, type Dtype, type TensorToWrite,
} from './safetensors.ts';

const FIX = join(import.meta.dirname, '../../../e2e/fixtures/safetensors');

/** A file from header text (or object) and `data` bytes: [u64 N][header][data]. */
function file(header: string | object, data: number | Uint8Array = 0, n?: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + text.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? text.length), true);
  out.set(text, 8);
  out.set(body, 8 + text.length);
  return out;
}

const parse = (bytes: Uint8Array, name = 'x.safetensors') => parseSafetensorsHeader(bytes, bytes.length, name);


const F = 'x.safetensors';
const T = (name: string) => `x.safetensors, tensor '${name}'`;
const entry = (dtype: string, shape: number[], b: number, e: number) => ({ dtype, shape, data_offsets: [b, e] });

describe('parseSafetensorsHeader: malformed files (one message each)', () => {
  it('1. header too small / too large / longer than the file', () => {
    expectLoadError(() => parseSafetensorsHeader(new Uint8Array(0), 0, F), F, 'is 0 bytes long, too small for a safetensors file');
    expectLoadError(() => parseSafetensorsHeader(new Uint8Array(7), 7, F), F, 'is 7 bytes long');
    expectLoadError(() => parse(file('{}', 0, 100_000_001)), F, 'header length of 100,000,001 bytes, more than the limit of 100,000,000');
    const huge = file('{}');
    huge[7] = 0x80; // u64 with the top bit set
    expectLoadError(() => parse(huge), F, 'header length of about 9.22e+18 bytes');
    expectLoadError(() => parse(file('{}', 0, 50)), F, 'its header is 50 bytes long but the file has only 2 bytes after the 8-byte length: the file is truncated');
  });

  it('2. not UTF-8, not starting with {, not JSON', () => {
    const bad = file('{"a":1}');
    bad[10] = 0xff;
    expectLoadError(() => parse(bad), F, 'its header is not valid UTF-8');
    expectLoadError(() => parse(file('\uFEFF{}')), F, "must be a JSON object starting with '{'"); // a BOM is not JSON
    expectLoadError(() => parse(file('[1, 2]  ')), F, "must be a JSON object starting with '{', found \"[1, 2]  \"");
    expectLoadError(() => parse(file(' {}')), F, "starting with '{'");
    expectLoadError(() => parse(file('{"a": }')), F, 'its header is not valid JSON (');
    expectLoadError(() => parse(file('{}\0\0')), F, 'its header is not valid JSON'); // NUL padding is not allowed
  });

  it('2. duplicate keys (JSON.parse would keep the last silently)', () => {
    const t = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}';
    expectLoadError(() => parse(file(`{"w":${t},"w":${t}}`, 1)), T('w'), 'appears twice in the header');
    expectLoadError(() => parse(file(`{"w":${t},"\\u0077":${t}}`, 1)), T('w'), 'appears twice'); // same key, escaped
    expectLoadError(() => parse(file('{"w":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1)), T('w'), "key 'dtype' appears twice in the header entry of tensor 'w'");
    expectLoadError(() => parse(file('{"__metadata__":{"format":"pt","format":"np"}}')), F, "key 'format' appears twice in __metadata__");
  });

  it('2. wrongly shaped entries', () => {
    expectLoadError(() => parse(file({ w: [1, 2] })), T('w'), 'header entry must be {"dtype", "shape", "data_offsets"}, found [1,2]');
    expectLoadError(() => parse(file({ w: { dtype: 'F32', shape: [1] } })), T('w'), 'header entry has no data_offsets');
    expectLoadError(() => parse(file({ w: { shape: [1], data_offsets: [0, 4] } })), T('w'), 'header entry has no dtype');
    expectLoadError(() => parse(file({ w: entry('F32', [-1], 0, 4) })), T('w'), 'shape must be a list of non-negative integers, found [-1]');
    expectLoadError(() => parse(file({ w: entry('F32', [1.5], 0, 4) })), T('w'), 'found [1.5]');
    expectLoadError(() => parse(file({ w: { dtype: 'F32', shape: 4, data_offsets: [0, 4] } })), T('w'), 'found 4');
    expectLoadError(() => parse(file('{"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}', 4)), T('w'), 'shape must be a list of non-negative integers');
    expectLoadError(() => parse(file({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } })), T('w'), 'data_offsets must be [begin, end] with non-negative integers, found [0]');
    expectLoadError(() => parse(file({ w: { dtype: 'F32', shape: [1], data_offsets: [0, '4'] } })), T('w'), 'found [0,"4"]');
    expectLoadError(() => parse(file({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } })), T('w'), 'found [-4,0]');
  });

  it('2. unknown dtype', () => {
    const e = expectLoadError(() => parse(file({ w: entry('F128', [1], 0, 16) }, 16)), T('w'), 'has unknown dtype "F128" (safetensors dtypes: BOOL, F4,');
    expect(e.hint).toBe('save the tensor as F32, BF16 or F16');
    expectLoadError(() => parse(file({ w: entry('f32', [1], 0, 4) }, 4)), T('w'), 'unknown dtype "f32"'); // case matters
    expectLoadError(() => parse(file({ w: { dtype: 32, shape: [1], data_offsets: [0, 4] } }, 4)), T('w'), 'unknown dtype 32');
  });

  it('2. __metadata__ must map strings to strings', () => {
    expectLoadError(() => parse(file({ __metadata__: { format: 'pt', step: 3 } })), F, "__metadata__ value of 'step' must be a string, found 3");
    expectLoadError(() => parse(file({ __metadata__: { nested: { a: 'b' } } })), F, "value of 'nested' must be a string");
    expectLoadError(() => parse(file({ __metadata__: ['pt'] })), F, '__metadata__ must be an object of strings, found ["pt"]');
  });

  it('3. offsets: first at 0, contiguous, no overlap, end ≥ begin', () => {
    expectLoadError(() => parse(file({ a: entry('U8', [4], 4, 8) }, 8)), T('a'), 'has data_offsets [4, 8] but the data buffer starts at 0: a gap of 4 bytes');
    expectLoadError(() => parse(file({ a: entry('U8', [4], 0, 4), b: entry('U8', [4], 6, 10) }, 10)), T('b'), "has data_offsets [6, 10] but the previous tensor 'a' ends at 4: a gap of 2 bytes (tensors must be stored back to back)");
    expectLoadError(() => parse(file({ a: entry('U8', [4], 0, 4), b: entry('U8', [4], 2, 6) }, 6)), T('b'), "the previous tensor 'a' ends at 4: an overlap of 2 bytes");
    expectLoadError(() => parse(file({ a: entry('U8', [4], 0, 4), b: entry('U8', [4], 0, 4) }, 4)), T('b'), 'an overlap of 4 bytes'); // two tensors on the same bytes
    expectLoadError(() => parse(file({ a: entry('U8', [0], 4, 0) }, 4)), T('a'), 'has data_offsets [4, 0]: it ends before it begins');
  });

  it('4. numel·bits: overflow, not whole bytes, size ≠ end − begin', () => {
    expectLoadError(() => parse(file({ w: entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], 0, 4) }, 4)), T('w'), 'shape [1073741824, 1073741824, 1073741824] has more than 2^53 elements (overflow)');
    expectLoadError(() => parse(file({ w: entry('F64', [2 ** 26, 2 ** 26], 0, 4) }, 4)), T('w'), 'shape [67108864, 67108864] of F64 is more than 2^53 bits (overflow)');
    expectLoadError(() => parse(file({ w: entry('F4', [3], 0, 2) }, 2)), T('w'), 'shape [3] of F4 (4 bits each) is 12 bits, not a whole number of bytes');
    expectLoadError(() => parse(file({ w: entry('F32', [2, 3], 0, 20) }, 20)), T('w'), 'is F32 with shape [2, 3], which needs 24 bytes, but its data_offsets [0, 20] span 20');
    expectLoadError(() => parse(file({ w: entry('BF16', [], 0, 4) }, 4)), T('w'), 'is BF16 with shape [], which needs 2 bytes'); // 0-dim = 1 element
  });

  it('5. the data buffer must be covered exactly: truncated file, trailing bytes', () => {
    expectLoadError(() => parse(file({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 8, 16) }, 12)), F, "its header describes 16 bytes of tensor data (the last tensor 'b' ends at 16) but the file holds only 12: the file is truncated");
    expectLoadError(() => parse(file({ a: entry('F32', [2], 0, 8) }, 9)), F, "has 1 bytes after its tensor data that the header does not describe (the last tensor 'a' ends at 8, the data buffer is 9 bytes)");
    expectLoadError(() => parse(file('{}', 3)), F, 'has 3 bytes after its tensor data that the header does not describe (there are no tensors');
  });

  it('a header nested thousands of levels deep is refused by name, without a stack overflow', () => {
    for (const depth of [65, 100_000]) {
      const deep = `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
      expectLoadError(() => parse(file(deep)), F, `its header nests objects/arrays ${depth} levels deep (more than 64`);
      const inShape = `{"t":{"dtype":"F32","shape":${'['.repeat(depth - 2)}${']'.repeat(depth - 2)},"data_offsets":[0,0]}}`;
      expectLoadError(() => parse(file(inShape)), F, `nests objects/arrays ${depth} levels deep`);
    }
    // 64 levels is still parsed, and the message shows the entry cut short
    const ok = `{"a":${'['.repeat(63)}${']'.repeat(63)}}`;
    expectLoadError(() => parse(file(ok)), T('a'), 'header entry must be {"dtype", "shape", "data_offsets"}, found [[[[');
  });

  it('the caller must pass the whole header (internal error, also a LoadError)', () => {
    const f = file({ a: entry('U8', [4], 0, 4) }, 4);
    expect(() => parseSafetensorsHeader(f.subarray(0, 20), f.length, F)).toThrow(LoadError);
    expect(() => parseSafetensorsHeader(f.subarray(0, 20), f.length, F)).toThrow(/internal: 20 bytes given, the header needs the first/);
  });
});

describe('parseSafetensorsHeader: valid files', () => {
  it('sorts by offset (not name), keeps metadata, allows 0-dim and empty tensors', () => {
    const h = parse(
      file({ z: entry('F32', [], 0, 4), a: entry('F16', [3, 0], 4, 4), m: entry('U8', [2], 4, 6), __metadata__: { format: 'pt' } }, 6),
      'w.safetensors',
    );
    expect(h.tensors.map((t) => t.name)).toEqual(['z', 'a', 'm']); // a (empty) sorts before m: [4,4] < [4,6]
    expect(h.tensors[0]).toEqual({ name: 'z', dtype: 'F32', shape: [], begin: 0, end: 4 });
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h).toMatchObject({ file: 'w.safetensors', headerSize: h.dataStart - 8, dataSize: 6 });
  });

  it('accepts no tensors, null metadata, space padding, unknown entry fields, sub-byte dtypes with whole bytes', () => {
    expect(parse(file('{}      ')).tensors).toEqual([]);
    expect(parse(file({ __metadata__: null })).metadata).toBeNull();
    expect(parse(file({ w: { ...entry('F4', [4], 0, 2), extra: 1 } }, 2)).tensors[0].dtype).toBe('F4');
  });
});

describe('jsonDepth / show', () => {
  it('counts nesting, skipping brackets inside strings (escaped quotes too)', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"a": [1, {"b": []}], "c": {}}')).toBe(4);
    expect(jsonDepth('{"[[[": "]]]{{{\\"[[[", "x": [[]]}')).toBe(3);
    expect(jsonDepth('['.repeat(1e6) + ']'.repeat(1e6))).toBe(1e6);
  });

  it('shows a value for a message, cut after 120 characters, never throwing', () => {
    expect(show(undefined)).toBe('nothing');
    expect(show([1, 'a'])).toBe('[1,"a"]');
    expect(show('x'.repeat(500))).toBe(`"${'x'.repeat(119)}…`);
    let deep: unknown[] = [];
    for (let i = 0; i < 1e5; i++) deep = [deep];
    expect(show(deep).length).toBeLessThanOrEqual(121);
  });
});

describe('firstNonFinite (the loader\'s NaN/Inf check)', () => {
  it('agrees with the decoders on every BF16 and F16 pattern, at an odd byte offset', () => {
    for (const dtype of ['BF16', 'F16'] as const) {
      const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
      const values = (dtype === 'BF16' ? bf16BitsToF32 : f16BitsToF32)(all);
      const odd = new Uint8Array(2 * 65536 + 1);
      odd.set(new Uint8Array(all.buffer), 1);
      const bytes = odd.subarray(1);
      for (let i = 0; i < 65536; i++) {
        const got = firstNonFinite(dtype, bytes.subarray(2 * i, 2 * i + 2));
        if (got !== (Number.isFinite(values[i]) ? -1 : 0)) throw new Error(`${dtype} 0x${i.toString(16)} (${values[i]}): firstNonFinite ${got}`);
      }
      const firstBad = values.findIndex((v) => !Number.isFinite(v));
      expect(firstNonFinite(dtype, bytes), dtype).toBe(firstBad);
    }
  });

  it('F32: specials, and the first bad element of an array', () => {
    const bits = [0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x7f7fffff, 0x00000001, 0x80000000, 0x3f800000, 0x007fffff, 0xff7fffff];
    const x = new Float32Array(Uint32Array.from(bits).buffer);
    bits.forEach((_, i) => expect(firstNonFinite('F32', new Uint8Array(x.buffer, 4 * i, 4)), `0x${bits[i].toString(16)}`).toBe(Number.isFinite(x[i]) ? -1 : 0));
    const arr = new Float32Array(1000).fill(1.5);
    expect(firstNonFinite('F32', new Uint8Array(arr.buffer))).toBe(-1);
    arr[777] = -Infinity;
    arr[900] = NaN;
    expect(firstNonFinite('F32', new Uint8Array(arr.buffer))).toBe(777);
    expect(() => firstNonFinite('I32', new Uint8Array(4))).toThrow(/not a float format/);
  });
});

describe('findDuplicateKey / compareCodePoints / tensorNbytes', () => {
  it('finds duplicates at any depth, not across objects or in arrays', () => {
    expect(findDuplicateKey('{"a":{"x":1},"b":{"x":2}}')).toBeNull();
    expect(findDuplicateKey('{"a":["a","a"],"b":"a"}')).toBeNull();
    expect(findDuplicateKey('{"a":{"x":1,"y":{"q":[{"k":1,"k":2}]}}}')).toEqual({ key: 'k', path: ['a', 'y', 'q'] });
    expect(findDuplicateKey('{"a\\"b":1,"a\\"b":2}')).toEqual({ key: 'a"b', path: [] });
    expect(findDuplicateKey('{"\\\\":1,"\\\\":2}')).toEqual({ key: '\\', path: [] });
  });

  it('orders by code point like Rust/Python, not by UTF-16 unit', () => {
    expect(compareCodePoints('a', 'b')).toBeLessThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('\u{1F600}', '\uFF01')).toBeGreaterThan(0); // JS '<' says the opposite
    expect('\u{1F600}' < '\uFF01').toBe(true);
  });

  it('computes bytes with the spec bit widths', () => {
    expect(tensorNbytes('BF16', [256000, 2304])).toBe(1_179_648_000);
    expect(tensorNbytes('F4', [3, 2])).toBe(3);
    expect(tensorNbytes('F6_E2M3', [4])).toBe(3);
    expect(tensorNbytes('C64', [])).toBe(8);
  });
});

describe('writeSafetensors', () => {
  const bytesOf = (a: ArrayLike<number>, T: { new (a: ArrayLike<number>): { buffer: ArrayBufferLike } }) => new Uint8Array(new T(a).buffer);

  it("reproduces the reference writer's test vectors (safetensors tensor.rs tests)", () => {
    const data = bytesOf([0, 1, 2, 3, 4, 5], Float32Array);
    // test_serialization: {"attn.0": F32 [1, 2, 3]}, no metadata → N = 64, header needs no padding
    const out = writeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data }], null);
    const head = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(head.length).toBe(64);
    expect(out).toEqual(file(head, data));
    // test_serialization_forced_alignement: name "attn0", shape [1,1,2,3] → 65 bytes padded to 72 with 7 spaces
    const out2 = writeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data }], null);
    expect(out2).toEqual(file('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ', data));
    // test_empty: no tensors → {} + 6 spaces; with metadata {"framework": "pt"} → 35 bytes + 5 spaces
    expect(writeSafetensors([], null)).toEqual(file('{}      '));
    expect(writeSafetensors([], { framework: 'pt' })).toEqual(file('{"__metadata__":{"framework":"pt"}}     '));
  });

  it('orders by descending dtype alignment then name, pads to 8, aligns every tensor, writes {"format":"pt"}', () => {
    const mk = (name: string, dtype: Dtype, shape: number[]): TensorToWrite => {
      const n = tensorNbytes(dtype, shape) as number;
      return { name, dtype, shape, data: Uint8Array.from({ length: n }, (_, i) => (i * 7 + name.length) & 255) };
    };
    const tensors = [mk('u8', 'U8', [3]), mk('b', 'BF16', [5]), mk('a', 'BF16', [1]), mk('f', 'F32', [2, 2]), mk('h', 'F16', [3]), mk('d', 'F64', []), mk('e', 'F32', [0])];
    const out = writeSafetensors(tensors);
    const h = parse(out, 'out.safetensors');
    expect(h.tensors.map((t) => t.name)).toEqual(['d', 'e', 'f', 'a', 'b', 'h', 'u8']);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.headerSize % 8).toBe(0);
    expect(new TextDecoder().decode(out.subarray(8, 8 + 26))).toBe('{"__metadata__":{"format":');
    for (const t of h.tensors) {
      const size = { F64: 8, F32: 4, BF16: 2, F16: 2, U8: 1 }[t.dtype as 'F64'];
      expect((h.dataStart + t.begin) % size, `${t.name} aligned`).toBe(0);
      expect(tensorBytes(out, h, t)).toEqual(tensors.find((x) => x.name === t.name)!.data);
    }
  });

  it('round-trips random headers and data through the parser', () => {
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const dtypes: Dtype[] = ['F32', 'BF16', 'F16', 'U8', 'I64', 'BOOL', 'F8_E4M3', 'I16'];
    for (let trial = 0; trial < 20; trial++) {
      const tensors: TensorToWrite[] = [];
      for (let i = 0; i < 1 + rand(6); i++) {
        const dtype = dtypes[rand(dtypes.length)];
        const shape = Array.from({ length: rand(4) }, () => rand(5));
        const n = tensorNbytes(dtype, shape) as number;
        tensors.push({ name: `t${trial}.${i}.${'é'.repeat(rand(3))}`, dtype, shape, data: Uint8Array.from({ length: n }, () => rand(256)) });
      }
      const out = writeSafetensors(tensors, rand(2) ? null : { format: 'pt', note: 'round "trip"' });
      const h = parse(out);
      expect(h.tensors).toHaveLength(tensors.length);
      for (const t of tensors) {
        const got = findTensor(h, t.name)!;
        expect({ dtype: got.dtype, shape: got.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
        expect(tensorBytes(out, h, got)).toEqual(t.data);
      }
    }
  });

  it('refuses bad input with an error naming the tensor', () => {
    const d = new Uint8Array(4);
    expect(() => writeSafetensors([{ name: 'w', dtype: 'F32', shape: [2], data: d }])).toThrow("tensor 'w' is F32 [2], which is 8 bytes, but 4 bytes of data were given");
    expect(() => writeSafetensors([{ name: 'w', dtype: 'F32', shape: [1], data: d }, { name: 'w', dtype: 'F32', shape: [1], data: d }])).toThrow("tensor 'w' is given twice");
    expect(() => writeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [1], data: d }])).toThrow("may not be called '__metadata__'");
    expect(() => writeSafetensors([{ name: 'w', dtype: 'F4', shape: [3], data: d }])).toThrow("tensor 'w': shape [3] of F4 (4 bits each) is 12 bits, not a whole number of bytes");
    expect(() => writeSafetensors([], { format: 1 } as unknown as Record<string, string>)).toThrow("__metadata__ value of 'format' must be a string");
  });

  it('encodeSafetensorsHeader gives the header alone, for streaming writers', () => {
    const { bytes, tensors } = encodeSafetensorsHeader([{ name: 'w', dtype: 'F32', shape: [2] }]);
    expect(tensors).toEqual([{ name: 'w', dtype: 'F32', shape: [2], begin: 0, end: 8 }]);
    const whole = new Uint8Array(bytes.length + 8);
    whole.set(bytes);
    expect(parse(whole).tensors).toEqual(tensors);
  });
});

describe('readSafetensorsHeader (streaming)', () => {
  const f = writeSafetensors([{ name: 'big', dtype: 'F32', shape: [1000], data: new Uint8Array(4000) }]);

  it('reads the 8-byte length, then the header, never the data', async () => {
    const reads: [number, number][] = [];
    const inner = bytesReader(f);
    const reader: ByteReader = (o, l) => (reads.push([o, l]), inner(o, l));
    const h = await readSafetensorsHeader(reader, f.length, 'big.safetensors');
    expect(h).toEqual(parse(f, 'big.safetensors'));
    expect(reads).toEqual([[0, 8], [8, h.headerSize]]);
  });

  it('works on a Blob, and reports the same errors', async () => {
    const h = await readSafetensorsHeader(blobReader(new Blob([f as Uint8Array<ArrayBuffer>])), f.length, 'b.safetensors');
    expect(h.tensors[0].name).toBe('big');
    await expect(readSafetensorsHeader(bytesReader(f.subarray(0, 5)), 5, 'cut.safetensors')).rejects.toThrow('cut.safetensors: is 5 bytes long, too small');
    const cut = f.subarray(0, 40);
    await expect(readSafetensorsHeader(bytesReader(cut), cut.length, 'cut.safetensors')).rejects.toThrow('the file is truncated');
    const trailing = new Uint8Array(f.length + 2);
    trailing.set(f);
    await expect(readSafetensorsHeader(bytesReader(trailing), trailing.length, 't.safetensors')).rejects.toThrow('has 2 bytes after its tensor data');
  });

  it('a short read is a LoadError naming the range', async () => {
    const short: ByteReader = (o, l) => Promise.resolve(f.subarray(o, o + Math.min(l, 10)));
    await expect(readSafetensorsHeader(short, f.length, 's.safetensors')).rejects.toThrow(/s\.safetensors: reading bytes 8….* returned 10 bytes/);
  });
});

describe('a file written by Python/torch (e2e/fixtures/safetensors/tiny.safetensors)', () => {
  // Made by: /usr/bin/python3 scripts/fixtures/make_safetensors_fixture.py (torch 1.13 casts)
  interface Expected {
    fileSize: number;
    headerSize: number;
    dataStart: number;
    metadata: Record<string, string>;
    tensors: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number; bits: number[]; values?: (number | string)[] }[];
  }
  const bytes = new Uint8Array(readFileSync(join(FIX, 'tiny.safetensors')));
  const want = JSON.parse(readFileSync(join(FIX, 'tiny.expected.json'), 'utf8')) as Expected;
  const num = (v: number | string) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : (v as number));

  it('parses to the header Python wrote', () => {
    const h = parse(bytes, 'tiny.safetensors');
    expect({ fileSize: h.fileSize, headerSize: h.headerSize, dataStart: h.dataStart, metadata: h.metadata }).toEqual({
      fileSize: want.fileSize, headerSize: want.headerSize, dataStart: want.dataStart, metadata: want.metadata,
    });
    expect(h.tensors).toEqual(want.tensors.map(({ name, dtype, shape, begin, end }) => ({ name, dtype, shape, begin, end })));
    expect(h.tensors.find((t) => t.name === 'f32.scalar')!.shape).toEqual([]); // 0-dim
    expect(h.tensors.find((t) => t.name === 'empty')!).toMatchObject({ shape: [0, 4], begin: 94, end: 94 });
  });

  it('decodes F32 / BF16 / F16 to the values torch gives (bit for bit, inf/nan/-0/subnormals)', () => {
    const h = parse(bytes, 'tiny.safetensors');
    for (const w of want.tensors) {
      if (w.values === undefined) continue;
      const raw = tensorBytes(bytes, h, findTensor(h, w.name)!);
      const got = Array.from(toFloat32(w.dtype, raw));
      expect(got.length, w.name).toBe(w.values.length);
      w.values.forEach((v, i) => expect(Object.is(got[i], num(v)) || (Number.isNaN(got[i]) && v === 'nan'), `${w.name}[${i}] = ${got[i]}, want ${v}`).toBe(true));
      // the raw element bits, and the independent decoders of reference/convert.ts, agree too
      const width = w.dtype === 'F32' ? 4 : 2;
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
      const bits = Array.from({ length: raw.length / width }, (_, i) => (width === 4 ? dv.getUint32(i * 4, true) : dv.getUint16(i * 2, true)));
      expect(bits, w.name).toEqual(w.bits);
      if (w.dtype !== 'F32') {
        const ref = (w.dtype === 'BF16' ? bf16BitsToF32 : f16BitsToF32)(Uint16Array.from(bits));
        expect(Array.from(ref), w.name).toEqual(got);
      }
    }
  });

  it("firstNonFinite finds the first inf/nan torch wrote, in every float tensor", () => {
    const h = parse(bytes, 'tiny.safetensors');
    let withBad = 0;
    for (const w of want.tensors) {
      if (w.values === undefined) continue;
      const first = w.values.findIndex((v) => !Number.isFinite(num(v)));
      if (first >= 0) withBad++;
      expect(firstNonFinite(w.dtype, tensorBytes(bytes, h, findTensor(h, w.name)!)), w.name).toBe(first);
    }
    expect(withBad, 'the fixture has non-finite values to find').toBeGreaterThan(0);
  });

  it('integer tensors hold the bytes torch wrote (I64 little-endian, U8)', () => {
    const h = parse(bytes, 'tiny.safetensors');
    const ids = tensorBytes(bytes, h, findTensor(h, 'ids')!);
    const dv = new DataView(ids.buffer, ids.byteOffset, ids.length);
    expect([dv.getBigInt64(0, true), dv.getBigInt64(8, true)]).toEqual([-1n, 2n ** 40n + 3n]);
    expect(Array.from(tensorBytes(bytes, h, findTensor(h, 'mask')!))).toEqual(want.tensors.find((t) => t.name === 'mask')!.bits);
  });

  it('our writer reproduces the Python-written file byte for byte', () => {
    const h = parse(bytes, 'tiny.safetensors');
    const tensors = [...h.tensors].reverse().map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: tensorBytes(bytes, h, t).slice() }));
    expect(writeSafetensors(tensors)).toEqual(bytes);
  });

  it('toFloat32 copes with unaligned views (odd byte offsets)', () => {
    const h = parse(bytes, 'tiny.safetensors');
    const t = findTensor(h, 'model.norm.weight')!;
    const shifted = new Uint8Array(t.end - t.begin + 1);
    shifted.set(tensorBytes(bytes, h, t), 1);
    expect(Array.from(toFloat32('F32', shifted.subarray(1)))).toEqual(want.tensors.find((w) => w.name === t.name)!.values);
  });
});
