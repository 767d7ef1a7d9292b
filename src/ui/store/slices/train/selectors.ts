// Train slice selectors: small named functions, used as `useStudioStore(trainSelectors.phase)`.

import type { StudioState } from '../../index.ts';
import type { RunPhase } from './initialState.ts';

/** Phases in which the run is on in the worker. */
const LIVE: readonly RunPhase[] = ['starting', 'weights', 'reference', 'training', 'pausing', 'stopping'];

export const trainSelectors = {
  modelId: (s: StudioState) => s.train.modelId,
  loss: (s: StudioState) => s.train.loss,
  values: (s: StudioState) => s.train.values,
  value: (name: string) => (s: StudioState) => s.train.values[name] ?? '',
  plan: (s: StudioState) => s.train.plan,
  planProblem: (s: StudioState) => s.train.planProblem,
  active: (s: StudioState) => s.train.active,
  activeRunId: (s: StudioState) => s.train.active?.runId ?? null,
  phase: (s: StudioState) => s.train.active?.phase ?? null,
  /** A run is on in the worker (one at a time): the form is locked. */
  isLive: (s: StudioState) => s.train.active !== null && LIVE.includes(s.train.active.phase),
  /** Pause needs optimizer steps to have begun (a checkpoint holds a trainer's state). */
  canPause: (s: StudioState) => s.train.active?.phase === 'training',
  problem: (s: StudioState) => s.train.active?.problem ?? null,
  tick: (s: StudioState) => s.train.tick,
  pairTokens: (s: StudioState) => s.train.pairTokens,
};
