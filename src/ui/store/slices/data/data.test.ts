// The data slice on its own (no engine, no React): the actions as the bridge calls them while it
// reads, validates and tokenises a file, the selectors the Data and Train screens read, and the
// defaults, which must be the trainer's (pairs.ts SEQUENCE_STYLES). The store is reset after each case.

import { afterEach, describe, expect, it } from 'vitest';
import { resolveSequenceOptions, SEQUENCE_STYLES } from '../../../../engine/data/pairs.ts';
import { getStudioState, initialStudioState, resetStudioStore } from '../../index.ts';
import { announceSelectors } from '../announce/selectors.ts';
import { dataActions } from './actions.ts';
import { DEFAULT_DATA_SETTINGS, type FormatView, type RowIssueView } from './initialState.ts';
import { dataSelectors } from './selectors.ts';

afterEach(resetStudioStore);

const sel = <T,>(f: (s: ReturnType<typeof getStudioState>) => T): T => f(getStudioState());
const FORMAT: FormatView = { reader: 'jsonl', shapes: [{ shape: 'conversational', title: 'TRL conversational', description: '…', rows: 3 }], targetColumns: [], otherColumns: [], numbering: 'rows are named by their line in the file, counting from 1' };
const ISSUE = (name: string, field: string): RowIssueView => ({ row: 0, name, field, reason: 'is missing' });
const bytes = new TextEncoder().encode('{}\n');

describe('data slice', () => {
  it('defaults are the trainer\'s: style trl-0.9 with TRL 0.9.6\'s max_length and max_prompt_length', () => {
    const r = resolveSequenceOptions({});
    expect(DEFAULT_DATA_SETTINGS).toEqual({ sequence_style: r.style, max_length: r.maxLength, max_prompt_length: r.maxPromptLength });
    expect(SEQUENCE_STYLES[0].name).toBe(DEFAULT_DATA_SETTINGS.sequence_style);
    expect(getStudioState().data).toEqual(initialStudioState.data);
    expect(sel(dataSelectors.status)).toBe('idle');
    expect(sel(dataSelectors.source)).toBeNull();
    expect(sel(dataSelectors.trainable)).toBe(false);
  });

  it('a file goes reading → tokenizing → ready; malformed rows are counted by row; the outcome is announced', () => {
    dataActions.sourceChosen({ kind: 'file', name: 'p.jsonl', bytes });
    expect([sel(dataSelectors.status), sel(dataSelectors.sourceName), sel(dataSelectors.sourceBytes), sel(dataSelectors.isBusy)]).toEqual(['reading', 'p.jsonl', 3, true]);
    dataActions.validated(5, FORMAT, [ISSUE('line 2', 'chosen'), ISSUE('line 2', 'rejected')], 4);
    expect(sel(dataSelectors.status)).toBe('tokenizing');
    expect(sel(dataSelectors.progress)).toEqual({ done: 0, total: 4, percent: 0, pairsPerSec: 0 });
    dataActions.progressed({ done: 2, total: 4, percent: 50, pairsPerSec: 120 });
    expect(sel(dataSelectors.progress)).toEqual({ done: 2, total: 4, percent: 50, pairsPerSec: 120 });
    dataActions.tokenized(3, [ISSUE('line 2', 'chosen'), ISSUE('line 2', 'rejected'), ISSUE('line 4', 'prompt')], null);
    expect([sel(dataSelectors.status), sel(dataSelectors.pairs), sel(dataSelectors.malformedRows), sel(dataSelectors.isBusy), sel(dataSelectors.progress)]).toEqual(['ready', 3, 2, false, null]);
    expect(sel(announceSelectors.message)).toBe('Read p.jsonl: 3 pairs ready, 2 malformed rows listed.');
    dataActions.progressed({ done: 4, total: 4, percent: 100, pairsPerSec: 130 }); // a late progress event changes nothing once ready
    expect(sel(dataSelectors.progress)).toBeNull();
    expect(sel(dataSelectors.trainable)).toBe(false); // malformed rows: training would refuse the file
  });

  it('trainable: read, no malformed row, usable settings, a pair left after drops', () => {
    dataActions.sourceChosen({ kind: 'demo', name: 'train.jsonl', bytes });
    dataActions.validated(2, FORMAT, [], 2);
    dataActions.tokenized(2, [], null);
    expect(sel(announceSelectors.message)).toBe('Read train.jsonl: 2 pairs ready.');
    dataActions.truncationComputed({ pairs: 2, truncated: 1, promptCut: 1, completionCut: 0, dropped: [] }, [], null);
    expect(sel(dataSelectors.trainable)).toBe(true);
    dataActions.truncationComputed(null, [], 'style "trl-0.9" needs max_prompt_length < max_length');
    expect(sel(dataSelectors.trainable)).toBe(false);
    dataActions.truncationComputed({ pairs: 2, truncated: 0, promptCut: 0, completionCut: 0, dropped: [{ row: 0, name: 'line 1', reason: 'x' }, { row: 1, name: 'line 2', reason: 'y' }] }, [], null);
    expect(sel(dataSelectors.trainable)).toBe(false); // every pair dropped
  });

  it('another file clears the last one\'s results; a failure keeps the source and says so', () => {
    dataActions.sourceChosen({ kind: 'demo', name: 'train.jsonl', bytes });
    dataActions.validated(2, FORMAT, [ISSUE('line 1', 'chosen')], 1);
    dataActions.tokenized(1, [ISSUE('line 1', 'chosen')], { edges: [0, 1], chosen: [1], rejected: [1], longest: { tokens: 0, name: 'line 2' }, median: 0 });
    dataActions.settingsChanged({ ...DEFAULT_DATA_SETTINGS, max_length: 40 });
    dataActions.sourceChosen({ kind: 'file', name: 'notes.txt', bytes });
    expect([sel(dataSelectors.issues), sel(dataSelectors.histogram), sel(dataSelectors.format), sel(dataSelectors.pairs)]).toEqual([[], null, null, 0]);
    expect(sel(dataSelectors.settings).max_length).toBe(40); // settings outlive the file
    dataActions.failed({ name: 'LoadError', message: 'is not a dataset file', where: 'notes.txt' });
    expect([sel(dataSelectors.status), sel(dataSelectors.sourceName), sel(dataSelectors.problem)?.where]).toEqual(['failed', 'notes.txt', 'notes.txt']);
    expect(sel(announceSelectors.message)).toBe('notes.txt could not be read (3 B): see the message on the Data screen.');
    dataActions.dismissProblem();
    expect(sel(dataSelectors.problem)).toBeNull();
  });
});
