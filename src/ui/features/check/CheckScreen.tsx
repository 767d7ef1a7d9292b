// The Check screen: "Run check" runs the engine's op suite on this GPU against float64 CPU
// references (a few small shapes per op; "Run full suite" runs every case of the test suite) and
// shows pass or fail per op with the largest error measured and how much of the op's tolerance it
// used; failures with their messages; and a report naming the browser and adapter, with
// "Copy report", for a bug report. State: the check slice; commands: src/ui/engine/check.ts.

import { useEffect, useMemo, useRef, useState } from 'react';
import { checkCommands } from '../../engine/check.ts';
import { Screen } from '../../shell/Screen.tsx';
import { useStudioStore } from '../../store/index.ts';
import { checkSelectors } from '../../store/slices/check/selectors.ts';
import { deviceSelectors } from '../../store/slices/device/selectors.ts';
import { adapterLine, fmtError, fmtShare, opResult, reportText, summarizeByOp } from './report.ts';
import './check.css';

export function CheckScreen() {
  return (
    <Screen id="check">
      <CheckRunner />
      <CheckResults />
      <CheckReport />
    </Screen>
  );
}

function CheckRunner() {
  const status = useStudioStore(checkSelectors.status);
  const busy = useStudioStore(checkSelectors.busy);
  const cases = useStudioStore(checkSelectors.cases);
  const passed = useStudioStore(checkSelectors.passed);
  const failed = useStudioStore(checkSelectors.failed);
  const problem = useStudioStore(checkSelectors.problem);
  const checked = useStudioStore(checkSelectors.adapter);
  const probed = useStudioStore(deviceSelectors.adapter);
  const adapter = checked ?? probed;
  const runRef = useRef<HTMLButtonElement>(null);
  const stopRef = useRef<HTMLButtonElement>(null);
  const wasBusy = useRef(busy);

  // Keyboard users keep their place: Stop check takes the focus while a check runs, Run check after.
  useEffect(() => {
    if (wasBusy.current === busy) return;
    wasBusy.current = busy;
    const active = document.activeElement;
    if (active && active !== document.body && !active.closest('[data-testid="check-runner"]')) return;
    (busy ? stopRef : runRef).current?.focus();
  }, [busy]);

  const done = passed + failed;
  const current = cases.find((c) => c.ok === null);
  return (
    <section className="card" aria-labelledby="check-run-heading" data-testid="check-runner" data-status={status}>
      <h3 id="check-run-heading">Self-check on this GPU</h3>
      <p>
        Runs the engine's operations — matrix products, attention, RMSNorm, RoPE, the preference losses, the optimizers and the rest — on this GPU and compares every result with a float64 reference computed on the processor, forward and gradients. If an op fails here, training on this GPU cannot be trusted: copy the report below into a bug report.
      </p>
      <p className="muted small" data-testid="check-adapter">{adapter ? <>GPU: {adapterLine(adapter)}</> : 'GPU: not known yet (the check names it when it starts).'}</p>
      <div className="check-buttons">
        <button type="button" className="primary" ref={runRef} disabled={busy} onClick={() => checkCommands.run('quick')} aria-describedby="check-quick-note">Run check</button>
        <button type="button" disabled={busy} onClick={() => checkCommands.run('full')} aria-describedby="check-full-note">Run full suite</button>
        {busy && (
          <button type="button" className="danger-outline" ref={stopRef} disabled={status === 'stopping'} onClick={() => checkCommands.stop()}>
            {status === 'stopping' ? 'Stopping…' : 'Stop check'}
          </button>
        )}
      </div>
      <p className="muted small" id="check-quick-note">Run check: a few small shapes per op (about half a minute on a software adapter).</p>
      <p className="muted small" id="check-full-note">Run full suite: every case of the engine's test suite, the larger shapes too — minutes on a software adapter.</p>

      {busy && (
        <div className="check-progress" data-testid="check-progress">
          <div className="progress-head">
            <span>{status === 'starting' ? 'Creating a GPU device for the check…' : `${done} of ${cases.length} cases${failed ? `, ${failed} failed` : ''}`}</span>
            {current && status !== 'starting' && <span className="muted small check-current">{current.name}</span>}
          </div>
          <progress max={Math.max(cases.length, 1)} value={done} aria-label={`Check progress: ${done} of ${cases.length} cases`} />
        </div>
      )}

      {problem && (
        <div className="problem" role="alert" data-testid="check-problem">
          <p><strong>The check could not run.</strong> {problem.message}{problem.where ? ` (${problem.where})` : ''}</p>
          {problem.hint && <p>What to do: {problem.hint}</p>}
        </div>
      )}
    </section>
  );
}

function CheckResults() {
  const status = useStudioStore(checkSelectors.status);
  const cases = useStudioStore(checkSelectors.cases);
  const ms = useStudioStore(checkSelectors.ms);
  const ops = useMemo(() => summarizeByOp(cases), [cases]);
  if (cases.length === 0) return null;
  const ran = cases.filter((c) => c.ok !== null);
  const failures = ran.filter((c) => c.ok === false);
  const finished = status === 'done' || status === 'stopped';
  return (
    <section className="card" aria-labelledby="check-results-heading" data-testid="check-results">
      <h3 id="check-results-heading">Results</h3>
      {finished && (
        <p className={`check-verdict ${failures.length ? 'bad' : 'good'}`} data-testid="check-verdict">
          {failures.length
            ? `${failures.length} of ${ran.length} cases failed: results of the ops marked FAIL are wrong on this GPU.`
            : `All ${ran.length} cases passed${status === 'stopped' ? ` (stopped: ${cases.length - ran.length} not run)` : ''}: every op agrees with its reference on this GPU.`}
          <span className="muted small"> {(ms / 1000).toFixed(1)} s</span>
        </p>
      )}
      <table className="check-table" data-testid="check-ops">
        <caption>Results by op: the largest difference from the float64 reference over the op's cases, and how much of the op's tolerance it used.</caption>
        <thead>
          <tr>
            <th scope="col">Op</th>
            <th scope="col">Result</th>
            <th scope="col" className="num">Cases passed</th>
            <th scope="col" className="num">Max |error|</th>
            <th scope="col" className="num">Of tolerance</th>
            <th scope="col" className="num">Time</th>
          </tr>
        </thead>
        <tbody>
          {ops.map((s) => {
            const result = opResult(s);
            return (
              <tr key={s.op} data-op={s.op} data-result={result}>
                <th scope="row">{s.op}</th>
                <td><span className={`check-result ${result === 'pass' ? 'pass' : result === 'FAIL' ? 'fail' : 'pending'}`}>{result}</span></td>
                <td className="num">{s.passed} of {s.cases}</td>
                <td className="num mono">{s.passed + s.failed ? fmtError(s.maxAbsError) : ''}</td>
                <td className="num">{s.passed + s.failed ? fmtShare(s.toleranceUsed) : ''}</td>
                <td className="num">{s.passed + s.failed ? `${(s.ms / 1000).toFixed(2)} s` : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>

      {failures.length > 0 && (
        <div className="check-failures" data-testid="check-failures">
          <h4>Failures</h4>
          <ul>
            {failures.map((c) => (
              <li key={c.name}>
                <strong>{c.name}</strong>
                <pre>{c.error}</pre>
              </li>
            ))}
          </ul>
        </div>
      )}

      <details data-testid="check-cases">
        <summary>Every case ({cases.length})</summary>
        <table className="check-table small">
          <caption className="visually-hidden">Every case of the check</caption>
          <thead>
            <tr>
              <th scope="col">Case</th>
              <th scope="col">Result</th>
              <th scope="col" className="num">Max |error|</th>
              <th scope="col" className="num">Of tolerance</th>
              <th scope="col" className="num">Time</th>
            </tr>
          </thead>
          <tbody>
            {cases.map((c) => (
              <tr key={c.name}>
                <th scope="row">{c.name}</th>
                <td>{c.ok === null ? 'not run' : c.ok ? 'pass' : 'FAIL'}</td>
                <td className="num mono">{c.ok === null ? '' : fmtError(c.maxAbsError)}</td>
                <td className="num">{c.ok === null ? '' : fmtShare(c.toleranceUsed)}</td>
                <td className="num">{c.ok === null ? '' : `${c.ms.toFixed(0)} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

function CheckReport() {
  const status = useStudioStore(checkSelectors.status);
  const text = useStudioStore((s) =>
    s.check.cases.length === 0
      ? ''
      : reportText({ which: s.check.which, startedAt: s.check.startedAt, browser: navigator.userAgent, adapter: s.check.adapter, features: s.check.features, limits: s.check.limits, cases: s.check.cases, ms: s.check.ms, stopped: s.check.status === 'stopped' }),
  );
  const area = useRef<HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState<string | null>(null);
  useEffect(() => setCopied(null), [text]);
  if (status !== 'done' && status !== 'stopped') return null;

  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied to the clipboard.');
    } catch {
      area.current?.focus();
      area.current?.select();
      setCopied('The browser did not allow copying: the report is selected — press Ctrl+C (⌘C on a Mac).');
    }
  };
  return (
    <section className="card" aria-labelledby="check-report-heading" data-testid="check-report">
      <h3 id="check-report-heading">Report</h3>
      <p className="muted small" id="check-report-note">What a bug report should include: the browser, the adapter with its features and limits, and every op's result and error.</p>
      <textarea ref={area} className="check-report-text" readOnly value={text} rows={Math.min(30, text.split('\n').length + 1)} aria-label="Check report" aria-describedby="check-report-note" spellCheck={false} />
      <div className="check-buttons">
        <button type="button" onClick={() => void copy()}>Copy report</button>
        <span role="status" className="muted small" data-testid="check-copied">{copied}</span>
      </div>
    </section>
  );
}
