// The token-length histogram: how many pairs have each length before truncation, prompt + chosen
// and prompt + rejected side by side in shared bins, with max_length marked (sequences right of the
// line are cut). A small SVG drawn here (no chart library: two bar series and three axes' worth
// of ticks); colours come from the stylesheet, so it follows light and dark. It is drawn at the
// figure's measured width (a ResizeObserver), so its text keeps its size at any width. The same
// counts are available as a table for screen readers and keyboard users.

import { useLayoutEffect, useRef, useState, type RefObject } from 'react';
import type { HistogramView } from '../../store/slices/data/initialState.ts';

// The drawing in CSS pixels: the height and margins are fixed, the width is the figure's.
const H = 230;
const M = { left: 44, right: 14, top: 18, bottom: 40 };
const PH = H - M.top - M.bottom;

/** The element's content width, followed as it changes (`fallback` before the first measurement). */
function useWidth<T extends HTMLElement>(fallback: number): [RefObject<T | null>, number] {
  const ref = useRef<T | null>(null);
  const [width, setWidth] = useState(fallback);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth || fallback);
    const ro = new ResizeObserver(() => setWidth(el.clientWidth || fallback));
    ro.observe(el);
    return () => ro.disconnect();
  }, [fallback]);
  return [ref, width];
}

/** The smallest 1, 2 or 5 × 10^k step that covers `max` in at most `ticks` steps. */
function niceStep(max: number, ticks: number): number {
  for (let k = 1; ; k *= 10) for (const m of [1, 2, 5]) if (m * k * ticks >= max) return m * k;
}

export function LengthHistogram({ h, maxLength }: { h: HistogramView; maxLength: number | null }) {
  const [figure, W] = useWidth<HTMLElement>(560);
  const PW = W - M.left - M.right;
  const n = h.chosen.length;
  const lo = h.edges[0];
  const hi = h.edges[n];
  const top = Math.max(1, ...h.chosen, ...h.rejected);
  const yStep = niceStep(top, 4);
  const yMax = Math.ceil(top / yStep) * yStep;
  const x = (v: number): number => M.left + ((v - lo) / (hi - lo)) * PW;
  const y = (c: number): number => M.top + PH - (c / yMax) * PH;
  const bw = PW / n;
  const barW = Math.max(1, (bw - 2) / 2);
  const labelEvery = Math.ceil((n + 1) / Math.max(2, Math.floor(PW / 48))); // a label per ~48 px
  // the first length max_length cuts is maxLength + 1: the line is that length's left edge
  const cutAt = maxLength === null ? null : maxLength + 1;
  const lineShown = cutAt !== null && cutAt > lo && cutAt < hi;
  const caption = `Token lengths before truncation of ${h.chosen.reduce((a, b) => a + b, 0)} pairs: the median pair is ${h.median} tokens (prompt + its longer answer), the longest ${h.longest.tokens} (${h.longest.name}).`;

  return (
    <figure className="data-histogram" data-testid="data-histogram" data-bins={n} ref={figure}>
      <figcaption id="data-histogram-caption" className="small">{caption}</figcaption>
      <div className="data-legend small" aria-hidden="true">
        <span><span className="swatch chosen" /> prompt + chosen</span>
        <span><span className="swatch rejected" /> prompt + rejected</span>
        {lineShown && <span><span className="swatch limit" /> max_length</span>}
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-labelledby="data-histogram-caption" className="histogram-svg">
        {/* y grid and ticks */}
        {Array.from({ length: yMax / yStep + 1 }, (_, i) => i * yStep).map((c) => (
          <g key={`y${c}`}>
            <line className="grid" x1={M.left} x2={W - M.right} y1={y(c)} y2={y(c)} />
            <text className="tick" x={M.left - 6} y={y(c) + 4} textAnchor="end">{c}</text>
          </g>
        ))}
        {/* bars: chosen left, rejected right in each bin */}
        {h.chosen.map((c, i) => (
          <g key={`b${i}`}>
            {c > 0 && <rect className="bar chosen" x={M.left + i * bw + 1} y={y(c)} width={barW} height={y(0) - y(c)} />}
            {h.rejected[i] > 0 && <rect className="bar rejected" x={M.left + i * bw + 1 + barW} y={y(h.rejected[i])} width={barW} height={y(0) - y(h.rejected[i])} />}
          </g>
        ))}
        <line className="axis" x1={M.left} x2={W - M.right} y1={y(0)} y2={y(0)} />
        {h.edges.map((e, i) => (i % labelEvery === 0 ? <text key={`x${e}`} className="tick" x={x(e)} y={y(0) + 16} textAnchor="middle">{e}</text> : null))}
        <text className="axis-label" x={M.left + PW / 2} y={H - 6} textAnchor="middle">tokens</text>
        <text className="axis-label" x={12} y={M.top + PH / 2} textAnchor="middle" transform={`rotate(-90 12 ${M.top + PH / 2})`}>pairs</text>
        {lineShown && (
          <g data-testid="data-histogram-limit">
            <line className="limit" x1={x(cutAt)} x2={x(cutAt)} y1={M.top - 4} y2={y(0)} />
            <text className="limit-label" x={x(cutAt) + (x(cutAt) > M.left + PW * 0.7 ? -4 : 4)} y={M.top + 6} textAnchor={x(cutAt) > M.left + PW * 0.7 ? 'end' : 'start'}>
              max_length {maxLength}
            </text>
          </g>
        )}
      </svg>
      {maxLength !== null && !lineShown && (
        <p className="small muted" data-testid="data-histogram-note">
          {cutAt! >= hi ? `max_length ${maxLength} is above the longest sequence (${h.longest.tokens} tokens), off the right of the chart.` : `Every sequence is longer than max_length ${maxLength}.`}
        </p>
      )}
      <details className="small">
        <summary>The counts as a table</summary>
        <table className="data-table compact">
          <caption className="visually-hidden">Token lengths</caption>
          <thead>
            <tr>
              <th scope="col">Tokens</th>
              <th scope="col">Prompt + chosen</th>
              <th scope="col">Prompt + rejected</th>
            </tr>
          </thead>
          <tbody>
            {h.chosen.map((c, i) => (
              <tr key={h.edges[i]}>
                <th scope="row">{h.edges[i + 1] - h.edges[i] === 1 ? h.edges[i] : `${h.edges[i]}–${h.edges[i + 1] - 1}`}</th>
                <td>{c}</td>
                <td>{h.rejected[i]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
