// The worker's one Engine, created from the worker's navigator.gpu on first use. Commands that
// need the GPU (probe, and the training commands) get it from here. A lost device drops its
// Engine, so the next call creates a new one on a new device (a run resumes on it from its
// checkpoint: training.ts).
//
// For tests only: loseDeviceForTesting() destroys the current device flagged as a loss (WebGL's
// WEBGL_lose_context precedent), so the recovery path runs without a real GPU reset.

import { Engine } from '../engine.ts';

let engine: Promise<Engine> | null = null;
/** Devices destroyed by loseDeviceForTesting: their 'destroyed' loss counts as a loss. */
const simulated = new WeakSet<GPUDevice>();

/**
 * The worker's Engine (a failed attempt is retried on the next call). `onLost` hears once if the
 * device is lost afterwards for any reason but destroy() (or a loseDeviceForTesting); the next
 * call then creates a new one.
 */
export function getEngine(gpu: GPU, onLost: (info: GPUDeviceLostInfo) => void): Promise<Engine> {
  if (!engine) {
    const mine = Engine.create(gpu).then((e) => {
      void e.device.lost.then((info) => {
        if (info.reason === 'destroyed' && !simulated.has(e.device)) return;
        if (engine === mine) engine = null;
        onLost(info);
      });
      return e;
    });
    engine = mine;
    mine.catch(() => {
      if (engine === mine) engine = null;
    });
  }
  return engine;
}

/**
 * FOR TESTS ONLY: destroys the current Engine's device as if it were lost (reason 'destroyed',
 * treated as a loss here). Returns false when there is no device yet.
 */
export async function loseDeviceForTesting(): Promise<boolean> {
  const e = engine ? await engine.catch(() => null) : null;
  if (!e) return false;
  simulated.add(e.device);
  e.device.destroy();
  return true;
}

/** How the Engine's device was lost, or null while it is not (waits up to `waitMs` for the loss to be reported). */
export function deviceLostInfo(e: Engine, waitMs: number): Promise<GPUDeviceLostInfo | null> {
  return Promise.race([e.device.lost, new Promise<null>((r) => setTimeout(() => r(null), waitMs))]);
}
