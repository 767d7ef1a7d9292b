// Data slice actions, at module level like the other slices: the bridge (src/ui/engine/dataset.ts)
// calls them as the engine worker reads, validates and tokenises the selected file and when the
// settings change; they change state and say what happened through the announce slice. Work is the
// worker's (previewData).

import { fmtBytes } from '../../../shared/format.ts';
import { useStudioStore } from '../../index.ts';
import { announceActions } from '../announce/actions.ts';
import type { DataProblem, DataProgress, DataSettings, DataSource, DataState, FormatView, HistogramView, PairPreviewView, RowIssueView, TruncationView } from './initialState.ts';

type Data = DataState['data'];

function patch(p: Partial<Data>): void {
  useStudioStore.setState((s) => ({ data: { ...s.data, ...p } }));
}

const data = (): Data => useStudioStore.getState().data;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Results of the previous file, cleared when another is read. */
const CLEARED: Partial<Data> = { progress: null, rows: 0, format: null, issues: [], pairs: 0, histogram: null, truncation: null, preview: [], problem: null };

export const dataActions = {
  /** A file (or the demo's set) was chosen; reading it starts. */
  sourceChosen(source: DataSource): void {
    patch({ ...CLEARED, source, status: 'reading' });
  },

  /** The same file is read again (another tokenizer or sequence style). */
  rereading(): void {
    patch({ ...CLEARED, status: 'reading' });
  },

  /** Whose tokenizer the pairs are tokenised with (null: the demo model's files). */
  tokenizerChosen(modelId: string | null, name: string): void {
    patch({ tokenizerModelId: modelId, tokenizerName: name });
  },

  /** The rows were read and validated; `total` well-formed rows are to be tokenised. */
  validated(rows: number, format: FormatView, issues: RowIssueView[], total: number): void {
    patch({ rows, format, issues, status: 'tokenizing', progress: { done: 0, total, percent: 0, pairsPerSec: 0 } });
  },

  /** Pairs tokenised so far, with the percent and the rate. */
  progressed(progress: DataProgress): void {
    if (data().status === 'tokenizing') patch({ progress });
  },

  /** Every well-formed row is tokenised: `issues` now also holds rows the tokenizer refused. */
  tokenized(pairs: number, issues: RowIssueView[], histogram: HistogramView | null): void {
    const d = data();
    patch({ status: 'ready', progress: null, pairs, issues, histogram });
    const name = d.source?.name ?? 'the file';
    const bad = new Set(issues.map((i) => i.name)).size;
    announceActions.say(`Read ${name}: ${plural(pairs, 'pair')} ready${bad > 0 ? `, ${plural(bad, 'malformed row')} listed` : ''}.`);
  },

  /** The settings changed (the bridge recomputes what they do). */
  settingsChanged(settings: DataSettings): void {
    patch({ settings });
  },

  /** What the settings do: the counts and the preview, or why the settings cannot be used. */
  truncationComputed(truncation: TruncationView | null, preview: PairPreviewView[], settingsProblem: string | null): void {
    patch({ truncation, preview, settingsProblem });
  },

  /** The file or the tokenizer could not be read at all. */
  failed(problem: DataProblem): void {
    const d = data();
    patch({ status: 'failed', progress: null, problem });
    announceActions.say(`${d.source?.name ?? 'The file'} could not be read${d.source ? ` (${fmtBytes(d.source.bytes.length)})` : ''}: see the message on the Data screen.`);
  },

  dismissProblem(): void {
    patch({ problem: null });
  },
};
