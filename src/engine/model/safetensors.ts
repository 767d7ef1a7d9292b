// safetensors: read and check the header of a .safetensors file, decode F32/BF16/F16 tensor bytes,
// and write files that Python's safetensors / transformers / PEFT load.
//
// File layout (spec gemma2-and-formats.md §3, from huggingface/safetensors README and tensor.rs):
//
//   [8 bytes: N, u64 little-endian][N bytes: JSON header, UTF-8, may be right-padded with spaces]
//   [data buffer: every tensor's bytes, little-endian, row-major, back to back]
//
//   header = {"__metadata__": {"format": "pt"},                                    (optional)
//             "<name>": {"dtype": "F32", "shape": [d0, d1], "data_offsets": [b, e]}, ...}
//
// b and e are relative to the start of the data buffer (file offset 8 + N + b). The parser enforces
// every check of the reference reader (tensor.rs read_metadata + Metadata::validate) plus the two
// the reference leaves to "not all parsers": duplicate keys and a header that must start with '{'.
// Every failure is a LoadError naming the file (and the tensor) with a hint.
//
// The writer follows the reference writer (tensor.rs prepare): tensors sorted by descending dtype
// alignment, then by name; header padded with spaces to a multiple of 8 so that every tensor is
// aligned to its element size; "__metadata__" first, {"format": "pt"} by default.
//
// Not here: which tensors a Gemma-2 checkpoint must contain (config.ts, sharded.ts), I/O (callers
// pass bytes or a ByteReader), GPU upload. No node: imports: this runs in a page, a Worker and Node.

import { EngineError } from '../errors.ts';
import { LoadError, loadWhere } from './load_error.ts';

// ---------------------------------------------------------------------------------------------
// dtypes

/**
 * Every dtype safetensors knows, in the order of its Rust enum (increasing alignment), with the
 * bit width of one element (tensor.rs Dtype::bitsize). The writer sorts by this order.
 */
const DTYPE_TABLE = [
  ['BOOL', 8], ['F4', 4], ['F6_E2M3', 6], ['F6_E3M2', 6], ['U8', 8], ['I8', 8],
  ['F8_E5M2', 8], ['F8_E4M3', 8], ['F8_E8M0', 8], ['F8_E4M3FNUZ', 8], ['F8_E5M2FNUZ', 8],
  ['I16', 16], ['U16', 16], ['F16', 16], ['BF16', 16], ['I32', 32], ['U32', 32], ['F32', 32],
  ['C64', 64], ['F64', 64], ['I64', 64], ['U64', 64],
] as const;

export type Dtype = (typeof DTYPE_TABLE)[number][0];

/** Bits per element of each dtype. */
export const DTYPE_BITS: Readonly<Record<Dtype, number>> = Object.fromEntries(DTYPE_TABLE) as Record<Dtype, number>;

const DTYPE_ORDER = new Map<string, number>(DTYPE_TABLE.map(([d], i) => [d, i]));

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && DTYPE_ORDER.has(s);
}

/** The reference reader refuses headers longer than this (tensor.rs MAX_HEADER_SIZE). */
export const MAX_HEADER_SIZE = 100_000_000;

// ---------------------------------------------------------------------------------------------
// types

/** One tensor of a parsed header. begin/end are byte offsets into the data buffer. */
export interface SafetensorsTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number; // data-buffer offset of the first byte; the file offset is dataStart + begin
  end: number; // one past the last byte; nbytes = end - begin
}

/** A parsed, validated header. */
export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  headerSize: number; // N: the JSON header's length in bytes, padding included
  dataStart: number; // 8 + N: file offset of the data buffer
  dataSize: number; // fileSize - dataStart = end of the last tensor
  tensors: SafetensorsTensor[]; // sorted by offset
  metadata: Record<string, string> | null; // "__metadata__", null if absent
}

/** Reads `length` bytes at `offset` of a file (a Blob slice, an HTTP range, an fs read…). */
export type ByteReader = (offset: number, length: number) => Promise<Uint8Array>;

/** What a Blob / File (browser, Worker, or Node's fs.openAsBlob) offers that we use. */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

// ---------------------------------------------------------------------------------------------
// small helpers

/** A value for a message: JSON, cut after 120 characters (a header entry can be megabytes). */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    // nested too deeply for the stack (checkJsonDepth refuses such text first); String() would recurse too
    s = Array.isArray(v) ? '[…]' : typeof v === 'object' && v !== null ? '{…}' : String(v);
  }
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}
const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

const HINT_CORRUPT = 'the file is damaged or is not a safetensors file: download it again, and check you chose the .safetensors file (not .bin, .pt or .gguf)';
const HINT_NONCONFORMING = 'the file was written by a tool that does not follow the safetensors format: re-save it with the safetensors library (safetensors.torch.save_file)';

function fail(file: string, tensor: string | null, message: string, hint: string): never {
  throw new LoadError(loadWhere(file, tensor === null ? undefined : `tensor '${tensor}'`), message, hint);
}

/**
 * Compares strings by Unicode code point, which is UTF-8 byte order (Rust's str Ord) and Python's
 * str order. JS's default `<` compares UTF-16 units and differs above U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/**
 * Bytes of a tensor: numel · bits / 8. Returns an error string instead when the shape is not a
 * list of safe non-negative integers, numel · bits overflows 2^53, or is not a whole number of bytes.
 */
export function tensorNbytes(dtype: Dtype, shape: readonly number[]): number | string {
  let numel = 1;
  for (const d of shape) {
    if (!isCount(d)) return `shape ${show(shape)} must be a list of non-negative integers`;
    numel *= d;
    if (numel > Number.MAX_SAFE_INTEGER) return `shape ${fmtShape(shape)} has more than 2^53 elements (overflow)`;
  }
  const bits = numel * DTYPE_BITS[dtype];
  if (bits > Number.MAX_SAFE_INTEGER) return `shape ${fmtShape(shape)} of ${dtype} is more than 2^53 bits (overflow)`;
  if (bits % 8 !== 0) return `shape ${fmtShape(shape)} of ${dtype} (${DTYPE_BITS[dtype]} bits each) is ${bits} bits, not a whole number of bytes`;
  return bits / 8;
}

/**
 * Deepest nesting of objects and arrays in a JSON text (strings skipped), without recursion. A
 * safetensors header nests 3 deep ({name: {"shape": [...]}}), config.json and an index 2–4.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++; // skip the string
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth; // { [
    } else if (c === 0x7d || c === 0x5d) {
      depth--; // } ]
    }
  }
  return max;
}

/** Nesting deeper than this is refused before anything walks the parsed value (serde_json allows 128). */
export const MAX_JSON_DEPTH = 64;

/**
 * Throws a LoadError naming `file` when its JSON nests deeper than MAX_JSON_DEPTH: such text is
 * not a checkpoint file, and walking it (JSON.stringify, recursive checks) would overflow the stack.
 */
export function checkJsonDepth(text: string, file: string, what: string): void {
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new LoadError(file, `${what} nests objects/arrays ${depth} levels deep (more than ${MAX_JSON_DEPTH}; a real one nests at most a few)`, HINT_CORRUPT);
  }
}

/**
 * Finds a key that occurs twice in one object of a JSON text (JSON.parse silently keeps the
 * last). `path` holds the keys of the enclosing objects: [] for a top-level duplicate, ["t"] for a
 * duplicate inside the entry of "t". The text must already be valid JSON.
 */
export function findDuplicateKey(text: string): { key: string; path: string[] } | null {
  interface Frame {
    keys: Set<string> | null; // null for arrays
    expectKey: boolean;
    lastKey: string;
  }
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: find its closing quote, skipping escapes
      let j = i + 1;
      let escaped = false;
      for (; j < text.length && text.charCodeAt(j) !== 0x22; j++) {
        if (text.charCodeAt(j) === 0x5c) {
          escaped = true;
          j++;
        }
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && top.keys !== null && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.keys.has(key)) return { key, path: stack.slice(0, -1).filter((f) => f.keys !== null).map((f) => f.lastKey) };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push({ keys: new Set(), expectKey: true, lastKey: '' }); // {
    } else if (c === 0x5b) {
      stack.push({ keys: null, expectKey: false, lastKey: '' }); // [
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop(); // } ]
    } else if (c === 0x2c) {
      const top = stack[stack.length - 1]; // ,
      if (top !== undefined && top.keys !== null) top.expectKey = true;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// reading

/**
 * Checks the 8-byte length prefix against the file size and returns N (the header length).
 * Checks 1 of spec §3: HeaderTooSmall, HeaderTooLarge, InvalidHeaderLength.
 */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    fail(file, null, `is ${fileSize} bytes long, too small for a safetensors file (it starts with an 8-byte header length)`, HINT_CORRUPT);
  }
  if (prefix.length < 8) throw new LoadError(file, `internal: ${prefix.length} bytes given, the 8-byte header length needs 8`);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact while hi < 2^21; anything with hi > 0 is too large anyway
  if (hi !== 0 || n > MAX_HEADER_SIZE) {
    const shown = hi < 2 ** 21 ? n.toLocaleString('en-US') : `about ${n.toExponential(2)}`;
    fail(file, null, `its first 8 bytes give a header length of ${shown} bytes, more than the limit of ${MAX_HEADER_SIZE.toLocaleString('en-US')} bytes`, HINT_CORRUPT);
  }
  if (8 + n > fileSize) {
    fail(file, null, `its header is ${n.toLocaleString('en-US')} bytes long but the file has only ${(fileSize - 8).toLocaleString('en-US')} bytes after the 8-byte length: the file is truncated`, 'the download is incomplete: download the file again');
  }
  return n;
}

/**
 * Parses and validates the header of a safetensors file. `bytes` holds at least the first 8 + N
 * bytes (the whole file is fine); `fileSize` is the full file's size. Enforces every check of
 * spec §3 and throws a LoadError naming `file` and the tensor.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const n = headerLength(bytes, fileSize, file);
  if (bytes.length < 8 + n) {
    throw new LoadError(file, `internal: ${bytes.length} bytes given, the header needs the first ${8 + n}`, 'read the first 8 + N bytes (readSafetensorsHeader does)');
  }
  const dataStart = 8 + n;

  // 2. UTF-8, then JSON. ignoreBOM keeps a BOM in the text, where JSON.parse rejects it (as serde does).
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    fail(file, null, 'its header is not valid UTF-8', HINT_CORRUPT);
  }
  if (text[0] !== '{') {
    fail(file, null, `its header must be a JSON object starting with '{', found ${show(text.slice(0, 16))}…`, HINT_CORRUPT);
  }
  checkJsonDepth(text, file, 'its header');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(file, null, `its header is not valid JSON (${(e as Error).message})`, HINT_CORRUPT);
  }
  if (!isObject(json)) fail(file, null, 'its header is not a JSON object', HINT_CORRUPT);
  const dup = findDuplicateKey(text);
  if (dup !== null) {
    if (dup.path.length === 0) fail(file, dup.key, 'appears twice in the header (duplicate keys are not allowed)', HINT_NONCONFORMING);
    const inside = dup.path[0] === '__metadata__' ? 'in __metadata__' : `in the header entry of tensor '${dup.path[0]}'`;
    fail(file, dup.path[0] === '__metadata__' ? null : dup.path[0], `key '${dup.key}' appears twice ${inside} (duplicate keys are not allowed)`, HINT_NONCONFORMING);
  }

  // The shape of every entry: {"dtype": str, "shape": [int...], "data_offsets": [int, int]}.
  let metadata: Record<string, string> | null = null;
  const tensors: SafetensorsTensor[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (entry === null) continue;
      if (!isObject(entry)) fail(file, null, `__metadata__ must be an object of strings, found ${show(entry)}`, HINT_NONCONFORMING);
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') fail(file, null, `__metadata__ value of '${k}' must be a string, found ${show(v)} (metadata maps strings to strings)`, HINT_NONCONFORMING);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isObject(entry)) fail(file, name, `header entry must be {"dtype", "shape", "data_offsets"}, found ${show(entry)}`, HINT_NONCONFORMING);
    const { dtype, shape, data_offsets: off } = entry;
    if (dtype === undefined || shape === undefined || off === undefined) {
      const missing = ['dtype', 'shape', 'data_offsets'].filter((k) => entry[k] === undefined);
      fail(file, name, `header entry has no ${missing.join(', ')}`, HINT_NONCONFORMING);
    }
    if (!isDtype(dtype)) {
      fail(file, name, `has unknown dtype ${show(dtype)} (safetensors dtypes: ${DTYPE_TABLE.map(([d]) => d).join(', ')})`, 'save the tensor as F32, BF16 or F16');
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(file, name, `shape must be a list of non-negative integers, found ${show(shape)}`, HINT_NONCONFORMING);
    }
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount)) {
      fail(file, name, `data_offsets must be [begin, end] with non-negative integers, found ${show(off)}`, HINT_NONCONFORMING);
    }
    tensors.push({ name, dtype, shape: shape as number[], begin: off[0] as number, end: off[1] as number });
  }

  // 3-4. Sorted by offsets, the tensors must tile the data buffer from 0 with no gap or overlap,
  // and each must span exactly numel · bits / 8 bytes.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    const offs = `data_offsets [${t.begin}, ${t.end}]`;
    if (t.end < t.begin) fail(file, t.name, `has ${offs}: it ends before it begins`, HINT_NONCONFORMING);
    if (t.begin !== pos) {
      const prev = i === 0 ? 'the data buffer starts at 0' : `the previous tensor '${tensors[i - 1].name}' ends at ${pos}`;
      const what = t.begin > pos ? `a gap of ${t.begin - pos} bytes` : `an overlap of ${pos - t.begin} bytes`;
      fail(file, t.name, `has ${offs} but ${prev}: ${what} (tensors must be stored back to back)`, HINT_NONCONFORMING);
    }
    pos = t.end;
    const nbytes = tensorNbytes(t.dtype, t.shape);
    if (typeof nbytes === 'string') fail(file, t.name, nbytes, HINT_NONCONFORMING);
    if (t.end - t.begin !== nbytes) {
      fail(file, t.name, `is ${t.dtype} with shape ${fmtShape(t.shape)}, which needs ${nbytes} bytes, but its ${offs} span ${t.end - t.begin}`, HINT_CORRUPT);
    }
  }

  // 5. The data buffer must be covered exactly: nothing missing, nothing after the last tensor.
  const have = fileSize - dataStart;
  if (pos !== have) {
    const last = tensors.length ? `the last tensor '${tensors[tensors.length - 1].name}' ends at ${pos}` : 'there are no tensors';
    if (pos > have) {
      fail(file, null, `its header describes ${pos} bytes of tensor data (${last}) but the file holds only ${have}: the file is truncated`, 'the download is incomplete: download the file again');
    }
    fail(file, null, `has ${have - pos} bytes after its tensor data that the header does not describe (${last}, the data buffer is ${have} bytes)`, HINT_CORRUPT);
  }

  return { file, fileSize, headerSize: n, dataStart, dataSize: have, tensors, metadata };
}

/** Reads exactly `length` bytes or throws a LoadError naming the file and the range. */
async function readExactly(reader: ByteReader, offset: number, length: number, file: string): Promise<Uint8Array> {
  const b = await reader(offset, length);
  if (b.length !== length) {
    throw new LoadError(file, `reading bytes ${offset}…${offset + length} returned ${b.length} bytes`, 'the file changed or could not be read; choose it again');
  }
  return b;
}

/**
 * Streams a header: reads the 8-byte length, then the N header bytes, never the tensor data.
 * Same checks and errors as parseSafetensorsHeader.
 */
export async function readSafetensorsHeader(reader: ByteReader, fileSize: number, file: string): Promise<SafetensorsHeader> {
  const prefix = await readExactly(reader, 0, Math.min(8, fileSize), file);
  const n = headerLength(prefix, fileSize, file);
  const head = new Uint8Array(8 + n);
  head.set(prefix, 0);
  head.set(await readExactly(reader, 8, n, file), 8);
  return parseSafetensorsHeader(head, fileSize, file);
}

/** A ByteReader over a Blob or File (page, Worker, Node). */
export function blobReader(blob: BlobLike): ByteReader {
  return async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
}

/** A ByteReader over bytes already in memory. */
export function bytesReader(bytes: Uint8Array | ArrayBuffer): ByteReader {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return (offset, length) => Promise.resolve(u8.subarray(offset, offset + length));
}

/** Looks a tensor up by name. */
export function findTensor(header: SafetensorsHeader, name: string): SafetensorsTensor | undefined {
  return header.tensors.find((t) => t.name === name);
}

/** The bytes of tensor `t` inside the whole file's bytes (a view, no copy). */
export function tensorBytes(fileBytes: Uint8Array, header: SafetensorsHeader, t: SafetensorsTensor): Uint8Array {
  return fileBytes.subarray(header.dataStart + t.begin, header.dataStart + t.end);
}

// ---------------------------------------------------------------------------------------------
// decoding F32 / BF16 / F16 on the CPU (for small tensors and checks; big ones convert on the GPU)

// NOTE: typed arrays use the platform's byte order; safetensors is little-endian. Every platform
// that runs WebGPU (x86, ARM, in browsers and Node) is little-endian, so we check once, not per value.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | null = null;

/** All 65536 f16 values, decoded from the fields: sign, 5-bit exponent (bias 15), 10-bit mantissa. */
function f16Values(): Float32Array {
  if (f16Table !== null) return f16Table;
  f16Table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    f16Table[h] = e === 31 ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return f16Table;
}

/**
 * Decodes the raw bytes of an F32, BF16 or F16 tensor to f32 values (exact: both 16-bit formats
 * are subsets of f32). Copies, so unaligned input (offset not a multiple of the element size) is fine.
 */
export function toFloat32(dtype: Dtype, data: Uint8Array): Float32Array {
  if (!LITTLE_ENDIAN) throw new EngineError('safetensors.toFloat32', 'this platform is big-endian; safetensors data is little-endian');
  const copy = data.slice(); // own, 0-aligned buffer
  if (dtype === 'F32') return new Float32Array(copy.buffer, 0, copy.length / 4);
  if (dtype === 'BF16' || dtype === 'F16') {
    const u16 = new Uint16Array(copy.buffer, 0, copy.length / 2);
    if (dtype === 'BF16') {
      const u32 = new Uint32Array(u16.length);
      for (let i = 0; i < u16.length; i++) u32[i] = u16[i] << 16; // bf16 = upper half of an f32
      return new Float32Array(u32.buffer);
    }
    const table = f16Values();
    const out = new Float32Array(u16.length);
    for (let i = 0; i < u16.length; i++) out[i] = table[u16[i]];
    return out;
  }
  throw new EngineError('safetensors.toFloat32', `cannot decode dtype ${dtype} to f32 (only F32, BF16, F16)`);
}

/**
 * Index of the first NaN or ±Inf element in little-endian F32/BF16/F16 bytes, or -1: a bit test on
 * each element's exponent field (all ones), read byte-wise so any byte offset works (stored chunks
 * can start at odd addresses). Runs at ~1 GB/s, far faster than the GPU upload it guards.
 */
export function firstNonFinite(dtype: Dtype, bytes: Uint8Array): number {
  const n = bytes.length;
  if (dtype === 'F32') {
    // byte 3: sign + exponent bits 7..1; byte 2: exponent bit 0 in its top bit
    for (let i = 3; i < n; i += 4) if ((bytes[i] & 0x7f) === 0x7f && bytes[i - 1] & 0x80) return (i - 3) / 4;
  } else if (dtype === 'BF16') {
    for (let i = 1; i < n; i += 2) if ((bytes[i] & 0x7f) === 0x7f && bytes[i - 1] & 0x80) return (i - 1) / 2; // f32's top half
  } else if (dtype === 'F16') {
    for (let i = 1; i < n; i += 2) if ((bytes[i] & 0x7c) === 0x7c) return (i - 1) / 2; // exponent bits 14..10
  } else {
    throw new EngineError('safetensors.firstNonFinite', `dtype ${dtype} is not a float format this checks (F32, BF16, F16)`);
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// writing

/** A tensor to write: raw little-endian bytes, numel · bits / 8 of them. */
export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  data: Uint8Array;
}

/**
 * The 8 + N header bytes for these tensors, and where each one's data goes (in write order).
 * For streaming writers: write `bytes`, then each tensor's data in `tensors` order.
 */
export function encodeSafetensorsHeader(
  entries: readonly { name: string; dtype: Dtype; shape: readonly number[] }[],
  metadata: Record<string, string> | null = { format: 'pt' },
): { bytes: Uint8Array; tensors: SafetensorsTensor[] } {
  const where = 'writeSafetensors';
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.name === '__metadata__') throw new EngineError(where, `a tensor may not be called '__metadata__'`);
    if (seen.has(e.name)) throw new EngineError(where, `tensor '${e.name}' is given twice`);
    if (!isDtype(e.dtype)) throw new EngineError(where, `tensor '${e.name}' has unknown dtype ${show(e.dtype)}`);
    seen.add(e.name);
  }
  if (metadata !== null) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new EngineError(where, `__metadata__ value of '${k}' must be a string, found ${show(v)}`);
    }
  }

  // Descending dtype alignment (the Rust enum order, reversed), then name: every tensor then
  // starts at a multiple of its element size once the header is padded to a multiple of 8.
  const order = [...entries].sort((a, b) => DTYPE_ORDER.get(b.dtype)! - DTYPE_ORDER.get(a.dtype)! || compareCodePoints(a.name, b.name));
  const tensors: SafetensorsTensor[] = [];
  let pos = 0;
  for (const e of order) {
    const nbytes = tensorNbytes(e.dtype, e.shape);
    if (typeof nbytes === 'string') throw new EngineError(where, `tensor '${e.name}': ${nbytes}`);
    tensors.push({ name: e.name, dtype: e.dtype, shape: [...e.shape], begin: pos, end: pos + nbytes });
    pos += nbytes;
  }

  // Compact JSON like serde_json::to_string: "__metadata__" first, then the tensors in data order.
  const parts: string[] = [];
  if (metadata !== null) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  for (const t of tensors) {
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${t.begin},${t.end}]}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8; // pad with spaces to a multiple of 8
  const bytes = new Uint8Array(8 + n).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
  bytes.set(json, 8);
  return { bytes, tensors };
}

/**
 * Serialises tensors to a complete safetensors file, byte for byte as the reference writer does.
 * `metadata` defaults to {"format": "pt"}, which transformers requires; null writes none.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> | null = { format: 'pt' }): Uint8Array {
  const { bytes: head, tensors: layout } = encodeSafetensorsHeader(tensors, metadata);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const out = new Uint8Array(head.length + (layout.length ? layout[layout.length - 1].end : 0));
  out.set(head, 0);
  for (const t of layout) {
    const data = byName.get(t.name)!.data;
    if (data.length !== t.end - t.begin) {
      throw new EngineError('writeSafetensors', `tensor '${t.name}' is ${t.dtype} ${fmtShape(t.shape)}, which is ${t.end - t.begin} bytes, but ${data.length} bytes of data were given`);
    }
    out.set(data, head.length + t.begin);
  }
  return out;
}
