// The bridge between the studio and the engine worker: the only UI file that imports the
// protocol (src/engine/train/protocol.ts). One worker per page, created on first use; every
// event it sends becomes a store action, so components only read the store.

import { useEffect } from 'react';
import type { Command, EngineEvent } from '../../engine/train/protocol.ts';
import { deviceActions } from '../store/slices/device/actions.ts';

let worker: Worker | null = null;

function onEvent(ev: EngineEvent): void {
  switch (ev.type) {
    case 'adapter':
      deviceActions.adapterFound(ev.info, ev.limits, ev.features);
      return;
    case 'error':
      deviceActions.failed({ name: ev.name, message: ev.message, hint: ev.hint, where: ev.where });
      return;
  }
}

/** The page's engine worker (a module worker, bundled by Vite from the URL below). */
function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL('../../engine/train/worker.ts', import.meta.url), { type: 'module', name: 'prefstudio-engine' });
    worker.onmessage = (m: MessageEvent<EngineEvent>) => onEvent(m.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      deviceActions.failed({
        name: 'WorkerError',
        message: `the engine worker failed to load or crashed: ${e.message || 'no message'}`,
        where: 'src/engine/train/worker.ts',
        hint: 'reload the page; if it persists, open the browser console for the worker error',
      });
    };
  }
  return worker;
}

/** Sends a command to the engine worker (no React needed). */
export function sendCommand(cmd: Command): void {
  if (cmd.type === 'probe') deviceActions.probeStarted();
  getWorker().postMessage(cmd);
}

/** Starts the engine worker with the component and asks it for the adapter once. */
export function useEngine(): void {
  useEffect(() => {
    // StrictMode mounts twice in development; one probe is enough.
    if (!worker) sendCommand({ type: 'probe' });
  }, []);
}
