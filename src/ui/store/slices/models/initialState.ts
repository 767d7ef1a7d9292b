// Models slice: the models in the weight store (as the engine worker lists them), their PEFT
// adapters (and the adapter being added or deleted, and a run's adapter being saved, with what
// went wrong where), the running import and its progress and outcome, imports that stopped before they
// finished (their partial data), deletes and discards in flight, and the last problem to show.
//
// The list is NOT persisted: the weight store (IndexedDB, owned by the worker) is its source of
// truth, and the worker sends it on every start (ensureDemo, listModels). These are the UI's own
// types, plain copies of the worker's `models` / `importProgress` / `error` events, made by the
// bridges (src/ui/engine/useEngine.ts, adapters.ts).

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
 * A PEFT (LoRA) adapter stored for a base model, as the Model screen lists it under that model
 * (the worker's `models` event carries them; src/ui/engine/adapters.ts maps them to this).
 */
export interface PeftAdapterView {
  id: string;
  name: string;
  /** The stored model it adapts (ModelView.id). */
  baseModelId: string;
  r: number; // PEFT's r
  alpha: number; // lora_alpha
  targets: string[]; // target_modules, e.g. q_proj, v_proj
  parameters: number; // elements of its factors
  bytes: number;
  createdAt: string; // ISO date
  /** 'import' (the user's files) or the id of the studio run that trained it. */
  source: string;
}

/** The adapter import's progress: validate (the files read and checked; nothing written), then copy. */
export interface AdapterProgressView {
  phase: 'validate' | 'copy';
  percent: number;
  bytesDone: number;
  bytesTotal: number;
  file?: string;
}

/** Adding a PEFT adapter to a model (one at a time): idle → running → done | failed. */
export interface AdapterImportView {
  /** The model it is being added to. */
  modelId: string | null;
  status: 'idle' | 'running' | 'done' | 'failed';
  /** The name asked for (the folder's), then the stored adapter's. */
  name: string | null;
  progress: AdapterProgressView | null;
  /** Done: the same files were already stored under the model (as `name`): nothing was written. */
  already: boolean;
}

/** A failed adapter command, shown where it happened: under the model (add, delete) or on the Export screen (a run's). */
export interface AdapterProblem {
  during: 'import' | 'delete' | 'save';
  /** The model it happened under (import, delete), or null. */
  modelId: string | null;
  /** The run whose adapter was being saved (save), or null. */
  runId: string | null;
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

/** Saving a LoRA run's adapter under its model (the Export screen's button). */
export interface RunAdapterSaveView {
  runId: string | null;
  status: 'idle' | 'saving' | 'done' | 'failed';
  /** Done: the adapter's name, the model it was stored under, and whether it was there already. */
  adapterName: string | null;
  modelId: string | null;
  already: boolean;
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
    /** PEFT adapters of every model (from the worker's model list). */
    adapters: PeftAdapterView[];
    adapterImport: AdapterImportView;
    /** Adapters whose delete was sent and that are still listed (by id). */
    adapterDeleting: string[];
    adapterProblem: AdapterProblem | null;
    runAdapterSave: RunAdapterSaveView;
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
    adapterImport: { modelId: null, status: 'idle', name: null, progress: null, already: false },
    adapterDeleting: [],
    adapterProblem: null,
    runAdapterSave: { runId: null, status: 'idle', adapterName: null, modelId: null, already: false },
    partials: [],
    partialsListed: false,
    deleting: [],
    discarding: [],
    problem: null,
  },
};
