// Nav slice selectors.

import type { StudioState } from '../../index.ts';

export const navSelectors = {
  screen: (s: StudioState) => s.nav.screen,
  moves: (s: StudioState) => s.nav.moves,
};
