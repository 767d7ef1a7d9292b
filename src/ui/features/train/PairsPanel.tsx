// The per-pair view: every pair of the dataset with its latest WPO weight, margin, rewards and
// loss (the table named "Pairs", sortable by each, a page at a time), the WPO weights of the current
// step as a histogram, a pairs × steps heatmap of weight or margin, and — for a clicked pair — its
// prompt, chosen and rejected text (as text) with its values at each step it was trained on, and
// its answers token by token, coloured by log-prob, WPO term or policy − reference (PairTokens.tsx).

import { useEffect, useMemo, useRef, useState } from 'react';
import { runPairs, type PairText, type RunPairs } from '../../engine/pairText.ts';
import { PAIR_KEYS, type PairKey, type RunSeries } from '../../engine/series.ts';
import { fmtValue } from '../../shared/MetricChart.tsx';
import { useColorScheme, useWidth } from '../../shared/hooks.ts';
import { PairNowRow, PairTokens } from './PairTokens.tsx';

/** Sortable columns: the header's words and the field. */
const COLUMNS: { key: PairKey; label: string }[] = [
  { key: 'weight', label: 'WPO weight' },
  { key: 'margin', label: 'Margin' },
  { key: 'reward_chosen', label: 'Reward chosen' },
  { key: 'reward_rejected', label: 'Reward rejected' },
  { key: 'loss', label: 'Loss' },
];
const PAGE = 20;

export function PairsPanel({ runId, series, tick, useWeighting }: { runId: string; series: RunSeries; tick: number; useWeighting: boolean }) {
  const [pairs, setPairs] = useState<RunPairs | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  useEffect(() => {
    let on = true;
    setPairs(null);
    setSelected(null);
    void runPairs(runId).then((p) => on && setPairs(p));
    return () => {
      on = false;
    };
  }, [runId]);
  return (
    <section className="pairs-view" aria-labelledby="pairs-heading">
      <h3 id="pairs-heading">Every pair</h3>
      <div className="pairs-columns">
        <PairsTable series={series} tick={tick} pairs={pairs} selected={selected} onSelect={setSelected} />
        <div className="pairs-side">
          {selected !== null ? (
            <PairDetail runId={runId} row={selected} text={pairs?.text(selected) ?? null} series={series} tick={tick} onClose={() => setSelected(null)} />
          ) : (
            <p className="muted small pair-hint">Choose a pair in the table to read its prompt and both answers and see its values at every step it was trained on.</p>
          )}
          <WeightHistogram series={series} tick={tick} useWeighting={useWeighting} />
        </div>
      </div>
      <PairHeatmap series={series} tick={tick} />
    </section>
  );
}

function PairsTable({ series, tick, pairs, selected, onSelect }: { series: RunSeries; tick: number; pairs: RunPairs | null; selected: number | null; onSelect: (row: number) => void }) {
  const [sort, setSort] = useState<{ key: PairKey; dir: 1 | -1 }>({ key: 'margin', dir: 1 });
  const [page, setPage] = useState(0);
  const rows = Math.max(series.rowCount, pairs?.count ?? 0);
  // rows by the sort: pairs never trained on last, in dataset order
  const order = useMemo(() => {
    const idx = Array.from({ length: rows }, (_, r) => r);
    const v = (r: number): number => series.latest(r, sort.key);
    return idx.sort((a, b) => {
      const x = v(a);
      const y = v(b);
      if (Number.isNaN(x) || Number.isNaN(y)) return Number(Number.isNaN(x)) - Number(Number.isNaN(y)) || a - b;
      return (x - y) * sort.dir || a - b;
    });
    // eslint-style note: tick re-sorts as values change
  }, [rows, series, sort, tick]);
  const pages = Math.max(1, Math.ceil(rows / PAGE));
  const p = Math.min(page, pages - 1);
  const shown = order.slice(p * PAGE, p * PAGE + PAGE);
  const seen = series.seenRows();
  return (
    <div className="pairs-table-wrap">
      <table className="pairs-table" data-testid="pairs-table" data-seen={seen}>
        <caption>Pairs</caption>
        <thead>
          <tr>
            <th scope="col">Pair</th>
            <th scope="col">Prompt</th>
            {COLUMNS.map((c) => (
              <th key={c.key} scope="col" className="num" aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}>
                <button type="button" className="sort" onClick={() => setSort((s) => ({ key: c.key, dir: s.key === c.key ? (-s.dir as 1 | -1) : c.key === 'weight' ? -1 : 1 }))}>
                  {c.label}
                  <span aria-hidden="true">{sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}</span>
                </button>
              </th>
            ))}
            <th scope="col" className="num">Step</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => {
            const text = pairs && r < pairs.count ? pairs.text(r) : null;
            const last = series.latestStepOf(r);
            return (
              <tr key={r} className={r === selected ? 'selected' : undefined} data-row={r}>
                <th scope="row">
                  <button type="button" className="link" aria-pressed={r === selected} onClick={() => onSelect(r)}>
                    {text?.name ?? `row ${r}`}
                  </button>
                </th>
                <td className="prompt">{text ? clip(text.prompt, 48) : ''}</td>
                {COLUMNS.map((c) => (
                  <td key={c.key} className={`num${c.key === 'margin' ? (series.latest(r, 'margin') > 0 ? ' pos' : series.latest(r, 'margin') < 0 ? ' neg' : '') : ''}`}>
                    {last < 0 ? '—' : fmtValue(series.latest(r, c.key))}
                  </td>
                ))}
                <td className="num">{last < 0 ? '—' : last}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div className="pager">
        <span className="muted small">
          {rows === 0 ? 'No pairs' : `${p * PAGE + 1}–${Math.min(rows, p * PAGE + PAGE)} of ${rows} pairs`} · {seen} trained on so far
        </span>
        <button type="button" disabled={p === 0} onClick={() => setPage(p - 1)}>
          Previous pairs
        </button>
        <button type="button" disabled={p >= pages - 1} onClick={() => setPage(p + 1)}>
          Next pairs
        </button>
      </div>
    </div>
  );
}

const clip = (s: string, n: number): string => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

function PairDetail({ runId, row, text, series, tick, onClose }: { runId: string; row: number; text: PairText | null; series: RunSeries; tick: number; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [row]);
  const hist = useMemo(() => {
    const keys: PairKey[] = ['weight', 'margin', 'loss', 'chosen_logp', 'rejected_logp'];
    const cols = keys.map((k) => series.history(row, k));
    return { keys, steps: cols[0].steps, cols: cols.map((c) => c.values) };
    // tick: new steps may hold this pair
  }, [row, series, tick]);
  const name = text?.name ?? `row ${row}`;
  return (
    <section className="pair-detail" aria-labelledby="pair-detail-heading">
      <div className="problem-head">
        <h4 id="pair-detail-heading" tabIndex={-1} ref={heading}>
          Pair {name}
        </h4>
        <button type="button" className="link" onClick={onClose}>
          Close
        </button>
      </div>
      {text ? (
        <>
          <h5>Prompt</h5>
          <pre data-testid="pair-prompt">{text.prompt}</pre>
          <h5>Chosen</h5>
          <pre data-testid="pair-chosen">{text.chosen}</pre>
          <h5>Rejected</h5>
          <pre data-testid="pair-rejected">{text.rejected}</pre>
          <PairTokens runId={runId} row={row} step={series.lastStep()} />
        </>
      ) : (
        <p className="muted small">Reading the preference file…</p>
      )}
      {hist.steps.length === 0 ? (
        <p className="muted small">Not trained on yet.</p>
      ) : (
        <div className="scroll-x">
        <table className="pair-history" aria-label={`Pair ${name} by step`}>
          <thead>
            <tr>
              <th scope="col">step</th>
              {hist.keys.map((k) => (
                <th key={k} scope="col" className="num">
                  {k}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {hist.steps.map((s, i) => (
              <tr key={`${s}-${i}`}>
                <td>{s}</td>
                {hist.cols.map((c, j) => (
                  <td key={j} className="num">
                    {fmtValue(c[i])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
          <PairNowRow runId={runId} row={row} keys={hist.keys} />
        </table>
        </div>
      )}
    </section>
  );
}

const cssVar = (el: Element, name: string): string => getComputedStyle(el).getPropertyValue(name).trim() || '#888';

/** Draws on a canvas after layout, at the device's pixel ratio, once per animation frame. */
function useCanvas(draw: (ctx: CanvasRenderingContext2D, w: number, h: number, el: HTMLCanvasElement) => void, deps: unknown[], height: number) {
  const ref = useRef<HTMLCanvasElement>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const width = useWidth(wrap);
  const scheme = useColorScheme();
  useEffect(() => {
    const el = ref.current;
    if (!el || width < 10) return;
    const id = requestAnimationFrame(() => {
      const dpr = window.devicePixelRatio || 1;
      el.width = Math.round(width * dpr);
      el.height = Math.round(height * dpr);
      el.style.width = `${width}px`;
      el.style.height = `${height}px`;
      const ctx = el.getContext('2d');
      if (!ctx) return;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      draw(ctx, width, height, el);
    });
    return () => cancelAnimationFrame(id);
    // eslint-style note: draw closes over deps
  }, [width, height, scheme, ...deps]);
  return { ref, wrap };
}

/** WPO weights: this step's pairs over every trained pair's latest weight, in bins. */
function WeightHistogram({ series, tick, useWeighting }: { series: RunSeries; tick: number; useWeighting: boolean }) {
  const BINS = 20;
  const stats = useMemo(() => {
    const cur = series.length > 0 ? series.stepPairs(series.length - 1) : null;
    const now: number[] = [];
    if (cur) for (let b = 0; b < cur.rows.length; b++) now.push(cur.values[b * PAIR_KEYS.length + PAIR_KEYS.indexOf('weight')]);
    const all: number[] = [];
    for (let r = 0; r < series.rowCount; r++) if (series.latestStepOf(r) >= 0) all.push(series.latest(r, 'weight'));
    const hi = Math.max(1, ...all.filter(Number.isFinite), ...now.filter(Number.isFinite));
    const bin = (xs: number[]): number[] => {
      const h = new Array<number>(BINS).fill(0);
      for (const x of xs) if (Number.isFinite(x)) h[Math.min(BINS - 1, Math.max(0, Math.floor((x / hi) * BINS)))]++;
      return h;
    };
    return { now, all, hi, binsNow: bin(now), binsAll: bin(all), step: series.lastStep() };
  }, [series, tick]);
  const { ref, wrap } = useCanvas(
    (ctx, w, h, el) => {
      const pad = { l: 12, r: 12, b: 18, t: 6 };
      const maxAll = Math.max(1, ...stats.binsAll);
      const maxNow = Math.max(1, ...stats.binsNow);
      const bw = (w - pad.l - pad.r) / BINS;
      const ph = h - pad.b - pad.t;
      ctx.fillStyle = cssVar(el, '--track');
      stats.binsAll.forEach((n, i) => ctx.fillRect(pad.l + i * bw + 1, pad.t + ph - (n / maxAll) * ph, bw - 2, (n / maxAll) * ph));
      ctx.fillStyle = cssVar(el, '--chart-1');
      stats.binsNow.forEach((n, i) => ctx.fillRect(pad.l + i * bw + bw * 0.25, pad.t + ph - (n / maxNow) * ph, bw * 0.5, (n / maxNow) * ph));
      ctx.fillStyle = cssVar(el, '--muted');
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'center';
      for (const f of [0, 0.5, 1]) ctx.fillText(fmtValue(f * stats.hi), pad.l + f * (w - pad.l - pad.r), h - 4);
    },
    [stats],
    110,
  );
  const finite = stats.now.filter(Number.isFinite);
  const label =
    finite.length === 0
      ? 'WPO weights: no step yet'
      : `WPO weights at step ${stats.step}: ${finite.length} pairs from ${fmtValue(Math.min(...finite))} to ${fmtValue(Math.max(...finite))}, mean ${fmtValue(finite.reduce((a, b) => a + b, 0) / finite.length)}; behind them the latest weight of all ${stats.all.length} pairs trained on`;
  return (
    <figure className="weight-hist">
      <figcaption>WPO weights, step {stats.step || '—'}</figcaption>
      <div ref={wrap}>
        <canvas ref={ref} role="img" aria-label={label} />
      </div>
      <p className="muted small">
        {useWeighting ? 'Narrow bars: this step’s pairs; wide grey bars: every trained pair’s latest weight.' : 'This run does not weight pairs (use_weighting is off): every weight is 1.'}
      </p>
    </figure>
  );
}

/** The heatmap's resolution: steps beyond it share a column, pairs beyond it share a (mean) row. */
const MAX_COLUMNS = 400;
const MAX_ROWS = 480;

/** Pairs × steps: each pair's weight or margin after each step (carried from the last step that held it). */
function PairHeatmap({ series, tick }: { series: RunSeries; tick: number }) {
  const [key, setKey] = useState<'margin' | 'weight'>('margin');
  const H = Math.min(360, Math.max(120, Math.min(series.rowCount, MAX_ROWS)));
  const stats = useMemo(() => {
    const cols = Math.max(1, Math.min(series.length, MAX_COLUMNS));
    const full = series.matrix(key, cols);
    // more pairs than pixel rows: each drawn row is the mean of a band of pairs
    const rows = Math.min(series.rowCount, MAX_ROWS);
    const band = series.rowCount / rows;
    const m = rows === series.rowCount ? full : new Float32Array(rows * cols);
    if (m !== full) {
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          let sum = 0;
          let n = 0;
          for (let q = Math.floor(r * band); q < Math.floor((r + 1) * band); q++) {
            const v = full[q * cols + c];
            if (Number.isFinite(v)) (sum += v), n++;
          }
          m[r * cols + c] = n > 0 ? sum / n : NaN;
        }
      }
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of m) {
      if (!Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    return { m, cols, rows, lo, hi };
  }, [series, tick, key]);
  const { ref, wrap } = useCanvas(
    (ctx, w, h, el) => {
      const { m, cols, rows, lo, hi } = stats;
      if (!Number.isFinite(lo)) return;
      const img = new ImageData(cols, rows);
      const neg = rgb(cssVar(el, '--chart-2'));
      const pos = rgb(cssVar(el, '--chart-1'));
      const base = rgb(cssVar(el, '--surface'));
      const empty = rgb(cssVar(el, '--line-soft'));
      const span = key === 'margin' ? Math.max(Math.abs(lo), Math.abs(hi), 1e-9) : Math.max(hi, 1e-9);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const v = m[r * cols + c];
          let px: number[];
          if (!Number.isFinite(v)) px = empty;
          else if (key === 'margin') px = mix(base, v >= 0 ? pos : neg, Math.min(1, Math.abs(v) / span));
          else px = mix(base, pos, Math.min(1, v / span));
          img.data.set([px[0], px[1], px[2], 255], (r * cols + c) * 4);
        }
      }
      const off = document.createElement('canvas');
      off.width = cols;
      off.height = rows;
      off.getContext('2d')!.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(off, 0, 0, w, h);
    },
    [stats],
    H,
  );
  const range = Number.isFinite(stats.lo) ? `from ${fmtValue(stats.lo)} to ${fmtValue(stats.hi)}` : 'no values yet';
  return (
    <figure className="heatmap">
      <figcaption>
        <span>
          Pairs × steps: each row a pair (in file order), each column a step{stats.cols < series.length ? ` (${stats.cols} columns for ${series.length} steps)` : ''}
        </span>
        <label>
          Heatmap value{' '}
          <select value={key} onChange={(e) => setKey(e.currentTarget.value as 'margin' | 'weight')}>
            <option value="margin">margin</option>
            <option value="weight">WPO weight</option>
          </select>
        </label>
      </figcaption>
      <div ref={wrap}>
        <canvas ref={ref} role="img" aria-label={`Heatmap of ${key === 'margin' ? 'margin' : 'WPO weight'} for ${series.rowCount} pairs over ${series.length} steps, ${range}`} />
      </div>
      <p className="muted small">
        {key === 'margin' ? 'Blue: the chosen answer ahead (margin > 0); orange: the rejected one; grey: not trained on yet.' : 'Darker: a larger weight; grey: not trained on yet.'}
      </p>
    </figure>
  );
}

/** "#rrggbb" or "rgb(r, g, b)" → [r, g, b]. */
function rgb(c: string): number[] {
  const hex = /^#([0-9a-f]{6})$/i.exec(c);
  if (hex) return [0, 2, 4].map((i) => parseInt(hex[1].slice(i, i + 2), 16));
  const m = c.match(/\d+(\.\d+)?/g);
  return m ? m.slice(0, 3).map(Number) : [128, 128, 128];
}

const mix = (a: number[], b: number[], t: number): number[] => a.map((x, i) => Math.round(x + (b[i] - x) * t));
