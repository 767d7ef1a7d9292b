// Check slice selectors.

import type { StudioState } from '../../index.ts';

export const checkSelectors = {
  status: (s: StudioState) => s.check.status,
  which: (s: StudioState) => s.check.which,
  adapter: (s: StudioState) => s.check.adapter,
  features: (s: StudioState) => s.check.features,
  limits: (s: StudioState) => s.check.limits,
  cases: (s: StudioState) => s.check.cases,
  passed: (s: StudioState) => s.check.passed,
  failed: (s: StudioState) => s.check.failed,
  ms: (s: StudioState) => s.check.ms,
  startedAt: (s: StudioState) => s.check.startedAt,
  problem: (s: StudioState) => s.check.problem,
  /** A check is on its way (Run buttons off, Stop check on). */
  busy: (s: StudioState) => s.check.status === 'starting' || s.check.status === 'running' || s.check.status === 'stopping',
};
