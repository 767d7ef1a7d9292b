// The Export screen's bridge: which runs can be exported and what each offers — the run whose
// weights the worker holds (heldRun.ts) and every run the studio stores (the Runs screen's, in
// IndexedDB: training.ts runCommands, whose history and data file survive a reload) — the weights export
// (the worker's exportModel, saved into a folder picked first — the picker needs the click's
// gesture — or as downloads), the run's step records for the metrics files, and its TRL recipe
// (engine/train/recipe.ts trlRecipe + datasetJsonl on the run's data file). useEngine.ts hands
// events to onExportEvent; it takes `exported` and exportModel's failures.

import { loadDataset } from '../../engine/data/dataset.ts';
import type { Flags } from '../../engine/train/config.ts';
import { datasetJsonl, trlRecipe, type TrlRecipe } from '../../engine/train/recipe.ts';
import type { EngineEvent } from '../../engine/worker/protocol.ts';
import { download, pickFolder, writeToFolder, type FileToSave } from '../features/export/files.ts';
import type { MetricRecord } from '../features/export/metrics.ts';
import { getStudioState } from '../store/index.ts';
import { exportActions } from '../store/slices/export/actions.ts';
import type { HeldRunView } from '../store/slices/heldRun/initialState.ts';
import type { RunView } from '../store/slices/runs/initialState.ts';
import { heldRunData, heldRunRecords } from './heldRun.ts';
import { METRIC_KEYS, PAIR_KEYS, type RunSeries } from './series.ts';
import { runCommands } from './training.ts';
import { sendCommand } from './useEngine.ts';

/** A run as the Export screen offers it. */
export interface ExportRun {
  id: string;
  /** How the Run select shows it. */
  label: string;
  modelId: string;
  /** Settings in force, by TRL name. */
  settings: Record<string, unknown>;
  lora: boolean;
  steps: number;
  totalSteps: number;
  /** The held run's state, or 'stored': a run of an earlier page, whose weights are gone. */
  state: 'running' | 'done' | 'stopped' | 'failed' | 'stored';
  /** The worker holds its weights (finished or stopped, not freed): they can be exported. */
  weightsHeld: boolean;
}

/** The runs the Export screen lists: the one whose weights the worker holds, then the stored ones (newest first). */
export function exportRuns(): ExportRun[] {
  const st = getStudioState();
  const held = st.heldRun.run;
  const stored = st.runs.list;
  const out = held ? [fromHeld(held, stored.find((r) => r.id === held.runId))] : [];
  for (const r of stored) if (r.id !== held?.runId) out.push(fromStored(r));
  return out;
}

function fromHeld(held: HeldRunView, stored: RunView | undefined): ExportRun {
  const name = stored?.name ?? `${held.runId} · ${String(held.settings.preset ?? held.settings.loss_type ?? 'run')}${held.lora ? ' · LoRA' : ''}`;
  return {
    id: held.runId,
    label: `${name} · ${held.step} of ${held.totalSteps} steps (${held.state === 'running' ? 'training' : held.state}; weights on the GPU)`,
    modelId: held.modelId,
    settings: held.settings,
    lora: held.lora,
    steps: held.step,
    totalSteps: held.totalSteps,
    state: held.state,
    weightsHeld: held.state === 'done' || held.state === 'stopped',
  };
}

function fromStored(r: RunView): ExportRun {
  return { id: r.id, label: `${r.name} · ${r.step} of ${r.totalSteps} steps (${r.status})`, modelId: r.modelId, settings: r.settings, lora: r.settings.use_peft === true, steps: r.step, totalSteps: r.totalSteps, state: 'stored', weightsHeld: false };
}

/** The run the screen shows: the one chosen, else the first listed. */
export function chosenRun(): ExportRun | null {
  const runs = exportRuns();
  const id = getStudioState().export.runId;
  return runs.find((r) => r.id === id) ?? runs[0] ?? null;
}

// ---------------------------------------------------------------------------------------------
// weights

/** Where the files of the running export go (null: downloads). */
let targetDir: FileSystemDirectoryHandle | null = null;
/** The last export's files, for the screen's per-file links. */
let lastFiles: FileToSave[] = [];

export const lastExportedFiles = (): readonly FileToSave[] => lastFiles;

export const exportCommands = {
  /** Export clicked: pick the folder (while the click's gesture lasts), then ask the worker. */
  async exportWeights(): Promise<void> {
    const st = getStudioState();
    const run = chosenRun();
    if (!run || !run.weightsHeld) return;
    const kind = run.lora ? st.export.kind : 'model';
    const folder = st.export.saveAs === 'folder';
    exportActions.weightsStarted(run.id, kind, folder);
    targetDir = null;
    if (folder) {
      try {
        targetDir = await pickFolder();
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') exportActions.weightsCancelled();
        else exportActions.weightsFailed({ name: e instanceof Error ? e.name : 'Error', message: `The folder could not be opened: ${e instanceof Error ? e.message : String(e)}`, hint: 'choose Downloads instead, or another folder' });
        return;
      }
    }
    const dtype = st.export.dtype || undefined;
    exportActions.weightsRequested(sendCommand({ type: 'exportModel', runId: run.id, kind, ...(dtype && { dtype }) }));
  },

  /** Downloads one file of the last export again (a browser may block several at once). */
  downloadAgain(path: string): void {
    const f = lastFiles.find((x) => x.path === path);
    if (f) download(f.path, f.blob);
  },
};

/** Takes `exported` (saving its files) and exportModel's failures; false for every other event. */
export function onExportEvent(ev: EngineEvent): boolean {
  const w = getStudioState().export.weights;
  if (ev.type === 'error') {
    if (ev.command !== 'exportModel') return false;
    if (ev.requestId === w.requestId) exportActions.weightsFailed({ name: ev.name, message: ev.message, where: ev.where, hint: ev.hint });
    return true;
  }
  if (ev.type !== 'exported') return false;
  if (ev.requestId !== w.requestId) return true; // an older export (or another screen's test driver)
  lastFiles = ev.files.map((f) => ({ path: f.path, blob: f.blob }));
  exportActions.weightsArrived(ev.files.map((f) => ({ path: f.path, size: f.size })));
  void save(ev.runId, w.kind);
  return true;
}

async function save(runId: string, kind: string): Promise<void> {
  try {
    if (targetDir) {
      const where = await writeToFolder(targetDir, `${runId}-${kind}`, lastFiles, (p) => exportActions.writing(p));
      exportActions.weightsSaved(where);
    } else {
      for (const f of lastFiles) download(f.path, f.blob);
      exportActions.weightsSaved('downloads');
    }
  } catch (e) {
    exportActions.weightsFailed({ name: e instanceof Error ? e.name : 'Error', message: `Saving the files failed: ${e instanceof Error ? e.message : String(e)}`, hint: e instanceof DOMException && e.name === 'QuotaExceededError' ? 'free some disk space, or choose another folder' : 'try again, or choose Downloads' });
  } finally {
    targetDir = null;
  }
}

// ---------------------------------------------------------------------------------------------
// metrics and recipe

/** Where a run's step records come from: this page's trainStep events, or the stored history. */
export type RecordsSource = 'events' | 'stored' | null;

/**
 * The run's step records: the StepRecords this page received (exactly the metrics.jsonl lines of
 * `prefstudio train`) when it saw the run from step 1, else rebuilt from the stored history (TRL's
 * logged metrics and the per-pair values the studio keeps; loadRecords() reads it first).
 */
export function runRecords(runId: string): { records: readonly MetricRecord[]; source: RecordsSource } {
  const seen = heldRunRecords(runId);
  if (seen.length > 0 && seen[0].step === 1) return { records: seen as unknown as readonly MetricRecord[], source: 'events' }; // plain objects: every StepRecord field by name
  const series = runCommands.series(runId);
  if (series && series.length > 0) return { records: recordsFromSeries(series), source: 'stored' };
  return { records: seen as unknown as readonly MetricRecord[], source: seen.length ? 'events' : null };
}

/** Reads a stored run's history (once; the runs slice's seriesTick moves when it arrives). */
export function loadRecords(runId: string): void {
  if (getStudioState().runs.list.some((r) => r.id === runId)) void runCommands.loadSeries(runId);
}

/** TRL's logged names among the history's columns (step_ms and tokens_per_s are the page's own). */
const LOGGED_KEYS = METRIC_KEYS.filter((k) => k !== 'step_ms' && k !== 'tokens_per_s');

function recordsFromSeries(s: RunSeries): MetricRecord[] {
  const steps = s.steps();
  const cols = LOGGED_KEYS.map((k) => [k, s.column(k)] as const);
  return Array.from(steps, (step, i) => {
    const rec: MetricRecord = { step };
    for (const [k, c] of cols) if (!Number.isNaN(c[i])) rec[k] = c[i];
    const { rows, values } = s.stepPairs(i);
    rec.pairs = Array.from(rows, (row, b) => ({ row, ...Object.fromEntries(PAIR_KEYS.map((k, j) => [k, values[b * PAIR_KEYS.length + j]])) }));
    return rec;
  });
}

/** The run's data file (null: not known to this page or stored). */
async function runData(runId: string): Promise<{ name: string; bytes: Uint8Array } | null> {
  const d = heldRunData(runId);
  if (d instanceof File) return { name: d.name, bytes: new Uint8Array(await d.arrayBuffer()) };
  if (d) return { name: d.name, bytes: d.bytes };
  return (await runCommands.data(runId)) ?? null;
}

export interface RecipeView {
  recipe: TrlRecipe | null;
  /** Why there is no recipe (a setting TRL cannot express, an empty model name). */
  problem: string | null;
  /** data.jsonl: the run's data in TRL's form, or why it is not available. */
  data: { text: string; rows: number; form: 'standard' | 'conversational' } | null;
  dataProblem: string | null;
}

/** The run's TRL recipe for `model` on `numProcesses` GPUs, and its data as data.jsonl. */
export async function recipeFor(run: ExportRun, model: string, numProcesses: number): Promise<RecipeView> {
  const parameters = getStudioState().models.list.find((m) => m.id === run.modelId)?.parameters;
  const out: RecipeView = { recipe: null, problem: null, data: null, dataProblem: null };
  try {
    out.recipe = trlRecipe({ settings: run.settings as Flags, model, numProcesses, ...(parameters && { parameters }) });
  } catch (e) {
    out.problem = e instanceof Error ? e.message : String(e);
  }
  try {
    const d = await runData(run.id);
    if (!d) out.dataProblem = 'The preference file of this run is not stored in this browser.';
    else out.data = datasetJsonl(await loadDataset(d.name, d.bytes));
  } catch (e) {
    out.dataProblem = e instanceof Error ? e.message : String(e);
  }
  return out;
}
