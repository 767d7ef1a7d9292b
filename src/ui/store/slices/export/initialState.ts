// Export slice: the Export screen's choices — which run, the weights' form (the whole model as
// safetensors, or a LoRA run's PEFT adapter), their dtype, where they go (a folder or downloads),
// the TRL recipe's cluster settings — and the weights export under way or done (files and sizes,
// where they went, or why it failed). Filled by src/ui/engine/exports.ts.

export type ExportKind = 'model' | 'adapter';
/** '' = each tensor's dtype in the stored model (an adapter: f32). */
export type ExportDtype = '' | 'bf16' | 'f16' | 'f32';
export type SaveAs = 'folder' | 'downloads';

export interface ExportProblem {
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

export interface WeightsExportView {
  status: 'idle' | 'picking' | 'exporting' | 'saving' | 'done' | 'cancelled' | 'failed';
  /** The exportModel command's id (its `exported` answer carries it). */
  requestId: number;
  runId: string | null;
  kind: ExportKind;
  /** The files and their sizes (bytes), once exported. */
  files: { path: string; size: number }[];
  /** Where they went: "folder/sub" or "downloads". */
  where: string | null;
  /** The file being written. */
  current: string | null;
  problem: ExportProblem | null;
}

export interface ExportState {
  export: {
    /** The run chosen (null: the run whose weights the worker holds). */
    runId: string | null;
    kind: ExportKind;
    dtype: ExportDtype;
    saveAs: SaveAs;
    /** The TRL recipe's model_name_or_path and GPU count, as typed. */
    recipeModel: string;
    numProcesses: string;
    weights: WeightsExportView;
  };
}

export const exportInitialState: ExportState = {
  export: {
    runId: null,
    kind: 'model',
    dtype: '',
    saveAs: 'folder',
    recipeModel: 'google/gemma-2-2b-it',
    numProcesses: '8',
    weights: { status: 'idle', requestId: 0, runId: null, kind: 'model', files: [], where: null, current: null, problem: null },
  },
};
