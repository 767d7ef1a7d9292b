// Held-run slice actions (called by src/ui/engine/heldRun.ts).

import { useStudioStore } from '../../index.ts';
import type { HeldRunView } from './initialState.ts';

function patchRun(runId: string, p: Partial<HeldRunView>): void {
  useStudioStore.setState((s) => (s.heldRun.run?.runId === runId ? { heldRun: { ...s.heldRun, run: { ...s.heldRun.run, ...p } } } : {}));
}

export const heldRunActions = {
  /** A run started (or resumed): it is the one the worker will hold. */
  started(run: HeldRunView): void {
    useStudioStore.setState((s) => ({ heldRun: { run, records: s.heldRun.records + 1 } }));
  },
  stepped(runId: string, step: number): void {
    useStudioStore.setState((s) => (s.heldRun.run?.runId === runId ? { heldRun: { run: { ...s.heldRun.run, step }, records: s.heldRun.records + 1 } } : {}));
  },
  ended(runId: string, state: HeldRunView['state'], step?: number): void {
    patchRun(runId, { state, ...(step !== undefined && { step }) });
  },
};
