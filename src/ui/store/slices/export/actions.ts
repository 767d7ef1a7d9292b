// Export slice actions: the screen's choices, and the weights export's progress from the bridge
// (src/ui/engine/exports.ts).

import { useStudioStore } from '../../index.ts';
import { announceActions } from '../announce/actions.ts';
import type { ExportKind, ExportProblem, ExportState, WeightsExportView } from './initialState.ts';

type Exp = ExportState['export'];

function patch(p: Partial<Exp>): void {
  useStudioStore.setState((s) => ({ export: { ...s.export, ...p } }));
}
function patchWeights(p: Partial<WeightsExportView> | ((w: WeightsExportView) => Partial<WeightsExportView>)): void {
  useStudioStore.setState((s) => ({ export: { ...s.export, weights: { ...s.export.weights, ...(typeof p === 'function' ? p(s.export.weights) : p) } } }));
}

export const exportActions = {
  chose(p: Partial<Pick<Exp, 'runId' | 'kind' | 'dtype' | 'saveAs' | 'recipeModel' | 'numProcesses'>>): void {
    patch(p);
  },

  /** Export clicked: a folder is being picked (folder) or the worker asked (downloads). */
  weightsStarted(runId: string, kind: ExportKind, picking: boolean): void {
    patchWeights({ status: picking ? 'picking' : 'exporting', requestId: 0, runId, kind, files: [], where: null, current: null, problem: null });
  },
  weightsRequested(requestId: number): void {
    patchWeights({ status: 'exporting', requestId });
  },
  weightsArrived(files: { path: string; size: number }[]): void {
    patchWeights({ status: 'saving', files });
  },
  writing(path: string): void {
    patchWeights({ current: path });
  },
  weightsSaved(where: string): void {
    patchWeights({ status: 'done', where, current: null });
    const w = useStudioStore.getState().export.weights;
    announceActions.say(`Export done: ${w.files.length} files ${where === 'downloads' ? 'downloaded' : `saved to ${where}`}.`);
  },
  weightsCancelled(): void {
    patchWeights({ status: 'cancelled', current: null });
  },
  weightsFailed(problem: ExportProblem): void {
    patchWeights({ status: 'failed', problem, current: null });
  },
};
