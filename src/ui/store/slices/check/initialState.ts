// Check slice: the self-check the Check screen runs — the engine's op suite against float64 CPU
// references on this GPU (worker runCheck): what it runs on, every case in order with its outcome
// as it arrives, the totals, and a failure to run at all. The UI's own plain types; the bridge
// (src/ui/engine/check.ts) fills them from the worker's checkStarted / checkResult / checkDone.

import type { AdapterView } from '../device/initialState.ts';

/** 'quick': a few small shapes per op; 'full': every case of the test suite. */
export type CheckWhich = 'quick' | 'full';

/** idle → starting (device being created) → running → done | stopped (Stop check) | failed (could not run). */
export type CheckStatus = 'idle' | 'starting' | 'running' | 'stopping' | 'done' | 'stopped' | 'failed';

/** One case: pending until its result arrives (ok null). */
export interface CheckCaseView {
  op: string;
  name: string;
  ok: boolean | null;
  ms: number;
  /** Comparisons with the reference the case made. */
  comparisons: number;
  /** Largest |GPU − reference|; null for cases checked exactly or by their errors. */
  maxAbsError: number | null;
  /** Largest error / tolerance (≤ 1 passes); null as above. */
  toleranceUsed: number | null;
  error?: string;
}

export interface CheckProblem {
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

export interface CheckState {
  check: {
    status: CheckStatus;
    which: CheckWhich;
    /** The device the check ran on (null before its checkStarted). */
    adapter: AdapterView | null;
    features: string[];
    limits: Record<string, number>;
    cases: CheckCaseView[];
    passed: number;
    failed: number;
    /** Wall time of the whole check (set at its end). */
    ms: number;
    /** ISO time the check started. */
    startedAt: string | null;
    problem: CheckProblem | null;
  };
}

export const checkInitialState: CheckState = {
  check: { status: 'idle', which: 'quick', adapter: null, features: [], limits: {}, cases: [], passed: 0, failed: 0, ms: 0, startedAt: null, problem: null },
};
