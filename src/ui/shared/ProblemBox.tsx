// A problem where it happened: a title, the engine's message as a sentence about its `where`
// (sentence.ts), what to do, and Dismiss. It takes focus when it appears, so a screen reader reads
// it first (role=alert). Options for a screen that needs them (the Data screen): a test id on the
// message, its line breaks kept (a file's message may list several problems, one a line), and the
// error's name under what to do ("What to do … / Error LoadError", as a list).

import { useEffect, useRef } from 'react';
import { asSentence, errorSentence } from './sentence.ts';

export interface ProblemView {
  name: string;
  message: string;
  where?: string;
  hint?: string;
}

export interface ProblemBoxProps {
  title: string;
  problem: ProblemView | null;
  onDismiss: () => void;
  /** data-testid of the box. */
  testId?: string;
  /** data-testid of the message paragraph. */
  messageTestId?: string;
  /** Keep the message's line breaks (white-space: pre-line). */
  preLine?: boolean;
  /** Show the hint and the error's name as a list: "What to do" …, "Error" <name>. */
  showErrorName?: boolean;
}

export function ProblemBox({ title, problem, onDismiss, testId, messageTestId, preLine = false, showErrorName = false }: ProblemBoxProps) {
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
      <p data-testid={messageTestId} className={preLine && !said ? 'pre-line' : undefined}>
        {said ? (
          <>
            {said.form === 'clause' && 'In '}
            <code>{problem.where}</code>
            {said.form === 'clause' ? ': ' : ' '}
            {preLine ? <span className="pre-line">{said.text}</span> : said.text}
          </>
        ) : (
          asSentence(problem.message)
        )}
      </p>
      {showErrorName ? (
        <dl>
          {problem.hint && (
            <>
              <dt>What to do</dt>
              <dd>{asSentence(problem.hint)}</dd>
            </>
          )}
          <dt>Error</dt>
          <dd>
            <code>{problem.name}</code>
          </dd>
        </dl>
      ) : (
        problem.hint && <p>What to do: {asSentence(problem.hint)}</p>
      )}
    </div>
  );
}
