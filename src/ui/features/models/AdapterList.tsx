// A model's PEFT adapters, in a row under the model's row in the model list: each adapter's name,
// r and alpha, targets, parameters, size and where it came from (imported, or trained in a run),
// with Delete (asks first, as a model's delete: Escape or Keep gives focus back to the button, a
// confirmed delete moves it to the adapters' heading); an "Add a PEFT adapter…" folder picker
// (adapter_config.json + adapter_model.safetensors, as PEFT's save_pretrained writes them), the add's
// progress and outcome, and what went wrong with this model's adapters (ProblemBox, in sentences).
// State: the models slice; commands: src/ui/engine/adapters.ts.

import { useEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { adapterCommands } from '../../engine/adapters.ts';
import { ConfirmDelete, useConfirmDelete } from '../../shared/ConfirmDelete.tsx';
import { fmtBytes, fmtDate, fmtParams } from '../../shared/format.ts';
import { ProblemBox } from '../../shared/ProblemBox.tsx';
import { useStudioStore } from '../../store/index.ts';
import { modelsActions } from '../../store/slices/models/actions.ts';
import type { ModelView, PeftAdapterView } from '../../store/slices/models/initialState.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { filesFromInput } from './files.ts';
import './adapters.css';

const headingId = (modelId: string): string => `adapters-${modelId}`;

/** The row under model `model`'s row: its adapters, the picker, the add's status and problems. */
export function AdapterRow({ model, colSpan }: { model: ModelView; colSpan: number }) {
  const adapters = useStudioStore(useShallow(modelsSelectors.adaptersOf(model.id)));
  const problem = useStudioStore(modelsSelectors.adapterProblem);
  const mine = problem && problem.modelId === model.id && problem.during !== 'save' ? problem : null;
  return (
    <tr className="adapters-row" data-testid="adapters-row" data-model-id={model.id}>
      <td colSpan={colSpan}>
        <div className="adapters" data-testid="adapters" data-count={adapters.length}>
          <p className="adapters-heading" id={headingId(model.id)} tabIndex={-1} data-testid="adapters-heading">
            PEFT adapters of {model.name}{adapters.length === 0 ? ': none yet' : ''}
          </p>
          {adapters.length > 0 && (
            <ul aria-labelledby={headingId(model.id)}>
              {adapters.map((a) => <AdapterItem key={a.id} a={a} model={model} />)}
            </ul>
          )}
          <AddAdapter model={model} />
          <ProblemBox
            title={mine?.during === 'delete' ? 'The adapter could not be deleted' : 'The adapter could not be added'}
            problem={mine}
            onDismiss={() => modelsActions.dismissAdapterProblem()}
            testId="adapter-error"
          />
        </div>
      </td>
    </tr>
  );
}

function AdapterItem({ a, model }: { a: PeftAdapterView; model: ModelView }) {
  const deleting = useStudioStore(modelsSelectors.isAdapterDeleting(a.id));
  const { confirming, button, open, close, keep } = useConfirmDelete();
  const from = a.source === 'import' ? 'imported' : `trained in ${a.source}`;
  return (
    <li data-testid="adapter" data-adapter-id={a.id}>
      <div className="adapter-line">
        <span className="adapter-name" data-testid="adapter-name">{a.name}</span>
        <span data-testid="adapter-rank">r {a.r} · α {a.alpha}</span>
        <span className="adapter-targets">{a.targets.join(', ')}</span>
        <span className="muted">{fmtParams(a.parameters)} parameters · <span data-testid="adapter-size">{fmtBytes(a.bytes)}</span> · {from}, <time dateTime={a.createdAt} title={a.createdAt}>{fmtDate(a.createdAt)}</time></span>
        <button
          type="button"
          className="danger-outline small"
          ref={button}
          data-testid="delete-adapter"
          aria-label={`Delete adapter ${a.name} of ${model.name}`}
          aria-expanded={confirming}
          disabled={deleting}
          onClick={open}
        >
          {deleting ? 'Deleting…' : 'Delete'}
        </button>
      </div>
      {confirming && !deleting && (
        <ConfirmDelete
          label={`Delete adapter ${a.name}?`}
          textId={`confirm-adapter-${a.id}`}
          testId="confirm-delete-adapter"
          onKeep={keep}
          onDelete={() => {
            close();
            adapterCommands.delete(model.id, a.id);
            document.getElementById(headingId(model.id))?.focus();
          }}
        >
          Delete the adapter <strong>{a.name}</strong> of {model.name} and free {fmtBytes(a.bytes)}? Add its folder again to get it back.
        </ConfirmDelete>
      )}
    </li>
  );
}

/** The folder picker and, while this model's adapter is being added, its progress and outcome. */
function AddAdapter({ model }: { model: ModelView }) {
  const task = useStudioStore(modelsSelectors.adapterImport);
  const running = task.status === 'running';
  const here = task.modelId === model.id;
  const input = useRef<HTMLInputElement | null>(null);
  const status = useRef<HTMLDivElement | null>(null);
  const last = useRef(task.status);
  const hintId = `add-adapter-hint-${model.id}`;

  useEffect(() => {
    const was = last.current;
    last.current = task.status;
    if (!here || was === task.status) return;
    // the picker is disabled while an add runs: focus goes to the status, then back to the picker
    if (task.status === 'running') status.current?.focus();
    const lost = document.activeElement === null || document.activeElement === document.body || document.activeElement === status.current;
    if (task.status === 'done' && lost) input.current?.focus();
  }, [task.status, here]);

  const p = here ? task.progress : null;
  const percent = p?.percent ?? 0;
  return (
    <div className="add-adapter">
      <label className="button small">
        Add a PEFT adapter…
        <input
          type="file"
          multiple
          className="visually-hidden"
          data-testid="add-adapter"
          aria-label={`Add a PEFT adapter… to ${model.name}`}
          aria-describedby={hintId}
          disabled={running}
          ref={(el) => {
            input.current = el;
            if (el) el.webkitdirectory = true;
          }}
          onChange={(e) => {
            const { files, folder } = filesFromInput(e.currentTarget.files);
            adapterCommands.importFiles(model.id, files, folder);
            e.currentTarget.value = ''; // the same folder again fires change again
          }}
        />
      </label>
      <span className="muted small" id={hintId}>
        a folder with <code>adapter_config.json</code> and <code>adapter_model.safetensors</code> (PEFT LoRA, trained on this model)
      </span>
      {here && (task.status === 'running' || task.status === 'done') && (
        <div className={`adapter-status ${task.status}`} ref={status} tabIndex={-1} data-testid="adapter-import" data-status={task.status} data-percent={Math.floor(percent)}>
          {task.status === 'running' ? (
            <>
              <span>
                {p?.phase === 'copy' ? `Storing ${task.name ?? 'the adapter'}… ${fmtBytes(p.bytesDone)} of ${fmtBytes(p.bytesTotal)}` : `Checking ${task.name ?? 'the adapter'} against ${model.name}…`}
              </span>
              <progress max={100} value={percent} aria-label={`Adding the adapter: ${p?.phase === 'copy' ? 'storing' : 'checking the files'}`} />
            </>
          ) : (
            <span data-testid="adapter-import-done">
              {task.already ? <><strong>{task.name}</strong> is already stored under {model.name}: nothing new was written.</> : <>Added <strong>{task.name}</strong> to {model.name}.</>}
            </span>
          )}
        </div>
      )}
    </div>
  );
}
