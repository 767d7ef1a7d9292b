// Models slice actions, at module level (zustand's "practice with no store actions"): the engine
// bridge (src/ui/engine/useEngine.ts) calls them when it sends a command and when the worker
// answers, outside React. They only change state; sending commands is the bridge's job.

import { useStudioStore } from '../../index.ts';
import type { ImportProgressView, ModelsProblem, ModelsState, ModelView } from './initialState.ts';

type Models = ModelsState['models'];
type Import = Models['import'];

function patch(p: Partial<Models> | ((m: Models) => Partial<Models>)): void {
  useStudioStore.setState((s) => ({ models: { ...s.models, ...(typeof p === 'function' ? p(s.models) : p) } }));
}

function patchImport(p: Partial<Import>): void {
  patch((m) => ({ import: { ...m.import, ...p } }));
}

const importing = (m: Models): boolean => m.import.status === 'running' || m.import.status === 'cancelling';

export const modelsActions = {
  /** ensureDemo was sent. */
  demoRequested(): void {
    patch((m) => ({ demo: m.list.some((x) => x.isDemo) ? 'ready' : 'preparing' }));
  },

  /** The worker sent the store's models (after any command that changes them). */
  listed(list: ModelView[]): void {
    patch((m) => ({
      list,
      listed: true,
      deleting: m.deleting.filter((id) => list.some((x) => x.id === id)),
      demo: list.some((x) => x.isDemo) ? 'ready' : m.demo,
      // a failed list is fixed by a list that arrived
      problem: m.problem?.during === 'list' ? null : m.problem,
    }));
  },

  /** importModel was sent with `files` files. */
  importStarted(name: string | null, files: number): void {
    patch((m) => ({
      import: { status: 'running', name, files, progress: null, doneId: null, bytesSkipped: 0 },
      problem: m.problem?.during === 'import' ? null : m.problem,
    }));
  },

  importProgressed(progress: ImportProgressView): void {
    patch((m) => (importing(m) ? { import: { ...m.import, progress } } : {}));
  },

  /** The model is stored and listed. */
  importFinished(id: string, name: string, bytesSkipped: number): void {
    patch((m) => ({
      import: {
        ...m.import,
        status: 'done',
        name,
        doneId: id,
        bytesSkipped,
        // the bar ends full even if the last progress event was throttled away
        progress: m.import.progress ? { ...m.import.progress, phase: 'copy', percent: 100, bytesDone: m.import.progress.bytesTotal } : null,
      },
    }));
  },

  /** cancelImport was sent; the worker stops at the next chunk. */
  cancelRequested(): void {
    patch((m) => (importing(m) ? { import: { ...m.import, status: 'cancelling' } } : {}));
  },

  importCancelled(): void {
    patchImport({ status: 'cancelled' });
  },

  /** deleteModel was sent for `id`. */
  deleteRequested(id: string): void {
    patch((m) => ({ deleting: m.deleting.includes(id) ? m.deleting : [...m.deleting, id] }));
  },

  /** A model command failed: show why, and leave the state it was in. */
  failed(problem: ModelsProblem): void {
    patch((m) => ({
      problem,
      ...(problem.during === 'import' ? { import: { ...m.import, status: 'failed' as const } } : {}),
      ...(problem.during === 'delete' ? { deleting: [] } : {}),
      ...(problem.during === 'demo' ? { demo: 'failed' as const } : {}),
    }));
  },

  /** The user closed the problem box. */
  dismissProblem(): void {
    patch({ problem: null });
  },
};
