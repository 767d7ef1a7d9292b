// A problem with the whole file or the tokenizer (not JSON, not UTF-8, an unknown extension, no
// rows, a tokenizer that cannot be read): what happened, where and what to do, as sentences. It
// takes focus when it appears, so it is read first. Row problems are listed by DataIssues.

import { useEffect, useRef } from 'react';
import { asSentence, errorSentence } from '../../shared/sentence.ts';
import { useStudioStore } from '../../store/index.ts';
import { dataActions } from '../../store/slices/data/actions.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';

export function DataProblemBox() {
  const problem = useStudioStore(dataSelectors.problem);
  const name = useStudioStore(dataSelectors.sourceName);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (problem) box.current?.focus();
  }, [problem]);
  if (!problem) return null;

  const said = problem.where !== undefined ? errorSentence(problem.message) : null;
  return (
    <div className="problem" role="alert" tabIndex={-1} ref={box} data-testid="data-error" data-error-name={problem.name}>
      <div className="problem-head">
        <strong>{name ? `${name} could not be read` : 'The preference file could not be read'}</strong>
        <button type="button" className="link" aria-label="Dismiss this message" onClick={() => dataActions.dismissProblem()}>
          Dismiss
        </button>
      </div>
      {said ? (
        <p data-testid="data-error-message">
          {said.form === 'clause' && 'In '}
          <code>{problem.where}</code>
          {said.form === 'clause' ? ': ' : ' '}
          <span className="data-pre-line">{said.text}</span>
        </p>
      ) : (
        <p data-testid="data-error-message" className="data-pre-line">{asSentence(problem.message)}</p>
      )}
      <dl>
        {problem.hint && (
          <>
            <dt>What to do</dt>
            <dd>{asSentence(problem.hint)}</dd>
          </>
        )}
        <dt>Error</dt>
        <dd><code>{problem.name}</code></dd>
      </dl>
    </div>
  );
}
