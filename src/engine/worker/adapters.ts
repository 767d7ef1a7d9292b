// The worker's PEFT adapter commands (protocol.ts: importAdapter, deleteAdapter, saveRunAdapter):
// store/adapters.ts does the work on the weight store (models.ts store()); this file adds one
// adapter write at a time, the events, and a run's adapter as files (training.ts getRunModel: a
// LoRA run's params.adapter, read back and encoded as exportModel kind 'adapter' writes it).
//
// Before each import, what earlier adapter imports left unlisted (a closed tab, a failed write)
// is discarded: no other adapter write can be running then (one at a time, one worker per page).
// Every command ends with the model list (its summaries carry the adapters).

import { EngineError } from '../errors.ts';
import { encodePeftAdapter, readAdapterF32 } from '../model/peft.ts';
import { adapterSourceFromFiles, deleteAdapter as deleteStoredAdapter, discardIncompleteAdapters, importAdapter as storeAdapter, type AdapterImportOptions } from '../store/adapters.ts';
import { sourceFromFiles } from '../store/import.ts';
import type { CheckpointSource } from '../model/load.ts';
import { getManifest } from '../store/manifest.ts';
import { adapterSummary, sendModels, store, type Reply } from './models.ts';
import type { DeleteAdapterCommand, ImportAdapterCommand, SaveRunAdapterCommand } from './protocol.ts';
import { getRunModel } from './training.ts';

let busy = false;

/** Stores an adapter under `modelId` (one write at a time), answering progress, adapterImported, then the list. */
async function store1(source: CheckpointSource, opts: AdapterImportOptions, reply: Reply, command: string): Promise<void> {
  if (busy) throw new EngineError(command, 'another adapter is still being stored', 'wait for it to finish');
  busy = true;
  try {
    const kv = store();
    await discardIncompleteAdapters(kv);
    const r = await storeAdapter(kv, source, {
      ...opts,
      onProgress: (p) => {
        if (p.phase === 'upload') return;
        reply({ type: 'adapterImportProgress', modelId: opts.modelId, phase: p.phase, percent: p.percent, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, file: p.file });
      },
    });
    reply({ type: 'adapterImported', modelId: opts.modelId, adapter: adapterSummary(r.manifest), already: r.already });
  } finally {
    busy = false;
    await sendModels(reply).catch(() => undefined); // the command's own error (if any) is what matters
  }
}

/** importAdapter: the user's files (a picked folder's top level). */
export function importAdapterFiles(cmd: ImportAdapterCommand, reply: Reply): Promise<void> {
  const source = sourceFromFiles(cmd.files, cmd.name?.trim() || undefined);
  return store1(source, { modelId: cmd.modelId, name: cmd.name?.trim() || undefined }, reply, 'importAdapter');
}

/** saveRunAdapter: a finished or stopped LoRA run's factors, as its PEFT files, under the model it trained. */
export async function saveRunAdapter(cmd: SaveRunAdapterCommand, reply: Reply): Promise<void> {
  const run = getRunModel(cmd.runId);
  if (!run) {
    throw new EngineError('saveRunAdapter', `run ${cmd.runId} has no weights in the worker (it is still running, or they were freed when another run started or the page reloaded)`, 'wait for the run to finish or pause it, then save its adapter before starting another run');
  }
  const adapter = run.params.adapter;
  if (!adapter) throw new EngineError('saveRunAdapter', `run ${cmd.runId} trained the whole model, not a LoRA adapter`, 'export the full model instead (Export), or train with use_peft');
  const base = await getManifest(store(), run.modelId);
  const files = encodePeftAdapter(await readAdapterF32(adapter), { baseModel: base?.name ?? null });
  const name = cmd.name?.trim() || cmd.runId;
  return store1(adapterSourceFromFiles(name, files), { modelId: run.modelId, name, source: cmd.runId }, reply, 'saveRunAdapter');
}

/** deleteAdapter: removes it and its bytes, answering adapterDeleted, then the list. */
export async function deleteAdapterCommand(cmd: DeleteAdapterCommand, reply: Reply): Promise<void> {
  try {
    const bytes = await deleteStoredAdapter(store(), cmd.modelId, cmd.adapterId);
    reply({ type: 'adapterDeleted', modelId: cmd.modelId, adapterId: cmd.adapterId, bytes });
  } finally {
    await sendModels(reply).catch(() => undefined);
  }
}
