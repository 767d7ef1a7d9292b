// Check slice actions, at module level: the bridge (src/ui/engine/check.ts) calls them from the
// worker's check events, the Check screen's buttons through the bridge's checkCommands.

import { useStudioStore } from '../../index.ts';
import { announceActions } from '../announce/actions.ts';
import type { AdapterView } from '../device/initialState.ts';
import type { CheckCaseView, CheckProblem, CheckState, CheckWhich } from './initialState.ts';

type Check = CheckState['check'];

function patch(p: Partial<Check> | ((c: Check) => Partial<Check>)): void {
  useStudioStore.setState((s) => ({ check: { ...s.check, ...(typeof p === 'function' ? p(s.check) : p) } }));
}

export const checkActions = {
  /** runCheck was sent: a fresh check (the previous results go). */
  requested(which: CheckWhich): void {
    patch({ status: 'starting', which, adapter: null, features: [], limits: {}, cases: [], passed: 0, failed: 0, ms: 0, startedAt: new Date().toISOString(), problem: null });
    announceActions.say(`Check started: ${which === 'quick' ? 'a few small shapes per op' : 'every case of the suite'}.`);
  },

  /** The check's device is up; its cases are listed, pending. */
  started(adapter: AdapterView, features: string[], limits: Record<string, number>, cases: { op: string; name: string }[]): void {
    patch((c) => ({
      status: c.status === 'stopping' ? 'stopping' : 'running',
      adapter,
      features,
      limits,
      cases: cases.map((x) => ({ ...x, ok: null, ms: 0, comparisons: 0, maxAbsError: null, toleranceUsed: null })),
    }));
  },

  /** Case `index` finished. */
  result(index: number, outcome: Omit<CheckCaseView, 'ok'> & { ok: boolean }): void {
    patch((c) => {
      const cases = c.cases.slice();
      cases[index] = { ...outcome };
      return { cases, passed: c.passed + (outcome.ok ? 1 : 0), failed: c.failed + (outcome.ok ? 0 : 1) };
    });
  },

  stopRequested(): void {
    patch((c) => (c.status === 'running' || c.status === 'starting' ? { status: 'stopping' } : {}));
  },

  /** Every case ran, or the check stopped after its current case. */
  finished(passed: number, failed: number, ms: number, stopped: boolean): void {
    patch({ status: stopped ? 'stopped' : 'done', passed, failed, ms });
    const ran = passed + failed;
    announceActions.say(
      stopped
        ? `Check stopped after ${ran} cases: ${failed ? `${failed} failed` : 'all passed'}.`
        : failed
          ? `Check finished: ${failed} of ${ran} cases failed.`
          : `Check finished: all ${ran} cases passed.`,
    );
  },

  /** The check could not run (no GPU, a check already running, the device lost). */
  failed(problem: CheckProblem): void {
    patch({ status: 'failed', problem });
  },
};
