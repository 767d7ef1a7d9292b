// The studio page: the top bar with the navigation, the screen the URL's hash names, and the
// status region. SCREEN_VIEWS holds the screens built; any other shows its placeholder.

import { useEffect, type ReactNode } from 'react';
import { useEngine } from './engine/useEngine.ts';
import { CheckScreen } from './features/check/CheckScreen.tsx';
import { DataScreen } from './features/data/DataScreen.tsx';
import { ExportScreen } from './features/export/ExportScreen.tsx';
import { GenerateScreen } from './features/generate/GenerateScreen.tsx';
import { ModelsScreen } from './features/models/ModelsScreen.tsx';
import { RunsScreen } from './features/runs/RunsScreen.tsx';
import { TrainScreen } from './features/train/TrainScreen.tsx';
import { Announcer } from './shell/Announcer.tsx';
import { TopBar } from './shell/Nav.tsx';
import { screenFromHash } from './shell/route.ts';
import { Screen } from './shell/Screen.tsx';
import { useStudioStore } from './store/index.ts';
import { navActions } from './store/slices/nav/actions.ts';
import type { ScreenId } from './store/slices/nav/initialState.ts';
import { navSelectors } from './store/slices/nav/selectors.ts';

/** The screens built so far; the others show their placeholder. */
const SCREEN_VIEWS: Partial<Record<ScreenId, () => ReactNode>> = {
  model: () => <ModelsScreen />,
  data: () => <DataScreen />,
  train: () => <TrainScreen />,
  runs: () => <RunsScreen />,
  generate: () => <GenerateScreen />,
  check: () => <CheckScreen />,
  export: () => <ExportScreen />,
};

export function App() {
  useEngine();
  const screen = useStudioStore(navSelectors.screen);
  useEffect(() => {
    const onHash = (): void => navActions.shown(screenFromHash(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  return (
    <>
      <TopBar />
      <main>{SCREEN_VIEWS[screen]?.() ?? <Screen key={screen} id={screen} />}</main>
      <Announcer />
    </>
  );
}
