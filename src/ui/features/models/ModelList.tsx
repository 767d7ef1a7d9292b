// The stored models: name (with a "demo" badge and its import notes), parameters, dtype, shape,
// size on disk, when it was imported, and a delete button that asks first; under each model's row,
// its PEFT adapters (AdapterList.tsx: listed, added, deleted). The built-in demo has no delete
// button: the studio puts it back on every start.
//
// Focus: the confirmation takes it (on its Delete button); Keep or Escape gives it back to the
// row's Delete button; a confirmed delete moves it to the list's heading (the row goes away), and
// the status region says when the model is gone.

import { useShallow } from 'zustand/react/shallow';
import { modelCommands } from '../../engine/useEngine.ts';
import { ConfirmDelete, useConfirmDelete } from '../../shared/ConfirmDelete.tsx';
import { fmtBytes, fmtDate, fmtParams } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import type { ModelView } from '../../store/slices/models/initialState.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { AdapterRow } from './AdapterList.tsx';

/** The id of the models card's heading, where focus goes when a row it was in goes away. */
export const MODELS_HEADING_ID = 'models-heading';

export const focusModelsHeading = (): void => document.getElementById(MODELS_HEADING_ID)?.focus();

export function ModelList() {
  const models = useStudioStore(useShallow(modelsSelectors.sortedList));
  const listed = useStudioStore(modelsSelectors.listed);
  const demo = useStudioStore(modelsSelectors.demoStatus);
  const total = useStudioStore(modelsSelectors.totalBytes);
  const justImported = useStudioStore(modelsSelectors.importDoneId);

  return (
    <div className="model-list" data-testid="model-list" data-listed={listed}>
      <table>
        <caption>
          {listed ? `${models.length} ${models.length === 1 ? 'model' : 'models'} stored in this browser · ${fmtBytes(total)}` : 'Reading the models stored in this browser…'}
        </caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="num">Parameters</th>
            <th scope="col">Weights</th>
            <th scope="col">Layers × hidden · vocab</th>
            <th scope="col" className="num">On disk</th>
            <th scope="col">Imported</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <ModelRow key={m.id} m={m} fresh={m.id === justImported} />
          ))}
          {demo === 'preparing' && !models.some((m) => m.isDemo) && (
            <tr data-testid="demo-preparing">
              <td colSpan={7} className="muted">Preparing the built-in demo model…</td>
            </tr>
          )}
          {listed && models.length === 0 && demo !== 'preparing' && (
            <tr>
              <td colSpan={7} className="muted">No models yet: import a checkpoint below.</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function ModelRow({ m, fresh }: { m: ModelView; fresh: boolean }) {
  const deleting = useStudioStore(modelsSelectors.isDeleting(m.id));
  const adapterCount = useStudioStore((s) => modelsSelectors.adaptersOf(m.id)(s).length);
  const freed = useStudioStore(modelsSelectors.bytesWithAdapters(m.id));
  const { confirming, button: deleteButton, open, close, keep } = useConfirmDelete();

  return (
    <>
      <tr data-testid="model-row" data-model-id={m.id} data-demo={m.isDemo} className={fresh ? 'fresh' : undefined}>
        <th scope="row">
          <span className="model-name" data-testid="model-name">{m.name}</span>
          {m.isDemo && <span className="badge" data-testid="demo-badge" title="Built into the studio: a tiny Gemma-2 trained on a small task">demo</span>}
          <div className="model-id" title="Store id">{m.id}</div>
          {m.warnings.length > 0 && (
            <details className="warnings">
              <summary>{m.warnings.length} import {m.warnings.length === 1 ? 'note' : 'notes'}</summary>
              <ul>{m.warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>
            </details>
          )}
        </th>
        <td className="num">{fmtParams(m.parameters)}</td>
        <td><code>{m.dtype}</code></td>
        <td>{m.layers > 0 ? `${m.layers} × ${m.hidden} · ${m.vocab.toLocaleString('en-US')}` : '—'}</td>
        <td className="num">{fmtBytes(m.bytes)}</td>
        <td><time dateTime={m.importedAt} title={m.importedAt}>{fmtDate(m.importedAt)}</time></td>
        <td className="actions">
          {m.isDemo ? (
            <span className="muted" title="The studio restores the demo on every start">built in</span>
          ) : (
            <button
              type="button"
              className="danger-outline"
              ref={deleteButton}
              data-testid="delete-model"
              aria-label={`Delete ${m.name}`}
              aria-expanded={confirming}
              disabled={deleting}
              onClick={open}
            >
              {deleting ? 'Deleting…' : 'Delete'}
            </button>
          )}
        </td>
      </tr>
      {confirming && !deleting && (
        <tr className="confirm-row">
          <td colSpan={7}>
            <ConfirmDelete
              label={`Delete ${m.name}?`}
              textId={`confirm-text-${m.id}`}
              testId="confirm-delete"
              onKeep={keep}
              onDelete={() => {
                close();
                modelCommands.deleteModel(m.id);
                focusModelsHeading();
              }}
            >
              Delete <strong>{m.name}</strong>{adapterCount > 0 && ` and its ${adapterCount === 1 ? 'PEFT adapter' : `${adapterCount} PEFT adapters`}`} and free {fmtBytes(freed)}? Its weights
              {adapterCount > 0 && ' and adapters'} are removed from this browser; import the files again to get {adapterCount > 0 ? 'them' : 'it'} back.
            </ConfirmDelete>
          </td>
        </tr>
      )}
      <AdapterRow model={m} colSpan={7} />
    </>
  );
}
