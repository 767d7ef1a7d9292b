// Held-run slice selectors.

import type { StudioState } from '../../index.ts';

export const heldRunSelectors = {
  run: (s: StudioState) => s.heldRun.run,
  records: (s: StudioState) => s.heldRun.records,
  /** The run's weights can answer prompts and be exported (finished or stopped). */
  usable: (s: StudioState) => s.heldRun.run !== null && (s.heldRun.run.state === 'done' || s.heldRun.run.state === 'stopped'),
};
