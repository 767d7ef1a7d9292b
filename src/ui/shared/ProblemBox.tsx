// A problem where it happened: a title, the engine's message as a sentence about its `where`
// (sentence.ts), what to do, and Dismiss. It takes focus when it appears, so a screen reader reads
// it first (role=alert).

import { useEffect, useRef } from 'react';
import { asSentence, errorSentence } from './sentence.ts';

export interface ProblemView {
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

export function ProblemBox({ title, problem, onDismiss, testId }: { title: string; problem: ProblemView | null; onDismiss: () => void; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (problem) box.current?.focus();
  }, [problem]);
  if (!problem) return null;
  const said = problem.where !== undefined ? errorSentence(problem.message) : null;
  return (
    <div className="problem" role="alert" tabIndex={-1} ref={box} data-testid={testId} data-error-name={problem.name}>
      <div className="problem-head">
        <strong>{title}</strong>
        <button type="button" className="link" aria-label="Dismiss this message" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
      <p>
        {said ? (
          <>
            {said.form === 'clause' && 'In '}
            <code>{problem.where}</code>
            {said.form === 'clause' ? ': ' : ' '}
            {said.text}
          </>
        ) : (
          asSentence(problem.message)
        )}
      </p>
      {problem.hint && <p>What to do: {asSentence(problem.hint)}</p>}
    </div>
  );
}
