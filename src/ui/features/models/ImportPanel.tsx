// Importing a checkpoint: drop a Hugging Face model folder, or pick the folder or its files; an
// optional name (cleared once an import is done, so the next import does not reuse it); then a
// progress line — checking the files (headers only: a percentage and the file, no speed), then
// copying (bytes, MB/s, the file) — with a cancel button, and the outcome: imported, already
// stored, the same weights stored under another name, no tokenizer (what will not work), cancelled.
// Errors are shown by ModelsProblem; progress and outcome are also said in the status region.
//
// Focus: the pickers are disabled while an import runs, so focus moves to Cancel when it starts,
// and back to "Choose folder…" when it ends (unless the user has moved it elsewhere).

import { useEffect, useRef, useState, type DragEvent, type ReactNode, type RefObject } from 'react';
import { modelCommands } from '../../engine/useEngine.ts';
import { fmtBytes } from '../../shared/format.ts';
import { useStudioStore } from '../../store/index.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { filesFromDrop, filesFromInput, type PickedFiles } from './files.ts';

export function ImportPanel() {
  const busy = useStudioStore(modelsSelectors.isImporting);
  const status = useStudioStore(modelsSelectors.importStatus);
  const [name, setName] = useState('');
  const [over, setOver] = useState(false);
  const folderInput = useRef<HTMLInputElement | null>(null);
  const cancelButton = useRef<HTMLButtonElement | null>(null);
  const lastStatus = useRef(status);

  useEffect(() => {
    const was = lastStatus.current;
    lastStatus.current = status;
    if (status === was) return;
    if (status === 'running') cancelButton.current?.focus();
    if (status === 'done') setName('');
    const lost = document.activeElement === null || document.activeElement === document.body;
    if ((status === 'done' || status === 'cancelled') && lost) folderInput.current?.focus();
  }, [status]);

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
      <h4 id="import-heading">Import a checkpoint</h4>
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
        <p className="muted small" id="import-files-hint">
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
              aria-describedby="import-files-hint"
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
              aria-describedby="import-files-hint"
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
      <ImportStatusLine cancelButton={cancelButton} />
    </section>
  );
}

function ImportStatusLine({ cancelButton }: { cancelButton: RefObject<HTMLButtonElement | null> }) {
  const status = useStudioStore(modelsSelectors.importStatus);
  const name = useStudioStore(modelsSelectors.importName) ?? 'the model';
  const p = useStudioStore(modelsSelectors.importProgress);
  const skipped = useStudioStore(modelsSelectors.importBytesSkipped);
  const already = useStudioStore(modelsSelectors.importAlready);
  const sameAs = useStudioStore(modelsSelectors.importSameAs);
  const hasTokenizer = useStudioStore(modelsSelectors.importHasTokenizer);
  if (status === 'idle') return null;

  const percent = p?.percent ?? 0;
  const active = status === 'running' || status === 'cancelling';
  const copying = p?.phase === 'copy';
  let head: ReactNode;
  if (status === 'done') head = already ? <><strong>{name}</strong> is already stored: its files were checked and nothing new was copied.</> : <>Imported <strong>{name}</strong>.</>;
  else if (!p) head = <>Starting the import of <strong>{name}</strong>…</>;
  else if (copying) head = <>Copying <strong>{name}</strong> into browser storage…</>;
  else head = <>Checking the files of <strong>{name}</strong> (their headers only)…</>;

  // the checking phase reads headers only: its bytes per second would mean nothing
  const foot = [
    p && copying ? `${fmtBytes(p.bytesDone)} of ${fmtBytes(p.bytesTotal)}` : '',
    p && copying && p.mbPerSec > 0 ? `${p.mbPerSec.toFixed(1)} MB/s` : '',
    active && p?.file ? p.file : '',
    status === 'done' && !already && skipped > 0 ? `${fmtBytes(skipped)} were already stored by an unfinished import (resumed)` : '',
  ].filter(Boolean);

  return (
    <div className={`import-status ${status}`} data-testid="import-progress" data-status={status} data-phase={p?.phase ?? ''} data-percent={Math.floor(percent)}>
      {(active || status === 'done') && (
        <>
          <div className="progress-head">
            <span data-testid="import-headline">{head}</span>
            <span className="mono" data-testid="import-percent">{percent.toFixed(0)}%</span>
          </div>
          <progress max={100} value={percent} aria-label={`Import progress: ${status === 'done' ? 'done' : copying ? 'copying' : 'checking the files'}`} />
          <div className="progress-foot muted small">
            <span>{foot.join(' · ')}</span>
            {active && (
              <button type="button" ref={cancelButton} data-testid="cancel-import" disabled={status === 'cancelling'} onClick={() => modelCommands.cancelImport()}>
                {status === 'cancelling' ? 'Cancelling…' : 'Cancel'}
              </button>
            )}
          </div>
        </>
      )}
      {status === 'done' && sameAs && (
        <p className="note" data-testid="import-same-as">
          The same weights are also stored as <strong>{sameAs}</strong>: delete one of them if you do not need both.
        </p>
      )}
      {status === 'done' && !hasTokenizer && !already && (
        <p className="note" data-testid="import-no-tokenizer">
          No <code>tokenizer.json</code> was among the files, so this model can train on token-id data only: text pairs, the chat template and readable generations need the tokenizer. Import the folder again with <code>tokenizer.json</code> and <code>tokenizer_config.json</code> to add them.
        </p>
      )}
      {status === 'cancelled' && (
        <p className="muted">
          Import cancelled; nothing new is listed. What was already copied is kept as an unfinished import (above): import the same folder again to resume it, or discard it.
        </p>
      )}
    </div>
  );
}
