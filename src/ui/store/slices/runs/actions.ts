// Runs slice actions (module level): the runs bridge (src/ui/engine/training.ts, runStore.ts) calls
// them as runs are read from IndexedDB, start, step, save checkpoints, end and are deleted; the Runs
// screen calls compareToggled. Deletes are announced with the storage they freed.

import { fmtBytes } from '../../../shared/format.ts';
import { useStudioStore } from '../../index.ts';
import { announceActions } from '../announce/actions.ts';
import type { RunsState, RunView } from './initialState.ts';

type Runs = RunsState['runs'];

function patch(p: Partial<Runs> | ((r: Runs) => Partial<Runs>)): void {
  useStudioStore.setState((s) => ({ runs: { ...s.runs, ...(typeof p === 'function' ? p(s.runs) : p) } }));
}

const newestFirst = (a: RunView, b: RunView): number => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

/** Bytes a run takes: its page-side records and its checkpoints. */
export const runBytes = (r: RunView): number => r.storedBytes + r.checkpoints.reduce((a, c) => a + c.bytes, 0);

export const runsActions = {
  /** The stored runs were read (a run this page started meanwhile is kept as the page has it). */
  loaded(list: RunView[]): void {
    patch((r) => {
      const merged = [...r.list, ...list.filter((x) => !r.list.some((y) => y.id === x.id))];
      return { loaded: true, list: merged.sort(newestFirst), compare: r.compare.filter((id) => merged.some((x) => x.id === id)) };
    });
  },

  /** A run was created or changed as a whole. */
  upserted(run: RunView): void {
    patch((r) => ({ list: [...r.list.filter((x) => x.id !== run.id), run].sort(newestFirst) }));
  },

  /** Some of a run's fields changed. */
  patched(id: string, p: Partial<RunView> | ((run: RunView) => Partial<RunView>)): void {
    patch((r) => ({ list: r.list.map((x) => (x.id === id ? { ...x, ...(typeof p === 'function' ? p(x) : p) } : x)) }));
  },

  compareToggled(id: string): void {
    patch((r) => ({ compare: r.compare.includes(id) ? r.compare.filter((x) => x !== id) : [...r.compare, id] }));
  },

  deleteRequested(id: string): void {
    patch((r) => ({ deleting: [...r.deleting, id] }));
  },

  /** The run and its checkpoints are gone from IndexedDB; `freed`: the bytes removed as counted (default: runBytes). */
  deleted(id: string, freed?: number): void {
    const run = useStudioStore.getState().runs.list.find((x) => x.id === id);
    patch((r) => ({ list: r.list.filter((x) => x.id !== id), compare: r.compare.filter((x) => x !== id), deleting: r.deleting.filter((x) => x !== id) }));
    if (run) announceActions.say(`Deleted run ${run.name}; ${fmtBytes(freed ?? runBytes(run))} freed.`);
  },

  failed(problem: string, id?: string): void {
    patch((r) => ({ problem, deleting: id ? r.deleting.filter((x) => x !== id) : r.deleting }));
  },

  dismissProblem(): void {
    patch({ problem: null });
  },

  /** A run's series was loaded or changed. */
  seriesChanged(): void {
    patch((r) => ({ seriesTick: r.seriesTick + 1 }));
  },
};
