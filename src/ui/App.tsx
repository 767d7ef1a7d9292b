// The studio page: the top bar with the navigation, the screen the URL's hash names, and the
// status region. The Model and Data screens are built; the others show what is coming.

import { useEffect } from 'react';
import { useEngine } from './engine/useEngine.ts';
import { CheckScreen } from './features/check/CheckScreen.tsx';
import { DataScreen } from './features/data/DataScreen.tsx';
import { ExportScreen } from './features/export/ExportScreen.tsx';
import { GenerateScreen } from './features/generate/GenerateScreen.tsx';
import { ModelsScreen } from './features/models/ModelsScreen.tsx';
import { Announcer } from './shell/Announcer.tsx';
import { TopBar } from './shell/Nav.tsx';
import { screenFromHash } from './shell/route.ts';
import { Screen } from './shell/Screen.tsx';
import { useStudioStore } from './store/index.ts';
import { navActions } from './store/slices/nav/actions.ts';
import { navSelectors } from './store/slices/nav/selectors.ts';

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
      <main>{screen === 'model' ? <ModelsScreen /> : screen === 'data' ? <DataScreen /> : screen === 'generate' ? <GenerateScreen /> : screen === 'check' ? <CheckScreen /> : screen === 'export' ? <ExportScreen /> : <Screen key={screen} id={screen} />}</main>
      <Announcer />
    </>
  );
}
