// Sharded Hugging Face checkpoints: model.safetensors.index.json, shard file names, splitting a
// state dict into shards, and checking a set of safetensors headers against a Gemma-2 config.
//
//   model.safetensors                       one file, no index (a checkpoint that fits one shard)
//   model-00001-of-00003.safetensors …      K shards, 1-based, 5 digits each
//   model.safetensors.index.json            {"metadata": {"total_size": <data bytes>},
//                                            "weight_map": {"<tensor>": "<shard file>", ...}}
//
// Source of truth: spec gemma2-and-formats.md §3 "Sharded checkpoints" (huggingface_hub
// serialization/_base.py split_state_dict_into_shards_factory; transformers save_pretrained) and
// §1.2 for the tensors a Gemma-2 checkpoint holds.
//
// Not here: reading bytes (safetensors.ts parses each shard's header), the weight store, GPU upload.
// No node: imports.

import { EngineError } from '../errors.ts';
import { expectedTensors, shapeSource, type Gemma2Config } from './config.ts';
import { LoadError, loadWhere } from './load_error.ts';
import { checkJsonDepth, compareCodePoints, findDuplicateKey, show, type Dtype, type SafetensorsHeader } from './safetensors.ts';

/** The index file's name next to the shards. */
export const INDEX_FILE = 'model.safetensors.index.json';

/** huggingface_hub's default shard cap, 5 GB (decimal). */
export const MAX_SHARD_SIZE = 5_000_000_000;

/** The dtypes PrefStudio can load a Gemma-2 tensor from. */
export const LOADABLE_DTYPES: readonly Dtype[] = ['F32', 'BF16', 'F16'];

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Lists names for a message: 'a', 'b', 'c' (and 7 more). */
function listNames(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).map((n) => `'${n}'`).join(', ');
  return names.length > max ? `${shown} (and ${names.length - max} more)` : shown;
}

// ---------------------------------------------------------------------------------------------
// shard file names

const pad5 = (i: number): string => String(i).padStart(5, '0');

/** Name of shard i (1-based) of K: model-0000i-of-0000K.safetensors; model.safetensors if K = 1. */
export function shardFileName(i: number, K: number): string {
  return K === 1 ? 'model.safetensors' : `model-${pad5(i)}-of-${pad5(K)}.safetensors`;
}

/** {index, count} from 'model-00002-of-00003.safetensors' (any prefix before '-'), else null. */
export function parseShardFileName(name: string): { index: number; count: number } | null {
  const m = /-(\d{5,})-of-(\d{5,})\.safetensors$/.exec(name);
  if (m === null) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index >= 1 && index <= count ? { index, count } : null;
}

// ---------------------------------------------------------------------------------------------
// the index

/** A parsed model.safetensors.index.json. */
export interface ShardIndex {
  file: string; // the index's own name, for messages
  totalSize: number | null; // metadata.total_size (data bytes of all tensors), null if absent
  weightMap: Map<string, string>; // tensor name → shard file name
  metadata: Record<string, unknown>; // all of "metadata", unknown keys included
}

/**
 * Parses an index: its text (which also lets us catch duplicate tensor names, which JSON.parse
 * would silently merge) or the already-parsed JSON. Unknown keys are ignored.
 */
export function parseShardIndex(input: string | object, file = INDEX_FILE): ShardIndex {
  const hint = `choose the ${INDEX_FILE} that came with the shards, or download the checkpoint again`;
  let json: unknown = input;
  if (typeof input === 'string') {
    checkJsonDepth(input, file, 'it'); // before anything walks it: deep nesting overflows the stack
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new LoadError(file, `is not valid JSON (${(e as Error).message})`, hint);
    }
    const dup = findDuplicateKey(input);
    if (dup !== null) {
      const where = dup.path.length ? `in "${dup.path.join('.')}"` : 'at the top level';
      throw new LoadError(loadWhere(file, `key '${dup.key}'`), `appears twice ${where}`, hint);
    }
  }
  if (!isObject(json)) throw new LoadError(file, `is not a JSON object (found ${show(json)})`, hint);

  const wm = json.weight_map;
  if (!isObject(wm)) {
    throw new LoadError(loadWhere(file, "key 'weight_map'"), `must be an object mapping tensor names to shard files, found ${show(wm)}`, `this is not a safetensors index; ${hint}`);
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(wm)) {
    if (typeof shard !== 'string' || !shard.endsWith('.safetensors')) {
      const bin = typeof shard === 'string' && shard.endsWith('.bin');
      throw new LoadError(
        loadWhere(file, `tensor '${name}'`),
        `weight_map must name a .safetensors file, found ${show(shard)}`,
        bin ? 'this is a PyTorch .bin checkpoint index: PrefStudio reads safetensors only (convert with safetensors or download the safetensors version)' : hint,
      );
    }
    weightMap.set(name, shard);
  }

  const md = json.metadata ?? {};
  if (!isObject(md)) throw new LoadError(loadWhere(file, "key 'metadata'"), `must be an object, found ${show(md)}`, hint);
  const ts = md.total_size;
  if (ts !== undefined && ts !== null && !(typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0)) {
    throw new LoadError(loadWhere(file, "key 'metadata.total_size'"), `must be a non-negative integer (bytes), found ${show(ts)}`, hint);
  }
  return { file, totalSize: typeof ts === 'number' ? ts : null, weightMap, metadata: md };
}

/** JSON like Python's json.dumps(v, indent=2, sort_keys=True) (ensure_ascii on) for str/int/dict. */
function pyDumps(v: unknown, indent: string): string {
  if (typeof v === 'string') {
    // Python escapes ", \, \n \r \t \b \f by name and every other char outside ' '…'~' as \uXXXX.
    const named: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
    return `"${v.replace(/["\\\u0000-\u001f\u007f-\uffff]/g, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
  }
  if (typeof v === 'number') return String(v);
  if (v instanceof Map) v = Object.fromEntries(v);
  if (!isObject(v)) throw new EngineError('writeShardIndex', `cannot serialise ${show(v)}`);
  const keys = Object.keys(v).sort(compareCodePoints);
  if (keys.length === 0) return '{}';
  const inner = indent + '  ';
  return `{\n${keys.map((k) => `${inner}${pyDumps(k, inner)}: ${pyDumps(v[k], inner)}`).join(',\n')}\n${indent}}`;
}

/**
 * The text of model.safetensors.index.json, exactly as transformers writes it:
 * json.dumps(index, indent=2, sort_keys=True) + "\n". (transformers writes no index for 1 shard.)
 */
export function writeShardIndex(totalSize: number, weightMap: ReadonlyMap<string, string>): string {
  return pyDumps({ metadata: { total_size: totalSize }, weight_map: new Map(weightMap) }, '') + '\n';
}

// ---------------------------------------------------------------------------------------------
// splitting a state dict into shards

/** One shard of a plan: its file name, its tensors in order, their data bytes. */
export interface PlannedShard {
  file: string;
  tensors: string[];
  bytes: number;
}

export interface ShardPlan {
  shards: PlannedShard[];
  weightMap: Map<string, string>; // tensor → file
  totalSize: number; // data bytes of all tensors (the index's total_size)
}

/**
 * Splits tensors (in state-dict order) into shards of at most maxShardBytes data bytes, exactly as
 * huggingface_hub does: greedy in order, a new shard when the next tensor would exceed the cap, and
 * a tensor larger than the cap alone in a shard of its own — which takes its place in the list at
 * once, *before* the shard still being filled (so [2, 12, 3] with cap 10 gives [12], [2, 3]).
 */
export function planShards(tensors: readonly { name: string; nbytes: number }[], maxShardBytes = MAX_SHARD_SIZE): ShardPlan {
  const list: { tensors: string[]; bytes: number }[] = [];
  let current = { tensors: [] as string[], bytes: 0 };
  let totalSize = 0;
  for (const t of tensors) {
    totalSize += t.nbytes;
    if (t.nbytes > maxShardBytes) {
      list.push({ tensors: [t.name], bytes: t.nbytes });
      continue;
    }
    if (current.bytes + t.nbytes > maxShardBytes) {
      list.push(current);
      current = { tensors: [], bytes: 0 };
    }
    current.tensors.push(t.name);
    current.bytes += t.nbytes;
  }
  if (current.tensors.length > 0) list.push(current);

  const K = list.length;
  const shards = list.map((s, i) => ({ file: shardFileName(i + 1, K), ...s }));
  const weightMap = new Map<string, string>();
  for (const s of shards) for (const name of s.tensors) weightMap.set(name, s.file);
  return { shards, weightMap, totalSize };
}

// ---------------------------------------------------------------------------------------------
// checking a checkpoint against the config

/** Where one parameter tensor lives: enough to read its bytes. */
export interface CheckpointTensor {
  name: string;
  shape: number[];
  dtype: Dtype; // one of LOADABLE_DTYPES
  file: string;
  offset: number; // absolute byte offset in `file`
  nbytes: number;
}

export interface CheckpointReport {
  tensors: CheckpointTensor[]; // the expected tensors, in expectedTensors(cfg) order
  ignored: string[]; // present and deliberately unused (lm_head.weight: a tied copy)
  unknown: string[]; // present but not a Gemma-2 parameter (reported, not loaded)
  warnings: string[]; // everything else worth telling the user
  totalBytes: number; // data bytes of the loaded tensors
}

/**
 * Checks a checkpoint — the parsed headers of its .safetensors files and, if sharded, its index —
 * against the config: every expected tensor present exactly once with the config's shape and a
 * loadable dtype; the index consistent with the files. Throws a LoadError on the first problem;
 * returns where every tensor lives plus what was ignored or unknown (config.json's own warnings
 * are in cfg.warnings).
 */
export function validateCheckpoint(cfg: Gemma2Config, headers: readonly SafetensorsHeader[], index?: ShardIndex | null): CheckpointReport {
  const warnings: string[] = [];
  const byFile = new Map<string, SafetensorsHeader>();
  for (const h of headers) {
    if (byFile.has(h.file)) throw new LoadError(h.file, 'was given twice', 'give each file of the checkpoint once');
    byFile.set(h.file, h);
  }
  const checkpoint = index ? index.file : headers.length === 1 ? headers[0].file : `the ${headers.length} safetensors files`;

  // --- 1. the index against the files it names
  let used = headers;
  if (index) {
    const shardsNamed = new Map<string, string[]>(); // file → its tensors per the index
    for (const [name, f] of index.weightMap) shardsNamed.set(f, [...(shardsNamed.get(f) ?? []), name]);
    const missing = [...shardsNamed.keys()].filter((f) => !byFile.has(f)).sort(compareCodePoints);
    if (missing.length > 0) {
      const eg = shardsNamed.get(missing[0])!;
      throw new LoadError(
        index.file,
        `names ${missing.length === 1 ? 'shard' : 'shards'} ${listNames(missing, 8)} (holding e.g. '${eg[0]}'), which ${missing.length === 1 ? 'was' : 'were'} not provided`,
        `add every shard listed in ${index.file} (${shardsNamed.size} files); a download may be incomplete`,
      );
    }
    for (const [name, f] of index.weightMap) {
      if (!byFile.get(f)!.tensors.some((t) => t.name === name)) {
        throw new LoadError(loadWhere(f, `tensor '${name}'`), `${index.file} places this tensor in ${f}, which does not contain it`, 'the index and the shards come from different versions of the checkpoint: download them again together');
      }
    }
    used = headers.filter((h) => shardsNamed.has(h.file));
    for (const h of headers) if (!shardsNamed.has(h.file)) warnings.push(`${h.file} is not named in ${index.file}; ignored`);
    if (index.totalSize !== null) {
      const sum = used.reduce((a, h) => a + h.dataSize, 0);
      if (sum !== index.totalSize) {
        throw new LoadError(loadWhere(index.file, "key 'metadata.total_size'"), `says ${index.totalSize} bytes of tensor data but the shards hold ${sum}`, 'the index does not belong to these shards (different versions?): download the checkpoint again');
      }
    }
  } else {
    // No index: shards named model-0000i-of-0000K must all be there.
    for (const h of headers) {
      const s = parseShardFileName(h.file);
      if (s === null) continue;
      const prefix = h.file.slice(0, h.file.length - `-${pad5(s.index)}-of-${pad5(s.count)}.safetensors`.length);
      const absent: string[] = [];
      for (let i = 1; i <= s.count; i++) {
        const f = `${prefix}-${pad5(i)}-of-${pad5(s.count)}.safetensors`;
        if (!byFile.has(f)) absent.push(f);
      }
      if (absent.length > 0) {
        throw new LoadError(h.file, `is shard ${s.index} of ${s.count}, but ${listNames(absent, 8)} ${absent.length === 1 ? 'is' : 'are'} missing`, `add all ${s.count} shards (and ${INDEX_FILE})`);
      }
    }
  }

  // --- 2. every tensor of the used files, each exactly once
  const found = new Map<string, { h: SafetensorsHeader; t: SafetensorsHeader['tensors'][number] }>();
  for (const h of used) {
    for (const t of h.tensors) {
      const prev = found.get(t.name);
      if (prev) throw new LoadError(loadWhere(h.file, `tensor '${t.name}'`), `is also in ${prev.h.file}; a checkpoint stores each tensor once`, 'remove the stray file (a checkpoint from a different download?)');
      found.set(t.name, { h, t });
      if (index && index.weightMap.get(t.name) === undefined) warnings.push(`${h.file}: tensor '${t.name}' is not listed in ${index.file}`);
    }
  }

  // --- 3. the expected tensors: present, right shape, loadable dtype
  const expected = expectedTensors(cfg);
  const absent = expected.filter((e) => !found.has(e.name)).map((e) => e.name);
  if (absent.length > 0) {
    throw new LoadError(
      checkpoint,
      `${absent.length} of the ${expected.length} tensors a Gemma-2 with ${cfg.L} layers needs ${absent.length === 1 ? 'is' : 'are'} missing: ${listNames(absent)}`,
      'add all of the checkpoint\'s .safetensors files, and check that config.json belongs to these weights',
    );
  }
  const tensors: CheckpointTensor[] = [];
  const dtypes = new Set<Dtype>();
  for (const e of expected) {
    const { h, t } = found.get(e.name)!;
    const where = loadWhere(h.file, `tensor '${e.name}'`);
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      throw new LoadError(where, `has shape ${fmtShape(t.shape)} but config.json (${shapeSource(cfg, e.name)}) expects ${fmtShape(e.shape)}`, 'config.json and the weights do not belong together (a different model size?): use the config.json of the same checkpoint');
    }
    if (!LOADABLE_DTYPES.includes(t.dtype)) {
      throw new LoadError(where, `has dtype ${t.dtype}; PrefStudio loads ${LOADABLE_DTYPES.join(', ')}`, 'quantized or integer weights are not supported: import the original F32/BF16/F16 checkpoint');
    }
    dtypes.add(t.dtype);
    tensors.push({ name: e.name, shape: t.shape, dtype: t.dtype, file: h.file, offset: h.dataStart + t.begin, nbytes: t.end - t.begin });
  }

  // --- 4. the rest: the tied lm_head copy is ignored, anything else is unknown
  const expectedNames = new Set(expected.map((e) => e.name));
  const ignored: string[] = [];
  const unknown: string[] = [];
  for (const name of found.keys()) {
    if (expectedNames.has(name)) continue;
    (name === 'lm_head.weight' ? ignored : unknown).push(name);
  }
  if (ignored.length) warnings.push("lm_head.weight is ignored: Gemma-2's output matrix is model.embed_tokens.weight (tied)");
  if (unknown.length) warnings.push(`${unknown.length} tensors are not part of Gemma-2 and are not loaded: ${listNames(unknown)}`);
  const configDtype = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' } as const;
  if (cfg.dtype !== null && (dtypes.size > 1 || !dtypes.has(configDtype[cfg.dtype]))) {
    warnings.push(`config.json says the weights are ${cfg.dtype} but the tensors are stored as ${[...dtypes].join(' and ')} (each tensor's own dtype is used)`);
  }

  return { tensors, ignored, unknown, warnings, totalBytes: tensors.reduce((a, t) => a + t.nbytes, 0) };
}
