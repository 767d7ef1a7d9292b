// What the browser GPU suite page (main.ts) exposes on `window.__gpuSuite`, read by
// e2e/chromium.test.ts through Playwright. Plain data only (it crosses page.evaluate).

import type { AdapterDescription } from '../../../src/engine/device.ts';

export interface CaseResult {
  name: string;
  ok: boolean;
  /** Wall time of the case including its final engine.sync(). */
  ms: number;
  error?: string;
}

/** The engine's adapter description plus what the suite reports about the device. */
export interface SuiteAdapter extends AdapterDescription {
  features: string[];
  minStorageBufferOffsetAlignment: number;
}

export interface SuiteState {
  /** The adapter the engine got; null while starting or when there is none (see `error`). */
  adapter: SuiteAdapter | null;
  /** The `?cases=` filter as the page read it ('' = all). */
  filter: string;
  /** Names of the cases selected, in run order. */
  selected: string[];
  /** One entry per finished case, appended as they finish. */
  results: CaseResult[];
  /** True once every selected case ran, or the suite could not start (then `error` says why). */
  done: boolean;
  /** A failure outside any case: no navigator.gpu, no adapter, engine creation failed. */
  error?: string;
}

declare global {
  interface Window {
    __gpuSuite?: SuiteState;
  }
}
