// Which run the Train screen shows: the one this page started or resumed, else the newest stored
// run (after a reload: the one that was interrupted, paused or finished last) — and whether Resume
// and Step can continue it. Its series is loaded from IndexedDB when it is not in memory.

import { useEffect } from 'react';
import { runCommands } from '../../engine/training.ts';
import { useStudioStore } from '../../store/index.ts';
import type { RunView } from '../../store/slices/runs/initialState.ts';
import { runsSelectors } from '../../store/slices/runs/selectors.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';

/** A run Resume can continue: not running, not finished, with a checkpoint to start from. */
export const canResume = (r: RunView | null): r is RunView => r !== null && r.status !== 'running' && r.status !== 'done' && r.checkpoints.length > 0 && r.step < r.totalSteps;

export function useShownRun(): RunView | null {
  const activeId = useStudioStore(trainSelectors.activeRunId);
  const list = useStudioStore(runsSelectors.list);
  const run = activeId ? (list.find((r) => r.id === activeId) ?? null) : (list[0] ?? null);
  const id = run?.id ?? null;
  useEffect(() => {
    if (id) void runCommands.loadSeries(id);
  }, [id]);
  return run;
}
