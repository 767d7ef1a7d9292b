// The weight store in a browser tab: real IndexedDB (idb-keyval), File/Blob sources, the GPU from
// navigator.gpu. e2e/store.chromium.test.ts drives it through `window.__store`; e2e/store/bench.ts
// uses benchIdb to choose the chunk size. A person can open it too (npm run dev, then
// /e2e/store/index.html) and call window.__store.* from the console.
//
// Everything returns plain JSON (page.evaluate) and reports failures as {ok: false, name, message}
// rather than throwing, so the test can assert on the exact LoadError text.

import { Engine } from '../../src/engine/engine.ts';
import { parseGemma2Config } from '../../src/engine/model/config.ts';
import { bytesReader, readSafetensorsHeader, toFloat32 } from '../../src/engine/model/safetensors.ts';
import { importCheckpoint, sourceFromFiles, type ImportSource } from '../../src/engine/store/import.ts';
import { createIdbBackend } from '../../src/engine/store/kv_idb.ts';
import { disposeLoaded, gemma2ParamsFromTensors, loadTensors, type LoadedTensor } from '../../src/engine/model/load.ts';
import { readStoredTensor, storedWeights } from '../../src/engine/store/load.ts';
import { isRowSplit } from '../../src/engine/table.ts';
import { deleteModel, getManifest, listIncomplete, listModels } from '../../src/engine/store/manifest.ts';
import type { StoreProgress } from '../../src/engine/util/progress.ts';
import { syntheticBlobSource, syntheticCheckpoint, syntheticValue, type SyntheticCheckpoint } from '../../src/engine/store/synthetic.ts';

const kv = createIdbBackend();
let engine: Engine | null = null;
const gpu = async (): Promise<Engine> => (engine ??= await Engine.create(navigator.gpu));

export type Outcome<T> = ({ ok: true } & T) | { ok: false; name: string; message: string };

async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, ...(await fn()) };
  } catch (e) {
    const err = e as Error;
    return { ok: false, name: err.name ?? 'Error', message: err.message ?? String(e) };
  }
}

// ---------------------------------------------------------------------------------------------
// JS heap sampling: performance.memory (precise with --enable-precise-memory-info; in Chromium it
// counts ArrayBuffer backing stores too), every 5 ms and at every progress event.

interface Heap {
  samples: number;
  start: number;
  peak: number;
}

function heapNow(): number {
  return (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
}

async function sampled<T>(fn: (sample: () => void) => Promise<T>): Promise<{ result: T; heap: Heap }> {
  const heap: Heap = { samples: 0, start: heapNow(), peak: heapNow() };
  const sample = (): void => {
    heap.samples++;
    heap.peak = Math.max(heap.peak, heapNow());
  };
  const timer = setInterval(sample, 5);
  try {
    const result = await fn(sample);
    sample();
    return { result, heap };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------------------------

async function fixtureSource(name: string, files: string[]): Promise<ImportSource> {
  const list: File[] = [];
  for (const f of files) {
    const res = await fetch(`/e2e/fixtures/checkpoints/${name}/${f}`);
    if (!res.ok) throw new Error(`fetching fixture ${name}/${f}: HTTP ${res.status}`);
    list.push(new File([await res.blob()], f));
  }
  return sourceFromFiles(list, name);
}

let synthetic: { c: SyntheticCheckpoint; src: ImportSource; chunkSize: number } | null = null;

function importSyntheticImpl(opts: { abortAtPercent?: number }) {
  return attempt(async () => {
    if (!synthetic) throw new Error('call prepareSynthetic first');
    const ctl = new AbortController();
    const t0 = performance.now();
    const { result: r, heap } = await sampled((sample) =>
      importCheckpoint(kv, synthetic!.src, {
        chunkSize: synthetic!.chunkSize,
        signal: ctl.signal,
        onProgress: (p) => {
          store.progress = p;
          sample();
          if (opts.abortAtPercent !== undefined && p.phase === 'copy' && p.percent >= opts.abortAtPercent) ctl.abort();
        },
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { id: r.manifest.id, chunksWritten: r.chunksWritten, chunksSkipped: r.chunksSkipped, storedBytes: r.manifest.storedBytes, seconds, heap };
  });
}

const store = {
  /** The last progress event of the running import or upload (the test follows it). */
  progress: null as StoreProgress | null,
  /** The outcome of the last importSynthetic, once it has finished (for imports started without waiting). */
  lastImport: null as Awaited<ReturnType<typeof importSyntheticImpl>> | null,

  async importFixture(name: string, files: string[], opts: { chunkSize?: number; abortAtPercent?: number } = {}) {
    return attempt(async () => {
      const ctl = new AbortController();
      const r = await importCheckpoint(kv, await fixtureSource(name, files), {
        chunkSize: opts.chunkSize,
        signal: ctl.signal,
        onProgress: (p) => {
          store.progress = p;
          if (opts.abortAtPercent !== undefined && p.phase === 'copy' && p.percent >= opts.abortAtPercent) ctl.abort();
        },
      });
      return { id: r.manifest.id, chunksWritten: r.chunksWritten, chunksSkipped: r.chunksSkipped };
    });
  },

  async list() {
    return (await listModels(kv)).map((m) => ({ id: m.id, name: m.name, storedBytes: m.storedBytes }));
  },

  async incomplete() {
    return (await listIncomplete(kv)).map((p) => ({ id: p.id, name: p.name }));
  },

  keys: (prefix: string) => kv.keys(prefix),

  remove: (id: string) => deleteModel(kv, id),

  async estimate() {
    const { usage, quota } = await navigator.storage.estimate();
    return { usage: usage ?? 0, quota: quota ?? 0 };
  },

  /**
   * Checks a stored fixture model end to end: each tensor's stored bytes equal its bytes in the
   * fixture's files, and the tensors streamed to the GPU equal their f32 values exactly.
   */
  async verifyFixture(id: string, name: string, files: string[]) {
    return attempt(async () => {
      const m = await getManifest(kv, id);
      if (!m) throw new Error(`model ${id} is not listed`);
      const e = await gpu();
      const loaded = await loadTensors(e, await storedWeights(kv, id));
      let bytes = 0;
      try {
        for (const f of files.filter((x) => x.endsWith('.safetensors'))) {
          const file = new Uint8Array(await (await fetch(`/e2e/fixtures/checkpoints/${name}/${f}`)).arrayBuffer());
          const h = await readSafetensorsHeader(bytesReader(file), file.length, f);
          for (const t of h.tensors) {
            if (!m.tensors.some((x) => x.name === t.name)) continue;
            const want = file.subarray(h.dataStart + t.begin, h.dataStart + t.end);
            const got = await readStoredTensor(kv, m, t.name);
            if (got.length !== want.length || got.some((b, i) => b !== want[i])) throw new Error(`${f}: tensor ${t.name}: stored bytes differ`);
            const gpuValues = await (loaded.get(t.name) as { readF32(): Promise<Float32Array> }).readF32();
            const ref = toFloat32(t.dtype as 'F32', want);
            const a = new Uint32Array(gpuValues.buffer, 0, gpuValues.length);
            const b = new Uint32Array(ref.buffer, 0, ref.length);
            if (a.length !== b.length || a.some((x, i) => x !== b[i])) throw new Error(`${f}: tensor ${t.name}: GPU values differ from the file's`);
            bytes += want.length;
          }
        }
        gemma2ParamsFromTensors(parseGemma2Config(m.config), loaded);
      } finally {
        disposeLoaded(loaded.values());
      }
      return { tensors: loaded.size, bytes, adapter: `${e.info.vendor}/${e.info.architecture}` };
    });
  },

  // -------------------------------------------------------------------------------------------
  // a large synthetic checkpoint streamed from Blob parts

  /** Builds the synthetic checkpoint's Blob files (the tensor bytes go to blob storage, not the heap). */
  async prepareSynthetic(opts: { config: Record<string, unknown>; dtype: 'F32' | 'BF16' | 'F16'; chunkSize: number; name: string; readDelayMs?: number; values?: 'pattern' | 'noise' }) {
    const c = syntheticCheckpoint({ config: opts.config, dtype: opts.dtype, name: opts.name, maxShardBytes: 200_000_000, values: opts.values ?? 'noise' });
    const src = syntheticBlobSource(c);
    if (opts.readDelayMs) {
      // a slow disk: each read waits first (so a test can interrupt the import mid-copy)
      const ms = opts.readDelayMs;
      src.files = src.files.map((f) => ({ ...f, read: async (o: number, n: number) => (await new Promise((r) => setTimeout(r, ms)), f.read(o, n)) }));
    }
    synthetic = { c, src, chunkSize: opts.chunkSize };
    return { modelBytes: c.totalBytes, files: synthetic.src.files.map((f) => ({ name: f.name, size: f.size })) };
  },

  async importSynthetic(opts: { abortAtPercent?: number } = {}) {
    store.lastImport = null;
    store.progress = null;
    return (store.lastImport = await importSyntheticImpl(opts));
  },

  /** Streams the synthetic model to the GPU, then checks values and the split embedding. */
  async uploadSynthetic(id: string, maxTensorBytes?: number) {
    return attempt(async () => {
      if (!synthetic) throw new Error('call prepareSynthetic first');
      const e = await gpu();
      await e.sync();
      const t0 = performance.now();
      const seen: { last: StoreProgress | null } = { last: null };
      const { result: loaded, heap } = await sampled(async (sample) =>
        loadTensors(e, await storedWeights(kv, id), {
          maxTensorBytes,
          onProgress: (p) => {
            store.progress = seen.last = p;
            sample();
          },
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      try {
        // values: two small tensors and a 2 MB one, against the pattern
        const names = synthetic.c.tensorNames;
        for (const name of ['model.norm.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.1.self_attn.k_proj.weight']) {
          const k = names.indexOf(name);
          const v = await (loaded.get(name) as { readF32(): Promise<Float32Array> }).readF32();
          for (let i = 0; i < v.length; i++) if (v[i] !== syntheticValue(k, i, synthetic.c.values)) throw new Error(`${name}[${i}] = ${v[i]}, expected ${syntheticValue(k, i, synthetic.c.values)}`);
        }
        const emb = loaded.get('model.embed_tokens.weight') as LoadedTensor;
        const parts = isRowSplit(emb) ? emb.parts.map((p) => [p.row0, p.row1]) : [[0, emb.shape[0]]];
        return {
          seconds,
          mbPerSec: seen.last?.mbPerSec ?? 0,
          heap,
          tensors: loaded.size,
          embeddingParts: parts,
          limits: { maxStorageBufferBindingSize: e.limits.maxStorageBufferBindingSize, maxBufferSize: e.limits.maxBufferSize },
          gpuPeakBytes: e.pool.getStats().peak,
        };
      } finally {
        disposeLoaded(loaded.values());
        await e.sync();
      }
    });
  },

  // -------------------------------------------------------------------------------------------
  // chunk-size measurement (e2e/store/bench.ts)

  /**
   * IndexedDB throughput per chunk size: writes `totalMiB` as chunks of each size into a scratch
   * database (sequential puts, incompressible bytes), reads them back in order, deletes them.
   */
  async benchIdb(sizesMiB: number[], totalMiB: number) {
    const bench = createIdbBackend('prefstudio-bench', 'chunks');
    const rows: { chunkMiB: number; chunks: number; writeMBs: number; readMBs: number }[] = [];
    for (const size of sizesMiB) {
      const bytes = size << 20;
      const n = Math.max(1, Math.round(totalMiB / size));
      const data = new Uint8Array(bytes);
      let x = 0x9e3779b9 ^ size; // xorshift32: incompressible, like weights
      const w = new Uint32Array(data.buffer);
      for (let i = 0; i < w.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        w[i] = x;
      }
      let t = performance.now();
      for (let i = 0; i < n; i++) {
        w[0] = i; // distinct chunks
        await bench.set(`c/${size}/${i}`, data);
      }
      const write = (performance.now() - t) / 1000;
      t = performance.now();
      let check = 0;
      for (let i = 0; i < n; i++) check += ((await bench.get(`c/${size}/${i}`)) as Uint8Array).length;
      const read = (performance.now() - t) / 1000;
      if (check !== n * bytes) throw new Error('benchIdb: read back the wrong number of bytes');
      for (let i = 0; i < n; i++) await bench.del(`c/${size}/${i}`);
      rows.push({ chunkMiB: size, chunks: n, writeMBs: (n * bytes) / 1e6 / write, readMBs: (n * bytes) / 1e6 / read });
    }
    return rows;
  },
};

export type StorePage = typeof store;

declare global {
  interface Window {
    __store: StorePage;
  }
}

window.__store = store;
(document.getElementById('log') as HTMLPreElement).textContent = 'ready: window.__store';
