// The last model problem (a failed import, delete, list or demo): what happened, where (the file
// and tensor, for a LoadError) and what to do, as sentences, with a button to dismiss it. A
// problem with something the user just did (an import, a delete) takes focus, so it is read first.

import { useEffect, useRef } from 'react';
import { asSentence, errorSentence } from '../../shared/sentence.ts';
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
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (problem && (problem.during === 'import' || problem.during === 'delete')) box.current?.focus();
  }, [problem]);
  if (!problem) return null;

  // A LoadError's message is said of its `where`: "<file> names shard … which was not provided".
  const subject = problem.name === 'LoadError' && problem.where !== undefined;
  const said = subject ? errorSentence(problem.message) : null;
  return (
    <div className="problem" role="alert" tabIndex={-1} ref={box} data-testid="models-error" data-error-name={problem.name} data-during={problem.during}>
      <div className="problem-head">
        <strong>{TITLE[problem.during]}</strong>
        <button type="button" className="link" aria-label="Dismiss this message" onClick={() => modelsActions.dismissProblem()}>
          Dismiss
        </button>
      </div>
      {said ? (
        <p data-testid="models-error-sentence">
          {said.form === 'clause' && 'In '}
          <code data-testid="models-error-where">{problem.where}</code>
          {said.form === 'clause' ? ': ' : ' '}
          <span data-testid="models-error-message">{said.text}</span>
        </p>
      ) : (
        <p data-testid="models-error-message">{asSentence(problem.message)}</p>
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
            <dd data-testid="models-error-hint">{asSentence(problem.hint)}</dd>
          </>
        )}
        <dt>Error</dt>
        <dd><code>{problem.name}</code></dd>
      </dl>
    </div>
  );
}
