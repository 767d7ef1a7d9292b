// The Models screen: the models stored in this browser (the built-in demo and the user's imports),
// the import area, and the last problem. State comes from the store's models slice; the worker
// fills it (src/ui/engine/useEngine.ts).

import { ImportPanel } from './ImportPanel.tsx';
import { ModelList } from './ModelList.tsx';
import { ModelsProblem } from './ModelsProblem.tsx';

export function ModelsScreen() {
  return (
    <section className="card" aria-labelledby="models-heading" data-testid="models">
      <h2 id="models-heading">Models</h2>
      <ModelList />
      <ModelsProblem />
      <ImportPanel />
    </section>
  );
}
