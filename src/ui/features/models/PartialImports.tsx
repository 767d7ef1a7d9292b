// Imports that stopped before they finished (cancelled, or the tab closed mid-copy): each with the
// bytes it holds and a button to discard it. Importing the same folder again resumes it instead.

import { modelCommands } from '../../engine/useEngine.ts';
import { fmtBytes, fmtDate } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import type { PartialImportView } from '../../store/slices/models/initialState.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { focusModelsHeading } from './ModelList.tsx';

export function PartialImports() {
  const partials = useStudioStore(modelsSelectors.partials);
  if (partials.length === 0) return null;
  return (
    <section className="partials" aria-labelledby="partials-heading" data-testid="partials">
      <h4 id="partials-heading">Unfinished {partials.length === 1 ? 'import' : 'imports'}</h4>
      <p>
        {partials.length === 1 ? 'This import' : 'These imports'} stopped before finishing (cancelled, or the tab was closed) and {partials.length === 1 ? 'its' : 'their'} data is still stored. Import the same folder again, under the same name, to resume; or discard it to free the space.
      </p>
      <ul>
        {partials.map((p) => (
          <PartialRow key={p.id} p={p} />
        ))}
      </ul>
    </section>
  );
}

function PartialRow({ p }: { p: PartialImportView }) {
  const discarding = useStudioStore(modelsSelectors.isDiscarding(p.id));
  return (
    <li data-testid="partial" data-partial-id={p.id}>
      <span>
        <strong>{p.name}</strong> · <span data-testid="partial-size">{fmtBytes(p.bytesStored)}</span> of {fmtBytes(p.bytesTotal)} stored · started <time dateTime={p.startedAt}>{fmtDate(p.startedAt)}</time>
      </span>
      <button
        type="button"
        className="danger-outline"
        data-testid="discard-partial"
        aria-label={`Discard the unfinished import of ${p.name}`}
        disabled={discarding}
        onClick={() => {
          modelCommands.discardPartial(p.id);
          focusModelsHeading();
        }}
      >
        {discarding ? 'Discarding…' : 'Discard'}
      </button>
    </li>
  );
}
