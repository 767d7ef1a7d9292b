// preview: a preference dataset summarised for the studio's Data screen — which row form it is,
// every malformed row, the token ids of every pair (tokenised once, a slice at a time so the work
// can be cancelled between slices), and, for any max_length / max_prompt_length, how many pairs the trainer would
// truncate or drop, a few pairs as the model reads them, and a token-length histogram.
//
//   readDatasetRows(name, bytes)      loadDataset, except that a .jsonl file's lines that are not
//                                     JSON become row issues (line, reason) instead of one error
//   datasetShape(rows, valid)         the recognised form(s): TRL standard / conversational (with
//                                     or without a prompt), UltraFeedback-style, token ids; columns
//   tokenizePairs(valid, …)           tokenizeRow for every valid row, yielding between slices
//   truncationSummary(pairs, seq)     truncatePair on every pair: truncated / dropped counts
//   previewPairs(pairs, tok, seq, n)  the first n pairs, decoded after truncation (template, BOS, EOS)
//   lengthHistogram(series)           shared bins over prompt+chosen and prompt+rejected lengths
//   prepareDataPreview(name, bytes, …) all of the above for one file, as the engine worker's
//                                     previewData runs it (off the page's thread): the file read,
//                                     checked and tokenised once (ids kept for the PREVIEW_PAIRS
//                                     decoded pairs, lengths only for the rest: lengthOnly), then
//                                     `at(limits)` for any max_length / max_prompt_length
//
// What it is not: a second validator or sequence builder. Rows are checked by examples.ts
// (inspectRows), sequences built and cut by pairs.ts (tokenizeRow, truncatePair): the numbers here
// are the trainer's (prepareExamples) by construction, which preview.test.ts checks.
// No DOM, no timers: the caller passes `pause` (the worker: a zero-delay timeout) to yield between
// slices, so a newer command can cancel the work. The views (DataPreview and its parts) are plain
// data: they cross the worker protocol as they are, and the studio's data slice uses their types.

import { EngineError, LoadError } from '../errors.ts';
import { loadDataset, rowName, rowNumbering, type Dataset, type RowNaming } from './dataset.ts';
import { inspectRows, type DroppedRow, type RowIssue, type ValidRow } from './examples.ts';
import { resolveSequenceOptions, RowBuildError, tokenizeRow, truncatePair, type PairTokens, type ResolvedSequenceOptions, type SequenceStyle } from './pairs.ts';
import { TokenizerError, type Tokenizer } from './tokenizer.ts';

// ------------------------------------------------------------------ reading

/**
 * The rows of a .jsonl / .json / .parquet file, as loadDataset reads them. A .jsonl file with
 * lines that are not JSON is still read: those lines come back as `issues` (the row named by its
 * line, reason = the parser's message) and the others as rows, so the studio can list every bad
 * line next to the rows that are malformed in other ways. Other failures throw loadDataset's LoadError.
 */
export async function readDatasetRows(name: string, bytes: Uint8Array): Promise<{ ds: Dataset; issues: RowIssue[] }> {
  try {
    return { ds: await loadDataset(name, bytes), issues: [] };
  } catch (e) {
    const lenient = e instanceof LoadError && /\.(jsonl|ndjson)$/i.test(name) ? readJsonlLines(name, bytes) : null;
    if (lenient === null || lenient.issues.length === 0) throw e; // not a JSON-lines problem (e.g. not UTF-8)
    return lenient;
  }
}

function readJsonlLines(name: string, bytes: Uint8Array): { ds: Dataset; issues: RowIssue[] } | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const rows: unknown[] = [];
  const lines: number[] = [];
  const issues: RowIssue[] = [];
  text.replace(/^\ufeff/, '').split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line));
      lines.push(i + 1);
    } catch (err) {
      // row -1: a line that never became a row (it has no index in `rows`)
      issues.push({ row: -1, name: `line ${i + 1}`, field: '', reason: `is not valid JSON (${(err as Error).message})`, hint: 'each non-blank line of a .jsonl file must be one complete JSON object (no line breaks inside a row)' });
    }
  });
  return { ds: { file: name, format: 'jsonl', rows, lines, key: null }, issues };
}

/**
 * Issues from reading, validating and tokenising, in file order: by line for a .jsonl file (a line
 * that is not JSON has no row index; both kinds are named "line N"), else by row. Stable within a row.
 */
export function issuesInFileOrder(issues: readonly RowIssue[]): RowIssue[] {
  const at = (i: RowIssue): number => Number(/^line (\d+)$/.exec(i.name)?.[1] ?? i.row);
  return [...issues].sort((a, b) => at(a) - at(b));
}

// ------------------------------------------------------------------ the rows' form

/** A row form as TRL's docs name it (docs/source/dataset_formats.md), plus UltraFeedback's layout and token ids. */
export type RowShape = 'standard' | 'standard-implicit' | 'conversational' | 'conversational-implicit' | 'ultrafeedback' | 'ids';

/** One sentence per form, for the studio. */
export const ROW_SHAPES: Readonly<Record<RowShape, { title: string; description: string }>> = {
  standard: { title: 'TRL standard', description: '"prompt", "chosen" and "rejected" are text.' },
  'standard-implicit': { title: 'TRL standard, implicit prompt', description: '"chosen" and "rejected" are text; the prompt is their common beginning.' },
  conversational: { title: 'TRL conversational', description: '"prompt", "chosen" and "rejected" are lists of {role, content} messages; the chat template renders them.' },
  'conversational-implicit': { title: 'TRL conversational, implicit prompt', description: '"chosen" and "rejected" are whole conversations; the prompt is the messages they share.' },
  ultrafeedback: { title: 'UltraFeedback-style', description: 'a text "prompt" beside "chosen" and "rejected" conversations; as TRL does, the prompt is taken from the conversations and the text one is not used.' },
  ids: { title: 'Token ids', description: '"prompt", "chosen" and "rejected" are lists of token ids, used as given (no chat template, BOS or EOS added).' },
};

/** Columns a loss reads besides prompt / chosen / rejected (examples.ts TARGET_COLUMNS), and which loss. */
const TARGET_COLUMNS: Readonly<Record<string, string>> = {
  chosen_probs: 'sppo_single',
  chosen_probs_win: 'sppo',
  chosen_probs_lose: 'sppo',
  score_chosen: 'gpo',
  score_rejected: 'gpo',
};

export interface DatasetShape {
  /** The forms of the well-formed rows, most rows first. */
  shapes: { shape: RowShape; rows: number }[];
  /** Columns some loss reads (SPPO's win rates, GPO's scores), with that loss type. */
  targetColumns: { column: string; loss: string }[];
  /** Other columns besides prompt / chosen / rejected: not used, as TRL ignores them. */
  otherColumns: string[];
}

/** The form of one well-formed row (`rows[v.row]` as read, `v` as inspectRows normalised it). */
export function rowShape(row: unknown, v: ValidRow): RowShape {
  if (v.content.form === 'ids') return 'ids';
  const prompt = (row as Record<string, unknown>).prompt;
  if (v.content.form === 'text') return prompt === undefined ? 'standard-implicit' : 'standard';
  if (prompt === undefined) return 'conversational-implicit';
  return typeof prompt === 'string' ? 'ultrafeedback' : 'conversational';
}

/** The forms of the well-formed rows and the columns of all object rows. */
export function datasetShape(rows: readonly unknown[], valid: readonly ValidRow[]): DatasetShape {
  const counts = new Map<RowShape, number>();
  for (const v of valid) {
    const s = rowShape(rows[v.row], v);
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const columns = new Set<string>();
  for (const r of rows) if (r !== null && typeof r === 'object' && !Array.isArray(r)) for (const k of Object.keys(r)) columns.add(k);
  const known = new Set(['prompt', 'chosen', 'rejected']);
  return {
    shapes: [...counts].map(([shape, n]) => ({ shape, rows: n })).sort((a, b) => b.rows - a.rows),
    targetColumns: [...columns].filter((c) => c in TARGET_COLUMNS).map((column) => ({ column, loss: TARGET_COLUMNS[column] })),
    otherColumns: [...columns].filter((c) => !known.has(c) && !(c in TARGET_COLUMNS)),
  };
}

// ------------------------------------------------------------------ tokenising

/** One pair's ids before truncation (pairs.ts tokenizeRow), with its row. */
export interface TokenizedPair extends PairTokens {
  /** 0-based index into the rows array. */
  row: number;
  /** "line 7", "pairs[3]", "row 3". */
  name: string;
}

export interface TokenizeOptions extends RowNaming {
  tokenizer: Tokenizer | null;
  vocabSize: number;
  style: SequenceStyle;
  /** Called between slices of work (a page: `() => new Promise((r) => setTimeout(r))`). None: no yielding. */
  pause?: () => Promise<void>;
  /** Milliseconds of work between pauses (default 12). */
  sliceMs?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked after every pause: true stops the work (the result is then null). */
  cancelled?: () => boolean;
  /**
   * Pairs past the first `keepIds` keep only their lengths (lengthOnly): enough for
   * truncationSummary, pairLengths and the histogram at a fraction of the memory (a 60k-row
   * UltraFeedback set holds ~50M ids). Default: every pair keeps its ids.
   */
  keepIds?: number;
}

/**
 * tokenizeRow for every valid row, as prepareExamples does before truncating: rows the chat
 * template refuses, or whose ids fall outside the vocabulary, become issues. Throws a
 * TokenizerError when message rows meet a tokenizer without a chat template. Null when cancelled.
 */
export async function tokenizePairs(valid: readonly ValidRow[], o: TokenizeOptions): Promise<{ pairs: TokenizedPair[]; issues: RowIssue[] } | null> {
  const tok = o.tokenizer;
  if (tok !== null && tok.chatTemplate === null && valid.some((v) => v.content.form === 'messages')) {
    throw new TokenizerError(o.file, 'has chat-message rows, but tokenizer_config.json has no chat_template to render them',
      'use the tokenizer_config.json of an instruction-tuned model (e.g. gemma-2-2b-it), or give the rows as text');
  }
  const pairs: TokenizedPair[] = [];
  const issues: RowIssue[] = [];
  const sliceMs = o.sliceMs ?? 12;
  let sliceStart = performance.now();
  for (let i = 0; i < valid.length; i++) {
    if (o.pause && performance.now() - sliceStart > sliceMs) {
      o.onProgress?.(i, valid.length);
      await o.pause();
      if (o.cancelled?.()) return null;
      sliceStart = performance.now();
    }
    const v = valid[i];
    const name = rowName(o, v.row);
    try {
      const ids = tokenizeRow(v.content, tok, o.style);
      const outside = [ids.promptIds, ids.chosenIds, ids.rejectedIds].flat().find((id) => id >= o.vocabSize);
      if (outside === undefined) pairs.push(o.keepIds === undefined || pairs.length < o.keepIds ? { row: v.row, name, ...ids } : lengthOnly({ row: v.row, name, ...ids }));
      else issues.push({ row: v.row, name, field: 'chosen', reason: `tokenizes to id ${outside}, ≥ the model's vocabulary size ${o.vocabSize}`, hint: 'tokenizer.json does not belong to this model: use the tokenizer files from the same checkpoint' });
    } catch (e) {
      if (!(e instanceof RowBuildError)) throw e;
      issues.push({ row: v.row, name, field: e.field, reason: e.reason, ...(e.hint !== undefined ? { hint: e.hint } : {}) });
    }
  }
  o.onProgress?.(valid.length, valid.length);
  return { pairs, issues };
}

// ------------------------------------------------------------------ truncation

export interface TruncationSummary {
  /** Pairs looked at (the tokenised ones). */
  pairs: number;
  /** Pairs that lose at least one token (they are still trained on). */
  truncated: number;
  /** Of those, pairs whose prompt was cut / whose chosen or rejected answer was cut. */
  promptCut: number;
  completionCut: number;
  /** Pairs truncation leaves without a completion: the trainer drops them (styles trl and trl-1.x). */
  dropped: DroppedRow[];
}

/** truncatePair on every pair, with the sequence options the trainer would use. */
export function truncationSummary(pairs: readonly TokenizedPair[], seq: ResolvedSequenceOptions): TruncationSummary {
  const s: TruncationSummary = { pairs: pairs.length, truncated: 0, promptCut: 0, completionCut: 0, dropped: [] };
  for (const p of pairs) {
    const cut = truncatePair(p, seq);
    if ('dropReason' in cut) s.dropped.push({ row: p.row, name: p.name, reason: cut.dropReason });
    else if (cut.truncated) {
      s.truncated++;
      if (cut.promptIds.length < p.promptIds.length) s.promptCut++;
      if (cut.chosenIds.length < p.chosenIds.length || cut.rejectedIds.length < p.rejectedIds.length) s.completionCut++;
    }
  }
  return s;
}

// ------------------------------------------------------------------ preview

/** One pair as the model reads it: decoded after the chat template, BOS/EOS and truncation. */
export interface PairPreview {
  row: number;
  name: string;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Token counts as trained (after truncation) and before it. */
  tokens: { prompt: number; chosen: number; rejected: number };
  tokensBefore: { prompt: number; chosen: number; rejected: number };
  truncated: boolean;
  /** Why the trainer drops this pair, or null. */
  dropReason: string | null;
}

/**
 * The first `count` pairs, each part decoded with its special tokens (`<bos>`, `<start_of_turn>`,
 * `<eos>`) as the trainer's sequences hold them. A dropped pair is shown uncut with its reason.
 * Ids the tokenizer cannot decode (or no tokenizer) are shown as the id list.
 */
export function previewPairs(pairs: readonly TokenizedPair[], tok: Tokenizer | null, seq: ResolvedSequenceOptions, count: number): PairPreview[] {
  const text = (ids: readonly number[]): string => {
    if (tok === null) return `[${ids.join(', ')}]`;
    try {
      return tok.decode(ids);
    } catch {
      return `[${ids.join(', ')}]`;
    }
  };
  const counts = (p: PairTokens): PairPreview['tokens'] => ({ prompt: p.promptIds.length, chosen: p.chosenIds.length, rejected: p.rejectedIds.length });
  return pairs.slice(0, count).map((p) => {
    const cut = truncatePair(p, seq);
    const shown = 'dropReason' in cut ? p : cut;
    return {
      row: p.row,
      name: p.name,
      prompt: text(shown.promptIds),
      chosen: text(shown.chosenIds),
      rejected: text(shown.rejectedIds),
      tokens: counts(shown),
      tokensBefore: counts(p),
      truncated: 'dropReason' in cut ? false : cut.truncated,
      dropReason: 'dropReason' in cut ? cut.dropReason : null,
    };
  });
}

// ------------------------------------------------------------------ lengths

/** Sequence lengths the model reads per pair, before truncation: prompt + chosen and prompt + rejected. */
export function pairLengths(pairs: readonly TokenizedPair[]): { chosen: number[]; rejected: number[] } {
  return {
    chosen: pairs.map((p) => p.promptIds.length + p.chosenIds.length),
    rejected: pairs.map((p) => p.promptIds.length + p.rejectedIds.length),
  };
}

export interface Histogram {
  /** Bin i holds lengths in [edges[i], edges[i + 1]); edges are multiples of the bin width. */
  edges: number[];
  /** counts[s][i]: values of series s in bin i. */
  counts: number[][];
}

/**
 * Shared bins over several series of non-negative integers: the width is 1, 2 or 5 × 10^k, the
 * smallest that covers the values with at most `maxBins` bins (default 30). No values: no bins.
 */
export function lengthHistogram(series: readonly (readonly number[])[], maxBins = 30): Histogram {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) for (const v of s) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi < lo) return { edges: [], counts: series.map(() => []) };
  let width = 1;
  for (let k = 1; ; k *= 10) {
    const w = [1, 2, 5].map((m) => m * k).find((c) => Math.floor(hi / c) - Math.floor(lo / c) + 1 <= maxBins);
    if (w !== undefined) {
      width = w;
      break;
    }
  }
  const first = Math.floor(lo / width);
  const bins = Math.floor(hi / width) - first + 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (first + i) * width);
  const counts = series.map((s) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of s) c[Math.floor(v / width) - first]++;
    return c;
  });
  return { edges, counts };
}

// ------------------------------------------------------------------ ids kept as lengths

/**
 * A token-id list that keeps only its length: all truncatePair reads of a list (it cuts by
 * position: .length and .slice, which behaves as Array.prototype.slice). Reading an id gives
 * undefined, so only length-based code may be handed one (truncationSummary, pairLengths);
 * preview.test.ts checks that they give the same numbers over length-only pairs as over the ids.
 */
class IdSpan {
  constructor(readonly length: number) {}

  slice(start = 0, end = this.length): IdSpan {
    const at = (i: number): number => (i < 0 ? Math.max(0, this.length + i) : Math.min(i, this.length));
    return new IdSpan(Math.max(0, at(end) - at(start)));
  }
}

const span = (ids: readonly number[]): number[] => new IdSpan(ids.length) as unknown as number[];

/** The pair with its id lists replaced by their lengths (see IdSpan): for counts, not for decoding. */
export function lengthOnly(p: TokenizedPair): TokenizedPair {
  return { row: p.row, name: p.name, promptIds: span(p.promptIds), chosenIds: span(p.chosenIds), rejectedIds: span(p.rejectedIds) };
}

// ------------------------------------------------------------------ the Data screen's whole preview

/** Pairs the preview decodes (the first ones). */
export const PREVIEW_PAIRS = 3;

/** The sequence limits by their TRL names (`prefstudio train` flags); null = no limit. */
export interface DataLengthLimits {
  max_length: number | null;
  max_prompt_length: number | null;
}

/** The sequence settings by their TRL names: which TRL generation's rules, and the limits. */
export interface DataSequenceSettings extends DataLengthLimits {
  sequence_style: SequenceStyle;
}

/** A row form found in the file, described, with how many well-formed rows have it. */
export interface ShapeView {
  shape: RowShape;
  title: string;
  description: string;
  rows: number;
}

/** The file's reader, the forms of its rows, its other columns and how its rows are named. */
export interface DatasetFormatView {
  reader: Dataset['format'];
  shapes: ShapeView[];
  /** Columns a loss reads (score_chosen for gpo, …). */
  targetColumns: { column: string; loss: string }[];
  /** Columns nothing reads. */
  otherColumns: string[];
  /** How rows are named: "rows are named by their line in the file, counting from 1". */
  numbering: string;
}

/** What reading and validating found, before any tokenising. */
export interface DataRead {
  /** Rows read, well-formed or not (a .jsonl line that is not JSON counts as one). */
  rows: number;
  format: DatasetFormatView;
  /** Every malformed row found so far, in file order. */
  issues: RowIssue[];
  /** Well-formed rows: the pairs to tokenise. */
  total: number;
}

/** Token lengths before truncation, prompt + chosen and prompt + rejected, in shared bins. */
export interface LengthHistogramView {
  /** Bin i holds lengths in [edges[i], edges[i + 1]). */
  edges: number[];
  chosen: number[];
  rejected: number[];
  /** The longest pair as truncation sees it (the prompt with its longer answer) and its row. */
  longest: { tokens: number; name: string };
  /** The median of those lengths. */
  median: number;
}

/** What the limits do to the tokenised pairs: the trainer's counts and the first pairs cut, or why the limits cannot be used. */
export interface LengthsPreview extends DataLengthLimits {
  truncation: TruncationSummary | null;
  preview: PairPreview[];
  /** Why the trainer would refuse these limits (e.g. max_prompt_length ≥ max_length in trl-0.9), or null. */
  settingsProblem: string | null;
}

/** Everything the Data screen shows of a file. */
export interface DataPreview {
  rows: number;
  format: DatasetFormatView;
  /** Pairs that tokenised (the trainer's pairs before truncation drops any). */
  pairs: number;
  /** Every malformed row (reading, validation, the tokenizer), in file order. */
  issues: RowIssue[];
  histogram: LengthHistogramView | null;
  sequence_style: SequenceStyle;
  lengths: LengthsPreview;
}

/** The model whose tokenizer counts: its tokenizer (null: none, id rows only) and vocab_size. */
export interface PreviewModel {
  tokenizer: Tokenizer | null;
  vocabSize: number;
}

export interface PreviewOptions extends PreviewModel {
  style: SequenceStyle;
  /** As tokenizePairs': called between slices of tokenising; none: no yielding. */
  pause?: () => Promise<void>;
  sliceMs?: number;
  /** Checked after every pause: true stops the work (the result is then null). */
  cancelled?: () => boolean;
  /** Reading and validating are done: what the screen can show while the pairs tokenise. */
  onRead?: (read: DataRead) => void;
  onProgress?: (done: number, total: number) => void;
}

/** A file read, validated and tokenised once: `at(limits)` cuts it at any limits without tokenising again. */
export interface PreparedPreview {
  /** All of the preview that does not depend on the limits. */
  readonly base: Omit<DataPreview, 'lengths'>;
  at(limits: DataLengthLimits): LengthsPreview;
}

/**
 * The Data screen's preview of a preference file: read (readDatasetRows), every row checked
 * (inspectRows), every well-formed row tokenised (tokenizePairs, keeping ids for the first
 * PREVIEW_PAIRS pairs and lengths for the rest), the forms named and the lengths binned. Throws
 * what reading throws (LoadError, DatasetError, TokenizerError). Null when cancelled.
 */
export async function prepareDataPreview(name: string, bytes: Uint8Array, o: PreviewOptions): Promise<PreparedPreview | null> {
  const { ds, issues: lineIssues } = await readDatasetRows(name, bytes);
  if (o.cancelled?.()) return null;
  // every line may be broken JSON: then there is no row to inspect (inspectRows refuses an empty set)
  const inspected: { valid: ValidRow[]; issues: RowIssue[] } =
    ds.rows.length === 0 && lineIssues.length > 0 ? { valid: [], issues: [] } : inspectRows(ds.rows, { ...naming(ds), vocabSize: o.vocabSize, hasTokenizer: o.tokenizer !== null });
  const { valid } = inspected;
  const found = issuesInFileOrder([...lineIssues, ...inspected.issues]);
  const rows = ds.rows.length + lineIssues.length;
  const format = formatView(ds, valid);
  o.onRead?.({ rows, format, issues: found, total: valid.length });

  const tokenized = await tokenizePairs(valid, {
    ...naming(ds),
    tokenizer: o.tokenizer,
    vocabSize: o.vocabSize,
    style: o.style,
    keepIds: PREVIEW_PAIRS,
    ...(o.pause && { pause: o.pause }),
    ...(o.sliceMs !== undefined && { sliceMs: o.sliceMs }),
    ...(o.cancelled && { cancelled: o.cancelled }),
    ...(o.onProgress && { onProgress: o.onProgress }),
  });
  if (tokenized === null) return null;
  const { pairs } = tokenized;
  const base: PreparedPreview['base'] = {
    rows,
    format,
    pairs: pairs.length,
    issues: issuesInFileOrder([...found, ...tokenized.issues]),
    histogram: histogramView(pairs),
    sequence_style: o.style,
  };
  return { base, at: (limits) => lengthsPreview(pairs, o.tokenizer, o.style, limits) };
}

/** What the limits do to the pairs (truncationSummary, previewPairs), or why they cannot be used. */
function lengthsPreview(pairs: readonly TokenizedPair[], tok: Tokenizer | null, style: SequenceStyle, limits: DataLengthLimits): LengthsPreview {
  const { max_length, max_prompt_length } = limits;
  let seq: ResolvedSequenceOptions;
  try {
    seq = resolveSequenceOptions({ style, maxLength: max_length, maxPromptLength: max_prompt_length });
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    const what = e.message.split('\n---> HINT:')[0].replace(`${e.where}: `, '');
    return { max_length, max_prompt_length, truncation: null, preview: [], settingsProblem: e.hint ? `${what}: ${e.hint}` : what };
  }
  return { max_length, max_prompt_length, truncation: truncationSummary(pairs, seq), preview: previewPairs(pairs, tok, seq, PREVIEW_PAIRS), settingsProblem: null };
}

const naming = (ds: Dataset): RowNaming => ({ file: ds.file, lines: ds.lines, key: ds.key });

function formatView(ds: Dataset, valid: readonly ValidRow[]): DatasetFormatView {
  const shape = datasetShape(ds.rows, valid);
  return {
    reader: ds.format,
    shapes: shape.shapes.map((s) => ({ shape: s.shape, ...ROW_SHAPES[s.shape], rows: s.rows })),
    targetColumns: shape.targetColumns,
    otherColumns: shape.otherColumns,
    numbering: rowNumbering(ds),
  };
}

function histogramView(pairs: readonly TokenizedPair[]): LengthHistogramView | null {
  if (pairs.length === 0) return null;
  const { chosen, rejected } = pairLengths(pairs);
  const h = lengthHistogram([chosen, rejected]);
  // a pair's length as truncation sees it: the prompt with the longer answer
  const longer = chosen.map((c, i) => Math.max(c, rejected[i]));
  let at = 0;
  longer.forEach((v, i) => {
    if (v > longer[at]) at = i;
  });
  const sorted = [...longer].sort((a, b) => a - b);
  return { edges: h.edges, chosen: h.counts[0], rejected: h.counts[1], longest: { tokens: longer[at], name: pairs[at].name }, median: sorted[Math.floor(sorted.length / 2)] };
}
