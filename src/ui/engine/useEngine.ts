// The bridge between the studio and the engine worker: the only UI file that imports the
// protocol (src/engine/worker/protocol.ts). One worker per page, created on first use; every
// event it sends becomes a store action, so components only read the store. Components that need
// the worker call the command functions exported here (modelCommands), never postMessage.
// sendCommand numbers the commands (the protocol's `id`; events echo it as `requestId`).
// Training events (and failures of training commands) go to its neighbour training.ts, which
// imports the protocol's training types. Its neighbour storage.ts is the bridge to the browser's
// storage (estimate, persist, unfinished imports); every model list the worker sends refreshes those too.

import { useEffect } from 'react';
import type { Command, CommandBody, EngineEvent, ModelSummary } from '../../engine/worker/protocol.ts';
import { deviceActions } from '../store/slices/device/actions.ts';
import { modelsActions } from '../store/slices/models/actions.ts';
import type { ModelsActivity, ModelView } from '../store/slices/models/initialState.ts';
import { adapterViews, onAdapterEvent } from './adapters.ts';
import { onCheckEvent } from './check.ts';
import { onDataEvent } from './dataset.ts';
import { onExportEvent } from './exports.ts';
import { onGenerationEvent } from './generation.ts';
import { noteCommand, observeRunEvent } from './heldRun.ts';
import { onPairTokensEvent } from './pairTokens.ts';
import { refreshPartials, refreshStorage } from './storage.ts';
import { onTrainingEvent } from './training.ts';

let worker: Worker | null = null;
/** The last command id sent (ids count from 1 per page). */
let lastId = 0;

/** Which part of the UI a failed command belongs to (no command: the device). */
const ACTIVITY: Partial<Record<Command['type'], ModelsActivity>> = {
  importModel: 'import',
  cancelImport: 'import',
  deleteModel: 'delete',
  listModels: 'list',
  ensureDemo: 'demo',
};

const modelView = ({ adapters: _adapters, ...m }: ModelSummary): ModelView => ({ ...m, warnings: [...m.warnings] }); // adapters: adapters.ts

function onEvent(ev: EngineEvent): void {
  observeRunEvent(ev); // which run's weights the worker holds (Generate, Export): heldRun.ts
  if (onCheckEvent(ev)) return; // the self-check: check.ts
  if (onDataEvent(ev)) return; // the Data screen's file preview: dataset.ts
  if (onGenerationEvent(ev)) return; // Generate's answers: generation.ts
  if (onExportEvent(ev)) return; // Export's weights: exports.ts
  if (onAdapterEvent(ev)) return; // PEFT adapters under their models: adapters.ts
  if (onPairTokensEvent(ev)) return; // an opened pair's tokens: pairTokens.ts
  if (onTrainingEvent(ev)) return; // training runs and their failures: training.ts
  switch (ev.type) {
    case 'adapter':
      deviceActions.adapterFound(ev.info, ev.limits, ev.features);
      return;
    case 'models':
      modelsActions.listed(ev.models.map(modelView));
      modelsActions.adaptersListed(adapterViews(ev.models));
      // every change to the store ends with a list: what it took or freed, and what is unfinished
      void refreshStorage();
      void refreshPartials();
      return;
    case 'importProgress':
      modelsActions.importProgressed({ phase: ev.phase, percent: ev.percent, bytesDone: ev.bytesDone, bytesTotal: ev.bytesTotal, mbPerSec: ev.mbPerSec, file: ev.file });
      return;
    case 'importDone':
      modelsActions.importFinished(ev.modelId, ev.name, ev.bytesSkipped);
      return;
    case 'importCancelled':
      modelsActions.importCancelled();
      return;
    case 'error': {
      const during = ev.command && ACTIVITY[ev.command];
      if (during) {
        modelsActions.failed({ during, name: ev.name, message: ev.message, hint: ev.hint, where: ev.where });
        // a failed import may have stored part of the model (its list came while it still ran)
        if (during === 'import') void refreshPartials();
      }
      else deviceActions.failed({ name: ev.name, message: ev.message, hint: ev.hint, where: ev.where });
      return;
    }
  }
}

/** The page's engine worker (a module worker, bundled by Vite from the URL below). */
function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('../../engine/worker/worker.ts', import.meta.url), { type: 'module', name: 'prefstudio-engine' });
    worker.onmessage = (m: MessageEvent<EngineEvent>) => onEvent(m.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      deviceActions.failed({
        name: 'WorkerError',
        message: `the engine worker failed to load or crashed: ${e.message || 'no message'}`,
        where: 'src/engine/worker/worker.ts',
        hint: 'reload the page; if it persists, open the browser console for the worker error',
      });
    };
  }
  return worker;
}

/** Sends a command to the engine worker (no React needed); returns its id, which the answering events carry as `requestId`. */
export function sendCommand(body: CommandBody): number {
  const cmd = { ...body, id: ++lastId } as Command;
  noteCommand(cmd); // a run's data file, for Export: heldRun.ts
  if (cmd.type === 'probe') deviceActions.probeStarted();
  if (cmd.type === 'ensureDemo') modelsActions.demoRequested();
  getWorker().postMessage(cmd);
  return cmd.id;
}

/** Where the built-in demo checkpoint is served: public/demo/model/ under the app's base URL. */
export function demoBaseUrl(): string {
  return new URL(`${import.meta.env.BASE_URL}demo/model/`, location.href).href;
}

/** The model commands the Models screen uses; each records its start in the store, then sends. */
export const modelCommands = {
  /** Imports a checkpoint from picked or dropped files; `name` defaults to the folder's name. */
  importFiles(files: File[], name?: string): void {
    const hasTokenizer = files.some((f) => f.name === 'tokenizer.json');
    modelsActions.importStarted(name ?? null, files.length, hasTokenizer);
    sendCommand({ type: 'importModel', files, name });
  },
  cancelImport(): void {
    modelsActions.cancelRequested();
    sendCommand({ type: 'cancelImport' });
  },
  deleteModel(id: string): void {
    modelsActions.deleteRequested(id);
    sendCommand({ type: 'deleteModel', modelId: id });
  },
  /** Removes what an unfinished import stored (the worker's deleteModel removes a pending import's keys too). */
  discardPartial(id: string): void {
    modelsActions.discardRequested(id);
    sendCommand({ type: 'deleteModel', modelId: id });
  },
  refresh(): void {
    sendCommand({ type: 'listModels' });
  },
};

/** Starts the engine worker with the component: probes the GPU, makes sure the demo is stored, lists the models. */
export function useEngine(): void {
  useEffect(() => {
    // StrictMode mounts twice in development; one start is enough.
    if (worker) return;
    sendCommand({ type: 'probe' });
    sendCommand({ type: 'ensureDemo', baseUrl: demoBaseUrl() });
    sendCommand({ type: 'listModels' });
  }, []);
}
