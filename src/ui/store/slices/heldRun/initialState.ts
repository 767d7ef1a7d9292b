// Held-run slice: the training run whose weights the engine worker holds — the last run this page
// saw start, until the next one starts (the worker frees a run's weights then, or when it fails).
// Generate answers with them and Export downloads them; both need to know which run that is and
// whether it has finished (a running run's weights are not for either). Filled by
// src/ui/engine/heldRun.ts from the worker's training events, whoever started the run.

export interface HeldRunView {
  runId: string;
  /** The stored model it trains (Generate's base, the export's config and tokenizer). */
  modelId: string;
  /** running → done | stopped (weights held) | failed (weights freed). */
  state: 'running' | 'done' | 'stopped' | 'failed';
  /** Optimizer steps taken so far. */
  step: number;
  totalSteps: number;
  /** Every setting in force (trainingStarted's settings: TRL names). */
  settings: Record<string, unknown>;
  /** A LoRA run (use_peft): the export can be the adapter alone. */
  lora: boolean;
}

export interface HeldRunState {
  heldRun: {
    run: HeldRunView | null;
    /** Moves when the run's step records change (src/ui/engine/heldRun.ts keeps them). */
    records: number;
  };
}

export const heldRunInitialState: HeldRunState = {
  heldRun: { run: null, records: 0 },
};
