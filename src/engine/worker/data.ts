// The worker's data commands (protocol.ts: previewData, previewLengths): the studio's Data screen
// reads, checks and tokenises a preference file here, off the page's thread, so a 60k-row Parquet
// file never freezes the page. The work is data/preview.ts's (prepareDataPreview); this file adds
// what the protocol needs around it:
//   - the tokenizer: the built-in demo model's files fetched from its folder (as ensureDemo does),
//     or a stored model's from the weight store; each loaded once (a failure is not kept);
//   - one preview at a time: a newer previewData makes the running one stop at its next slice
//     (~40 ms of work) and send nothing more; the pairs of the last finished one are held, so
//     previewLengths cuts them at other limits without tokenising again (lengths only: the ids of
//     all but the first few pairs are not kept);
//   - dataProgress events, at most ~6 a second: pairs tokenised, percent and pairs per second.
//
// Each function answers through the `reply` it is given (worker.ts stamps the command's id on it).

import { prepareDataPreview, type PreparedPreview, type PreviewModel } from '../data/preview.ts';
import { tokenizerForModel } from '../data/tokenizer_files.ts';
import { EngineError, LoadError } from '../errors.ts';
import { parseGemma2Config } from '../model/config.ts';
import type { KVBackend } from '../store/kv.ts';
import { storedTokenizerFiles } from '../store/load.ts';
import { getManifest } from '../store/manifest.ts';
import type { Reply } from './models.ts';
import type { DataFile, PreviewDataCommand, PreviewLengthsCommand } from './protocol.ts';

/** Where the tokenizer comes from: the demo model's folder (modelId null) or the weight store. */
export interface DataDeps {
  modelText(modelId: string | null, demoBaseUrl: string): Promise<PreviewModel>;
}

/** Milliseconds of tokenising between two looks at the message queue (a newer command cancels). */
const SLICE_MS = 40;
/** Milliseconds between two dataProgress events. */
const PROGRESS_MS = 160;

/** The newest previewData (older ones stop at their next slice). */
let job = 0;
/** The last finished preview, by its command's id: previewLengths cuts its pairs. */
let held: { id: number; prepared: PreparedPreview } | null = null;

/**
 * previewData: dataRead (rows, form, malformed rows) → dataProgress… → dataPreview, or an error
 * event. A newer previewData supersedes this one: it stops and sends nothing more.
 */
export async function previewData(cmd: PreviewDataCommand, reply: Reply, deps: DataDeps): Promise<void> {
  const my = ++job;
  held = null;
  const stale = (): boolean => my !== job;
  try {
    const { name, bytes } = await fileOf(cmd.file);
    const model = await deps.modelText(cmd.modelId, cmd.demoBaseUrl);
    if (stale()) return;
    let started = 0;
    let last = -Infinity;
    const prepared = await prepareDataPreview(name, bytes, {
      ...model,
      style: cmd.sequence_style,
      pause: () => new Promise<void>((resolve) => setTimeout(resolve, 0)),
      sliceMs: SLICE_MS,
      cancelled: stale,
      onRead: (read) => {
        started = performance.now();
        reply({ type: 'dataRead', read });
      },
      onProgress: (done, total) => {
        const now = performance.now();
        if (done < total && now - last < PROGRESS_MS) return;
        last = now;
        const seconds = (now - started) / 1000;
        reply({ type: 'dataProgress', done, total, percent: total > 0 ? (100 * done) / total : 100, pairsPerSec: seconds > 0 ? done / seconds : 0 });
      },
    });
    if (prepared === null || stale()) return;
    held = { id: cmd.id, prepared };
    reply({ type: 'dataPreview', preview: { ...prepared.base, lengths: prepared.at(cmd) } });
  } catch (e) {
    if (stale()) return; // superseded: its failure no longer matters
    throw e;
  }
}

/** previewLengths: the held preview's pairs cut at other limits (dataLengths), without tokenising again. */
export function previewLengths(cmd: PreviewLengthsCommand, reply: Reply): void {
  if (held === null || held.id !== cmd.previewId) {
    throw new EngineError('previewLengths', `preview ${cmd.previewId} is not held: a newer previewData replaced it, or it has not finished`,
      'send previewLengths after its dataPreview event, or previewData again');
  }
  reply({ type: 'dataLengths', previewId: cmd.previewId, lengths: held.prepared.at(cmd) });
}

/** The file's name and bytes (a File is read here, not in the page). */
async function fileOf(f: DataFile | File): Promise<DataFile> {
  if (typeof File !== 'undefined' && f instanceof File) return { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
  const d = f as DataFile;
  if (typeof d?.name !== 'string' || !(d.bytes instanceof Uint8Array)) {
    throw new EngineError('previewData', 'file must be a File or {name, bytes: Uint8Array}', 'send the file\'s name (its extension picks the reader: .jsonl, .json, .parquet) and its bytes');
  }
  return d;
}

// ------------------------------------------------------------------ tokenizers

/** The worker's tokenizer source: the demo's folder over HTTP, stored models from `store`; each loaded once. */
export function workerDataDeps(store: () => KVBackend, fetchJson: (url: string) => Promise<Response> = (u) => fetch(u)): DataDeps {
  const loaded = new Map<string, Promise<PreviewModel>>();
  return {
    modelText(modelId, demoBaseUrl) {
      const key = modelId === null ? `demo ${demoBaseUrl}` : `stored ${modelId}`;
      let p = loaded.get(key);
      if (!p) {
        p = modelId === null ? demoModelText(demoBaseUrl, fetchJson) : storedModelText(store(), modelId);
        loaded.set(key, p);
        p.catch(() => loaded.delete(key)); // a failure is not kept: the next preview tries again
      }
      return p;
    },
  };
}

/** The demo model's config.json and tokenizer files, fetched from its folder as ensureDemo fetches them. */
async function demoModelText(baseUrl: string, fetchJson: (url: string) => Promise<Response>): Promise<PreviewModel> {
  const json = async (file: string): Promise<object> => {
    const r = await fetchJson(new URL(file, baseUrl).href);
    if (!r.ok) throw new LoadError(`demo/model/${file}`, `could not be fetched (HTTP ${r.status})`, 'reload the page: the demo model is served with the studio (public/demo/model)');
    return (await r.json()) as object;
  };
  const [config, tokenizerJson, tokenizerConfig] = await Promise.all([json('config.json'), json('tokenizer.json'), json('tokenizer_config.json')]);
  const cfg = parseGemma2Config(config, 'demo/model/config.json');
  return { tokenizer: tokenizerForModel({ tokenizerJson, tokenizerConfig }, cfg.V, 'the demo model'), vocabSize: cfg.V };
}

/** A stored model's vocab_size and tokenizer files (null tokenizer without tokenizer.json), from the weight store. */
async function storedModelText(kv: KVBackend, id: string): Promise<PreviewModel> {
  const m = await getManifest(kv, id);
  if (!m) throw new LoadError(`model '${id}'`, `is not in the ${kv.label}`, 'pick another model on the Data screen, or import it on the Model screen');
  const cfg = parseGemma2Config(m.config, `stored model '${m.name}': config.json`);
  return { tokenizer: tokenizerForModel(await storedTokenizerFiles(kv, m), cfg.V, `stored model '${m.name}'`), vocabSize: cfg.V };
}
