// One metric over optimizer steps, drawn with uPlot on a canvas: one line per series (a run's
// metric, or two metrics of one run), a key under it, and an accessible name that says what the
// picture shows (the metric, how many steps, the last values) for screen readers and for outside
// checks. Used by the live dashboard (one run) and the Runs screen (runs overlaid).
//
// Redraws are cheap and throttled: the parent passes `tick`, which moves at most once per animation
// frame; the chart then calls setData with fresh arrays (uPlot rebuilds its paths) — it is created
// again only when the lines, the width or the colour scheme change. The points and the accessible
// name are worked out while rendering (no state set in an effect: a new step costs one commit). Colours come from the studio's
// CSS variables (--chart-1 …, --fg, --line), read when the chart is made, so light and dark follow
// the system setting.

import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './charts.css';
import { useColorScheme, useWidth } from './hooks.ts';

/** One line: its label and its points (x = step numbers, ascending). */
export interface ChartLine {
  label: string;
  /** Which of the chart colours (0 …): a run keeps its colour across the charts. */
  color: number;
  /** Dashed (the second metric of a pair, e.g. rewards/rejected). */
  dashed?: boolean;
  points: () => { x: ArrayLike<number>; y: ArrayLike<number> };
}

export const CHART_COLORS = 6;

/** Tick spacings of the step axis (uPlot picks the first that fits). */
const STEP_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

/** A value as the chart's key and accessible name show it. */
export function fmtValue(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return v.toFixed(a >= 100 ? 1 : 4).replace(/\.?0+$/, '') || '0';
}

const cssVar = (el: Element, name: string): string => getComputedStyle(el).getPropertyValue(name).trim() || '#888';

/** Aligned data for uPlot: the union of the lines' steps, null where a line has no value (or NaN). */
function aligned(lines: readonly ChartLine[]): uPlot.AlignedData {
  const pts = lines.map((l) => l.points());
  const xs = new Set<number>();
  for (const p of pts) for (let i = 0; i < p.x.length; i++) xs.add(p.x[i]);
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((v, i) => [v, i]));
  const ys = pts.map((p) => {
    const y: (number | null)[] = new Array<number | null>(x.length).fill(null);
    for (let i = 0; i < p.x.length; i++) y[at.get(p.x[i])!] = Number.isFinite(p.y[i]) ? p.y[i] : null;
    return y;
  });
  return [x, ...ys] as uPlot.AlignedData;
}

function lastOf(p: { x: ArrayLike<number>; y: ArrayLike<number> }): number {
  for (let i = p.y.length - 1; i >= 0; i--) if (Number.isFinite(p.y[i])) return p.y[i];
  return NaN;
}

export function MetricChart({ title, lines, tick, height = 150, unit }: { title: string; lines: readonly ChartLine[]; tick: number; height?: number; unit?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const width = useWidth(box);
  const scheme = useColorScheme();
  const linesRef = useRef(lines);
  linesRef.current = lines;
  const shape = lines.map((l) => `${l.label}/${l.color}/${l.dashed ? 1 : 0}`).join('|');
  // the points as of this tick, and what they say
  const data = useMemo(() => aligned(lines), [tick, shape]); // eslint-style note: lines' points move with tick
  const dataRef = useRef(data);
  dataRef.current = data;
  /** The points the chart holds. */
  const drawn = useRef<uPlot.AlignedData | null>(null);
  const summary = useMemo(() => {
    const steps = data[0].length;
    const lasts = lines.map((l) => `${l.label} ${fmtValue(lastOf(l.points()))}`);
    return steps === 0 ? `${title}: no steps yet` : `${title} over ${steps} step${steps === 1 ? '' : 's'}; last: ${lasts.join(', ')}${unit ? ` ${unit}` : ''}`;
  }, [data, title, unit]); // eslint-style note: lines as of data

  // (re)create on new lines, width or scheme
  useEffect(() => {
    const el = box.current;
    if (!el || width < 50) return;
    const colors = Array.from({ length: CHART_COLORS }, (_, i) => cssVar(el, `--chart-${i + 1}`));
    const fg = cssVar(el, '--muted');
    const grid = cssVar(el, '--line-soft');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '11px system-ui, sans-serif' };
    const opts: uPlot.Options = {
      width,
      height,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false } },
      // x: optimizer steps, whole numbers only
      axes: [{ ...axis, size: 30, incrs: STEP_INCRS, values: (_u, vals) => vals.map((v) => String(v)) }, { ...axis, size: 56, values: (_u, vals) => vals.map((v) => fmtValue(v)) }],
      series: [{}, ...linesRef.current.map((l) => ({ label: l.label, stroke: colors[l.color % CHART_COLORS], width: 1.75, dash: l.dashed ? [5, 4] : undefined, spanGaps: true, points: { show: false } }))],
    };
    const u = new uPlot(opts, dataRef.current, el);
    plot.current = u;
    drawn.current = dataRef.current;
    return () => {
      u.destroy();
      plot.current = null;
    };
  }, [shape, width, height, scheme]);

  // new points (a chart just made already has them)
  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    if (drawn.current !== data) u.setData(data);
    drawn.current = data;
  }, [data]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div className="chart-plot" ref={box} role="img" aria-label={summary} />
      {lines.length > 1 && (
        <ul className="chart-key">
          {lines.map((l) => (
            <li key={l.label}>
              <span className={`swatch c${l.color % CHART_COLORS}${l.dashed ? ' dashed' : ''}`} aria-hidden="true" />
              {l.label}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
