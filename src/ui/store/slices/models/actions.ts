// Models slice actions, at module level (zustand's "practice with no store actions"): the engine
// bridge (src/ui/engine/useEngine.ts, storage.ts) calls them when it sends a command and when the
// worker or the store answers, outside React. They change state and say what happened through the
// announce slice (the status region); sending commands is the bridge's job.

import { fmtBytes } from '../../../shared/format.ts';
import { announceActions } from '../announce/actions.ts';
import { useStudioStore } from '../../index.ts';
import type { AdapterProblem, AdapterProgressView, ImportProgressView, ModelsProblem, ModelsState, ModelView, PartialImportView, PeftAdapterView } from './initialState.ts';

type Models = ModelsState['models'];
type Import = Models['import'];

function patch(p: Partial<Models> | ((m: Models) => Partial<Models>)): void {
  useStudioStore.setState((s) => ({ models: { ...s.models, ...(typeof p === 'function' ? p(s.models) : p) } }));
}

function patchImport(p: Partial<Import>): void {
  patch((m) => ({ import: { ...m.import, ...p } }));
}

const models = (): Models => useStudioStore.getState().models;
/** A model's name as messages say it. */
const modelName = (id: string): string => models().list.find((x) => x.id === id)?.name ?? id;
const importing = (m: Models): boolean => m.import.status === 'running' || m.import.status === 'cancelling';

/** The 8 hex digits a user import's id ends in: a fingerprint of its config, headers and first bytes. */
const fingerprint = (id: string): string | null => /-([0-9a-f]{8})$/.exec(id)?.[1] ?? null;

/** The last copy progress said aloud, in quarters (0 = none yet); reset when an import starts. */
let spokenQuarter = 0;

export const modelsActions = {
  /** ensureDemo was sent. */
  demoRequested(): void {
    patch((m) => ({ demo: m.list.some((x) => x.isDemo) ? 'ready' : 'preparing' }));
  },

  /** The worker sent the store's models (after any command that changes them). */
  listed(list: ModelView[]): void {
    const before = models();
    const deleted = before.deleting.map((id) => before.list.find((x) => x.id === id)).filter((x): x is ModelView => !!x && !list.some((y) => y.id === x.id));
    patch((m) => ({
      list,
      listed: true,
      deleting: m.deleting.filter((id) => list.some((x) => x.id === id)),
      demo: list.some((x) => x.isDemo) ? 'ready' : m.demo,
      // a failed list is fixed by a list that arrived
      problem: m.problem?.during === 'list' ? null : m.problem,
    }));
    // a model's PEFT adapters go with it (the adapters of this list are not in yet: adaptersListed follows)
    for (const x of deleted) {
      const adapters = before.adapters.filter((a) => a.baseModelId === x.id);
      const bytes = adapters.reduce((n, a) => n + a.bytes, x.bytes);
      announceActions.say(`Deleted ${x.name}${adapters.length ? ` and its ${adapters.length === 1 ? 'PEFT adapter' : `${adapters.length} PEFT adapters`}` : ''}; ${fmtBytes(bytes)} freed.`);
    }
  },

  /** importModel was sent with `files` files (`hasTokenizer`: tokenizer.json is among them). */
  importStarted(name: string | null, files: number, hasTokenizer = true): void {
    spokenQuarter = 0;
    patch((m) => ({
      import: { status: 'running', name, files, progress: null, doneId: null, bytesSkipped: 0, hasTokenizer, already: false, sameAs: null },
      problem: m.problem?.during === 'import' ? null : m.problem,
    }));
    announceActions.say(`Importing ${name ?? 'the model'}: checking its files.`);
  },

  importProgressed(progress: ImportProgressView): void {
    const m = models();
    if (!importing(m)) return;
    const wasCopying = m.import.progress?.phase === 'copy';
    patch({ import: { ...m.import, progress } });
    if (progress.phase !== 'copy' || progress.percent >= 100) return;
    const name = m.import.name ?? 'the model';
    if (!wasCopying) announceActions.say(`The files are fine; copying ${name} into browser storage.`);
    const quarter = Math.floor(progress.percent / 25);
    if (quarter > spokenQuarter) {
      spokenQuarter = quarter;
      announceActions.say(`Copying ${name}: ${quarter * 25} %.`);
    }
  },

  /** The model is stored; the worker lists it next (the list here is still the one before the import). */
  importFinished(id: string, name: string, bytesSkipped: number): void {
    const m = models();
    const already = m.list.some((x) => x.id === id);
    const fp = fingerprint(id);
    const twin = fp ? m.list.find((x) => x.id !== id && !x.isDemo && fingerprint(x.id) === fp) : undefined;
    patch({
      import: {
        ...m.import,
        status: 'done',
        name,
        doneId: id,
        bytesSkipped,
        already,
        sameAs: twin?.name ?? null,
        // the bar ends full even if the last progress event was throttled away
        progress: m.import.progress ? { ...m.import.progress, phase: 'copy', percent: 100, bytesDone: m.import.progress.bytesTotal } : null,
      },
    });
    const words = [
      already ? `${name} is already stored: its files were checked and nothing new was copied.` : `Imported ${name}.`,
      twin ? `The same weights are also stored as ${twin.name}.` : '',
      !m.import.hasTokenizer && !already ? 'It has no tokenizer.json: it can train on token-id data only, and cannot turn text into tokens or back.' : '',
    ];
    announceActions.say(words.filter(Boolean).join(' '));
  },

  /** cancelImport was sent; the worker stops at the next chunk. */
  cancelRequested(): void {
    patch((m) => (importing(m) ? { import: { ...m.import, status: 'cancelling' } } : {}));
  },

  importCancelled(): void {
    patchImport({ status: 'cancelled' });
    announceActions.say('Import cancelled. What was already copied is kept as an unfinished import: import the same folder again to resume, or discard it.');
  },

  /** deleteModel was sent for `id`. */
  deleteRequested(id: string): void {
    patch((m) => ({ deleting: m.deleting.includes(id) ? m.deleting : [...m.deleting, id] }));
  },

  /**
   * The store's unfinished imports were read. The first listing after the page loaded announces
   * them (an import a closed tab or a crash interrupted); a discarded one that is gone is announced too.
   */
  partialsListed(partials: PartialImportView[]): void {
    const before = models();
    const discarded = before.discarding.map((id) => before.partials.find((p) => p.id === id)).filter((p): p is PartialImportView => !!p && !partials.some((q) => q.id === p.id));
    patch((m) => ({ partials, partialsListed: true, discarding: m.discarding.filter((id) => partials.some((p) => p.id === id)) }));
    if (!before.partialsListed && partials.length > 0) {
      const [p] = partials;
      const others = partials.length > 1 ? ` ${partials.length - 1} more unfinished ${partials.length === 2 ? 'import is' : 'imports are'} listed.` : '';
      announceActions.say(`An import of ${p.name} was interrupted: ${fmtBytes(p.bytesStored)} of ${fmtBytes(p.bytesTotal)} are stored. Import the same folder again to resume it, or discard it.${others}`);
    }
    for (const p of discarded) announceActions.say(`Discarded the unfinished import of ${p.name}; ${fmtBytes(p.bytesStored)} freed.`);
  },

  /** The delete of partial import `id` was sent. */
  discardRequested(id: string): void {
    patch((m) => ({ discarding: m.discarding.includes(id) ? m.discarding : [...m.discarding, id] }));
  },

  /** The worker's model list arrived with every model's PEFT adapters. */
  adaptersListed(adapters: PeftAdapterView[]): void {
    patch((m) => ({ adapters, adapterDeleting: m.adapterDeleting.filter((id) => adapters.some((a) => a.id === id)) }));
  },

  /** importAdapter was sent for model `modelId` (`name`: the folder's, or null). */
  adapterImportStarted(modelId: string, name: string | null): void {
    patch((m) => ({
      adapterImport: { modelId, status: 'running', name, progress: null, already: false },
      adapterProblem: m.adapterProblem?.during === 'import' ? null : m.adapterProblem,
    }));
    announceActions.say(`Adding the PEFT adapter${name ? ` ${name}` : ''} to ${modelName(modelId)}: checking its files.`);
  },

  adapterImportProgressed(modelId: string, progress: AdapterProgressView): void {
    const a = models().adapterImport;
    if (a.status !== 'running' || a.modelId !== modelId) return;
    patch({ adapterImport: { ...a, progress } });
  },

  /** The adapter is stored (or was already): the list with it follows. */
  adapterImported(modelId: string, name: string, already: boolean): void {
    const a = models().adapterImport;
    patch({ adapterImport: { ...a, modelId, status: 'done', name, already, progress: a.progress ? { ...a.progress, phase: 'copy', percent: 100, bytesDone: a.progress.bytesTotal } : null } });
    announceActions.say(already ? `${name} is already stored under ${modelName(modelId)}: nothing new was written.` : `Added the PEFT adapter ${name} to ${modelName(modelId)}.`);
  },

  /** deleteAdapter was sent. */
  adapterDeleteRequested(adapterId: string): void {
    patch((m) => ({ adapterDeleting: m.adapterDeleting.includes(adapterId) ? m.adapterDeleting : [...m.adapterDeleting, adapterId] }));
  },

  /** The worker removed adapter `adapterId` of `modelId`, freeing `bytes`. */
  adapterDeleted(modelId: string, adapterId: string, bytes: number): void {
    const a = models().adapters.find((x) => x.id === adapterId && x.baseModelId === modelId);
    announceActions.say(`Deleted the adapter ${a?.name ?? adapterId} of ${modelName(modelId)}; ${fmtBytes(bytes)} freed.`);
  },

  /** saveRunAdapter was sent for run `runId`. */
  runAdapterSaveStarted(runId: string): void {
    patch((m) => ({
      runAdapterSave: { runId, status: 'saving', adapterName: null, modelId: null, already: false },
      adapterProblem: m.adapterProblem?.during === 'save' ? null : m.adapterProblem,
    }));
  },

  runAdapterSaved(runId: string, modelId: string, adapterName: string, already: boolean): void {
    patch({ runAdapterSave: { runId, status: 'done', adapterName, modelId, already } });
    announceActions.say(already ? `The adapter of ${runId} is already stored under ${modelName(modelId)} as ${adapterName}.` : `Saved the adapter of ${runId} under ${modelName(modelId)} as ${adapterName}: it is listed on the Model screen.`);
  },

  /** An adapter command failed: shown where it happened (under the model, or on the Export screen). */
  adapterFailed(problem: AdapterProblem): void {
    patch((m) => ({
      adapterProblem: problem,
      ...(problem.during === 'import' ? { adapterImport: { ...m.adapterImport, status: 'failed' as const } } : {}),
      ...(problem.during === 'delete' ? { adapterDeleting: [] } : {}),
      ...(problem.during === 'save' ? { runAdapterSave: { ...m.runAdapterSave, status: 'failed' as const } } : {}),
    }));
  },

  dismissAdapterProblem(): void {
    patch({ adapterProblem: null });
  },

  /** A model command failed: show why, and leave the state it was in. */
  failed(problem: ModelsProblem): void {
    patch((m) => ({
      problem,
      ...(problem.during === 'import' ? { import: { ...m.import, status: 'failed' as const } } : {}),
      ...(problem.during === 'delete' ? { deleting: [], discarding: [] } : {}),
      ...(problem.during === 'demo' ? { demo: 'failed' as const } : {}),
    }));
  },

  /** The user closed the problem box. */
  dismissProblem(): void {
    patch({ problem: null });
  },
};
