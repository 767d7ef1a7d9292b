// Which run the Train screen shows: the one this page started or resumed, else the newest stored
// run (after a reload: the one that was interrupted, paused or finished last) — and whether Resume
// and Step can continue it. Its series is loaded from IndexedDB when it is not in memory. A change
// of the bytes the run's records take alone (written once a second while it trains; the Runs screen
// shows them, this screen does not) keeps the same object, so it re-renders nothing here.

import { useEffect, useState } from 'react';
import { runCommands } from '../../engine/training.ts';
import { useStudioStore, type StudioState } from '../../store/index.ts';
import type { RunView } from '../../store/slices/runs/initialState.ts';
import { runsSelectors } from '../../store/slices/runs/selectors.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';

/** A run Resume can continue: not running, not finished, with a checkpoint to start from. */
export const canResume = (r: RunView | null): r is RunView => r !== null && r.status !== 'running' && r.status !== 'done' && r.checkpoints.length > 0 && r.step < r.totalSteps;

/** The fields of a run this screen does not show. */
const UNSHOWN = new Set<keyof RunView>(['storedBytes']);

const sameShown = (a: RunView, b: RunView): boolean => {
  for (const k of Object.keys(b) as (keyof RunView)[]) if (!UNSHOWN.has(k) && a[k] !== b[k]) return false;
  return Object.keys(a).length === Object.keys(b).length;
};

/** A selector of the shown run that keeps its last answer while only unshown fields changed. */
function shownRunSelector(): (s: StudioState) => RunView | null {
  let last: RunView | null = null;
  return (s) => {
    const activeId = trainSelectors.activeRunId(s);
    const list = runsSelectors.list(s);
    const run = activeId ? (list.find((r) => r.id === activeId) ?? null) : (list[0] ?? null);
    if (!(run && last && run !== last && sameShown(last, run))) last = run;
    return last;
  };
}

export function useShownRun(): RunView | null {
  const [select] = useState(shownRunSelector);
  const run = useStudioStore(select);
  const id = run?.id ?? null;
  useEffect(() => {
    if (id) void runCommands.loadSeries(id);
  }, [id]);
  return run;
}
