// Importing a checkpoint: drop a Hugging Face model folder, or pick the folder or its files; an
// optional name; then a progress bar (phase, percent, MB/s, the file) with a cancel button, and a
// one-line outcome (imported / cancelled). Errors are shown by ModelsProblem.

import { useRef, useState, type DragEvent } from 'react';
import { modelCommands } from '../../engine/useEngine.ts';
import { useStudioStore } from '../../store/index.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { filesFromDrop, filesFromInput, type PickedFiles } from './files.ts';
import { fmtBytes } from './format.ts';

export function ImportPanel() {
  const busy = useStudioStore(modelsSelectors.isImporting);
  const [name, setName] = useState('');
  const [over, setOver] = useState(false);
  const folderInput = useRef<HTMLInputElement | null>(null);

  const start = ({ files, folder }: PickedFiles): void => {
    if (busy || files.length === 0) return;
    modelCommands.importFiles(files, name.trim() || folder);
  };

  const onDrop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    if (!busy) void filesFromDrop(e.dataTransfer).then(start);
  };

  return (
    <section className="import" aria-labelledby="import-heading">
      <h3 id="import-heading">Import a checkpoint</h3>
      <div
        className={`dropzone${over ? ' over' : ''}${busy ? ' busy' : ''}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = busy ? 'none' : 'copy';
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p className="drop-title">Drop a Hugging Face Gemma-2 model folder here</p>
        <p className="muted small">
          <code>config.json</code>, <code>model.safetensors</code> or every <code>model-0000k-of-0000n.safetensors</code> with <code>model.safetensors.index.json</code>, and <code>tokenizer.json</code> / <code>tokenizer_config.json</code>. F32, BF16 or F16.
        </p>
        <div className="pickers">
          <label className="button primary">
            Choose folder…
            <input
              type="file"
              multiple
              className="visually-hidden"
              data-testid="import-folder"
              aria-label="Choose a model folder to import"
              disabled={busy}
              ref={(el) => {
                folderInput.current = el;
                if (el) el.webkitdirectory = true;
              }}
              onChange={(e) => {
                start(filesFromInput(e.currentTarget.files));
                e.currentTarget.value = ''; // picking the same folder again fires change again
              }}
            />
          </label>
          <label className="button">
            Choose files…
            <input
              type="file"
              multiple
              accept=".json,.safetensors"
              className="visually-hidden"
              data-testid="import-files"
              aria-label="Choose the checkpoint's files to import"
              disabled={busy}
              onChange={(e) => {
                start(filesFromInput(e.currentTarget.files));
                e.currentTarget.value = '';
              }}
            />
          </label>
          <label className="name-field">
            <span>Name</span>
            <input type="text" data-testid="import-name" placeholder="the folder's name" value={name} disabled={busy} onChange={(e) => setName(e.currentTarget.value)} />
          </label>
        </div>
      </div>
      <ImportStatusLine />
    </section>
  );
}

/** The status line's words around the model's name, per phase. */
const PHASE = {
  validate: ['Checking the files of', ''],
  copy: ['Copying', 'into browser storage'],
} as const;

function ImportStatusLine() {
  const status = useStudioStore(modelsSelectors.importStatus);
  const name = useStudioStore(modelsSelectors.importName);
  const p = useStudioStore(modelsSelectors.importProgress);
  const skipped = useStudioStore(modelsSelectors.importBytesSkipped);
  if (status === 'idle') return null;

  const percent = p?.percent ?? 0;
  const active = status === 'running' || status === 'cancelling';
  const [before, after] = status === 'done' ? ['Imported', ''] : p ? PHASE[p.phase] : ['Starting the import of', ''];
  return (
    <div className={`import-status ${status}`} data-testid="import-progress" data-status={status} data-phase={p?.phase ?? ''} data-percent={Math.floor(percent)}>
      {(active || status === 'done') && (
        <>
          <div className="progress-head">
            <span>
              {before} <strong>{name ?? 'the model'}</strong> {after}
            </span>
            <span className="mono" data-testid="import-percent">{percent.toFixed(0)}%</span>
          </div>
          <progress max={100} value={percent} aria-label={`Import progress: ${p?.phase ?? 'starting'}`} />
          <div className="progress-foot muted small">
            <span>
              {p ? `${fmtBytes(p.bytesDone)} of ${fmtBytes(p.bytesTotal)}` : ''}
              {p && p.mbPerSec > 0 ? ` · ${p.mbPerSec.toFixed(1)} MB/s` : ''}
              {active && p?.file ? ` · ${p.file}` : ''}
              {status === 'done' && skipped > 0 ? ` · ${fmtBytes(skipped)} were already stored (resumed)` : ''}
            </span>
            {active && (
              <button type="button" data-testid="cancel-import" disabled={status === 'cancelling'} onClick={() => modelCommands.cancelImport()}>
                {status === 'cancelling' ? 'Cancelling…' : 'Cancel'}
              </button>
            )}
          </div>
        </>
      )}
      {status === 'cancelled' && (
        <p className="muted" role="status">
          Import cancelled; nothing new is listed. What was already copied is kept: import the same folder again to resume.
        </p>
      )}
    </div>
  );
}
