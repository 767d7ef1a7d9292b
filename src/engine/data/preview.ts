// preview: a preference dataset summarised for the studio's Data screen — which row form it is,
// every malformed row, the token ids of every pair (tokenised once, a slice at a time so a page
// stays responsive), and, for any max_length / max_prompt_length, how many pairs the trainer would
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
//
// What it is not: a second validator or sequence builder. Rows are checked by examples.ts
// (inspectRows), sequences built and cut by pairs.ts (tokenizeRow, truncatePair): the numbers here
// are the trainer's (prepareExamples) by construction, which preview.test.ts checks.
// No DOM, no timers: the caller passes `pause` (a page: a zero-delay timeout) to yield between slices.

import { LoadError } from '../errors.ts';
import { loadDataset, rowName, type Dataset, type RowNaming } from './dataset.ts';
import type { DroppedRow, RowIssue, ValidRow } from './examples.ts';
import { RowBuildError, tokenizeRow, truncatePair, type PairTokens, type ResolvedSequenceOptions, type SequenceStyle } from './pairs.ts';
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
      if (outside === undefined) pairs.push({ row: v.row, name, ...ids });
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
