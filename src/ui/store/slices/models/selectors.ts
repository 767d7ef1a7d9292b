// Models slice selectors: small named functions, used as `useStudioStore(modelsSelectors.list)`.
// Selectors that derive a new array or object (sortedList) must be wrapped in useShallow by the
// component, or they re-render on every store change.

import type { StudioState } from '../../index.ts';
import type { ModelView } from './initialState.ts';

/** The demo first, then the user's models by name (the worker sends them by name). */
function demoFirst(list: ModelView[]): ModelView[] {
  return [...list].sort((a, b) => Number(b.isDemo) - Number(a.isDemo) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export const modelsSelectors = {
  list: (s: StudioState) => s.models.list,
  /** Derived: wrap in useShallow. */
  sortedList: (s: StudioState) => demoFirst(s.models.list),
  listed: (s: StudioState) => s.models.listed,
  count: (s: StudioState) => s.models.list.length,
  /** Bytes all stored models and their PEFT adapters take. */
  totalBytes: (s: StudioState) => s.models.adapters.reduce((n, a) => n + a.bytes, s.models.list.reduce((a, m) => a + m.bytes, 0)),
  /** Bytes model `id` and its PEFT adapters take (what deleting it frees). */
  bytesWithAdapters: (id: string) => (s: StudioState) =>
    s.models.adapters.reduce((n, a) => (a.baseModelId === id ? n + a.bytes : n), s.models.list.find((m) => m.id === id)?.bytes ?? 0),
  demoStatus: (s: StudioState) => s.models.demo,
  importStatus: (s: StudioState) => s.models.import.status,
  importName: (s: StudioState) => s.models.import.name,
  importProgress: (s: StudioState) => s.models.import.progress,
  importDoneId: (s: StudioState) => s.models.import.doneId,
  importBytesSkipped: (s: StudioState) => s.models.import.bytesSkipped,
  importAlready: (s: StudioState) => s.models.import.already,
  importSameAs: (s: StudioState) => s.models.import.sameAs,
  importHasTokenizer: (s: StudioState) => s.models.import.hasTokenizer,
  /** An import is running (or stopping): the import controls are disabled. */
  isImporting: (s: StudioState) => s.models.import.status === 'running' || s.models.import.status === 'cancelling',
  isDeleting: (id: string) => (s: StudioState) => s.models.deleting.includes(id),
  problem: (s: StudioState) => s.models.problem,
  /** Derived: wrap in useShallow. The PEFT adapters of base model `id`, by name. */
  adaptersOf: (id: string) => (s: StudioState) => s.models.adapters.filter((a) => a.baseModelId === id).sort((a, b) => a.name.localeCompare(b.name)),
  adapterImport: (s: StudioState) => s.models.adapterImport,
  isAdapterDeleting: (id: string) => (s: StudioState) => s.models.adapterDeleting.includes(id),
  adapterProblem: (s: StudioState) => s.models.adapterProblem,
  runAdapterSave: (s: StudioState) => s.models.runAdapterSave,
  partials: (s: StudioState) => s.models.partials,
  partialsListed: (s: StudioState) => s.models.partialsListed,
  isDiscarding: (id: string) => (s: StudioState) => s.models.discarding.includes(id),
  byId: (id: string) => (s: StudioState) => s.models.list.find((m) => m.id === id) ?? null,
};
