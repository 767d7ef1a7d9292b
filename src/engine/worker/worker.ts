// The engine's Web Worker entry: the only engine file that knows about postMessage. It answers the
// protocol's commands (protocol.ts) by calling the module that does the work (models.ts for the
// weight store, adapters.ts for its PEFT adapters, gpu.ts for the Engine, training.ts for training runs, check.ts for the self-check, generation.ts for previews, data.ts for the Data screen's file preview), stamps each answer with its
// command's id, and reports every failure as a typed `error` event, never as an unhandled exception.
//
// Loaded by src/ui/engine/useEngine.ts with
//   new Worker(new URL('../../engine/worker/worker.ts', import.meta.url), { type: 'module' }).

import { EngineError } from '../errors.ts';
import { deleteAdapterCommand, importAdapterFiles, saveRunAdapter } from './adapters.ts';
import { cancelCheck, runCheck } from './check.ts';
import { previewData, previewLengths, workerDataDeps } from './data.ts';
import { cancelGenerate, generateAnswers, releaseGenerationModel } from './generation.ts';
import { getEngine, loseDeviceForTesting } from './gpu.ts';
import { cancelImport, deleteModel, ensureDemo, importModel, sendModels, store, type Reply } from './models.ts';
import type { Command, EngineEvent, ErrorEvent } from './protocol.ts';
import { deleteRun, exportModel, listCheckpoints, requestCheckpoint, requestPairTokens, runIdOf, startTraining, stopTraining, type RunDeps } from './training.ts';

// NOTE: `self` is typed as the generic worker (or, under the root tsconfig, window) scope; this is
// the dedicated-worker scope it really is.
const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(ev: EngineEvent): void {
  scope.postMessage(ev);
}

/** An error as a protocol event; EngineErrors carry `where` and `hint` separately. */
function errorEvent(e: unknown, at: Pick<ErrorEvent, 'command' | 'requestId' | 'where'> = {}): ErrorEvent {
  const { command, requestId } = at;
  if (e instanceof EngineError) {
    // EngineError.message is "where: what\n---> HINT: …"; send the parts, not the concatenation.
    const what = e.message.split('\n---> HINT:')[0].replace(`${e.where}: `, '');
    return { type: 'error', name: e.name, message: what, where: e.where, hint: e.hint, command, requestId };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { type: 'error', name: err.name, message: err.message, where: at.where, command, requestId };
}

function onDeviceLost(info: GPUDeviceLostInfo): void {
  post({ type: 'error', name: 'DeviceLostError', message: `the GPU device was lost (${info.reason}): ${info.message || 'no message'}`, where: 'device', hint: 'the next command that needs the GPU acquires a new device; a run resumes from its newest checkpoint. If it happens again, use a smaller batch or sequence length' });
}

const runDeps: RunDeps = { engine: () => getEngine(scope.navigator.gpu, onDeviceLost), store };
const dataDeps = workerDataDeps(store); // the Data screen's tokenizers (no GPU needed)

async function handle(cmd: Command, reply: Reply): Promise<void> {
  switch (cmd.type) {
    case 'probe': {
      const e = await runDeps.engine();
      reply({ type: 'adapter', info: e.info, limits: { ...e.limits }, features: [...e.features].sort() });
      return;
    }
    case 'listModels':
      return sendModels(reply);
    case 'ensureDemo':
      return ensureDemo(cmd.baseUrl, reply);
    case 'importModel':
      return importModel(cmd.files, cmd.name?.trim() || undefined, reply);
    case 'cancelImport':
      return cancelImport();
    case 'deleteModel':
      return deleteModel(cmd.modelId, reply);
    case 'importAdapter':
      return importAdapterFiles(cmd, reply);
    case 'deleteAdapter':
      return deleteAdapterCommand(cmd, reply);
    case 'saveRunAdapter':
      return saveRunAdapter(cmd, reply);
    case 'startTraining':
      releaseGenerationModel(); // the base kept for generation makes room for the run
      return startTraining(cmd, reply, runDeps);
    case 'stopTraining':
      return stopTraining(cmd.runId);
    case 'exportModel':
      return exportModel(cmd, reply);
    case 'saveCheckpoint':
      return requestCheckpoint(cmd.runId, reply);
    case 'listCheckpoints':
      return listCheckpoints(cmd.runId, reply);
    case 'deleteRun':
      return deleteRun(cmd.runId, reply);
    case 'pairTokens':
      return requestPairTokens(cmd, reply);
    case 'loseDevice':
      // FOR TESTS ONLY (protocol.ts LoseDeviceCommand): the device is destroyed as if lost
      await loseDeviceForTesting();
      return;
    case 'runCheck':
      return runCheck(cmd, scope.navigator.gpu, reply);
    case 'cancelCheck':
      return cancelCheck();
    case 'generate':
      return generateAnswers(cmd, reply, runDeps);
    case 'cancelGenerate':
      return cancelGenerate();
    case 'previewData':
      return previewData(cmd, reply, dataDeps);
    case 'previewLengths':
      return previewLengths(cmd, reply);
    default: {
      // A message from an out-of-date page, or a command added to the protocol without a case here.
      const unknown = cmd as { type?: unknown };
      reply({ type: 'error', name: 'ProtocolError', message: `unknown command "${String(unknown.type)}"`, where: 'worker' });
    }
  }
}

scope.onmessage = (ev: MessageEvent<Command>) => {
  const cmd = ev.data;
  const requestId = typeof cmd?.id === 'number' ? cmd.id : undefined;
  const reply: Reply = (answer) => post({ ...answer, requestId });
  handle(cmd, reply).catch((e: unknown) => {
    const runId = runIdOf(e);
    post({ ...errorEvent(e, { command: cmd?.type, requestId, where: `worker.${cmd?.type ?? '?'}` }), ...(runId !== undefined ? { runId } : {}) });
  });
};

scope.addEventListener('unhandledrejection', (ev) => post(errorEvent(ev.reason, { where: 'worker' })));
