// The studio's bridge to the engine's data code, for the Data screen: reads the selected preference
// file (the demo's set or the user's), validates every row, tokenises every pair with a model's
// tokenizer and summarises it (src/engine/data/preview.ts), and puts plain views into the data
// slice. Components call dataCommands, never the engine.
//
// It runs on the page's main thread: reading and validating are quick, and tokenising, the slow
// part (~1.5 ms a pair for the demo's short pairs), works in ~12 ms slices with a zero-delay
// timeout between them, so the page keeps responding; a new file or setting cancels the work in
// flight. Fine for a few thousand pairs; larger sets belong in the engine worker (its protocol has
// no command for it yet).
//
// The tokenizer: the demo model's files (fetched from public/demo/model/, as the worker's
// ensureDemo does) or, when the user picks a stored model, its tokenizer files from the weight
// store (read-only, as storage.ts reads unfinished imports). The tokenised pairs stay here, not
// in the store: changing max_length only re-runs the truncation (pairs.ts truncatePair) over them.

import { rowNumbering, type Dataset } from '../../engine/data/dataset.ts';
import { inspectRows, type RowIssue, type ValidRow } from '../../engine/data/examples.ts';
import { resolveSequenceOptions, SEQUENCE_STYLES } from '../../engine/data/pairs.ts';
import {
  datasetShape, issuesInFileOrder, lengthHistogram, pairLengths, previewPairs, readDatasetRows, ROW_SHAPES, tokenizePairs, truncationSummary, type TokenizedPair,
} from '../../engine/data/preview.ts';
import type { Tokenizer } from '../../engine/data/tokenizer.ts';
import { tokenizerForModel } from '../../engine/data/tokenizer_files.ts';
import { EngineError, LoadError } from '../../engine/errors.ts';
import { parseGemma2Config } from '../../engine/model/config.ts';
import type { KVBackend } from '../../engine/store/kv.ts';
import { createIdbBackend } from '../../engine/store/kv_idb.ts';
import { storedCheckpointInfo } from '../../engine/store/load.ts';
import { getManifest } from '../../engine/store/manifest.ts';
import { getStudioState } from '../store/index.ts';
import { dataActions } from '../store/slices/data/actions.ts';
import type { DataProblem, DataSettings, FormatView, HistogramView, RowIssueView, SequenceStyleName } from '../store/slices/data/initialState.ts';
import { demoBaseUrl } from './useEngine.ts';

/** Pairs the preview shows. */
export const PREVIEW_PAIRS = 3;

/** The sequence styles for the Data screen's select, the trainer's default first, with their TRL limits. */
export const SEQUENCE_STYLE_CHOICES: readonly { name: SequenceStyleName; trl: string; description: string; defaults: Pick<DataSettings, 'max_length' | 'max_prompt_length'> }[] =
  SEQUENCE_STYLES.map((s) => ({ name: s.name, trl: s.trl, description: s.description, defaults: { max_length: s.defaults.maxLength, max_prompt_length: s.defaults.maxPromptLength } }));

/** The demo's preference set, served with the studio. */
const demoSetUrl = (): string => new URL(`${import.meta.env.BASE_URL}demo/preferences/train.jsonl`, location.href).href;

/** The work in flight: a newer call to analyse() makes older ones stop at their next slice. */
let job = 0;
/** The selected file's tokenised pairs (untruncated), with the tokenizer that made them. */
let current: { pairs: TokenizedPair[]; tok: Tokenizer | null } | null = null;
/** Tokenizers by model ('demo' or a stored id), loaded once. */
const tokenizers = new Map<string, Promise<ModelText>>();
let kv: KVBackend | null = null;
/** The demo's set was asked for once (the screen preloads it only the first time it opens). */
let demoRequested = false;

interface ModelText {
  tok: Tokenizer | null;
  vocabSize: number;
}

export const dataCommands = {
  /** The Data screen opened: select the demo's set unless a set is selected or being loaded. */
  ensureSelected(): void {
    if (demoRequested || getStudioState().data.source) return;
    demoRequested = true;
    void dataCommands.loadDemo();
  },

  /** Selects the demo's set (public/demo/preferences/train.jsonl). */
  async loadDemo(): Promise<void> {
    const my = ++job;
    let bytes: Uint8Array;
    try {
      const r = await fetch(demoSetUrl());
      if (!r.ok) throw new LoadError('demo/preferences/train.jsonl', `could not be fetched (HTTP ${r.status})`, 'reload the page: the demo set is served with the studio (public/demo/preferences)');
      bytes = new Uint8Array(await r.arrayBuffer());
    } catch (e) {
      if (my === job) dataActions.failed(problemOf(e));
      return;
    }
    if (my !== job) return; // the user picked a file meanwhile
    dataActions.sourceChosen({ kind: 'demo', name: 'train.jsonl', bytes });
    await analyse();
  },

  /** Selects a picked or dropped file (.jsonl, .json or .parquet). */
  async pickFile(file: File): Promise<void> {
    const my = ++job;
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (my !== job) return;
    dataActions.sourceChosen({ kind: 'file', name: file.name, bytes });
    await analyse();
  },

  /** Tokenise with another model's tokenizer (null: the demo model's). */
  async chooseTokenizer(modelId: string | null, name: string): Promise<void> {
    dataActions.tokenizerChosen(modelId, name);
    if (!getStudioState().data.source) return;
    dataActions.rereading();
    await analyse();
  },

  /**
   * New sequence settings. Another style tokenises again (its BOS/EOS rules differ) and takes that
   * style's TRL defaults for the limits; new limits only re-run the truncation.
   */
  async changeSettings(p: Partial<DataSettings>): Promise<void> {
    const before = getStudioState().data.settings;
    const style = p.sequence_style ?? before.sequence_style;
    if (style !== before.sequence_style) {
      const defaults = SEQUENCE_STYLE_CHOICES.find((c) => c.name === style)!.defaults;
      dataActions.settingsChanged({ sequence_style: style, ...defaults });
      if (!getStudioState().data.source) return;
      dataActions.rereading();
      await analyse();
      return;
    }
    dataActions.settingsChanged({ ...before, ...p });
    recompute();
  },
};

/** Reads, validates and tokenises the selected file into the data slice (cancelled by a newer call). */
async function analyse(): Promise<void> {
  const my = ++job;
  const stale = (): boolean => my !== job;
  const { source, tokenizerModelId, settings } = getStudioState().data;
  if (!source) return;
  current = null;
  try {
    const model = await modelText(tokenizerModelId);
    if (stale()) return;
    const { ds, issues: lineIssues } = await readDatasetRows(source.name, source.bytes);
    if (stale()) return;
    // every line may be broken JSON: then there is no row to inspect (inspectRows refuses an empty set)
    const inspected: { valid: ValidRow[]; issues: RowIssue[] } =
      ds.rows.length === 0 && lineIssues.length > 0 ? { valid: [], issues: [] } : inspectRows(ds.rows, { ...naming(ds), vocabSize: model.vocabSize, hasTokenizer: model.tok !== null });
    const { valid } = inspected;
    const found = issuesInFileOrder([...lineIssues, ...inspected.issues]);
    dataActions.validated(ds.rows.length + lineIssues.length, formatView(ds, valid), found.map(issueView), valid.length);

    const tokenized = await tokenizePairs(valid, {
      ...naming(ds),
      tokenizer: model.tok,
      vocabSize: model.vocabSize,
      style: settings.sequence_style,
      pause: () => new Promise<void>((resolve) => setTimeout(resolve, 0)),
      onProgress: (done, total) => !stale() && dataActions.progressed(done, total),
      cancelled: stale,
    });
    if (tokenized === null || stale()) return;
    current = { pairs: tokenized.pairs, tok: model.tok };
    dataActions.tokenized(tokenized.pairs.length, issuesInFileOrder([...found, ...tokenized.issues]).map(issueView), histogramView(tokenized.pairs));
    recompute();
  } catch (e) {
    if (!stale()) dataActions.failed(problemOf(e));
  }
}

/** What the settings do to the tokenised pairs: counts and the preview, or why they cannot be used. */
function recompute(): void {
  if (!current) return;
  const s = getStudioState().data.settings;
  let seq;
  try {
    seq = resolveSequenceOptions({ style: s.sequence_style, maxLength: s.max_length, maxPromptLength: s.max_prompt_length });
  } catch (e) {
    const p = problemOf(e);
    dataActions.truncationComputed(null, [], p.hint ? `${p.message}: ${p.hint}` : p.message);
    return;
  }
  const t = truncationSummary(current.pairs, seq);
  const dropped = t.dropped.map((d) => ({ name: d.name, reason: d.reason }));
  dataActions.truncationComputed({ ...t, dropped }, previewPairs(current.pairs, current.tok, seq, PREVIEW_PAIRS), null);
}

// ------------------------------------------------------------------ tokenizers

function modelText(modelId: string | null): Promise<ModelText> {
  const key = modelId ?? 'demo';
  let p = tokenizers.get(key);
  if (!p) {
    p = modelId === null ? demoModelText() : storedModelText(modelId);
    tokenizers.set(key, p);
    p.catch(() => tokenizers.delete(key)); // a failure is not cached: the next try reads again
  }
  return p;
}

/** The demo model's config.json and tokenizer files, fetched as the worker's ensureDemo fetches them. */
async function demoModelText(): Promise<ModelText> {
  const base = demoBaseUrl();
  const json = async (file: string): Promise<object> => {
    const r = await fetch(new URL(file, base));
    if (!r.ok) throw new LoadError(`demo/model/${file}`, `could not be fetched (HTTP ${r.status})`, 'reload the page: the demo model is served with the studio (public/demo/model)');
    return (await r.json()) as object;
  };
  const [config, tokenizerJson, tokenizerConfig] = await Promise.all([json('config.json'), json('tokenizer.json'), json('tokenizer_config.json')]);
  const cfg = parseGemma2Config(config, 'demo/model/config.json');
  return { tok: tokenizerForModel({ tokenizerJson, tokenizerConfig }, cfg.V, 'the demo model'), vocabSize: cfg.V };
}

/** A stored model's vocabulary size and tokenizer files, read from the weight store. */
async function storedModelText(id: string): Promise<ModelText> {
  kv ??= createIdbBackend();
  const m = await getManifest(kv, id);
  if (!m) throw new LoadError(`model '${id}'`, `is not in the ${kv.label}`, 'pick another model on the Data screen, or import it on the Model screen');
  const cfg = parseGemma2Config(m.config, `stored model '${m.name}': config.json`);
  const { extras } = await storedCheckpointInfo(kv, id);
  const json = (name: string): object | null => {
    const bytes = extras.get(name);
    if (!bytes) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as object;
    } catch (e) {
      throw new LoadError(`stored model '${m.name}': ${name}`, `is not valid JSON (${(e as Error).message})`, 'import the model again from its files');
    }
  };
  return { tok: tokenizerForModel({ tokenizerJson: json('tokenizer.json'), tokenizerConfig: json('tokenizer_config.json') }, cfg.V, `stored model '${m.name}'`), vocabSize: cfg.V };
}

// ------------------------------------------------------------------ views

const naming = (ds: Dataset): Pick<Dataset, 'file' | 'lines' | 'key'> => ({ file: ds.file, lines: ds.lines, key: ds.key });

function formatView(ds: Dataset, valid: readonly ValidRow[]): FormatView {
  const shape = datasetShape(ds.rows, valid);
  return {
    reader: ds.format,
    shapes: shape.shapes.map((s) => ({ shape: s.shape, ...ROW_SHAPES[s.shape], rows: s.rows })),
    targetColumns: shape.targetColumns.map((c) => ({ ...c })),
    otherColumns: [...shape.otherColumns],
    numbering: rowNumbering(ds),
  };
}

const issueView = (i: RowIssue): RowIssueView => ({ row: i.row, name: i.name, field: i.field, reason: i.reason, ...(i.hint !== undefined ? { hint: i.hint } : {}) });

function histogramView(pairs: readonly TokenizedPair[]): HistogramView | null {
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

/** An error as the screen shows it: EngineErrors carry where and hint apart from the message (as the worker's error events). */
function problemOf(e: unknown): DataProblem {
  if (e instanceof EngineError) {
    const message = e.message.split('\n---> HINT:')[0].replace(`${e.where}: `, '');
    return { name: e.name, message, where: e.where, ...(e.hint !== undefined ? { hint: e.hint } : {}) };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, message: err.message };
}
