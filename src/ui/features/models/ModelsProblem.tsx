// The last model problem (a failed import, delete, list or demo): what happened, where (the file
// and tensor, for a LoadError) and what to do, with a button to dismiss it.

import { modelsActions } from '../../store/slices/models/actions.ts';
import { useStudioStore } from '../../store/index.ts';
import { modelsSelectors } from '../../store/slices/models/selectors.ts';

const TITLE = {
  import: 'The import failed',
  delete: 'The model could not be deleted',
  list: 'The stored models could not be read',
  demo: 'The built-in demo model could not be prepared',
} as const;

export function ModelsProblem() {
  const problem = useStudioStore(modelsSelectors.problem);
  if (!problem) return null;
  const subject = problem.name === 'LoadError' && problem.where !== undefined;
  return (
    <div className="problem" role="alert" data-testid="models-error" data-error-name={problem.name} data-during={problem.during}>
      <div className="problem-head">
        <strong>{TITLE[problem.during]}</strong>
        <button type="button" className="link" aria-label="Dismiss this message" onClick={() => modelsActions.dismissProblem()}>
          Dismiss
        </button>
      </div>
      {subject ? (
        // A LoadError's message is said of its `where`: "<file> names shard … which was not provided".
        <p>
          <code data-testid="models-error-where">{problem.where}</code> <span data-testid="models-error-message">{problem.message}</span>
        </p>
      ) : (
        <p data-testid="models-error-message">{problem.message}</p>
      )}
      <dl>
        {problem.where && !subject && (
          <>
            <dt>Where</dt>
            <dd data-testid="models-error-where"><code>{problem.where}</code></dd>
          </>
        )}
        {problem.hint && (
          <>
            <dt>What to do</dt>
            <dd data-testid="models-error-hint">{problem.hint}</dd>
          </>
        )}
        <dt>Error</dt>
        <dd><code>{problem.name}</code></dd>
      </dl>
    </div>
  );
}
