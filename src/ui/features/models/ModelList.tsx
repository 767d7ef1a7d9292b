// The stored models: name (with a "demo" badge, its import notes and its PEFT adapters under it),
// parameters, dtype, shape, size on disk, when it was imported, and a delete button that asks
// first. The built-in demo has no delete button: the studio puts it back on every start.
//
// Focus: the confirmation takes it (on its Delete button); Keep or Escape gives it back to the
// row's Delete button; a confirmed delete moves it to the list's heading (the row goes away), and
// the status region says when the model is gone.

import { useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { modelCommands } from '../../engine/useEngine.ts';
import { fmtBytes, fmtDate, fmtParams } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import type { ModelView } from '../../store/slices/models/initialState.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';

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
  const [confirming, setConfirming] = useState(false);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const keep = (): void => {
    setConfirming(false);
    // the button is there again once the confirmation closes
    requestAnimationFrame(() => deleteButton.current?.focus());
  };

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
          <Adapters model={m} />
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
              onClick={() => setConfirming(true)}
            >
              {deleting ? 'Deleting…' : 'Delete'}
            </button>
          )}
        </td>
      </tr>
      {confirming && !deleting && (
        <tr className="confirm-row">
          <td colSpan={7}>
            <div
              className="confirm"
              role="alertdialog"
              aria-label={`Delete ${m.name}?`}
              aria-describedby={`confirm-text-${m.id}`}
              data-testid="confirm-delete"
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  e.preventDefault();
                  keep();
                }
              }}
            >
              <span id={`confirm-text-${m.id}`}>
                Delete <strong>{m.name}</strong> and free {fmtBytes(m.bytes)}? Its weights are removed from this browser; import the files again to get it back.
              </span>
              <button
                type="button"
                className="danger"
                data-testid="confirm-delete-yes"
                autoFocus
                onClick={() => {
                  setConfirming(false);
                  modelCommands.deleteModel(m.id);
                  focusModelsHeading();
                }}
              >
                Delete
              </button>
              <button type="button" data-testid="confirm-delete-no" onClick={keep}>
                Keep
              </button>
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

/** The model's PEFT adapters, listed under it; "none" until the engine stores adapters (the store's adapters seam). */
function Adapters({ model }: { model: ModelView }) {
  const adapters = useStudioStore(useShallow(modelsSelectors.adaptersOf(model.id)));
  if (adapters.length === 0) {
    return (
      <div className="adapters" data-testid="adapters" data-count={0}>
        <p>PEFT adapters: none</p>
      </div>
    );
  }
  return (
    <div className="adapters" data-testid="adapters" data-count={adapters.length}>
      <p>PEFT adapters:</p>
      <ul aria-label={`PEFT adapters of ${model.name}`}>
        {adapters.map((a) => (
          <li key={a.id} data-testid="adapter">
            <strong>{a.name}</strong> · r {a.r}, α {a.alpha} · {a.targets.join(', ')} · {fmtBytes(a.bytes)}
          </li>
        ))}
      </ul>
    </div>
  );
}
