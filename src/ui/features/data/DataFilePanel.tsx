// The preference file: a drop zone and a file picker (.jsonl, .json, .parquet), the demo's set
// one click away, whose tokenizer counts the tokens (the demo model's or a stored model's), and
// what was found: the file, its row form(s), rows and pairs, extra columns, progress while the
// engine worker tokenises the pairs (percent and pairs per second), and a problem with the whole file.

import { useState, type DragEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { dataCommands } from '../../engine/dataset.ts';
import { fmtBytes } from '../../shared/format.ts';
import { ProblemBox } from '../../shared/ProblemBox.tsx';
import { useStudioStore } from '../../store/index.ts';
import { dataActions } from '../../store/slices/data/actions.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';
import { plural } from './words.ts';

export const DATA_FILE_HEADING_ID = 'data-file-heading';

export function DataFilePanel() {
  const kind = useStudioStore(dataSelectors.sourceKind);
  const [over, setOver] = useState(false);

  const onDrop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    const file = e.dataTransfer.files[0];
    if (file) void dataCommands.pickFile(file);
  };

  return (
    <section className="card data-file" aria-labelledby={DATA_FILE_HEADING_ID} data-testid="data-file-panel">
      <h3 id={DATA_FILE_HEADING_ID}>Preference file</h3>
      <div
        className={`dropzone${over ? ' over' : ''}`}
        data-testid="data-dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p className="drop-title">Drop a preference file here</p>
        <p className="muted small" id="data-file-hint">
          JSON lines (<code>.jsonl</code>), JSON (<code>.json</code>) or Parquet (<code>.parquet</code>): TRL standard or conversational rows, UltraFeedback-style columns, or token ids. It stays in this tab.
        </p>
        <div className="pickers">
          <label className="button primary">
            Choose a preference file…
            <input
              type="file"
              accept=".jsonl,.ndjson,.json,.parquet"
              className="visually-hidden"
              data-testid="data-file-input"
              aria-describedby="data-file-hint"
              onChange={(e) => {
                const file = e.currentTarget.files?.[0];
                if (file) void dataCommands.pickFile(file);
                e.currentTarget.value = ''; // the same file again fires change again
              }}
            />
          </label>
          {kind === 'file' && (
            <button type="button" data-testid="data-use-demo" onClick={() => void dataCommands.loadDemo()}>
              Use the demo set
            </button>
          )}
        </div>
      </div>
      <TokenizerChoice />
      <DataFacts />
      <DataProblem />
    </section>
  );
}

/**
 * A problem with the whole file or the tokenizer (not JSON, not UTF-8, an unknown extension, no
 * rows, a tokenizer that cannot be read), with the error's name. Row problems are DataIssues'.
 */
function DataProblem() {
  const problem = useStudioStore(dataSelectors.problem);
  const name = useStudioStore(dataSelectors.sourceName);
  return (
    <ProblemBox
      title={name ? `${name} could not be read` : 'The preference file could not be read'}
      problem={problem}
      onDismiss={() => dataActions.dismissProblem()}
      testId="data-error"
      messageTestId="data-error-message"
      preLine
      showErrorName
    />
  );
}

/** Whose tokenizer counts the tokens: the demo model's, or a stored model's. */
function TokenizerChoice() {
  const chosen = useStudioStore(dataSelectors.tokenizerModelId);
  const models = useStudioStore(useShallow(modelsSelectors.sortedList));
  const stored = models.filter((m) => !m.isDemo);
  return (
    <div className="data-field">
      <label htmlFor="data-tokenizer">Tokenizer of</label>
      <select
        id="data-tokenizer"
        data-testid="data-tokenizer"
        value={chosen ?? ''}
        onChange={(e) => {
          const id = e.currentTarget.value || null;
          void dataCommands.chooseTokenizer(id, id === null ? 'the demo model' : (stored.find((m) => m.id === id)?.name ?? id));
        }}
      >
        <option value="">the demo model</option>
        {stored.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
      </select>
      <span className="muted small">Token counts and the chat template come from this model's tokenizer files.</span>
    </div>
  );
}

/** The file, its form, rows and pairs; progress while reading and tokenising. */
function DataFacts() {
  const name = useStudioStore(dataSelectors.sourceName);
  const kind = useStudioStore(dataSelectors.sourceKind);
  const bytes = useStudioStore(dataSelectors.sourceBytes);
  const status = useStudioStore(dataSelectors.status);
  const progress = useStudioStore(dataSelectors.progress);
  const format = useStudioStore(dataSelectors.format);
  const rows = useStudioStore(dataSelectors.rows);
  const pairs = useStudioStore(dataSelectors.pairs);
  const malformed = useStudioStore(dataSelectors.malformedRows);
  if (!name) return <p className="muted" data-testid="data-status" data-status={status}>Loading the demo set…</p>;

  return (
    <div className="data-facts" data-testid="data-status" data-status={status}>
      <dl>
        <dt>File</dt>
        <dd data-testid="data-source" data-kind={kind}>
          <code>{name}</code> {kind === 'demo' ? '(the demo set)' : ''} · {fmtBytes(bytes)}
        </dd>
        {format && (
          <>
            <dt>Format</dt>
            <dd data-testid="data-format">
              {format.shapes.length === 0 && <span>No well-formed row, so no form was recognised.</span>}
              {format.shapes.map((s) => (
                <p key={s.shape} data-shape={s.shape}>
                  <strong>{s.title}</strong>
                  {format.shapes.length > 1 ? ` (${plural(s.rows, 'row')})` : ''}: {s.description}
                </p>
              ))}
            </dd>
            {(format.targetColumns.length > 0 || format.otherColumns.length > 0) && (
              <>
                <dt>Columns</dt>
                <dd data-testid="data-columns">
                  {format.targetColumns.length > 0 && (
                    <p>
                      Read by some losses: {format.targetColumns.map((c, i) => (
                        <span key={c.column}>{i > 0 ? ', ' : ''}<code>{c.column}</code> ({c.loss})</span>
                      ))}.
                    </p>
                  )}
                  {format.otherColumns.length > 0 && (
                    <p className="muted">
                      Not used, as TRL ignores them: {format.otherColumns.map((c, i) => (
                        <span key={c}>{i > 0 ? ', ' : ''}<code>{c}</code></span>
                      ))}.
                    </p>
                  )}
                </dd>
              </>
            )}
            <dt>Rows</dt>
            <dd data-testid="data-counts" data-rows={rows} data-pairs={pairs} data-malformed={malformed}>
              {plural(rows, 'row')}
              {status === 'ready' && <> · {plural(pairs, 'pair')} tokenised</>}
              {malformed > 0 && <> · <strong className="data-bad">{plural(malformed, 'malformed row')}</strong> (listed below)</>}
            </dd>
          </>
        )}
      </dl>
      {status === 'reading' && <p className="muted">Reading {name}…</p>}
      {status === 'tokenizing' && progress && (
        <div className="data-progress">
          <p className="muted" data-testid="data-progress" data-percent={Math.floor(progress.percent)}>
            Tokenising: {progress.done.toLocaleString('en')} of {plural(progress.total, 'pair')} ({Math.floor(progress.percent)}%
            {progress.pairsPerSec > 0 && `, ${Math.round(progress.pairsPerSec).toLocaleString('en')} pairs/s`})…
          </p>
          <progress max={Math.max(1, progress.total)} value={progress.done} aria-label="Tokenising the pairs" />
        </div>
      )}
    </div>
  );
}
