// The studio's screens as the navigation shows them: the label (also the link's accessible name,
// which outside checks rely on — keep them), a one-line description under the screen's heading,
// and, for screens not built yet, the one line their placeholder says.

import type { ScreenId } from '../store/slices/nav/initialState.ts';

export interface ScreenInfo {
  id: ScreenId;
  label: string;
  description: string;
  /** Screens still to come: what they will do. */
  coming?: string;
}

export const SCREENS: readonly ScreenInfo[] = [
  { id: 'model', label: 'Model', description: 'The models stored in this browser, the storage they take, and the GPU they run on.' },
  { id: 'data', label: 'Data', description: 'The preference pairs to train on.', coming: 'Coming: drop a JSONL, JSON or Parquet preference file and see its pairs with the chat template, token lengths and malformed rows.' },
  { id: 'train', label: 'Train', description: 'Loss, preset and hyperparameters, then training with every pair live.', coming: 'Coming: choose a loss and preset, check the memory plan, and start, pause, step or stop training.' },
  { id: 'runs', label: 'Runs', description: 'Every run, kept in this browser, and comparisons between them.', coming: 'Coming: every run with its metrics and checkpoints, listed after a reload and overlaid to compare.' },
  { id: 'generate', label: 'Generate', description: 'The base and the trained model answering the same prompt.', coming: 'Coming: a prompt answered by the base model and the trained one side by side, token by token.' },
  { id: 'check', label: 'Check', description: "The engine's ops against CPU references on this GPU.", coming: "Coming: run the engine's op suite on this GPU and see pass or fail per op with the measured error." },
  { id: 'export', label: 'Export', description: 'Weights, adapters, metrics and a TRL recipe to download.', coming: 'Coming: download safetensors or a PEFT adapter, metrics as CSV or JSONL, and a TRL recipe to scale out.' },
];

export const screenInfo = (id: ScreenId): ScreenInfo => SCREENS.find((s) => s.id === id)!;
