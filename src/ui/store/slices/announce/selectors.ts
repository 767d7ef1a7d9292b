// Announce slice selectors.

import type { StudioState } from '../../index.ts';

export const announceSelectors = {
  message: (s: StudioState) => s.announce.message,
  seq: (s: StudioState) => s.announce.seq,
};
