// The Export screen's "Save adapter to Model screen" for a LoRA run whose weights the worker holds:
// its adapter is stored under the model it trained (the worker's saveRunAdapter), listed there
// with the imported ones and usable on the Generate screen after a reload. Its outcome is said
// here (and in the status region); a failure shows in a ProblemBox.

import { adapterCommands } from '../../engine/adapters.ts';
import type { ExportRun } from '../../engine/exports.ts';
import { ProblemBox } from '../../shared/ProblemBox.tsx';
import { useStudioStore } from '../../store/index.ts';
import { modelsActions } from '../../store/slices/models/actions.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';

export function SaveAdapter({ run }: { run: ExportRun }) {
  const save = useStudioStore(modelsSelectors.runAdapterSave);
  const problem = useStudioStore(modelsSelectors.adapterProblem);
  const base = useStudioStore(modelsSelectors.byId(run.modelId));
  if (!run.lora) return null;
  const mine = save.runId === run.id;
  const failed = problem?.during === 'save' && problem.runId === run.id ? problem : null;
  return (
    <div className="export-save-adapter">
      <div className="export-buttons">
        <button type="button" disabled={!run.weightsHeld || (mine && save.status === 'saving')} aria-describedby="save-adapter-help" onClick={() => adapterCommands.saveRun(run.id)}>
          Save adapter to Model screen
        </button>
        <span role="status" className="muted small" data-testid="save-adapter-status" data-status={mine ? save.status : 'idle'}>
          {mine && save.status === 'saving' && 'Storing the adapter…'}
          {mine && save.status === 'done' && (save.already ? `Already stored under ${base?.name ?? save.modelId} as ${save.adapterName}.` : `Saved under ${base?.name ?? save.modelId} as ${save.adapterName}: listed on the Model screen, and offered on the Generate screen.`)}
        </span>
      </div>
      <p className="muted small" id="save-adapter-help">Keeps this run's LoRA adapter in this browser under {base?.name ?? 'its base model'}, with adapters you add yourself, after the run's weights leave the GPU.</p>
      <ProblemBox title="The adapter could not be saved" problem={failed} onDismiss={() => modelsActions.dismissAdapterProblem()} testId="save-adapter-error" />
    </div>
  );
}
