// The first pairs as the model reads them: prompt, chosen and rejected decoded from the trainer's
// token ids — after the chat template, <bos> / <eos> and truncation at the current settings — with
// their token counts. Everything is rendered as text (React text nodes), never as HTML; special
// tokens are set apart visually, still as text.

import type { ReactNode } from 'react';
import { useStudioStore } from '../../store/index.ts';
import type { PairPreviewView } from '../../store/slices/data/initialState.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { plural } from './words.ts';

/** Gemma's special tokens as they appear in decoded text. */
const SPECIAL = /(<(?:bos|eos|pad|unk|mask|start_of_turn|end_of_turn)>)/;

/** Text with special tokens wrapped in spans (split into text nodes: nothing is parsed as HTML). */
function withSpecials(text: string): ReactNode[] {
  return text.split(SPECIAL).map((part, i) => (i % 2 === 1 ? <span key={i} className="special">{part}</span> : part));
}

export function PairPreview() {
  const preview = useStudioStore(dataSelectors.preview);
  const pairs = useStudioStore(dataSelectors.pairs);
  const status = useStudioStore(dataSelectors.status);
  if (status !== 'ready' || preview.length === 0) return null;
  return (
    <section className="card data-preview" aria-labelledby="data-preview-heading" data-testid="data-preview">
      <h3 id="data-preview-heading">Pairs as the model reads them</h3>
      <p className="muted small">
        The first {preview.length} of {plural(pairs, 'pair')}, decoded from the token ids the trainer scores: the chat template, &lt;bos&gt; and &lt;eos&gt; applied and long pairs cut at the settings above.
      </p>
      <ol className="pair-list">
        {preview.map((p) => (
          <Pair key={p.row} p={p} />
        ))}
      </ol>
    </section>
  );
}

function Pair({ p }: { p: PairPreviewView }) {
  const count = (part: keyof PairPreviewView['tokens']): string =>
    p.tokens[part] === p.tokensBefore[part] ? plural(p.tokens[part], 'token') : `${p.tokens[part]} of ${plural(p.tokensBefore[part], 'token')}`;
  return (
    <li className="pair" data-testid="data-pair" data-row={p.name}>
      <div className="pair-head">
        <strong>{p.name}</strong>
        {p.truncated && <span className="badge warn">truncated</span>}
        {p.dropReason && <span className="badge warn">dropped</span>}
      </div>
      {p.dropReason && <p className="small muted">Dropped by the trainer: {p.dropReason}.</p>}
      <div className="pair-part">
        <h4>Prompt <span className="muted small">{count('prompt')}</span></h4>
        <pre data-testid="data-pair-prompt">{withSpecials(p.prompt)}</pre>
      </div>
      <div className="pair-answers">
        <div className="pair-part chosen">
          <h4>Chosen <span className="muted small">{count('chosen')}</span></h4>
          <pre data-testid="data-pair-chosen">{withSpecials(p.chosen)}</pre>
        </div>
        <div className="pair-part rejected">
          <h4>Rejected <span className="muted small">{count('rejected')}</span></h4>
          <pre data-testid="data-pair-rejected">{withSpecials(p.rejected)}</pre>
        </div>
      </div>
    </li>
  );
}
