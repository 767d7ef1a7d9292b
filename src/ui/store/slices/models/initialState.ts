// Models slice: the models in the weight store (as the engine worker lists them), their PEFT
// adapters, the running import and its progress and outcome, imports that stopped before they
// finished (their partial data), deletes and discards in flight, and the last problem to show.
//
// The list is NOT persisted: the weight store (IndexedDB, owned by the worker) is its source of
// truth, and the worker sends it on every start (ensureDemo, listModels). These are the UI's own
// types, plain copies of the worker's `models` / `importProgress` / `error` events; the UI never
// imports engine types outside src/ui/engine/useEngine.ts.

/** One stored model as the list shows it. */
export interface ModelView {
  id: string;
  name: string;
  parameters: number;
  dtype: string; // "BF16", "F32", …
  bytes: number; // size in the store
  layers: number;
  hidden: number;
  vocab: number;
  importedAt: string; // ISO date
  isDemo: boolean;
  warnings: string[];
}

/**
 * A PEFT (LoRA) adapter stored for a base model, as the Model screen lists it under that model.
 * The seam for the engine's adapter import and LoRA runs: nothing fills `adapters` yet (the worker
 * protocol has no adapter listing); when it has one, useEngine.ts maps it to this and calls
 * modelsActions.adaptersListed.
 */
export interface PeftAdapterView {
  id: string;
  name: string;
  /** The stored model it adapts (ModelView.id). */
  baseModelId: string;
  r: number; // PEFT's r
  alpha: number; // lora_alpha
  targets: string[]; // target_modules, e.g. q_proj, v_proj
  bytes: number;
  createdAt: string; // ISO date
}

/** An import that stopped before it finished: what it stored (kept for a resume until discarded). */
export interface PartialImportView {
  id: string;
  name: string;
  startedAt: string; // ISO date
  bytesStored: number;
  bytesTotal: number;
}

/** The running import's progress: validate (headers checked, nothing written), then copy. */
export interface ImportProgressView {
  phase: 'validate' | 'copy';
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  mbPerSec: number;
  file?: string;
}

/** idle → running → (cancelling →) done | cancelled | failed; a new import starts from any of them. */
export type ImportStatus = 'idle' | 'running' | 'cancelling' | 'done' | 'cancelled' | 'failed';

/** What was going on when a problem happened. */
export type ModelsActivity = 'import' | 'delete' | 'list' | 'demo';

export interface ModelsProblem {
  during: ModelsActivity;
  /** Error class, e.g. LoadError. */
  name: string;
  message: string;
  /** The file / tensor / step it is about. */
  where?: string;
  /** What the user can do. */
  hint?: string;
}

export interface ModelsState {
  models: {
    list: ModelView[];
    /** A first list has arrived from the worker. */
    listed: boolean;
    /** The built-in demo: being fetched/imported, in the list, or it could not be prepared. */
    demo: 'idle' | 'preparing' | 'ready' | 'failed';
    import: {
      status: ImportStatus;
      /** The name the user gave or the folder's name (null: the worker picks one). */
      name: string | null;
      files: number;
      progress: ImportProgressView | null;
      /** The finished import's model id (status 'done'). */
      doneId: string | null;
      /** Bytes the finished import found already stored (a resume). */
      bytesSkipped: number;
      /** The picked files include tokenizer.json. */
      hasTokenizer: boolean;
      /** The finished import's model was listed before it started (the same folder again: nothing new). */
      already: boolean;
      /** Another listed model with the same weights (the same checkpoint under another name), by name. */
      sameAs: string | null;
    };
    /** PEFT adapters of every model (see PeftAdapterView: empty until the engine lists adapters). */
    adapters: PeftAdapterView[];
    /** Imports that stopped before they finished, oldest first (read from the store after each change). */
    partials: PartialImportView[];
    /** A first listing of partial imports has arrived. */
    partialsListed: boolean;
    /** Ids whose delete was sent and is not reflected in the list yet. */
    deleting: string[];
    /** Partial imports whose discard was sent and that are still listed. */
    discarding: string[];
    problem: ModelsProblem | null;
  };
}

export const modelsInitialState: ModelsState = {
  models: {
    list: [],
    listed: false,
    demo: 'idle',
    import: { status: 'idle', name: null, files: 0, progress: null, doneId: null, bytesSkipped: 0, hasTokenizer: true, already: false, sameAs: null },
    adapters: [],
    partials: [],
    partialsListed: false,
    deleting: [],
    discarding: [],
    problem: null,
  },
};
