// Export slice selectors.

import type { StudioState } from '../../index.ts';

export const exportSelectors = {
  runId: (s: StudioState) => s.export.runId,
  kind: (s: StudioState) => s.export.kind,
  dtype: (s: StudioState) => s.export.dtype,
  saveAs: (s: StudioState) => s.export.saveAs,
  recipeModel: (s: StudioState) => s.export.recipeModel,
  numProcesses: (s: StudioState) => s.export.numProcesses,
  weights: (s: StudioState) => s.export.weights,
  /** A weights export is under way. */
  busy: (s: StudioState) => ['picking', 'exporting', 'saving'].includes(s.export.weights.status),
};
