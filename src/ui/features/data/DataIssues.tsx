// Malformed rows: every row the trainer would refuse, by its name in the file ("line 7", "pairs[3]",
// "row 3"), the field and the reason ("chosen is missing; …"), with what to do. The first rows are shown; a button shows
// the rest. Absent when every row is well-formed.

import { useState } from 'react';
import { asSentence } from '../../shared/sentence.ts';
import { useStudioStore } from '../../store/index.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { plural } from './words.ts';

/** The reason as the end of a sentence that starts with the field. */
const ended = (reason: string): string => (/[.!?…]$/.test(reason) ? reason : `${reason}.`);

/** Problems listed before "Show all". */
const FIRST = 50;

export function DataIssues() {
  const issues = useStudioStore(dataSelectors.issues);
  const malformed = useStudioStore(dataSelectors.malformedRows);
  const rows = useStudioStore(dataSelectors.rows);
  const format = useStudioStore(dataSelectors.format);
  const [all, setAll] = useState(false);
  if (issues.length === 0) return null;

  const shown = all ? issues : issues.slice(0, FIRST);
  return (
    <section className="card data-issues" aria-labelledby="data-issues-heading" data-testid="data-issues">
      <h3 id="data-issues-heading">Malformed rows</h3>
      <p>
        <strong>{malformed} of {plural(rows, 'row')}</strong> {malformed === 1 ? 'is' : 'are'} malformed{format ? ` (${format.numbering})` : ''}. Training refuses this file until {malformed === 1 ? 'it is' : 'they are'} fixed or removed; the well-formed rows are summarised here all the same.
      </p>
      <table className="data-table" data-testid="data-issues-table">
        <caption className="visually-hidden">Malformed rows</caption>
        <thead>
          <tr>
            <th scope="col">Row</th>
            <th scope="col">Problem</th>
            <th scope="col">What to do</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((i, k) => (
            <tr key={`${i.name}-${i.field}-${k}`} data-testid="data-issue" data-row={i.name}>
              <th scope="row">{i.name}</th>
              <td>
                {i.field ? <code>{i.field}</code> : 'The row'} {ended(i.reason)}
              </td>
              <td className="muted">{i.hint ? asSentence(i.hint) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {issues.length > FIRST && (
        <button type="button" onClick={() => setAll(!all)}>
          {all ? `Show the first ${FIRST} only` : `Show all ${plural(issues.length, 'problem')}`}
        </button>
      )}
    </section>
  );
}
