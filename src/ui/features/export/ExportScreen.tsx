// The Export screen, for one run: its weights (the whole model as safetensors, or a LoRA run's PEFT
// adapter; "Export" saves them into a folder or as downloads; a LoRA run's adapter can also be
// stored under its model, SaveAdapter.tsx), its metrics as CSV and JSONL, and a
// TRL recipe that runs the same training on a multi-GPU cluster (recipe.yaml shown, with README.md
// and data.jsonl). State: the export and heldRun slices; work: src/ui/engine/exports.ts.

import { useEffect, useState } from 'react';
import { chosenRun, exportCommands, exportRuns, lastExportedFiles, loadRecords, recipeFor, runRecords, type ExportRun, type RecipeView } from '../../engine/exports.ts';
import { useRunsLoaded } from '../../engine/training.ts';
import { fmtBytes } from '../../shared/format.ts';
import { Screen } from '../../shell/Screen.tsx';
import { useStudioStore } from '../../store/index.ts';
import { exportActions } from '../../store/slices/export/actions.ts';
import type { ExportDtype } from '../../store/slices/export/initialState.ts';
import { exportSelectors } from '../../store/slices/export/selectors.ts';
import { heldRunSelectors } from '../../store/slices/heldRun/selectors.ts';
import { runsSelectors } from '../../store/slices/runs/selectors.ts';
import { canSaveToFolder, download, textBlob } from './files.ts';
import { SaveAdapter } from './SaveAdapter.tsx';
import { metricColumns, metricsCsv, metricsJsonl } from './metrics.ts';
import './export.css';

export function ExportScreen() {
  useRunsLoaded(); // the stored runs, after a reload too
  useStudioStore(heldRunSelectors.run); // the runs offered follow the worker's
  useStudioStore(heldRunSelectors.records);
  useStudioStore(exportSelectors.runId);
  useStudioStore(runsSelectors.list); // and the stored ones
  useStudioStore(runsSelectors.seriesTick);
  const run = chosenRun();
  return (
    <Screen id="export">
      {run ? (
        <>
          <div className="columns export-columns">
            <RunPicker run={run} />
            <MetricsPanel run={run} />
          </div>
          <WeightsPanel run={run} />
          <RecipePanel run={run} />
        </>
      ) : (
        <RunPicker run={null} />
      )}
    </Screen>
  );
}

function RunPicker({ run }: { run: ExportRun | null }) {
  const runs = exportRuns();
  if (!run) {
    return (
      <section className="card" aria-labelledby="export-run-heading" data-testid="export-run">
        <h3 id="export-run-heading">Run</h3>
        <p className="muted">No run to export yet: train one on the Train screen. Its weights, metrics and a TRL recipe to scale it out appear here.</p>
      </section>
    );
  }
  const s = run.settings;
  return (
    <section className="card" aria-labelledby="export-run-heading" data-testid="export-run">
      <h3 id="export-run-heading">Run</h3>
      <label className="export-field">
        <span>Run</span>
        <select value={run.id} onChange={(e) => exportActions.chose({ runId: e.target.value })}>
          {runs.map((r) => (
            <option key={r.id} value={r.id}>{r.label}</option>
          ))}
        </select>
      </label>
      <p className="muted small" data-testid="export-run-summary">
        {String(s.loss_type ?? s.preset ?? '?')} · learning_rate {String(s.learning_rate ?? '?')} · {run.lora ? `LoRA r ${String(s.lora_r ?? '?')}` : 'full fine-tuning'} · {run.steps} of {run.totalSteps} steps
      </p>
    </section>
  );
}

const DTYPES: { value: ExportDtype; label: string }[] = [
  { value: '', label: 'as stored (the input model\'s dtypes; adapter: f32)' },
  { value: 'bf16', label: 'bf16' },
  { value: 'f16', label: 'f16' },
  { value: 'f32', label: 'f32' },
];

function WeightsPanel({ run }: { run: ExportRun }) {
  const kind = useStudioStore(exportSelectors.kind);
  const dtype = useStudioStore(exportSelectors.dtype);
  const saveAs = useStudioStore(exportSelectors.saveAs);
  const weights = useStudioStore(exportSelectors.weights);
  const busy = useStudioStore(exportSelectors.busy);
  const folderOk = canSaveToFolder();
  const effectiveKind = run.lora ? kind : 'model';
  const effectiveSave = folderOk ? saveAs : 'downloads';
  const mine = weights.runId === run.id;
  const total = weights.files.reduce((a, f) => a + f.size, 0);

  return (
    <section className="card" aria-labelledby="export-weights-heading" data-testid="export-weights" data-status={mine ? weights.status : 'idle'}>
      <h3 id="export-weights-heading">Weights</h3>
      {!run.weightsHeld && (
        <p className="note" data-testid="export-weights-note">
          {run.state === 'running'
            ? 'This run is still training: its weights can be exported once it finishes, or after you pause or stop it.'
            : "This run's weights are no longer on the GPU: the studio keeps the last run's until the next run starts or the page reloads. A paused run resumes from its checkpoint (Runs screen); export it when it pauses or finishes."}
        </p>
      )}
      <div className="export-options">
        <fieldset>
          <legend>Form</legend>
          <label><input type="radio" name="export-kind" checked={effectiveKind === 'model'} onChange={() => exportActions.chose({ kind: 'model' })} /> Full model (Hugging Face folder: safetensors, config, tokenizer{run.lora ? '; the adapter merged' : ''})</label>
          <label className={run.lora ? undefined : 'muted'}>
            <input type="radio" name="export-kind" checked={effectiveKind === 'adapter'} disabled={!run.lora} onChange={() => exportActions.chose({ kind: 'adapter' })} /> PEFT adapter (adapter_model.safetensors + adapter_config.json){run.lora ? '' : ' — LoRA runs only'}
          </label>
        </fieldset>
        <label className="export-field">
          <span>dtype</span>
          <select value={dtype} onChange={(e) => exportActions.chose({ dtype: e.target.value as ExportDtype })}>
            {DTYPES.map((d) => (
              <option key={d.value} value={d.value}>{d.label}</option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Save as</legend>
          <label className={folderOk ? undefined : 'muted'}>
            <input type="radio" name="export-save" checked={effectiveSave === 'folder'} disabled={!folderOk} onChange={() => exportActions.chose({ saveAs: 'folder' })} /> Files in a folder you pick{folderOk ? ' (a new sub-folder named after the run)' : ' — this browser cannot write into folders'}
          </label>
          <label><input type="radio" name="export-save" checked={effectiveSave === 'downloads'} onChange={() => exportActions.chose({ saveAs: 'downloads' })} /> Downloads (one per file)</label>
        </fieldset>
      </div>
      <div className="export-buttons">
        <button type="button" className="primary" disabled={busy || !run.weightsHeld} onClick={() => void exportCommands.exportWeights()}>Export</button>
        <span role="status" className="muted small" data-testid="export-weights-status">
          {mine && weights.status === 'picking' && 'Choose a folder…'}
          {mine && weights.status === 'exporting' && 'Reading the weights from the GPU…'}
          {mine && weights.status === 'saving' && `Writing ${weights.current ?? 'the files'}…`}
          {mine && weights.status === 'cancelled' && 'No folder chosen: nothing was saved.'}
          {mine && weights.status === 'done' && `${weights.files.length} files, ${fmtBytes(total)}, ${weights.where === 'downloads' ? 'downloaded' : `saved to ${weights.where}`}.`}
        </span>
      </div>
      <SaveAdapter run={run} />
      {mine && weights.problem && (
        <div className="problem" role="alert" data-testid="export-problem">
          <p><strong>The export failed.</strong> {weights.problem.message}{weights.problem.where ? ` (${weights.problem.where})` : ''}</p>
          {weights.problem.hint && <p>What to do: {weights.problem.hint}</p>}
        </div>
      )}
      {mine && weights.files.length > 0 && (
        <table className="export-files" data-testid="export-files">
          <caption>{effectiveKindLabel(weights.kind)}: the files{weights.where === 'downloads' ? ' (if the browser blocked some downloads, save them one by one)' : ''}</caption>
          <thead>
            <tr><th scope="col">File</th><th scope="col" className="num">Size</th><th scope="col"><span className="visually-hidden">Download</span></th></tr>
          </thead>
          <tbody>
            {weights.files.map((f) => (
              <tr key={f.path} data-path={f.path} data-size={f.size}>
                <th scope="row" className="mono">{f.path}</th>
                <td className="num">{fmtBytes(f.size)}</td>
                <td>{weights.status === 'done' && lastExportedFiles().some((x) => x.path === f.path) && <button type="button" className="link" onClick={() => exportCommands.downloadAgain(f.path)} aria-label={`Download ${f.path}`}>download</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const effectiveKindLabel = (k: string): string => (k === 'adapter' ? 'PEFT adapter' : 'Full model');

function MetricsPanel({ run }: { run: ExportRun }) {
  useEffect(() => loadRecords(run.id), [run.id]);
  const { records, source } = runRecords(run.id);
  const cols = metricColumns(records);
  return (
    <section className="card" aria-labelledby="export-metrics-heading" data-testid="export-metrics" data-steps={records.length}>
      <h3 id="export-metrics-heading">Metrics</h3>
      {records.length ? (
        <>
          <p>
            {records.length} optimizer step{records.length === 1 ? '' : 's'}
            {source === 'events' ? <>, as <code>prefstudio train</code> writes them</> : ' from the run\'s stored history'}: TRL's logged names, one row per step in the CSV ({cols.length} columns); the JSONL adds every pair's values.
          </p>
          <div className="export-buttons">
            <button type="button" onClick={() => download(`${run.id}-metrics.csv`, textBlob(metricsCsv(records), 'text/csv'))}>Download metrics.csv</button>
            <button type="button" onClick={() => download(`${run.id}-metrics.jsonl`, textBlob(metricsJsonl(records), 'application/jsonl'))}>Download metrics.jsonl</button>
          </div>
        </>
      ) : (
        <p className="muted">No step recorded yet.</p>
      )}
    </section>
  );
}

function RecipePanel({ run }: { run: ExportRun }) {
  const model = useStudioStore(exportSelectors.recipeModel);
  const gpus = useStudioStore(exportSelectors.numProcesses);
  const [view, setView] = useState<RecipeView | null>(null);
  const n = Number(gpus);
  const gpusOk = Number.isInteger(n) && n >= 1 && n <= 1024;
  useEffect(() => {
    let live = true;
    if (!gpusOk) return;
    void recipeFor(run, model, n).then((v) => live && setView(v));
    return () => {
      live = false;
    };
    // run is rebuilt on every render; its id and settings (kept in the store) are what the recipe reads
  }, [run.id, run.settings, model, n, gpusOk]); // eslint-disable-line react-hooks/exhaustive-deps

  const r = view?.recipe ?? null;
  return (
    <section className="card" aria-labelledby="export-recipe-heading" data-testid="export-recipe">
      <h3 id="export-recipe-heading">TRL recipe</h3>
      <p className="small muted">The same training on a multi-GPU cluster with TRL: the loss, hyperparameters and LoRA settings as <code>DPOConfig</code> / <code>CPOConfig</code> / <code>ModelConfig</code> fields, and the data in Hugging Face JSON lines.</p>
      <div className="export-recipe-fields">
        <label className="export-field">
          <span>model_name_or_path</span>
          <input value={model} onChange={(e) => exportActions.chose({ recipeModel: e.target.value })} aria-describedby="export-model-help" spellCheck={false} />
        </label>
        <label className="export-field">
          <span>GPUs</span>
          <input type="number" min={1} max={1024} step={1} value={gpus} onChange={(e) => exportActions.chose({ numProcesses: e.target.value })} aria-invalid={gpusOk ? undefined : true} aria-describedby="export-gpus-help" />
        </label>
      </div>
      <p className="small muted" id="export-model-help">model_name_or_path: the Hub id of the model on the cluster, or its path there.</p>
      <p className={`small ${gpusOk ? 'muted' : 'export-invalid'}`} id="export-gpus-help">{gpusOk ? 'Batch and accumulation are split over the GPUs so each step sees the run\'s pairs.' : 'GPUs must be a whole number from 1 to 1024.'}</p>

      {view?.problem && <div className="problem" role="alert"><p>{view.problem}</p></div>}
      {r && (
        <>
          {r.warnings.length > 0 && (
            <div className="note export-warnings" data-testid="export-recipe-warnings">
              <p>Where TRL differs from this run:</p>
              <ul>{r.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
            </div>
          )}
          <p className="small">Run: <code data-testid="export-recipe-command">{r.command}</code></p>
          <pre className="export-yaml" data-testid="export-recipe-yaml" tabIndex={0} aria-label="recipe.yaml">{r.files['recipe.yaml']}</pre>
          <div className="export-buttons">
            {Object.entries(r.files).map(([name, text]) => (
              <button key={name} type="button" onClick={() => download(name, textBlob(text, name.endsWith('.yaml') ? 'application/yaml' : 'text/plain'))}>Download {name}</button>
            ))}
            <button type="button" disabled={!view?.data} aria-describedby={view?.data ? undefined : 'export-data-problem'} onClick={() => view?.data && download('data.jsonl', textBlob(view.data.text, 'application/jsonl'))}>Download data.jsonl</button>
          </div>
          {view?.data ? (
            <p className="small muted" data-testid="export-data">data.jsonl: {view.data.rows} pairs in TRL's {view.data.form} form.</p>
          ) : (
            view?.dataProblem && <p className="small muted" id="export-data-problem">data.jsonl: {view.dataProblem}</p>
          )}
          <details>
            <summary>README.md</summary>
            <pre className="export-yaml">{r.files['README.md']}</pre>
          </details>
        </>
      )}
    </section>
  );
}
