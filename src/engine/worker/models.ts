// The worker's model commands (protocol.ts: listModels, importModel, cancelImport, deleteModel,
// ensureDemo). The store functions (store/import.ts, store/manifest.ts) do the work; this file adds
// what the protocol needs around them — one user import at a time with an AbortController for
// cancelImport, the model list as plain summaries (each with its PEFT adapters, store/adapters.ts;
// the adapter commands are worker/adapters.ts'), and the built-in demo (ensureDemo): fetched
// over HTTP from public/demo/model/ and imported under an id of its own ("prefstudio-demo.<hash of
// its files>"), so the list can mark it and a rebuilt demo replaces the old one.
//
// Each function answers through the `reply` it is given (worker.ts stamps the command's id on it).

import { EngineError, LoadError } from '../errors.ts';
import { parseGemma2Config } from '../model/config.ts';
import { xxh32 } from '../store/checksum.ts';
import { importCheckpoint, sourceFromFiles } from '../store/import.ts';
import type { KVBackend } from '../store/kv.ts';
import { createIdbBackend } from '../store/kv_idb.ts';
import { deleteModel as deleteStoredModel, getManifest, listIncomplete, listModels, type ModelManifest } from '../store/manifest.ts';
import { listAdapters, type AdapterManifest } from '../store/adapters.ts';
import type { AdapterSummary, EngineEvent, ModelSummary } from './protocol.ts';

/** Sends one event answering the command being handled. */
export type Reply = (ev: EngineEvent) => void;

// ---------------------------------------------------------------------------------------------
// the weight store and the model list

let kv: KVBackend | null = null;

/** The weight store (IndexedDB database 'prefstudio'), opened on first use (training.ts reads models from it too). */
export const store = (): KVBackend => (kv ??= createIdbBackend());

/** The demo's ids: DEMO_ID_PREFIX + 8 hex digits. User imports never look like this (theirs end in "-<8 hex>"). */
const DEMO_ID_PREFIX = 'prefstudio-demo.';
const DEMO_NAME = 'PrefStudio demo';
const isDemoId = (id: string): boolean => id.startsWith(DEMO_ID_PREFIX) && /^[0-9a-f]{8}$/.test(id.slice(DEMO_ID_PREFIX.length));

/** A manifest as the list shows it: plain numbers, no tensor table. */
function summarize(m: ModelManifest, adapters: AdapterSummary[] = []): ModelSummary {
  let cfg: ReturnType<typeof parseGemma2Config> | null = null;
  try {
    cfg = parseGemma2Config(m.config);
  } catch {
    // validated at import; a manifest from a future format may not parse — show what we have
  }
  return {
    id: m.id,
    name: m.name,
    parameters: m.parameters,
    dtype: [...new Set(m.tensors.map((t) => t.dtype))].sort().join('+') || '?',
    bytes: m.storedBytes,
    layers: cfg?.L ?? 0,
    hidden: cfg?.C ?? 0,
    vocab: cfg?.V ?? 0,
    importedAt: m.importedAt,
    isDemo: isDemoId(m.id),
    warnings: [...m.warnings],
    adapters,
  };
}

/** A stored adapter as the list shows it under its model (worker/adapters.ts answers with it too). */
export function adapterSummary(a: AdapterManifest): AdapterSummary {
  return { id: a.id, name: a.name, r: a.r, alpha: a.alpha, targets: [...a.targets], parameters: a.parameters, bytes: a.storedBytes, importedAt: a.importedAt, source: a.source };
}

let listing: Promise<void> = Promise.resolve();

/**
 * Answers with the model list. Lists are read one after another, so the last `models` event is
 * never older than the last change that asked for it (a slow read cannot overtake a newer one).
 */
export function sendModels(reply: Reply): Promise<void> {
  const next = listing.catch(() => undefined).then(async () => {
    const adapters = await listAdapters(store());
    const of = (id: string): AdapterSummary[] => adapters.filter((a) => a.modelId === id).map(adapterSummary);
    reply({ type: 'models', models: (await listModels(store())).map((m) => summarize(m, of(m.id))) });
  });
  listing = next;
  return next;
}

// ---------------------------------------------------------------------------------------------
// importing the user's files

/** The running user import (one at a time), for cancelImport. */
let running: AbortController | null = null;

/** Imports the user's files, answering with progress, then importDone or importCancelled, then the list. */
export async function importModel(files: File[], name: string | undefined, reply: Reply): Promise<void> {
  if (running) {
    throw new EngineError('importModel', 'another import is still running', 'wait for it to finish, or cancel it first');
  }
  const ctl = new AbortController();
  running = ctl;
  try {
    const source = sourceFromFiles(files, name);
    const r = await importCheckpoint(store(), source, {
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.phase === 'upload') return; // not part of an import
        reply({ type: 'importProgress', phase: p.phase, percent: p.percent, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, mbPerSec: p.mbPerSec, file: p.file });
      },
    });
    reply({ type: 'importDone', modelId: r.manifest.id, name: r.manifest.name, bytesSkipped: r.bytesSkipped });
  } catch (e) {
    if (!ctl.signal.aborted) throw e;
    reply({ type: 'importCancelled' });
  } finally {
    running = null;
    await sendModels(reply).catch(() => undefined); // the import's own error (if any) is what matters
  }
}

// ---------------------------------------------------------------------------------------------
// the built-in demo (public/demo/model/, a small sharded bf16 Gemma-2 in Hugging Face layout)

const DEMO_INDEX = 'model.safetensors.index.json';
/** Files besides the weights, imported when the server has them. */
const DEMO_EXTRAS = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
const DEMO_HINT = 'the built-in demo is missing from this build: run `/usr/bin/python3 scripts/demo/train_demo.py` (see public/demo/README.md) and reload; you can still import your own model';

/** One file of the demo as a File, or null if it is optional and absent. */
async function fetchDemoFile(baseUrl: string, name: string, optional: boolean): Promise<File | null> {
  const url = new URL(name, baseUrl).href;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new LoadError(url, `could not be fetched (${(e as Error).message})`, 'check that the studio\'s server is running and reload the page');
  }
  // NOTE: a dev server may answer a missing file with the app's index.html (SPA fallback).
  const html = (res.headers.get('content-type') ?? '').includes('text/html');
  if (!res.ok || html) {
    if (optional) return null;
    throw new LoadError(url, res.ok ? 'is not there (the server answered with an HTML page)' : `is not there (HTTP ${res.status} ${res.statusText})`, DEMO_HINT);
  }
  return new File([await res.blob()], name);
}

/** The demo's files: config.json, the index, every shard its weight_map names, the tokenizer files. */
async function fetchDemo(baseUrl: string): Promise<File[]> {
  const config = (await fetchDemoFile(baseUrl, 'config.json', false))!;
  const index = await fetchDemoFile(baseUrl, DEMO_INDEX, true);
  let shards = ['model.safetensors'];
  if (index) {
    let weightMap: unknown;
    try {
      weightMap = (JSON.parse(await index.text()) as { weight_map?: unknown }).weight_map;
    } catch (e) {
      throw new LoadError(new URL(DEMO_INDEX, baseUrl).href, `is not valid JSON (${(e as Error).message})`, DEMO_HINT);
    }
    if (typeof weightMap !== 'object' || weightMap === null) throw new LoadError(new URL(DEMO_INDEX, baseUrl).href, 'has no weight_map object', DEMO_HINT);
    shards = [...new Set(Object.values(weightMap as Record<string, unknown>).map(String))].sort();
  }
  const files = [config, ...(index ? [index] : [])];
  for (const s of shards) files.push((await fetchDemoFile(baseUrl, s, false))!);
  for (const x of DEMO_EXTRAS) {
    const f = await fetchDemoFile(baseUrl, x, true);
    if (f) files.push(f);
  }
  return files;
}

/** The demo's store id: a hash of every file's name and bytes (a rebuilt demo gets a new id). */
async function demoId(files: File[]): Promise<string> {
  let h = 0;
  for (const f of files) {
    h = xxh32(new TextEncoder().encode(f.name), h);
    h = xxh32(new Uint8Array(await f.arrayBuffer()), h);
  }
  return `${DEMO_ID_PREFIX}${h.toString(16).padStart(8, '0')}`;
}

async function importDemo(baseUrl: string): Promise<void> {
  const kvs = store();
  const stored = (await listModels(kvs)).filter((m) => isDemoId(m.id));
  let files: File[];
  try {
    files = await fetchDemo(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  } catch (e) {
    if (stored.length === 0) throw e;
    return; // offline or the server lost it: keep the stored demo
  }
  const id = await demoId(files);
  if (!(await getManifest(kvs, id))) {
    await importCheckpoint(kvs, sourceFromFiles(files, DEMO_NAME), { id, name: DEMO_NAME });
  }
  // Older demos, and demo imports a closed tab left unfinished.
  for (const m of stored) if (m.id !== id) await deleteStoredModel(kvs, m.id);
  for (const p of await listIncomplete(kvs)) if (isDemoId(p.id) && p.id !== id) await deleteStoredModel(kvs, p.id);
}

let demoRun: Promise<void> | null = null;

/** Makes sure the demo is stored (importDemo), then answers with the list. A second call while one runs waits for it. */
export async function ensureDemo(baseUrl: string, reply: Reply): Promise<void> {
  demoRun ??= importDemo(baseUrl).finally(() => (demoRun = null));
  await demoRun;
  return sendModels(reply);
}

/** Stops the running import (it answers importCancelled); nothing when none runs. */
export function cancelImport(): void {
  running?.abort();
}

/** Removes a model and its bytes, then answers with the list. */
export async function deleteModel(modelId: string, reply: Reply): Promise<void> {
  await deleteStoredModel(store(), modelId);
  return sendModels(reply);
}
