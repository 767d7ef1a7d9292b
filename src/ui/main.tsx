// Studio entry: opens the screen the URL names, then mounts <App/> into index.html's #root, with
// the studio's stylesheet.

import { Profiler, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { profileCommit, RENDER_PROFILE } from './shared/renderProfile.ts';
import { screenFromHash } from './shell/route.ts';
import { navActions } from './store/slices/nav/actions.ts';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
navActions.opened(screenFromHash(location.hash));
createRoot(root).render(
  <StrictMode>
    {RENDER_PROFILE ? (
      <Profiler id="studio" onRender={profileCommit}>
        <App />
      </Profiler>
    ) : (
      <App />
    )}
  </StrictMode>,
);
