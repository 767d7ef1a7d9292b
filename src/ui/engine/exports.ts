// The Export screen's bridge: which runs can be exported and what each offers, the weights export
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
import { heldRunData, heldRunRecords } from './heldRun.ts';
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
  state: 'running' | 'done' | 'stopped' | 'failed';
  /** The worker holds its weights (finished or stopped, not freed): they can be exported. */
  weightsHeld: boolean;
}

/** The runs the Export screen lists: the one whose weights the worker holds. */
export function exportRuns(): ExportRun[] {
  const held = getStudioState().heldRun.run;
  if (!held) return [];
  const weightsHeld = held.state === 'done' || held.state === 'stopped';
  const loss = String(held.settings.preset ?? held.settings.loss_type ?? 'run');
  return [{ id: held.runId, label: `${held.runId} · ${loss}${held.lora ? ' · LoRA' : ''} · ${held.step} of ${held.totalSteps} steps (${held.state === 'running' ? 'training' : held.state})`, modelId: held.modelId, settings: held.settings, lora: held.lora, steps: held.step, totalSteps: held.totalSteps, state: held.state, weightsHeld }];
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

/** The run's step records, as `prefstudio train` writes them to metrics.jsonl. */
export function runRecords(runId: string): readonly MetricRecord[] {
  return heldRunRecords(runId) as unknown as readonly MetricRecord[]; // plain objects: every StepRecord field by name
}

/** The run's data file (null: not known to this page). */
async function runData(runId: string): Promise<{ name: string; bytes: Uint8Array } | null> {
  const d = heldRunData(runId);
  if (!d) return null;
  if (d instanceof File) return { name: d.name, bytes: new Uint8Array(await d.arrayBuffer()) };
  return { name: d.name, bytes: d.bytes };
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
    if (!d) out.dataProblem = 'The preference file of this run is not known to this page (it was started before the page was loaded).';
    else out.data = datasetJsonl(await loadDataset(d.name, d.bytes));
  } catch (e) {
    out.dataProblem = e instanceof Error ? e.message : String(e);
  }
  return out;
}
