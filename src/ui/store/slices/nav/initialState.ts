// Nav slice: which screen the studio shows. The screens' order and ids are here (the URL hash is
// `#/<id>`, src/ui/shell/route.ts); their labels and one-line descriptions are the shell's
// (src/ui/shell/screens.ts).

export const SCREEN_IDS = ['model', 'data', 'train', 'runs', 'generate', 'check', 'export'] as const;
export type ScreenId = (typeof SCREEN_IDS)[number];

export interface NavState {
  nav: {
    screen: ScreenId;
    /** Navigations since the page loaded (0: the first screen; a screen takes focus only after a navigation). */
    moves: number;
  };
}

export const navInitialState: NavState = {
  nav: { screen: 'model', moves: 0 },
};
