// The engine's Web Worker entry: the only engine file that knows about postMessage. It owns one
// Engine (created from the worker's navigator.gpu), answers the protocol's commands and reports
// every failure as a typed `error` event, never as an unhandled exception.
//
// Loaded by src/ui/engine/useEngine.ts with
//   new Worker(new URL('../../engine/train/worker.ts', import.meta.url), { type: 'module' }).

import { Engine } from '../engine.ts';
import { EngineError } from '../errors.ts';
import type { Command, EngineEvent } from './protocol.ts';

// NOTE: tsconfig mixes the DOM and WebWorker libs, so `self` is typed as a Window; this is the
// dedicated-worker scope it really is.
const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(ev: EngineEvent): void {
  scope.postMessage(ev);
}

/** An error as a protocol event; EngineErrors carry `where` and `hint` separately. */
function errorEvent(e: unknown, where?: string): EngineEvent {
  if (e instanceof EngineError) {
    // EngineError.message is "where: what\n---> HINT: …"; send the parts, not the concatenation.
    const what = e.message.split('\n---> HINT:')[0].replace(`${e.where}: `, '');
    return { type: 'error', name: e.name, message: what, where: e.where, hint: e.hint };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { type: 'error', name: err.name, message: err.message, where };
}

let engine: Promise<Engine> | null = null;

/** The worker's Engine, created on first use (a failed attempt is retried on the next command). */
function getEngine(): Promise<Engine> {
  if (!engine) {
    engine = Engine.create(scope.navigator.gpu).then((e) => {
      void e.device.lost.then((info) => {
        if (info.reason === 'destroyed') return;
        post({ type: 'error', name: 'DeviceLostError', message: `the GPU device was lost (${info.reason}): ${info.message || 'no message'}`, where: 'device', hint: 'reload the page; if it happens again, use a smaller batch or sequence length' });
        engine = null;
      });
      return e;
    });
    engine.catch(() => (engine = null));
  }
  return engine;
}

async function handle(cmd: Command): Promise<void> {
  switch (cmd.type) {
    case 'probe': {
      const e = await getEngine();
      post({ type: 'adapter', info: e.info, limits: { ...e.limits }, features: [...e.features].sort() });
      return;
    }
    default: {
      // A message from an out-of-date page, or a command added to the protocol without a case here.
      post({ type: 'error', name: 'ProtocolError', message: `unknown command "${(cmd as { type?: unknown }).type}"`, where: 'worker' });
    }
  }
}

scope.onmessage = (ev: MessageEvent<Command>) => {
  handle(ev.data).catch((e: unknown) => post(errorEvent(e, `worker.${ev.data?.type ?? '?'}`)));
};

scope.addEventListener('unhandledrejection', (ev) => post(errorEvent(ev.reason, 'worker')));
