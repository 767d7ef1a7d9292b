// The bridge for PEFT adapters stored under models: the commands (importAdapter, deleteAdapter,
// saveRunAdapter) and their events into the models slice. useEngine.ts hands events to
// onAdapterEvent and the `models` list's adapters to adapterViews.
//
// Failures are shown where they happened: an add or a delete under the model it was for (the
// slice's adapterProblem names the model), a run's save on the Export screen.

import type { EngineEvent, ModelSummary } from '../../engine/worker/protocol.ts';
import { getStudioState } from '../store/index.ts';
import { modelsActions } from '../store/slices/models/actions.ts';
import type { PeftAdapterView } from '../store/slices/models/initialState.ts';
import { sendCommand } from './useEngine.ts';

const COMMANDS = { importAdapter: 'import', deleteAdapter: 'delete', saveRunAdapter: 'save' } as const;

/** What each adapter command in flight was for (its requestId → the model or run). */
const pending = new Map<number, { modelId: string | null; runId: string | null }>();

/** Every model's adapters, as the slice keeps them. */
export function adapterViews(models: readonly ModelSummary[]): PeftAdapterView[] {
  return models.flatMap((m) =>
    (m.adapters ?? []).map((a) => ({ id: a.id, name: a.name, baseModelId: m.id, r: a.r, alpha: a.alpha, targets: [...a.targets], parameters: a.parameters, bytes: a.bytes, createdAt: a.importedAt, source: a.source })),
  );
}

/** Takes the adapter events and the adapter commands' failures; false for every other event. */
export function onAdapterEvent(ev: EngineEvent): boolean {
  if (ev.type === 'error') {
    if (!ev.command || !(ev.command in COMMANDS)) return false;
    const during = COMMANDS[ev.command as keyof typeof COMMANDS];
    const at = (ev.requestId !== undefined && pending.get(ev.requestId)) || { modelId: null, runId: null };
    if (ev.requestId !== undefined) pending.delete(ev.requestId);
    modelsActions.adapterFailed({ during, modelId: at.modelId, runId: at.runId, name: ev.name, message: ev.message, where: ev.where, hint: ev.hint });
    return true;
  }
  switch (ev.type) {
    case 'adapterImportProgress':
      modelsActions.adapterImportProgressed(ev.modelId, { phase: ev.phase, percent: ev.percent, bytesDone: ev.bytesDone, bytesTotal: ev.bytesTotal, file: ev.file });
      return true;
    case 'adapterImported': {
      const at = ev.requestId !== undefined ? pending.get(ev.requestId) : undefined;
      if (ev.requestId !== undefined) pending.delete(ev.requestId);
      if (at?.runId) modelsActions.runAdapterSaved(at.runId, ev.modelId, ev.adapter.name, ev.already);
      else modelsActions.adapterImported(ev.modelId, ev.adapter.name, ev.already);
      return true;
    }
    case 'adapterDeleted':
      if (ev.requestId !== undefined) pending.delete(ev.requestId);
      modelsActions.adapterDeleted(ev.modelId, ev.adapterId, ev.bytes);
      return true;
    default:
      return false;
  }
}

export const adapterCommands = {
  /** Adds a PEFT adapter folder's files to stored model `modelId` (`folder`: the folder's name, its default name). */
  importFiles(modelId: string, files: File[], folder?: string): void {
    if (getStudioState().models.adapterImport.status === 'running' || files.length === 0) return;
    modelsActions.adapterImportStarted(modelId, folder ?? null);
    pending.set(sendCommand({ type: 'importAdapter', modelId, files, ...(folder && { name: folder }) }), { modelId, runId: null });
  },
  delete(modelId: string, adapterId: string): void {
    modelsActions.adapterDeleteRequested(adapterId);
    pending.set(sendCommand({ type: 'deleteAdapter', modelId, adapterId }), { modelId, runId: null });
  },
  /** Stores a finished or stopped LoRA run's adapter under the model it trained. */
  saveRun(runId: string): void {
    if (getStudioState().models.runAdapterSave.status === 'saving') return;
    modelsActions.runAdapterSaveStarted(runId);
    pending.set(sendCommand({ type: 'saveRunAdapter', runId }), { modelId: null, runId });
  },
};
