// Synthetic Gemma-2 checkpoints of any size, for tests and measurements of the weight store:
// a config.json plus one or more safetensors shards whose tensor data is a cheap, predictable
// pattern and is never held in memory as one buffer. The bytes come either from Blob parts (the
// browser path: File reading is Blob reading) or are generated on demand by a ByteReader.
//
// Values (syntheticValue), exact in F32, BF16 and F16 so that a test can predict every loaded value:
//   'pattern'  element e of tensor k (state-dict order) is ((k·31 + e mod BLOCK) mod 251 − 125) / 128
//   'noise'    ±(1 + m/128)/2 with sign and 7-bit m from a hash of (k, e mod BLOCK): bytes that do
//              not compress (Chromium's IndexedDB Snappy-compresses values, which would flatter a
//              repeating pattern's throughput and hide a full quota), like real weights.
//
// Not a test file itself: e2e pages and Node tests import it. No node: imports.

import { expectedTensors, parseGemma2Config } from '../model/config.ts';
import { encodeSafetensorsHeader, type Dtype } from '../model/safetensors.ts';
import { planShards, writeShardIndex } from '../model/sharded.ts';
import { f32ToBf16Bits, f32ToF16Bits } from '../util/halfs.ts';
import type { ImportSource, SourceFile } from './import.ts';

/** Elements per block (values repeat every BLOCK elements of a tensor; ≥ Snappy's 64 KiB window). */
export const BLOCK = 65536;

export type SyntheticValues = 'pattern' | 'noise';

export interface SyntheticOptions {
  /** config.json keys over a tiny default Gemma-2 (V 96, C 48, FF 80, L 2, NH 4, KVH 2, HD 12). */
  config?: Record<string, unknown>;
  dtype?: 'F32' | 'BF16' | 'F16';
  /** Largest shard in data bytes (huggingface_hub's greedy split); default: one file. */
  maxShardBytes?: number;
  /** Folder name (the model's default name). */
  name?: string;
  /** What the tensors hold (see the file header); default 'pattern'. */
  values?: SyntheticValues;
}

/** One shard: its header bytes and, per tensor in file order, its index k and element count. */
export interface SyntheticShard {
  name: string;
  size: number;
  header: Uint8Array; // 8 + N bytes
  tensors: { k: number; numel: number }[];
}

export interface SyntheticCheckpoint {
  name: string;
  dtype: Dtype;
  values: SyntheticValues;
  configText: string;
  indexText: string | null;
  shards: SyntheticShard[];
  tensorNames: string[]; // state-dict order: k → name
  totalBytes: number; // tensor data bytes
}

export const SYNTHETIC_BASE_CONFIG: Record<string, unknown> = {
  architectures: ['Gemma2ForCausalLM'],
  model_type: 'gemma2',
  vocab_size: 96,
  hidden_size: 48,
  intermediate_size: 80,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 12,
  query_pre_attn_scalar: 12,
  sliding_window: 4,
};

/** The value of element `e` of tensor `k` (see the file header). */
export function syntheticValue(k: number, e: number, values: SyntheticValues = 'pattern'): number {
  if (values === 'pattern') return (((k * 31 + (e % BLOCK)) % 251) - 125) / 128;
  // murmur3's fmix32 of k·BLOCK + (e mod BLOCK)
  let h = (k * BLOCK + (e % BLOCK)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h & 0x80 ? -1 : 1) * (1 + (h & 0x7f) / 128) * 0.5;
}

const ELEM = { F32: 4, BF16: 2, F16: 2 } as const;

/** Describes a synthetic checkpoint (headers and sizes; no tensor data is made here). */
export function syntheticCheckpoint(opts: SyntheticOptions = {}): SyntheticCheckpoint {
  const dtype = opts.dtype ?? 'BF16';
  const config = { ...SYNTHETIC_BASE_CONFIG, torch_dtype: { F32: 'float32', BF16: 'bfloat16', F16: 'float16' }[dtype], ...opts.config };
  const configText = JSON.stringify(config, null, 2);
  const specs = expectedTensors(parseGemma2Config(config));
  const numel = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const plan = planShards(specs.map((s, k) => ({ name: s.name, nbytes: numel[k] * ELEM[dtype] })), opts.maxShardBytes);
  const kOf = new Map(specs.map((s, k) => [s.name, k]));
  const shards = plan.shards.map((p) => {
    const { bytes: header, tensors } = encodeSafetensorsHeader(p.tensors.map((n) => ({ name: n, dtype, shape: specs[kOf.get(n)!].shape })));
    const inFile = tensors.map((t) => ({ k: kOf.get(t.name)!, numel: numel[kOf.get(t.name)!] })); // data order
    return { name: p.file, size: header.length + p.bytes, header, tensors: inFile };
  });
  return {
    name: opts.name ?? 'synthetic-gemma2',
    dtype,
    values: opts.values ?? 'pattern',
    configText,
    indexText: shards.length > 1 ? writeShardIndex(plan.totalSize, plan.weightMap) : null,
    shards,
    tensorNames: specs.map((s) => s.name),
    totalBytes: plan.totalSize,
  };
}

/** The block of tensor k: BLOCK elements as raw little-endian bytes. */
export function patternBlock(k: number, dtype: Dtype, values: SyntheticValues = 'pattern'): Uint8Array {
  const f = Float32Array.from({ length: BLOCK }, (_, e) => syntheticValue(k, e, values));
  if (dtype === 'F32') return new Uint8Array(f.buffer);
  const u16 = dtype === 'BF16' ? f32ToBf16Bits(f) : f32ToF16Bits(f);
  return new Uint8Array(u16.buffer, u16.byteOffset, u16.byteLength);
}

/** The data of one tensor as a list of parts: the block repeated, the last one cut. */
function tensorParts(block: Uint8Array, nbytes: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let done = 0; done < nbytes; done += block.length) parts.push(done + block.length <= nbytes ? block : block.subarray(0, nbytes - done));
  return parts;
}

const text = (name: string, s: string): SourceFile => {
  const b = new TextEncoder().encode(s);
  return { name, size: b.length, read: async (o, n) => b.slice(o, o + n) };
};

/** The checkpoint as Blob-backed files (browser: the bytes live in blob storage, not the JS heap). */
export function syntheticBlobSource(c: SyntheticCheckpoint): ImportSource {
  const files: SourceFile[] = [text('config.json', c.configText)];
  if (c.indexText !== null) files.push(text('model.safetensors.index.json', c.indexText));
  for (const s of c.shards) {
    const parts: BlobPart[] = [s.header as Uint8Array<ArrayBuffer>];
    for (const t of s.tensors) parts.push(...(tensorParts(patternBlock(t.k, c.dtype, c.values), t.numel * ELEM[c.dtype as 'F32']) as Uint8Array<ArrayBuffer>[]));
    const blob = new Blob(parts);
    files.push({ name: s.name, size: blob.size, read: async (o, n) => new Uint8Array(await blob.slice(o, o + n).arrayBuffer()), fresh: true });
  }
  return { name: c.name, files };
}

/** The checkpoint as files whose bytes are generated on each read (Node: no memory at all). */
export function syntheticReaderSource(c: SyntheticCheckpoint): ImportSource {
  const files: SourceFile[] = [text('config.json', c.configText)];
  if (c.indexText !== null) files.push(text('model.safetensors.index.json', c.indexText));
  for (const s of c.shards) {
    // [start, end, block] per tensor in file order
    const spans: [number, number, Uint8Array | null][] = [];
    let pos = s.header.length;
    for (const t of s.tensors) {
      const nb = t.numel * ELEM[c.dtype as 'F32'];
      spans.push([pos, pos + nb, null]);
      pos += nb;
    }
    const blockOf = (i: number): Uint8Array => (spans[i][2] ??= patternBlock(s.tensors[i].k, c.dtype, c.values));
    files.push({
      name: s.name,
      size: s.size,
      fresh: true,
      read: async (offset, length) => {
        const end = Math.min(s.size, offset + length);
        const out = new Uint8Array(Math.max(0, end - offset));
        for (let p = offset; p < end; ) {
          if (p < s.header.length) {
            const n = Math.min(end, s.header.length) - p;
            out.set(s.header.subarray(p, p + n), p - offset);
            p += n;
            continue;
          }
          const i = spans.findIndex(([a, b]) => p >= a && p < b);
          const [a, b] = spans[i];
          const block = blockOf(i);
          const inBlock = (p - a) % block.length;
          const n = Math.min(end, b, p + block.length - inBlock) - p;
          out.set(block.subarray(inBlock, inBlock + n), p - offset);
          p += n;
        }
        return out;
      },
    });
  }
  return { name: c.name, files };
}
