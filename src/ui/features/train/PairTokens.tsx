// An opened pair's answers token by token (the worker's pairTokens, src/ui/engine/pairTokens.ts):
// every completion token of the chosen and the rejected answer as a span coloured by one of
//   log-prob            log π(y_t) under the run's weights, on fixed probability bands (sequential)
//   WPO term            log π(y_t) − log Σ_v π(v)²; an answer's mean is log w, its WPO weight (diverging)
//   policy − reference  log π − log π_ref (LoRA runs only: full fine-tuning keeps the reference's
//                       sums, not its per-token values) (diverging)
// with a legend. Colours are classes (CSS bands, readable in light and dark; no inline styles under
// the page's CSP). Token text is React text, never HTML. Each span names its token and values in
// its title and accessible name, and carries them as data attributes (data-logp, data-ref,
// data-wpo) for tests; each answer is one tab stop whose arrow keys read its tokens aloud in a
// readout line (keyboard users cannot hover a title). PairNowRow adds the same forward's pair values to the per-step table.

import { useEffect, useState, type KeyboardEvent } from 'react';
import { pairTokensCommands } from '../../engine/pairTokens.ts';
import { fmtValue } from '../../shared/MetricChart.tsx';
import { asSentence } from '../../shared/sentence.ts';
import { useStudioStore } from '../../store/index.ts';
import type { PairTokenView, PairTokensView } from '../../store/slices/train/initialState.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';
import './pair_tokens.css';

type Mode = 'logp' | 'wpo' | 'diff';
type Data = NonNullable<PairTokensView['data']>;

const MODES: { mode: Mode; label: string }[] = [
  { mode: 'logp', label: 'log-prob' },
  { mode: 'wpo', label: 'WPO term' },
  { mode: 'diff', label: 'policy − reference' },
];

/** Log-prob bands (upper bounds, nats) of the sequential scale: p > 0.9, 0.6, 0.37, 0.14, 0.02, less. */
const LOGP_BANDS = [Math.log(0.9), Math.log(0.6), -1, -2, -4];
const DIVERGING_LEVELS = 4;

/** The pair's tokens for the run's current step: asked for when it opens and when the step moves. */
function usePairTokens(runId: string, row: number, step: number): PairTokensView | null {
  const view = useStudioStore(trainSelectors.pairTokens);
  useEffect(() => pairTokensCommands.request(runId, row, step), [runId, row, step]);
  useEffect(() => () => pairTokensCommands.close(), []);
  return view && view.runId === runId && view.row === row ? view : null;
}

export function PairTokens({ runId, row, step }: { runId: string; row: number; step: number }) {
  const view = usePairTokens(runId, row, step);
  const [mode, setMode] = useState<Mode>('logp');
  const data = view?.data ?? null;
  const hasRef = data?.reference === 'adapter-off';
  const shown: Mode = mode === 'diff' && !hasRef ? 'logp' : mode;
  const all = data ? [...data.chosen, ...data.rejected] : [];
  const span = shown === 'logp' ? 0 : Math.max(1e-9, ...all.map((t) => Math.abs(valueOf(t, shown))));
  return (
    <section className="pair-tokens" aria-labelledby="pair-tokens-heading" data-testid="pair-tokens" data-step={data?.step ?? ''}>
      <h5 id="pair-tokens-heading">Tokens</h5>
      {!view?.problem && (
        <p className="muted small">
          {!data ? 'Reading the pair’s tokens from the run’s weights…' : `Under the weights after step ${data.step} (those step ${data.step + 1} trains with). ${referenceNote(data)}`}
        </p>
      )}
      {view?.problem && (
        <p className="note" data-testid="pair-tokens-problem">
          The tokens could not be read: {ended(view.problem.message)}{view.problem.hint ? ` ${asSentence(view.problem.hint)}` : ''}
        </p>
      )}
      {data && (
        <>
          <fieldset className="plain token-mode">
            <legend>Token colour</legend>
            {MODES.map((m) => (
              <label key={m.mode}>
                <input type="radio" name="token-colour" value={m.mode} checked={shown === m.mode} disabled={m.mode === 'diff' && !hasRef} onChange={() => setMode(m.mode)} /> {m.label}
              </label>
            ))}
          </fieldset>
          <Legend mode={shown} span={span} />
          <Answer which="chosen" rows={data.chosen} mode={shown} span={span} />
          <Answer which="rejected" rows={data.rejected} mode={shown} span={span} />
        </>
      )}
    </section>
  );
}

function referenceNote(d: Data): string {
  if (d.reference === 'adapter-off') return 'Reference: the base model with the LoRA adapter off.';
  if (d.reference === 'none') return 'This loss has no reference model.';
  return 'Full fine-tuning keeps only the reference’s summed log-prob of each answer, not its per-token values.';
}

/** A message that follows a colon: as the engine wrote it, ended with a full stop. */
const ended = (text: string): string => (/[.!?…]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`);

function valueOf(t: PairTokenView, mode: Mode): number {
  if (mode === 'logp') return t.logp;
  if (mode === 'wpo') return t.wpo;
  return t.refLogp === null ? NaN : t.logp - t.refLogp;
}

/** The colour class of a value: sequential bands s0–s5 (log-prob), or diverging n4–n1, z, p1–p4 of ±span. */
function band(v: number, mode: Mode, span: number): string {
  if (!Number.isFinite(v)) return 'none';
  if (mode === 'logp') {
    const i = LOGP_BANDS.findIndex((hi) => v > hi);
    return `s${i < 0 ? LOGP_BANDS.length : i}`;
  }
  const level = Math.min(DIVERGING_LEVELS, Math.ceil((Math.abs(v) / span) * DIVERGING_LEVELS - 0.2));
  return level <= 0 ? 'z' : `${v > 0 ? 'p' : 'n'}${level}`;
}

const SPECIAL = /^<[^<>\s]+>$/;

/** What a token's text looks like on screen (an empty piece: an unfinished multi-byte character). */
function describeText(text: string): string {
  if (text === '') return 'part of a character';
  return JSON.stringify(text);
}

function Answer({ which, rows, mode, span }: { which: 'chosen' | 'rejected'; rows: PairTokenView[]; mode: Mode; span: number }) {
  // One tab stop per answer: arrow keys (Home/End) move through its tokens and the readout under it
  // says the current token's values, for keyboard users who cannot hover a title.
  const [current, setCurrent] = useState<number | null>(null);
  const sum = rows.reduce((s, t) => s + t.weight * t.logp, 0);
  const logW = rows.length === 0 ? 0 : rows.reduce((s, t) => s + t.wpo, 0) / rows.length;
  const name = which === 'chosen' ? 'Chosen' : 'Rejected';
  const at = current !== null && current < rows.length ? current : null;
  const onKey = (ev: KeyboardEvent): void => {
    const last = rows.length - 1;
    const next = ev.key === 'ArrowRight' || ev.key === 'ArrowDown' ? Math.min(last, (at ?? -1) + 1) : ev.key === 'ArrowLeft' || ev.key === 'ArrowUp' ? Math.max(0, (at ?? 1) - 1) : ev.key === 'Home' ? 0 : ev.key === 'End' ? last : null;
    if (next === null || last < 0) return;
    ev.preventDefault();
    setCurrent(next);
  };
  return (
    <div className="token-answer">
      <h6>
        {name} · {rows.length} tokens · Σ log π {fmtValue(sum)} · mean WPO term {fmtValue(logW)} (w {fmtValue(Math.exp(logW))})
      </h6>
      <p
        className="tokens"
        role="list"
        tabIndex={0}
        aria-label={`${name} answer: ${rows.length} tokens; arrow keys read them one by one`}
        data-testid={`pair-tokens-${which}`}
        data-count={rows.length}
        onKeyDown={onKey}
        onBlur={() => setCurrent(null)}
      >
        {rows.map((t, i) => {
          const cls = ['tok', band(valueOf(t, mode), mode, span), SPECIAL.test(t.text) ? 'special' : '', t.text.trim() === '' ? 'blank' : '', t.text.includes('\n') ? 'nl' : '', i === at ? 'current' : ''].filter(Boolean).join(' ');
          const label = tokenLabel(t);
          return (
            <span key={i} role="listitem" className={cls} title={label} aria-label={label} data-logp={t.logp} data-ref={t.refLogp ?? ''} data-wpo={t.wpo} data-id={t.id} onClick={() => setCurrent(i)}>
              {t.text}
            </span>
          );
        })}
      </p>
      <p className="muted small token-readout" aria-live="polite" data-testid={`pair-token-readout-${which}`}>
        {at !== null ? `Token ${at + 1} of ${rows.length}: ${tokenLabel(rows[at])}` : '\u00a0'}
      </p>
    </div>
  );
}

/** A token's text and values in words (its title, accessible name and the keyboard readout). */
function tokenLabel(t: PairTokenView): string {
  return `${describeText(t.text)}: log-prob ${fmtValue(t.logp)}, reference ${t.refLogp === null ? 'not kept' : fmtValue(t.refLogp)}, WPO term ${fmtValue(t.wpo)}${t.weight !== 1 ? `, weight ${fmtValue(t.weight)}` : ''}`;
}

function Legend({ mode, span }: { mode: Mode; span: number }) {
  if (mode === 'logp') {
    const probs = ['> 0.9', '> 0.6', '> 0.37', '> 0.14', '> 0.02', '≤ 0.02'];
    return (
      <div className="token-legend" role="group" aria-label="Legend: token probability under the policy">
        <span className="muted small">probability</span>
        {probs.map((p, i) => (
          <span key={p} className={`tok s${i}`}>
            {p}
          </span>
        ))}
        <span className="muted small">darker: less likely</span>
      </div>
    );
  }
  const steps = [-4, -3, -2, -1, 0, 1, 2, 3, 4];
  const what = mode === 'wpo' ? 'WPO term (log π − log Σπ²); an answer’s mean is its log weight' : 'log π − log π_ref: above 0, the policy likes the token more than the reference';
  return (
    <div className="token-legend" role="group" aria-label={`Legend: ${what}, from ${fmtValue(-span)} to ${fmtValue(span)}`}>
      <span className="muted small">{fmtValue(-span)}</span>
      {steps.map((s) => (
        <span key={s} className={`tok swatch-cell ${s === 0 ? 'z' : `${s > 0 ? 'p' : 'n'}${Math.abs(s)}`}`} aria-hidden="true" />
      ))}
      <span className="muted small">{fmtValue(span)}</span>
      <span className="muted small">{what}</span>
    </div>
  );
}

/**
 * A row for the pair's per-step table: the pair's values from the tokens' own forward (the loss
 * kernel's record under the weights after step N) — the sums the tokens add up to.
 */
export function PairNowRow({ runId, row, keys }: { runId: string; row: number; keys: readonly string[] }) {
  const view = useStudioStore(trainSelectors.pairTokens);
  const data = view && view.runId === runId && view.row === row ? view.data : null;
  if (!data) return null;
  return (
    <tfoot>
      <tr className="now" data-testid="pair-now">
        <td title={`The tokens' own forward, under the weights after step ${data.step}`}>now, after {data.step}</td>
        {keys.map((k) => {
          const v = data.record[k];
          return (
            <td key={k} className="num" data-value={typeof v === 'number' ? v : ''}>
              {typeof v === 'number' ? fmtValue(v) : '—'}
            </td>
          );
        })}
      </tr>
    </tfoot>
  );
}
