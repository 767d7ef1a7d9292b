// The top bar: the studio's name and the navigation between its screens — links to `#/<screen>`,
// the current one marked aria-current="page". The links' names are SCREENS' labels.

import { useStudioStore } from '../store/index.ts';
import { navSelectors } from '../store/slices/nav/selectors.ts';
import { hashOf } from './route.ts';
import { SCREENS } from './screens.ts';

export function TopBar() {
  const screen = useStudioStore(navSelectors.screen);
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <div className="brand">
          <h1>PrefStudio</h1>
          <p>Preference fine-tuning of Gemma-2 in this tab, on WebGPU</p>
        </div>
        <nav className="nav" aria-label="Studio">
          <ul>
            {SCREENS.map((s) => (
              <li key={s.id}>
                <a href={hashOf(s.id)} aria-current={s.id === screen ? 'page' : undefined} data-testid={`nav-${s.id}`}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </div>
    </header>
  );
}
