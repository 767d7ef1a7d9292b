// The engine's Web Worker on a page of its own, driven by e2e/training.chromium.test.ts through
// `window.__engine`: commands go in as protocol.ts bodies (the page numbers them, as useEngine
// does), events are kept in arrival order. Everything crossing to the test is plain JSON: an
// `exported` event's Blobs are described by the page (exportedSummary) instead of sent.

import type { CommandBody, EngineEvent, ExportedEvent } from '../../src/engine/worker/protocol.ts';

const worker = new Worker(new URL('../../src/engine/worker/worker.ts', import.meta.url), { type: 'module', name: 'prefstudio-engine' });
const events: EngineEvent[] = [];
const log = document.getElementById('log')!;
worker.onmessage = (m: MessageEvent<EngineEvent>) => {
  events.push(m.data);
  if (m.data.type !== 'trainStep' && m.data.type !== 'referenceProgress' && m.data.type !== 'weightsProgress') log.textContent += `${m.data.type}${m.data.type === 'error' ? `: ${m.data.message}` : ''}\n`;
};
worker.onerror = (e) => events.push({ type: 'error', name: 'WorkerError', message: e.message || 'the worker failed to load' });
let lastId = 0;

/** A summary of one exported file: its path and size, and for safetensors files the header and each tensor's bytes' digest. */
interface ExportedFileSummary {
  path: string;
  size: number;
  blobSize: number;
  /** The safetensors header (JSON), for .safetensors files. */
  header?: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  /** Every tensor's raw bytes as hex, for .safetensors files (the demo is small). */
  data?: Record<string, string>;
}

async function summarize(f: ExportedEvent['files'][number]): Promise<ExportedFileSummary> {
  const out: ExportedFileSummary = { path: f.path, size: f.size, blobSize: f.blob.size };
  if (!f.path.endsWith('.safetensors')) return out;
  const bytes = new Uint8Array(await f.blob.arrayBuffer());
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  delete (header as Record<string, unknown>).__metadata__;
  out.header = header;
  out.data = {};
  for (const [name, t] of Object.entries(header)) {
    const b = bytes.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.data[name] = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }
  return out;
}

/** A data file for startTraining: a URL on the dev server, or a name and its text. */
type FileSpec = { url: string } | { name: string; text: string };

async function file(f: FileSpec): Promise<{ name: string; bytes: Uint8Array }> {
  if ('url' in f) return { name: f.url.split('/').pop()!, bytes: new Uint8Array(await (await fetch(f.url)).arrayBuffer()) };
  return { name: f.name, bytes: new TextEncoder().encode(f.text) };
}

const api = {
  /** Sends a command; returns its id. */
  send(body: CommandBody): number {
    lastId += 1;
    worker.postMessage({ ...body, id: lastId });
    return lastId;
  },
  /** startTraining with data files as {name, bytes}: fetched from the dev server ({url}) or given as text. */
  async startTraining(modelId: string, dataFile: FileSpec, config: Record<string, unknown>, evalFile?: FileSpec): Promise<number> {
    const data = await file(dataFile);
    const evalData = evalFile ? await file(evalFile) : undefined;
    return api.send({ type: 'startTraining', modelId, data, ...(evalData ? { evalData } : {}), config: config as never });
  },
  /** Events from index `from` on (exported events without their Blobs). */
  events(from = 0): unknown[] {
    return events.slice(from).map((ev) => (ev.type === 'exported' ? { ...ev, files: ev.files.map((f) => ({ path: f.path, size: f.size })) } : ev));
  },
  /** The files of the exported event answering command `requestId`, summarized. */
  async exportedSummary(requestId: number): Promise<ExportedFileSummary[] | null> {
    const ev = events.find((x): x is ExportedEvent => x.type === 'exported' && x.requestId === requestId);
    return ev ? Promise.all(ev.files.map(summarize)) : null;
  },
};

(window as unknown as { __engine: typeof api }).__engine = api;
