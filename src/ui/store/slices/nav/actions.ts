// Nav slice actions (module level, as the other slices): the shell calls them on a link click or
// a hashchange, and main.tsx once with the URL's screen before the first render.

import { useStudioStore } from '../../index.ts';
import type { ScreenId } from './initialState.ts';

export const navActions = {
  /** The screen the page opens on (no focus move). */
  opened(screen: ScreenId): void {
    useStudioStore.setState((s) => ({ nav: { ...s.nav, screen } }));
  },

  /** The user went to `screen` (a link, the back button); showing the same screen again changes nothing. */
  shown(screen: ScreenId): void {
    useStudioStore.setState((s) => (s.nav.screen === screen ? {} : { nav: { screen, moves: s.nav.moves + 1 } }));
  },
};
