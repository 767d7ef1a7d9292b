// Lengths and truncation: the sequence settings by their TRL names (sequence_style, max_length,
// max_prompt_length; each with a one-line help, defaults as the trainer has them), how many pairs
// they truncate or drop, and the token-length histogram with max_length marked. Limits apply at
// once (the bridge re-runs the truncation over the tokenised pairs); another style tokenises again.

import { useEffect, useId, useState } from 'react';
import { dataCommands, SEQUENCE_STYLE_CHOICES } from '../../engine/dataset.ts';
import { useStudioStore } from '../../store/index.ts';
import type { SequenceStyleName } from '../../store/slices/data/initialState.ts';
import { dataSelectors } from '../../store/slices/data/selectors.ts';
import { LengthHistogram } from './LengthHistogram.tsx';
import { plural } from './words.ts';

/** Dropped rows listed by name before the count of the rest. */
const DROPPED_LISTED = 10;

export function LengthsPanel() {
  const settings = useStudioStore(dataSelectors.settings);
  const problem = useStudioStore(dataSelectors.settingsProblem);
  const histogram = useStudioStore(dataSelectors.histogram);
  const style = SEQUENCE_STYLE_CHOICES.find((c) => c.name === settings.sequence_style)!;
  const noPromptLimit = settings.sequence_style === 'trl-1.x';

  return (
    <section className="card data-lengths" aria-labelledby="data-lengths-heading" data-testid="data-lengths">
      <h3 id="data-lengths-heading">Lengths and truncation</h3>
      <div className="data-settings">
        <div className="data-field">
          <label htmlFor="data-style"><code>sequence_style</code></label>
          <select
            id="data-style"
            data-testid="data-style"
            value={settings.sequence_style}
            aria-describedby="data-style-help"
            onChange={(e) => void dataCommands.changeSettings({ sequence_style: e.currentTarget.value as SequenceStyleName })}
          >
            {SEQUENCE_STYLE_CHOICES.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}: {c.trl.split(' (')[0]}
              </option>
            ))}
          </select>
          <span id="data-style-help" className="muted small">Which TRL version's rules add &lt;bos&gt; / &lt;eos&gt; and cut a long pair: {style.trl}.</span>
        </div>
        <LimitInput
          name="max_length"
          value={settings.max_length}
          help="Longest prompt + answer the trainer reads, in tokens. Empty: no limit."
          onCommit={(v) => void dataCommands.changeSettings({ max_length: v })}
        />
        <LimitInput
          name="max_prompt_length"
          value={settings.max_prompt_length}
          disabled={noPromptLimit}
          help={noPromptLimit ? 'TRL 0.29 and later have no max_prompt_length: only max_length cuts.' : 'Longest prompt kept when a pair is cut, in tokens.'}
          onCommit={(v) => void dataCommands.changeSettings({ max_prompt_length: v })}
        />
      </div>
      <details className="data-style-rules">
        <summary>How {style.name} cuts a long pair</summary>
        <p className="small">{style.description}</p>
      </details>
      {problem && (
        <p className="problem" role="alert" data-testid="data-settings-problem">
          These settings cannot be used: {problem}
        </p>
      )}
      <TruncationSummary />
      {histogram && <LengthHistogram h={histogram} maxLength={problem ? null : settings.max_length} />}
    </section>
  );
}

/** A sequence limit: a whole number of tokens, or empty for none. Applied as it is typed, when valid. */
function LimitInput({ name, value, help, disabled = false, onCommit }: { name: string; value: number | null; help: string; disabled?: boolean; onCommit: (v: number | null) => void }) {
  const id = useId();
  const [text, setText] = useState(value === null ? '' : String(value));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    setText(value === null ? '' : String(value));
    setBad(false);
  }, [value]);
  return (
    <div className="data-field">
      <label htmlFor={id}><code>{name}</code></label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={1}
        step={1}
        placeholder="no limit"
        value={text}
        disabled={disabled}
        aria-invalid={bad}
        aria-describedby={`${id}-help`}
        data-testid={`data-${name.replace(/_/g, '-')}`}
        onChange={(e) => {
          const t = e.currentTarget.value;
          setText(t);
          const v = t.trim() === '' ? null : Number(t);
          const ok = v === null || (Number.isInteger(v) && v >= 1);
          setBad(!ok);
          if (ok) onCommit(v);
        }}
      />
      <span id={`${id}-help`} className="muted small">
        {bad ? <span className="data-bad" role="alert">{name} must be a whole number of tokens, at least 1 (or empty for no limit).</span> : help}
      </span>
    </div>
  );
}

/** How many pairs the settings truncate and drop, and which are dropped. */
function TruncationSummary() {
  const t = useStudioStore(dataSelectors.truncation);
  const s = useStudioStore(dataSelectors.settings);
  const status = useStudioStore(dataSelectors.status);
  if (!t || status !== 'ready') return null;

  const limits = [
    s.max_length === null ? 'no max_length' : `max_length ${s.max_length}`,
    s.sequence_style === 'trl-1.x' ? '' : s.max_prompt_length === null ? 'no max_prompt_length' : `max_prompt_length ${s.max_prompt_length}`,
  ].filter(Boolean).join(' and ');
  const dropped = t.dropped.length;
  const cut = [t.promptCut > 0 ? `the prompt cut in ${t.promptCut}` : '', t.completionCut > 0 ? `an answer cut in ${t.completionCut}` : ''].filter(Boolean).join(', ');
  return (
    <div className="data-truncation" data-testid="data-truncation" data-truncated={t.truncated} data-dropped={dropped} data-pairs={t.pairs}>
      <p>
        With {limits}:{' '}
        {t.truncated === 0 && dropped === 0 ? (
          <strong>no pair is truncated or dropped</strong>
        ) : (
          <>
            <strong data-testid="data-truncated-count">{t.truncated} of {plural(t.pairs, 'pair')}</strong> {t.truncated === 1 ? 'is' : 'are'} truncated{cut ? ` (${cut})` : ''}
            {' and '}
            <strong data-testid="data-dropped-count">{dropped}</strong> dropped
          </>
        )}
        .
      </p>
      {dropped > 0 && (
        <>
          <p className="small muted">A dropped pair's prompt leaves no room for an answer; the trainer leaves it out.</p>
          <ul className="data-dropped small">
            {t.dropped.slice(0, DROPPED_LISTED).map((d) => (
              <li key={d.name}>
                <strong>{d.name}</strong>: {d.reason}
              </li>
            ))}
            {dropped > DROPPED_LISTED && <li className="muted">and {plural(dropped - DROPPED_LISTED, 'more pair')}</li>}
          </ul>
        </>
      )}
    </div>
  );
}
