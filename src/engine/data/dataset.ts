// dataset: the bytes of a preference-data file → its rows, as plain JS values (unknown[]).
//
//   .jsonl / .ndjson   one JSON value per line; blank lines are skipped; parse errors name the line
//   .json              an array of rows, or an object holding one: {"pairs": [...]} (the `logps`
//                      format), {"rows": [...]} or {"data": [...]}
//   .parquet           read with hyparquet (pure JS: the same code in Node, a page and a Worker).
//                      Nested list / struct columns (TRL message lists: list<struct<content, role>>)
//                      come out as plain arrays and objects; INT64 values (BigInt) as numbers.
//
// What it is not: row validation (examples.ts does that, for every row form) or tokenization.
// No node: imports — callers read the file (fs, File, IndexedDB) and pass the bytes.
// Spec: /work/shared/specs/gemma2-and-formats.md §5 (dataset layouts on the Hub).

import { parquetReadObjects } from 'hyparquet';
import { LoadError } from '../errors.ts';
import { describeValue } from './tokenizer.ts';

export type DatasetFormat = 'jsonl' | 'json' | 'parquet';

/**
 * Where the rows came from — enough to name a row in a message the way the user finds it in the
 * file: `line 7` (jsonl, 1-based), `pairs[3]` (json object), `[3]` (json array), `row 3` (parquet,
 * 0-based).
 */
export interface RowNaming {
  /** The file's name (or path), used in every message. */
  file: string;
  /** 1-based source line of each row (jsonl). Absent: a .jsonl file's row i is line i + 1. */
  lines?: readonly number[] | null;
  /** The key of the row array in a .json object ("pairs", "rows", "data"), or null for a bare array. */
  key?: string | null;
}

/** A read dataset: its rows plus how to name them. */
export interface Dataset extends RowNaming {
  format: DatasetFormat;
  rows: unknown[];
}

/** The rows of a .jsonl / .json / .parquet file (see the file header). */
export async function readDataset(name: string, bytes: Uint8Array): Promise<unknown[]> {
  return (await loadDataset(name, bytes)).rows;
}

/** readDataset plus the row naming that messages use (line numbers, the json key). */
export async function loadDataset(name: string, bytes: Uint8Array): Promise<Dataset> {
  const format = datasetFormat(name, bytes);
  if (format === 'parquet') return { file: name, format, rows: await readParquet(name, bytes), lines: null, key: null };
  const text = decodeUtf8(name, bytes);
  if (format === 'jsonl') return { file: name, format, ...readJsonl(name, text), key: null };
  return { file: name, format, ...readJson(name, text), lines: null };
}

/** The format from the file name's extension (a Parquet file is also recognised by its magic). */
export function datasetFormat(name: string, bytes?: Uint8Array): DatasetFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.parquet') || (bytes !== undefined && isParquet(bytes))) return 'parquet';
  throw new LoadError(name, 'is not a dataset file this reader knows (its name must end with .jsonl, .json or .parquet)',
    'save the preference rows as JSON lines (one {"prompt", "chosen", "rejected"} object per line), a JSON array, or Parquet');
}

/** How a row is named in messages: "line 7", "pairs[3]", "[3]" or "row 3". */
export function rowName(n: RowNaming, index: number): string {
  if (isJsonlName(n.file)) return `line ${n.lines?.[index] ?? index + 1}`;
  if (n.key !== undefined && n.key !== null) return `${n.key}[${index}]`;
  if (n.file.toLowerCase().endsWith('.json')) return `[${index}]`;
  return `row ${index}`;
}

/** One sentence saying how rowName counts, for the head of an error list. */
export function rowNumbering(n: RowNaming): string {
  return isJsonlName(n.file) ? 'rows are named by their line in the file, counting from 1' : 'rows are counted from 0';
}

// ------------------------------------------------------------------ JSON / JSON lines

const ROW_KEYS = ['pairs', 'rows', 'data'] as const;
const MAX_LISTED = 20;

function readJson(name: string, text: string): { rows: unknown[]; key: string | null } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LoadError(name, `is not valid JSON (${(e as Error).message})`,
      'a .json dataset is one JSON array of rows (or {"pairs": [...]}); for one row per line, name the file .jsonl');
  }
  if (Array.isArray(json)) return { rows: json, key: null };
  if (json !== null && typeof json === 'object') {
    const obj = json as Record<string, unknown>;
    for (const key of ROW_KEYS) if (Array.isArray(obj[key])) return { rows: obj[key] as unknown[], key };
    const keys = Object.keys(obj);
    throw new LoadError(name, `is a JSON object without a row array (keys: ${keys.length ? keys.slice(0, 8).map((k) => `"${k}"`).join(', ') : 'none'})`,
      'give an array of rows, or an object {"pairs": [...]} (also accepted: "rows", "data")');
  }
  throw new LoadError(name, `holds ${describeValue(json)}, not rows`, 'give an array of rows, or an object {"pairs": [...]}');
}

function readJsonl(name: string, text: string): { rows: unknown[]; lines: number[] } {
  const rows: unknown[] = [];
  const lines: number[] = [];
  const bad: string[] = [];
  let badCount = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line));
      lines.push(i + 1);
    } catch (e) {
      badCount++;
      if (bad.length < MAX_LISTED) bad.push(`  line ${i + 1}: ${(e as Error).message}`);
    }
  });
  if (badCount > 0) {
    const more = badCount > bad.length ? `\n  … and ${badCount - bad.length} more lines` : '';
    throw new LoadError(name, `has ${badCount} line${badCount === 1 ? '' : 's'} that are not valid JSON:\n${bad.join('\n')}${more}`,
      'each non-blank line of a .jsonl file must be one complete JSON object (no line breaks inside a row)');
  }
  return { rows, lines };
}

function decodeUtf8(name: string, bytes: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new LoadError(name, 'is not UTF-8 text', 'save the file as UTF-8 (JSON files are UTF-8 by definition), or convert it to Parquet');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a byte-order mark is not JSON
}

function isJsonlName(file: string): boolean {
  const lower = file.toLowerCase();
  return lower.endsWith('.jsonl') || lower.endsWith('.ndjson');
}

// ------------------------------------------------------------------ Parquet

function isParquet(bytes: Uint8Array): boolean {
  const magic = [0x50, 0x41, 0x52, 0x31]; // "PAR1" at both ends
  return bytes.length >= 12 && magic.every((b, i) => bytes[i] === b && bytes[bytes.length - 4 + i] === b);
}

async function readParquet(name: string, bytes: Uint8Array): Promise<unknown[]> {
  if (!isParquet(bytes)) {
    throw new LoadError(name, 'is not a Parquet file (it does not start and end with the "PAR1" magic)', 'the file is truncated or is another format: check the download, or give .jsonl / .json');
  }
  // hyparquet reads from an ArrayBuffer-like "AsyncBuffer"; give it exactly this file's bytes.
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file });
  } catch (e) {
    const msg = (e as Error).message;
    const codec = /unsupported compression codec: (\w+)/.exec(msg);
    throw new LoadError(name, `cannot be read as Parquet (${msg})`,
      codec ? `the file is compressed with ${codec[1]}; this reader handles uncompressed and SNAPPY Parquet (the Hugging Face datasets default): re-save it with snappy, or as .jsonl`
        : 'the file is damaged or uses a Parquet feature this reader lacks: re-save it (pandas/pyarrow/datasets .to_parquet()), or give .jsonl');
  }
  return rows.map((r) => plain(r) as Record<string, unknown>);
}

/**
 * Parquet values → JSON-like values: BigInt (INT64 columns, e.g. token ids) → number, typed
 * arrays → arrays, nested lists and structs copied as plain arrays / objects. Other values (strings,
 * numbers, booleans, null, Date, raw bytes as Uint8Array) are kept.
 */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (ArrayBuffer.isView(v) && !(v instanceof Uint8Array) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number | bigint>, plain);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}
