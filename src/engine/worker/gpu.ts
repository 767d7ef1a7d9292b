// The worker's one Engine, created from the worker's navigator.gpu on first use. Commands that
// need the GPU (probe, and the training commands) get it from here.

import { Engine } from '../engine.ts';

let engine: Promise<Engine> | null = null;

/**
 * The worker's Engine (a failed attempt is retried on the next call). `onLost` hears once if the
 * device is lost afterwards for any reason but destroy(); the next call then creates a new one.
 */
export function getEngine(gpu: GPU, onLost: (info: GPUDeviceLostInfo) => void): Promise<Engine> {
  if (!engine) {
    engine = Engine.create(gpu).then((e) => {
      void e.device.lost.then((info) => {
        if (info.reason === 'destroyed') return;
        engine = null;
        onLost(info);
      });
      return e;
    });
    engine.catch(() => (engine = null));
  }
  return engine;
}
