// Runs slice: every training run this browser keeps (IndexedDB, src/ui/engine/runStore.ts), as the
// Runs screen lists them after a reload — settings, steps done, checkpoints, status, the storage
// each takes — and which runs are being compared. A run's per-step metrics and per-pair history
// are not here (typed arrays, src/ui/engine/series.ts); `seriesTick` moves when one is loaded.

/** A run's lasting state. 'interrupted': it was running when the page closed. */
export type RunStatus = 'running' | 'paused' | 'stopped' | 'done' | 'failed' | 'interrupted';

/** One run as stored (plain data; the settings are TRL names → values). */
export interface RunView {
  id: string;
  /** "wpo-hb · train.jsonl". */
  name: string;
  /** ISO date of its start. */
  createdAt: string;
  modelId: string;
  modelName: string;
  dataName: string;
  dataBytes: number;
  /** The settings the page sent (a resume sends them again). */
  config: Record<string, string | number | boolean | string[] | number[]>;
  /** Every setting in force (the worker's trainingStarted: the given ones over the preset's). */
  settings: Record<string, string | number | boolean | string[] | number[]>;
  /** The loss as a short label: "wpo-hb", "sigmoid", "simpo". */
  lossLabel: string;
  totalSteps: number;
  stepsPerEpoch: number;
  examples: number;
  /** Dataset rows (examples + dropped). */
  rows: number;
  status: RunStatus;
  /** The last step it took. */
  step: number;
  /** Complete checkpoints in IndexedDB (bytes: 0 when only listed, not seen saved). */
  checkpoints: { step: number; bytes: number }[];
  /** Bytes of its page-side records (settings, data file, metrics and per-pair history). */
  storedBytes: number;
  /** What stopped it, when it failed. */
  problem: string | null;
}

export interface RunsState {
  runs: {
    /** The stored runs have been read (after a reload: from IndexedDB). */
    loaded: boolean;
    /** Newest first. */
    list: RunView[];
    /** Runs overlaid on the Runs screen's charts (ids, in the order picked). */
    compare: string[];
    deleting: string[];
    /** A failure reading, writing or deleting runs. */
    problem: string | null;
    /** Moves when a run's series is loaded or changes (the Runs screen redraws). */
    seriesTick: number;
  };
}

export const runsInitialState: RunsState = {
  runs: { loaded: false, list: [], compare: [], deleting: [], problem: null, seriesTick: 0 },
};
