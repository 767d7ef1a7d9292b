// Data slice selectors: small named functions, used as `useStudioStore(dataSelectors.status)`.

import type { StudioState } from '../../index.ts';

export const dataSelectors = {
  source: (s: StudioState) => s.data.source,
  sourceName: (s: StudioState) => s.data.source?.name ?? null,
  sourceKind: (s: StudioState) => s.data.source?.kind ?? null,
  sourceBytes: (s: StudioState) => s.data.source?.bytes.length ?? 0,
  tokenizerModelId: (s: StudioState) => s.data.tokenizerModelId,
  tokenizerName: (s: StudioState) => s.data.tokenizerName,
  status: (s: StudioState) => s.data.status,
  /** Reading or tokenising: the file controls stay usable (a new file replaces the work). */
  isBusy: (s: StudioState) => s.data.status === 'reading' || s.data.status === 'tokenizing',
  progress: (s: StudioState) => s.data.progress,
  rows: (s: StudioState) => s.data.rows,
  format: (s: StudioState) => s.data.format,
  issues: (s: StudioState) => s.data.issues,
  /** Rows with at least one problem. */
  malformedRows: (s: StudioState) => new Set(s.data.issues.map((i) => i.name)).size,
  pairs: (s: StudioState) => s.data.pairs,
  histogram: (s: StudioState) => s.data.histogram,
  truncation: (s: StudioState) => s.data.truncation,
  preview: (s: StudioState) => s.data.preview,
  settings: (s: StudioState) => s.data.settings,
  settingsProblem: (s: StudioState) => s.data.settingsProblem,
  problem: (s: StudioState) => s.data.problem,
  /** The Train screen can start on this set: read, tokenised, no malformed row, settings usable. */
  trainable: (s: StudioState) => s.data.status === 'ready' && s.data.issues.length === 0 && s.data.settingsProblem === null && s.data.pairs > (s.data.truncation?.dropped.length ?? 0),
};
