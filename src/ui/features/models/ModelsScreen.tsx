// The Model screen: the models stored in this browser (the built-in demo and the user's imports,
// each with its PEFT adapters), unfinished imports, the last problem and the import area; then
// the storage this site uses and the GPU the engine found. State comes from the store's models,
// storage and device slices; the worker and the browser fill them (src/ui/engine/).

import { DevicePanel } from '../device/DevicePanel.tsx';
import { Screen } from '../../shell/Screen.tsx';
import { ImportPanel } from './ImportPanel.tsx';
import { MODELS_HEADING_ID, ModelList } from './ModelList.tsx';
import { ModelsProblem } from './ModelsProblem.tsx';
import { PartialImports } from './PartialImports.tsx';
import { StoragePanel } from './StoragePanel.tsx';

export function ModelsScreen() {
  return (
    <Screen id="model">
      <section className="card" aria-labelledby={MODELS_HEADING_ID} data-testid="models">
        <h3 id={MODELS_HEADING_ID} tabIndex={-1}>Models in this browser</h3>
        <ModelList />
        <PartialImports />
        <ModelsProblem />
        <ImportPanel />
      </section>
      <div className="columns">
        <StoragePanel />
        <DevicePanel />
      </div>
    </Screen>
  );
}
