// The studio's runs in IndexedDB (idb-keyval; database 'prefstudio-ui-runs', object store 'runs',
// apart from the weight store and the worker's checkpoints), so that every run is listed after a
// reload and an interrupted one can resume:
//
//   meta/<runId>               RunView: settings as sent and as resolved, steps, checkpoints, status
//   data/<runId>               {name, bytes}: the preference file it trains on (a resume sends it again)
//   steps/<runId>/<c>          SeriesChunk c of its history (series.ts: CHUNK_STEPS steps each,
//                              metrics and per-pair values as typed arrays); the last one is rewritten
//                              as steps arrive
//
// Its checkpoints are the worker's (database 'prefstudio-runs', keys under "<runId>/";
// src/engine/worker/training.ts): the worker's deleteRun removes them (training.ts sends it before
// remove() here; a run being trained is never deleted). Each set() is its own transaction: a key is
// written whole or not at all.

import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import type { RunView } from '../store/slices/runs/initialState.ts';
import { RunSeries, type SeriesChunk } from './series.ts';

export const UI_RUNS_DB = 'prefstudio-ui-runs';

let ui: UseStore | null = null;
const store = (): UseStore => (ui ??= createStore(UI_RUNS_DB, 'runs'));

const metaKey = (id: string): string => `meta/${id}`;
const dataKey = (id: string): string => `data/${id}`;
const chunkKey = (id: string, c: number): string => `steps/${id}/${String(c).padStart(6, '0')}`;

/** A run's data file as stored. */
export interface StoredData {
  name: string;
  bytes: Uint8Array;
}

const chunkBytes = (c: SeriesChunk): number => c.steps.byteLength + c.metrics.byteLength + c.counts.byteLength + c.rows.byteLength + c.values.byteLength;

export const runStore = {
  /** Every stored run (meta only). */
  async list(): Promise<RunView[]> {
    const ks = (await keys<string>(store())).filter((k) => typeof k === 'string' && k.startsWith('meta/'));
    const metas = await Promise.all(ks.map((k) => get<RunView>(k, store())));
    return metas.filter((m): m is RunView => m !== undefined);
  },

  async saveMeta(run: RunView): Promise<void> {
    await set(metaKey(run.id), run, store());
  },

  async saveData(id: string, data: StoredData): Promise<void> {
    await set(dataKey(id), { name: data.name, bytes: data.bytes }, store());
  },

  async data(id: string): Promise<StoredData | undefined> {
    return get<StoredData>(dataKey(id), store());
  },

  /** Writes chunks `from`… of the series; returns the bytes the run's chunks now take. */
  async saveSteps(id: string, series: RunSeries, from: number): Promise<number> {
    const n = series.chunkCount();
    for (let c = Math.max(0, from); c < n; c++) await set(chunkKey(id, c), series.chunk(c), store());
    // chunks past the end (a resume dropped steps after its checkpoint)
    const stale = (await keys<string>(store())).filter((k) => typeof k === 'string' && k.startsWith(`steps/${id}/`) && Number(k.slice(k.lastIndexOf('/') + 1)) >= n);
    for (const k of stale) await del(k, store());
    let bytes = 0;
    for (let c = 0; c < n; c++) bytes += chunkBytes(series.chunk(c));
    return bytes;
  },

  /** The run's stored history (empty when none was stored). */
  async series(id: string, rows: number): Promise<RunSeries> {
    const s = new RunSeries(rows);
    const ks = (await keys<string>(store())).filter((k) => typeof k === 'string' && k.startsWith(`steps/${id}/`)).sort();
    for (const k of ks) {
      const ch = await get<SeriesChunk>(k, store());
      if (ch) s.appendChunk(ch);
    }
    return s;
  },

  /** Removes the run's records (its meta last: a run stays listed until everything else is gone). */
  async remove(id: string): Promise<void> {
    const mine = (await keys<string>(store())).filter((k) => typeof k === 'string' && (k === metaKey(id) || k === dataKey(id) || k.startsWith(`steps/${id}/`)));
    for (const k of mine.filter((k) => k !== metaKey(id))) await del(k, store());
    await del(metaKey(id), store());
  },
};
