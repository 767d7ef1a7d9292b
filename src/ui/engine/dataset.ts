// The Data screen's bridge to the engine worker: the selected preference file (the demo's set or the
// user's) goes to the worker's previewData, which reads it, checks every row and tokenises every
// pair off the page's thread (src/engine/worker/data.ts, src/engine/data/preview.ts), and its events
// become data slice actions. Components call dataCommands, never the worker. useEngine.ts hands
// events to onDataEvent.
//
// What goes where:
//   - a new file, another tokenizer or another sequence_style: previewData (a newer one stops the
//     running one in the worker; events of an older request are dropped here);
//   - new max_length / max_prompt_length: the settings show at once, and after a short pause in the
//     typing (LENGTHS_DEBOUNCE_MS) previewLengths cuts the pairs the worker holds, without
//     tokenising again; an answer for limits that are no longer the settings is not shown.
// The tokenizer is the demo model's (the worker fetches its files from public/demo/model/) or a
// stored model's (the worker reads them from the weight store).

import { SEQUENCE_STYLES } from '../../engine/data/pairs.ts';
import type { LengthsPreview } from '../../engine/data/preview.ts';
import type { DataFile, EngineEvent } from '../../engine/worker/protocol.ts';
import { getStudioState } from '../store/index.ts';
import { dataActions } from '../store/slices/data/actions.ts';
import type { DataProblem, DataSettings, DataSource, SequenceStyleName } from '../store/slices/data/initialState.ts';
import { demoBaseUrl, sendCommand } from './useEngine.ts';

/** The sequence styles for the Data screen's select, the trainer's default first, with their TRL limits. */
export const SEQUENCE_STYLE_CHOICES: readonly { name: SequenceStyleName; trl: string; description: string; defaults: Pick<DataSettings, 'max_length' | 'max_prompt_length'> }[] =
  SEQUENCE_STYLES.map((s) => ({ name: s.name, trl: s.trl, description: s.description, defaults: { max_length: s.defaults.maxLength, max_prompt_length: s.defaults.maxPromptLength } }));

/** Milliseconds without a limit edit before the worker cuts the pairs at the new limits. */
const LENGTHS_DEBOUNCE_MS = 120;

/** The demo's preference set, served with the studio. */
const demoSetUrl = (): string => new URL(`${import.meta.env.BASE_URL}demo/preferences/train.jsonl`, location.href).href;

/** Choosing a source: a newer choice makes an older one's fetch or file read stop there. */
let job = 0;
/** The previewData whose events are shown (null: none sent), and whether its dataPreview came (the worker holds its pairs). */
let previewId: number | null = null;
let previewDone = false;
/** The last previewLengths sent; the debounce timer of the next. */
let lengthsId: number | null = null;
let lengthsTimer: ReturnType<typeof setTimeout> | null = null;
/** The picked file behind the selected source: sent as is (the worker reads it; no copy of its bytes). */
let picked: { source: DataSource; file: File } | null = null;
/** The demo's set was asked for once (the screen preloads it only the first time it opens). */
let demoRequested = false;

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
    const fail = (problem: DataProblem): void => {
      if (my === job) dataActions.failed(problem);
    };
    let bytes: Uint8Array;
    try {
      const r = await fetch(demoSetUrl());
      if (!r.ok) {
        return fail({ name: 'LoadError', message: `could not be fetched (HTTP ${r.status})`, where: 'demo/preferences/train.jsonl', hint: 'reload the page: the demo set is served with the studio (public/demo/preferences)' });
      }
      bytes = new Uint8Array(await r.arrayBuffer());
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return fail({ name: err.name, message: err.message });
    }
    if (my !== job) return; // the user picked a file meanwhile
    dataActions.sourceChosen({ kind: 'demo', name: 'train.jsonl', bytes });
    analyse();
  },

  /** Selects a picked or dropped file (.jsonl, .json or .parquet). */
  async pickFile(file: File): Promise<void> {
    const my = ++job;
    const bytes = new Uint8Array(await file.arrayBuffer()); // kept for the Train screen; the worker reads the File
    if (my !== job) return;
    const source: DataSource = { kind: 'file', name: file.name, bytes };
    picked = { source, file };
    dataActions.sourceChosen(source);
    analyse();
  },

  /** Tokenise with another model's tokenizer (null: the demo model's). */
  async chooseTokenizer(modelId: string | null, name: string): Promise<void> {
    dataActions.tokenizerChosen(modelId, name);
    if (!getStudioState().data.source) return;
    dataActions.rereading();
    analyse();
  },

  /**
   * New sequence settings. Another style tokenises again (its BOS/EOS rules differ) and takes that
   * style's TRL defaults for the limits; new limits only cut the tokenised pairs again.
   */
  async changeSettings(p: Partial<DataSettings>): Promise<void> {
    const before = getStudioState().data.settings;
    const style = p.sequence_style ?? before.sequence_style;
    if (style !== before.sequence_style) {
      const defaults = SEQUENCE_STYLE_CHOICES.find((c) => c.name === style)!.defaults;
      dataActions.settingsChanged({ sequence_style: style, ...defaults });
      if (!getStudioState().data.source) return;
      dataActions.rereading();
      analyse();
      return;
    }
    dataActions.settingsChanged({ ...before, ...p });
    if (lengthsTimer !== null) clearTimeout(lengthsTimer);
    lengthsTimer = setTimeout(() => {
      lengthsTimer = null;
      sendLengths();
    }, LENGTHS_DEBOUNCE_MS);
  },
};

/** Sends the selected file to the worker's previewData (which stops the one before). */
function analyse(): void {
  const { source, tokenizerModelId, settings } = getStudioState().data;
  if (!source) return;
  const file: DataFile | File = picked?.source === source ? picked.file : { name: source.name, bytes: source.bytes };
  previewDone = false;
  lengthsId = null;
  previewId = sendCommand({ type: 'previewData', file, modelId: tokenizerModelId, demoBaseUrl: demoBaseUrl(), ...settings });
}

/** Asks the worker to cut the held pairs at the current limits (after the preview has come). */
function sendLengths(): void {
  if (previewId === null || !previewDone) return; // the preview's answer will be checked against the settings
  const { max_length, max_prompt_length } = getStudioState().data.settings;
  lengthsId = sendCommand({ type: 'previewLengths', previewId, max_length, max_prompt_length });
}

/** Shows what the limits do, if they are still the settings; else asks again (unless an edit is pending). */
function showLengths(l: LengthsPreview): void {
  const s = getStudioState().data.settings;
  if (l.max_length !== s.max_length || l.max_prompt_length !== s.max_prompt_length) {
    if (lengthsTimer === null) sendLengths();
    return;
  }
  dataActions.truncationComputed(l.truncation, l.preview, l.settingsProblem);
}

/** Takes the worker's data events into the data slice; false for every other event. */
export function onDataEvent(ev: EngineEvent): boolean {
  switch (ev.type) {
    case 'error':
      if (ev.command !== 'previewData' && ev.command !== 'previewLengths') return false;
      if ((ev.command === 'previewData' && ev.requestId === previewId) || (ev.command === 'previewLengths' && ev.requestId === lengthsId)) {
        dataActions.failed({ name: ev.name, message: ev.message, ...(ev.where !== undefined && { where: ev.where }), ...(ev.hint !== undefined && { hint: ev.hint }) });
      }
      return true;
    case 'dataRead':
      if (ev.requestId === previewId) dataActions.validated(ev.read.rows, ev.read.format, ev.read.issues, ev.read.total);
      return true;
    case 'dataProgress':
      if (ev.requestId === previewId) dataActions.progressed({ done: ev.done, total: ev.total, percent: ev.percent, pairsPerSec: ev.pairsPerSec });
      return true;
    case 'dataPreview': {
      if (ev.requestId !== previewId) return true; // an older file's late answer
      previewDone = true;
      const p = ev.preview;
      dataActions.tokenized(p.pairs, p.issues, p.histogram);
      showLengths(p.lengths);
      return true;
    }
    case 'dataLengths':
      if (ev.requestId === lengthsId && ev.previewId === previewId) showLengths(ev.lengths);
      return true;
    default:
      return false;
  }
}
