// The studio page: the Models screen (the weight store's models, importing checkpoints) and, below
// it, the GPU the engine worker found. Data, training and preview screens come with their issues.

import { useEngine } from './engine/useEngine.ts';
import { DevicePanel } from './features/device/DevicePanel.tsx';
import { ModelsScreen } from './features/models/ModelsScreen.tsx';

export function App() {
  useEngine();
  return (
    <main>
      <header className="app-header">
        <h1>PrefStudio</h1>
        <p className="lead">Preference fine-tuning (DPO, WPO, SimPO) of Gemma-2 in a browser tab, on a hand-written WebGPU engine.</p>
      </header>
      <ModelsScreen />
      <DevicePanel />
    </main>
  );
}
