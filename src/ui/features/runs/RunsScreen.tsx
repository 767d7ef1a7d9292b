// The Runs screen: every run kept in this browser (IndexedDB; listed again after a reload) with
// its loss, steps, status, checkpoints and the storage it takes; Resume (on the Train screen,
// from its newest checkpoint) and Delete (its records and checkpoints); and for the runs ticked
// "Compare": their metrics overlaid on the same charts, their settings side by side, and — for
// two runs — which pairs one learned and the other did not.

import { useEffect, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { runCommands, trainCommands, useRunsLoaded } from '../../engine/training.ts';
import type { MetricKey, RunSeries } from '../../engine/series.ts';
import { runPairs, type RunPairs } from '../../engine/pairText.ts';
import { ConfirmDelete, useConfirmDelete } from '../../shared/ConfirmDelete.tsx';
import { fmtBytes, fmtDate } from '../../shared/format.ts';
import { fmtValue, MetricChart } from '../../shared/MetricChart.tsx';
import { ProblemBox } from '../../shared/ProblemBox.tsx';
import { Screen } from '../../shell/Screen.tsx';
import { useStudioStore } from '../../store/index.ts';
import { navActions } from '../../store/slices/nav/actions.ts';
import { runBytes, runsActions } from '../../store/slices/runs/actions.ts';
import type { RunView } from '../../store/slices/runs/initialState.ts';
import { runsSelectors } from '../../store/slices/runs/selectors.ts';
import { trainSelectors } from '../../store/slices/train/selectors.ts';
import './runs.css';

const STATUS: Record<RunView['status'], string> = { running: 'running', paused: 'paused', stopped: 'stopped', done: 'finished', failed: 'failed', interrupted: 'interrupted' };

/** Resumable: not running, not finished, a checkpoint to start from. */
const resumable = (r: RunView): boolean => r.status !== 'running' && r.status !== 'done' && r.checkpoints.length > 0 && r.step < r.totalSteps;

export function RunsScreen() {
  useRunsLoaded();
  const loaded = useStudioStore(runsSelectors.loaded);
  const count = useStudioStore(runsSelectors.count);
  return (
    <Screen id="runs">
      <RunsProblem />
      {!loaded ? <p className="muted">Reading the stored runs…</p> : count === 0 ? <p className="coming">No runs yet: start one on the <a href="#/train">Train screen</a>.</p> : <RunList />}
      <Compare />
    </Screen>
  );
}

function RunsProblem() {
  const message = useStudioStore(runsSelectors.problem);
  const problem = useMemo(() => (message === null ? null : { name: 'RunsError', message }), [message]);
  return <ProblemBox title="Runs" problem={problem} onDismiss={() => runsActions.dismissProblem()} />;
}

function RunList() {
  const list = useStudioStore(runsSelectors.list);
  const total = list.reduce((a, r) => a + runBytes(r), 0);
  return (
    <section className="card run-list" aria-labelledby="runs-list-heading">
      <h3 id="runs-list-heading" tabIndex={-1}>Stored runs</h3>
      <table>
        <caption>
          Runs: {list.length} kept in this browser, {fmtBytes(total)} with their checkpoints. Tick runs to compare them below.
        </caption>
        <thead>
          <tr>
            <th scope="col">Compare</th>
            <th scope="col">Run</th>
            <th scope="col">Steps</th>
            <th scope="col">Status</th>
            <th scope="col">Checkpoints</th>
            <th scope="col" className="num">Storage</th>
            <th scope="col">Started</th>
            <th scope="col" className="actions">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((r) => (
            <RunRow key={r.id} run={r} />
          ))}
        </tbody>
      </table>
    </section>
  );
}

function RunRow({ run }: { run: RunView }) {
  const comparing = useStudioStore(runsSelectors.isComparing(run.id));
  const deleting = useStudioStore(runsSelectors.isDeleting(run.id));
  const live = useStudioStore(trainSelectors.isLive);
  const activeId = useStudioStore(trainSelectors.activeRunId);
  const { confirming, button: deleteButton, open, close, keep } = useConfirmDelete();
  const count = useStudioStore(runsSelectors.count);
  const isActive = live && activeId === run.id;
  return (
    <>
      <tr data-run-id={run.id} data-status={run.status} data-step={run.step}>
        <td>
          <input type="checkbox" checked={comparing} aria-label={`Compare ${run.name}`} onChange={() => runsActions.compareToggled(run.id)} />
        </td>
        <th scope="row">
          <span className="run-name">{run.name}</span>
          <span className="run-id">
            {run.id} · {run.modelName}
          </span>
        </th>
        <td>
          {run.step} of {run.totalSteps}
        </td>
        <td>
          {STATUS[run.status]}
          {run.problem && <span className="run-problem">{run.problem}</span>}
        </td>
        <td>{run.checkpoints.length === 0 ? 'none' : run.checkpoints.map((c) => `step ${c.step}`).join(', ')}</td>
        <td className="num">{fmtBytes(runBytes(run))}</td>
        <td>{fmtDate(run.createdAt)}</td>
        <td className="actions">
          <button
            type="button"
            disabled={live || !resumable(run)}
            onClick={() => {
              void trainCommands.resume(run.id);
              location.hash = '#/train';
              navActions.shown('train');
            }}
          >
            Resume
          </button>{' '}
          <button type="button" ref={deleteButton} className="danger-outline" aria-expanded={confirming} disabled={isActive || deleting} onClick={open}>
            {deleting ? 'Deleting…' : 'Delete'}
          </button>
        </td>
      </tr>
      {confirming && !deleting && (
        <tr className="confirm-row">
          <td colSpan={8}>
            <ConfirmDelete
              label={`Delete ${run.name}?`}
              textId={`confirm-run-${run.id}`}
              testId="confirm-delete-run"
              deleteText="Delete run"
              onKeep={keep}
              onDelete={() => {
                close();
                void runCommands.remove(run.id);
                // the row goes away: focus to the list's heading (the screen's, when the list goes too)
                document.getElementById(count > 1 ? 'runs-list-heading' : 'screen-runs')?.focus();
              }}
            >
              Delete {run.name}, its metrics, per-pair history and {run.checkpoints.length} checkpoint{run.checkpoints.length === 1 ? '' : 's'}? This frees {fmtBytes(runBytes(run))}.
            </ConfirmDelete>
          </td>
        </tr>
      )}
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// compare

const OVERLAYS: { title: string; key: MetricKey }[] = [
  { title: 'loss', key: 'loss' },
  { title: 'rewards/margins', key: 'rewards/margins' },
  { title: 'rewards/accuracies', key: 'rewards/accuracies' },
  { title: 'rewards/chosen', key: 'rewards/chosen' },
  { title: 'rewards/rejected', key: 'rewards/rejected' },
  { title: 'logps/chosen', key: 'logps/chosen' },
  { title: 'grad_norm', key: 'grad_norm' },
  { title: 'learning_rate', key: 'learning_rate' },
];

function Compare() {
  const runs = useStudioStore(useShallow(runsSelectors.compared));
  const tick = useStudioStore(runsSelectors.seriesTick);
  const ids = runs.map((r) => r.id).join(',');
  useEffect(() => {
    for (const id of ids.split(',').filter(Boolean)) void runCommands.loadSeries(id);
  }, [ids]);
  if (runs.length === 0) return null;
  const loaded = runs.map((r) => ({ run: r, series: runCommands.series(r.id) }));
  return (
    <section className="compare" aria-labelledby="compare-heading">
      <h3 id="compare-heading">Compare {runs.length === 1 ? 'one run' : `${runs.length} runs`}</h3>
      <div className="charts">
        {OVERLAYS.map((o) => (
          <MetricChart
            key={o.key}
            title={o.title}
            tick={tick}
            lines={loaded.map(({ run, series }, i) => ({ label: run.name, color: i, points: () => (series ? { x: series.steps(), y: series.column(o.key) } : { x: [], y: [] }) }))}
          />
        ))}
      </div>
      <ConfigCompare runs={runs} />
      {runs.length >= 2 && <PairDiff a={loaded[0]} b={loaded[1]} tick={tick} />}
    </section>
  );
}

/** Settings side by side: every setting in force in any of the runs; those that differ first and marked. */
function ConfigCompare({ runs }: { runs: RunView[] }) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const show = (v: unknown): string => (v === undefined ? '—' : Array.isArray(v) ? v.join(', ') : String(v));
  const rows = useMemo(() => {
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.settings)))].sort();
    const all = keys.map((k) => ({ k, vals: runs.map((r) => show(r.settings[k])) }));
    const differs = (x: { vals: string[] }): boolean => new Set(x.vals).size > 1;
    return [...all.filter(differs).map((x) => ({ ...x, diff: true })), ...all.filter((x) => !differs(x)).map((x) => ({ ...x, diff: false }))];
  }, [runs]);
  const shown = onlyDiff ? rows.filter((r) => r.diff) : rows;
  return (
    <section className="card config-compare" aria-labelledby="config-compare-heading">
      <h3 id="config-compare-heading">Settings side by side</h3>
      <label className="small">
        <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.currentTarget.checked)} /> Only the settings that differ
      </label>
      <div className="scroll-x">
        <table>
          <caption className="visually-hidden">Settings of the compared runs</caption>
          <thead>
            <tr>
              <th scope="col">Setting</th>
              {runs.map((r, i) => (
                <th key={r.id} scope="col">
                  <span className={`swatch c${i % 6}`} aria-hidden="true" /> {r.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row) => (
              <tr key={row.k} className={row.diff ? 'diff' : undefined}>
                <th scope="row">
                  <code>{row.k}</code>
                  {row.diff && <span className="visually-hidden"> (differs)</span>}
                </th>
                {row.vals.map((v, i) => (
                  <td key={i}>{v}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

type Loaded = { run: RunView; series: RunSeries | null };

/**
 * Which pairs each of two runs learned: a pair is learned when its latest reward margin is > 0
 * (the chosen answer's implicit reward above the rejected one's). Pairs only one run trained on
 * are left out.
 */
function PairDiff({ a, b, tick }: { a: Loaded; b: Loaded; tick: number }) {
  const [pairs, setPairs] = useState<RunPairs | null>(null);
  useEffect(() => {
    let on = true;
    void runPairs(a.run.id).then((p) => on && setPairs(p));
    return () => {
      on = false;
    };
  }, [a.run.id]);
  const diff = useMemo(() => {
    const out = { onlyA: [] as number[], onlyB: [] as number[], both: 0, neither: 0, compared: 0 };
    if (!a.series || !b.series) return out;
    const n = Math.min(a.series.rowCount, b.series.rowCount);
    for (let r = 0; r < n; r++) {
      if (a.series.latestStepOf(r) < 0 || b.series.latestStepOf(r) < 0) continue;
      out.compared++;
      const la = a.series.latest(r, 'margin') > 0;
      const lb = b.series.latest(r, 'margin') > 0;
      if (la && lb) out.both++;
      else if (la) out.onlyA.push(r);
      else if (lb) out.onlyB.push(r);
      else out.neither++;
    }
    return out;
  }, [a.series, b.series, tick]);
  const sameData = a.run.dataName === b.run.dataName && a.run.rows === b.run.rows;
  const list = (rows: number[], who: string) => (
    <table className="pair-diff-table">
      <caption>
        Learned by {who} only: {rows.length}
      </caption>
      <thead>
        <tr>
          <th scope="col">Pair</th>
          <th scope="col">Prompt</th>
          <th scope="col" className="num">Margin, {a.run.name}</th>
          <th scope="col" className="num">Margin, {b.run.name}</th>
        </tr>
      </thead>
      <tbody>
        {rows.slice(0, 50).map((r) => {
          const t = pairs?.text(r);
          return (
            <tr key={r}>
              <th scope="row">{t?.name ?? `row ${r}`}</th>
              <td className="prompt">{t ? t.prompt.replace(/\s+/g, ' ').slice(0, 60) : ''}</td>
              <td className="num">{fmtValue(a.series!.latest(r, 'margin'))}</td>
              <td className="num">{fmtValue(b.series!.latest(r, 'margin'))}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
  return (
    <section className="card pair-diff" aria-labelledby="pair-diff-heading">
      <h3 id="pair-diff-heading">
        Pairs learned: {a.run.name} vs {b.run.name}
      </h3>
      {!sameData ? (
        <p className="muted">These runs trained on different files ({a.run.dataName}, {b.run.dataName}): their pairs cannot be matched.</p>
      ) : (
        <>
          <p data-testid="pair-diff-summary">
            Of {diff.compared} pairs both runs trained on, a positive final reward margin (learned) in both: {diff.both}; in neither: {diff.neither}; only in {a.run.name}: {diff.onlyA.length}; only in {b.run.name}: {diff.onlyB.length}.
          </p>
          <div className="columns">
            {list(diff.onlyA, a.run.name)}
            {list(diff.onlyB, b.run.name)}
          </div>
        </>
      )}
    </section>
  );
}
