// Runs slice selectors. Derived arrays (compared) must be wrapped in useShallow by the component.

import type { StudioState } from '../../index.ts';

export const runsSelectors = {
  loaded: (s: StudioState) => s.runs.loaded,
  list: (s: StudioState) => s.runs.list,
  count: (s: StudioState) => s.runs.list.length,
  byId: (id: string | null) => (s: StudioState) => (id === null ? null : (s.runs.list.find((r) => r.id === id) ?? null)),
  compareIds: (s: StudioState) => s.runs.compare,
  /** Derived: wrap in useShallow. The compared runs, in the order picked. */
  compared: (s: StudioState) => s.runs.compare.map((id) => s.runs.list.find((r) => r.id === id)).filter((r) => r !== undefined),
  isComparing: (id: string) => (s: StudioState) => s.runs.compare.includes(id),
  isDeleting: (id: string) => (s: StudioState) => s.runs.deleting.includes(id),
  problem: (s: StudioState) => s.runs.problem,
  seriesTick: (s: StudioState) => s.runs.seriesTick,
};
