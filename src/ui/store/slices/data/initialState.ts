// Data slice: the preference set the studio trains on (the demo's, or a file the user picked) and
// what the Data screen shows of it: the recognised row form, malformed rows, the pairs as the model
// reads them, a token-length histogram, and how many pairs the sequence limits would cut or drop.
//
// `source` (name + bytes) is what the Train screen sends to the worker's startTraining as `data`,
// with `settings` (TRL names) in its config. Nothing here is persisted. The views are the engine's
// own types (type-only imports, erased from the page's bundle): the engine worker computes them
// (src/engine/data/preview.ts, previewData) and the bridge (src/ui/engine/dataset.ts) puts them here.

import type { RowIssue } from '../../../../engine/data/examples.ts';
import type { SequenceStyle } from '../../../../engine/data/pairs.ts';
import type {
  DatasetFormatView, DataSequenceSettings, LengthHistogramView, PairPreview, ShapeView as EngineShapeView, TruncationSummary,
} from '../../../../engine/data/preview.ts';
import type { DataProgressEvent, ErrorEvent } from '../../../../engine/worker/protocol.ts';

/** The sequence rules of a TRL generation (src/engine/data/pairs.ts SEQUENCE_STYLES). */
export type SequenceStyleName = SequenceStyle;

/** Sequence settings by their TRL names (`prefstudio train` flags); null = no limit. */
export type DataSettings = DataSequenceSettings;

/** The selected preference file. */
export interface DataSource {
  /** The demo's set (public/demo/preferences/train.jsonl), or a file the user picked or dropped. */
  kind: 'demo' | 'file';
  /** The file's name: its extension picks the reader, and rows are named with it. */
  name: string;
  bytes: Uint8Array;
}

/** One problem with one row: "line 7" · "chosen" · "is missing; …" (row -1: a JSON line that never became a row). */
export type RowIssueView = RowIssue;

/** A row form found in the file, with how many well-formed rows have it. */
export type ShapeView = EngineShapeView;

/** The reader, the row forms, the columns and how rows are named. */
export type FormatView = DatasetFormatView;

/** One pair as the model reads it, decoded (chat template, <bos>, <eos>, truncation). */
export type PairPreviewView = PairPreview;

/** Token lengths before truncation, prompt + chosen and prompt + rejected, in shared bins. */
export type HistogramView = LengthHistogramView;

/** What the current settings do to the tokenised pairs (the trainer's counts; dropped rows by name). */
export type TruncationView = TruncationSummary;

/** A problem with the whole file or the tokenizer (not a row): what, where and what to do. */
export type DataProblem = Pick<ErrorEvent, 'name' | 'message' | 'where' | 'hint'>;

/** Tokenising progress: pairs done of total, percent, pairs per second (0: not measured yet). */
export type DataProgress = Pick<DataProgressEvent, 'done' | 'total' | 'percent' | 'pairsPerSec'>;

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
    progress: DataProgress | null;
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
