// Data slice: the preference set the studio trains on (the demo's, or a file the user picked) and
// what the Data screen shows of it: the recognised row form, malformed rows, the pairs as the model
// reads them, a token-length histogram, and how many pairs the sequence limits would cut or drop.
//
// `source` (name + bytes) is what the Train screen sends to the worker's startTraining as `data`,
// with `settings` (TRL names) in its config. Nothing here is persisted. These are the UI's own
// types, plain copies of what the bridge (src/ui/engine/dataset.ts) computes with the engine's
// data code (src/engine/data/preview.ts); the UI imports engine code only through that bridge.

/** The sequence rules of a TRL generation (src/engine/data/pairs.ts SEQUENCE_STYLES). */
export type SequenceStyleName = 'trl-0.9' | 'trl' | 'trl-1.x';

/** Sequence settings by their TRL names (`prefstudio train` flags); null = no limit. */
export interface DataSettings {
  sequence_style: SequenceStyleName;
  max_length: number | null;
  max_prompt_length: number | null;
}

/** The selected preference file. */
export interface DataSource {
  /** The demo's set (public/demo/preferences/train.jsonl), or a file the user picked or dropped. */
  kind: 'demo' | 'file';
  /** The file's name: its extension picks the reader, and rows are named with it. */
  name: string;
  bytes: Uint8Array;
}

/** One problem with one row: "line 7" · "chosen" · "is missing; …". */
export interface RowIssueView {
  /** 0-based row index, or -1 for a JSON line that never became a row. */
  row: number;
  /** The row as the user finds it in the file: "line 7", "pairs[3]", "row 3". */
  name: string;
  /** The field ("chosen", "prompt[1].role"); "" for the row itself. */
  field: string;
  reason: string;
  hint?: string;
}

/** A row form found in the file, with how many well-formed rows have it. */
export interface ShapeView {
  shape: string;
  title: string;
  description: string;
  rows: number;
}

export interface FormatView {
  /** The reader: 'jsonl', 'json' or 'parquet'. */
  reader: string;
  shapes: ShapeView[];
  /** Columns a loss reads (score_chosen for gpo, …). */
  targetColumns: { column: string; loss: string }[];
  /** Columns nothing reads. */
  otherColumns: string[];
  /** How rows are named: "rows are named by their line in the file, counting from 1". */
  numbering: string;
}

/** One pair as the model reads it, decoded (chat template, <bos>, <eos>, truncation). */
export interface PairPreviewView {
  row: number;
  name: string;
  prompt: string;
  chosen: string;
  rejected: string;
  tokens: { prompt: number; chosen: number; rejected: number };
  tokensBefore: { prompt: number; chosen: number; rejected: number };
  truncated: boolean;
  dropReason: string | null;
}

/** Token lengths before truncation, prompt + chosen and prompt + rejected, in shared bins. */
export interface HistogramView {
  /** Bin i holds lengths in [edges[i], edges[i + 1]). */
  edges: number[];
  chosen: number[];
  rejected: number[];
  /** The longest sequence (tokens) and the row it is in. */
  longest: { tokens: number; name: string };
  median: number;
}

/** What the current settings do to the tokenised pairs. */
export interface TruncationView {
  pairs: number;
  truncated: number;
  promptCut: number;
  completionCut: number;
  dropped: { name: string; reason: string }[];
}

/** A problem with the whole file or the tokenizer (not a row): what, where and what to do. */
export interface DataProblem {
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

/** idle → reading (file, tokenizer, validation) → tokenizing → ready | failed. */
export type DataStatus = 'idle' | 'reading' | 'tokenizing' | 'ready' | 'failed';

export interface DataState {
  data: {
    source: DataSource | null;
    /** Whose tokenizer: null = the demo model's files (public/demo/model), else a stored model's id. */
    tokenizerModelId: string | null;
    /** The tokenizer's model as shown ("the demo model", a stored model's name). */
    tokenizerName: string;
    status: DataStatus;
    /** Pairs tokenised so far (status tokenizing). */
    progress: { done: number; total: number } | null;
    /** Rows read from the file (well-formed or not). */
    rows: number;
    format: FormatView | null;
    /** Every malformed row, in file order. */
    issues: RowIssueView[];
    /** Pairs that tokenised (the trainer's pairs before truncation drops any). */
    pairs: number;
    histogram: HistogramView | null;
    truncation: TruncationView | null;
    preview: PairPreviewView[];
    settings: DataSettings;
    /** Why the settings cannot be used (e.g. max_prompt_length ≥ max_length in trl-0.9), or null. */
    settingsProblem: string | null;
    problem: DataProblem | null;
  };
}

/** TRL 0.9.6's defaults, the trainer's default style (pairs.ts SEQUENCE_STYLES[0]; data.test.ts keeps them equal). */
export const DEFAULT_DATA_SETTINGS: DataSettings = { sequence_style: 'trl-0.9', max_length: 512, max_prompt_length: 128 };

export const dataInitialState: DataState = {
  data: {
    source: null,
    tokenizerModelId: null,
    tokenizerName: 'the demo model',
    status: 'idle',
    progress: null,
    rows: 0,
    format: null,
    issues: [],
    pairs: 0,
    histogram: null,
    truncation: null,
    preview: [],
    settings: DEFAULT_DATA_SETTINGS,
    settingsProblem: null,
    problem: null,
  },
};
